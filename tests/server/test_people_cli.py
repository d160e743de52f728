"""`bodycam-server user ...` and sessions across real `serve` processes: the first
administrator from the command line, whose printed TOTP setup signs in for real; one
process signs in, another sees the session and signs out, the first then refuses it;
failed sign-ins spread over two processes are counted together."""

from __future__ import annotations

import io
import re
import secrets
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from people_rig import DATABASES, PASSWORD, code, database_args
from server_rig import ServeProcess, run_server

from bodycam.server.people.web_session import COOKIE, CSRF_HEADER
from bodycam.tools.dev.ports import free_port


def user(data_dir: Path, *args: str, password: str = PASSWORD,
         monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    done = run_server("user", *args, "--data-dir", str(data_dir), check=False)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(params=DATABASES)
def data_dir(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, int]:
    port = free_port()
    directory = tmp_path / "server"
    run_server("init", "--data-dir", str(directory), "--url", f"https://127.0.0.1:{port}",
               *database_args(request.param, request))
    return directory, port


def test_user_add_prints_a_second_factor_that_signs_in(
        data_dir: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    directory, _ = data_dir
    rc, out, err = user(directory, "add", "Alice", "--name", "Alice Admin", "--role",
                        "administrator", "--password-stdin", monkeypatch=monkeypatch)
    assert rc == 0, err
    assert "added user alice (Alice Admin), roles: administrator" in out
    uri = re.search(r"otpauth://totp/\S+", out)
    assert uri is not None and "digits=6" in uri.group() and "period=30" in uri.group()
    secret = re.search(r"secret=([A-Z2-7]+)", uri.group())
    assert secret is not None
    grouped = " ".join(secret.group(1)[i:i + 4] for i in range(0, len(secret.group(1)), 4))
    assert grouped in out and "▀" in out  # the key to type, and the QR code
    rc, out, _ = user(directory, "list", monkeypatch=monkeypatch)
    assert re.search(r"alice\s+active\s+TOTP\s+administrator\s+Alice Admin", out)


@pytest.mark.parametrize(("args", "says"), [
    (("--role", "administrator", "--role", "reviewer", "--password-stdin"),
     "administration and evidence permissions never go together"),
    (("--role", "reviewer", "--password-stdin", "--no-second-factor"),
     "needs one"),
    (("--role", "reviewer"), "--password-stdin"),
    (("--role", "boss", "--password-stdin"), "no role 'boss'"),
])
def test_user_add_refuses_with_the_fix(data_dir: tuple[Path, int], args: tuple[str, ...],
                                       says: str, monkeypatch: pytest.MonkeyPatch) -> None:
    directory, _ = data_dir
    rc, out, err = user(directory, "add", "bob", "--name", "Bob", *args,
                        monkeypatch=monkeypatch)
    assert rc == 1 and says in err and out == ""
    assert user(directory, "list", monkeypatch=monkeypatch)[1] == ""


@pytest.fixture
def two_servers(data_dir: tuple[Path, int]) -> Iterator[tuple[Path, list[str]]]:
    directory, port = data_dir
    processes = [ServeProcess(directory, port, {}).start(),
                 ServeProcess(directory, free_port(), {}).start()]
    yield directory, [f"https://127.0.0.1:{p.port}" for p in processes]
    for process in processes:
        process.stop()


def _client(directory: Path) -> httpx.Client:
    trust = ssl.create_default_context(cafile=str(directory / "identity" / "tls-ca.pem"))
    return httpx.Client(verify=trust, timeout=30)


def test_a_session_made_by_one_process_is_known_and_ended_by_another(
        two_servers: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    directory, (first, second) = two_servers
    _, out, _ = user(directory, "add", "erin", "--name", "Erin", "--role", "reviewer",
                     "--password-stdin", monkeypatch=monkeypatch)
    found = re.search(r"secret=([A-Z2-7]+)", out)
    assert found is not None
    with _client(directory) as client:
        signed = client.post(f"{first}/api/v1/session", json={
            "username": "erin", "password": PASSWORD, "code": code(found.group(1),
                                                                   time.time())})
        assert signed.status_code == 200, signed.text
        cookie = {"Cookie": f"{COOKIE}={signed.cookies[COOKIE]}"}
        csrf = signed.json()["csrf_token"]
        assert client.get(f"{second}/api/v1/session", headers=cookie).json()[
            "username"] == "erin"
        assert client.delete(f"{second}/api/v1/session",
                             headers={**cookie, CSRF_HEADER: csrf}).status_code == 204
        gone = client.get(f"{first}/api/v1/session", headers=cookie)
        assert gone.status_code == 401 and gone.json()["error"] == "session_unknown"


def test_failed_sign_ins_on_two_processes_are_counted_together(
        two_servers: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    directory, servers = two_servers
    user(directory, "add", "erin", "--name", "Erin", "--role", "reviewer",
         "--password-stdin", monkeypatch=monkeypatch)
    wrong = {"username": "erin", "password": secrets.token_hex(8), "code": "000000"}
    with _client(directory) as client:
        answers = [client.post(f"{servers[n % 2]}/api/v1/session", json=wrong).status_code
                   for n in range(5)]
    assert answers == [401, 401, 401, 401, 429]
    rc, out, _ = user(directory, "unlock", "erin", monkeypatch=monkeypatch)
    assert rc == 0 and "unlocked" in out


def test_reset_second_factor_prints_a_new_setup(data_dir: tuple[Path, int],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    directory, _ = data_dir
    _, first, _ = user(directory, "add", "erin", "--name", "Erin", "--role", "reviewer",
                       "--password-stdin", monkeypatch=monkeypatch)
    rc, second, err = user(directory, "reset-second-factor", "Erin", monkeypatch=monkeypatch)
    assert rc == 0, err
    assert "the old one no longer works" in second
    keys = [re.findall(r"secret=([A-Z2-7]+)", out) for out in (first, second)]
    assert len(keys[0]) == len(keys[1]) == 1 and keys[0] != keys[1]
    rc, _, err = user(directory, "reset-second-factor", "nobody", monkeypatch=monkeypatch)
    assert rc == 1 and "there is no user 'nobody'" in err


def test_a_disabled_person_is_enabled_again_from_the_command_line(
        data_dir: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    directory, _ = data_dir
    user(directory, "add", "erin", "--name", "Erin", "--role", "reviewer",
         "--password-stdin", monkeypatch=monkeypatch)
    rc, _, err = user(directory, "enable", "erin", monkeypatch=monkeypatch)
    assert rc == 1 and "erin is not disabled; nothing to enable" in err
    assert user(directory, "disable", "erin", monkeypatch=monkeypatch)[0] == 0
    rc, out, err = user(directory, "enable", "erin", monkeypatch=monkeypatch)
    assert rc == 0 and "enabled: may sign in again" in out, err
    _, listed, _ = user(directory, "list", monkeypatch=monkeypatch)
    assert re.search(r"erin\s+active", listed), listed


def test_migrate_makes_the_sealing_key_for_an_older_data_directory(
        data_dir: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    directory, _ = data_dir
    key = directory / "identity" / "totp-key.bin"
    assert key.stat().st_mode & 0o777 == 0o600
    key.unlink()
    done = run_server("migrate", "--data-dir", str(directory))
    assert "made" in done.stdout and key.stat().st_size == 32
    before = key.read_bytes()
    again = run_server("migrate", "--data-dir", str(directory))
    assert "made" not in again.stdout and key.read_bytes() == before

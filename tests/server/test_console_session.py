"""`bodycam-server sign-in` / `sign-out`: one sign-in (password and code) for several
evidence commands in a row, held in the person's own shell ($BODYCAM_SESSION); the
session must be the named person's and live, and sign-out ends it on record."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from custody_rig import Custody, custody_server, fresh
from people_rig import DATABASES, PASSWORD, code
from server_rig import run_server

from bodycam.server.custody.console import SESSION_VARIABLE

RID = "BC-0001-20261206T090000Z-000a"


@pytest.fixture(scope="module", params=DATABASES)
def custody(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Custody]:
    for custody in custody_server(request, tmp_path_factory):
        custody.person("sam", "custodian")
        custody.person("sue", "custodian")
        fresh(custody).camera("BC-0001")
        custody.recording("BC-0001", "2026-12-06T09:00:00.000Z",
                          "2026-12-06T09:10:00.000Z", tag="000a")
        yield custody


def cli(custody: Custody, *args: str) -> tuple[int, str, str]:
    data_dir = str(custody.people.context.settings.data_dir)
    done = run_server(*args, "--data-dir", data_dir, check=False)
    return done.returncode, done.stdout, done.stderr


def sign_in(custody: Custody, monkeypatch: pytest.MonkeyPatch, user: str) -> str:
    """`bodycam-server sign-in --as USER`, answered on stdin; the token it exports."""
    typed = code(custody.secrets[user], time.time() + 30)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n{typed}\n"))
    rc, out, err = cli(custody, "sign-in", "--as", user, "--password-stdin")
    assert rc == 0, err
    assert f"signed in as {user}" in err and "sign-out" in err
    prefix = f"export {SESSION_VARIABLE}="
    assert out.startswith(prefix) and out.count("\n") == 1
    return out.strip().removeprefix(prefix)


def test_one_sign_in_serves_several_commands_then_sign_out_ends_it(
        custody: Custody, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SESSION_VARIABLE, raising=False)
    token = sign_in(custody, monkeypatch, "sam")
    monkeypatch.setenv(SESSION_VARIABLE, token)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # nothing is asked any more
    for args in (("case", "open", "2026-0007", "--title", "Harbour"),
                 ("case", "add", "2026-0007", RID),
                 ("hold", "place", RID, "--reason", "complaint expected")):
        rc, out, err = cli(custody, *args, "--as", "sam")
        assert rc == 0, (args, err)
    assert [a for k, a, _ in custody.events() if k in ("case_opened", "case_recording_added",
                                                      "hold_placed")] == ["sam"] * 3
    # the session is sam's: nobody else works through it
    rc, _, err = cli(custody, "case", "close", "2026-0007", "--reason", "done", "--as", "sue")
    assert rc == 1 and "is the session of sam, not of sue" in err
    rc, out, err = cli(custody, "sign-out")
    assert rc == 0 and "signed out sam" in out, err
    assert ("sign_out", "sam", None) in custody.events()
    rc, _, err = cli(custody, "case", "close", "2026-0007", "--reason", "done", "--as", "sam")
    assert rc == 1 and "sign in again" in err
    rc, out, _ = cli(custody, "sign-out")
    assert rc == 0 and "already ended" in out


def test_sign_out_without_a_session_says_so(custody: Custody,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SESSION_VARIABLE, raising=False)
    rc, _, err = cli(custody, "sign-out")
    assert rc == 1 and f"${SESSION_VARIABLE} is not set" in err


def test_a_made_up_session_is_refused_and_asks_for_a_sign_in(
        custody: Custody, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SESSION_VARIABLE, "forged-token")
    rc, _, err = cli(custody, "case", "open", "2026-0099", "--title", "x", "--as", "sam")
    assert rc == 1 and "sign in again" in err and "does not exist" in err

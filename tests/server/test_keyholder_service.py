"""The key holder as it runs: `bodycam-keyholder serve` in its own process on a Unix socket
(mode 0660), the server's client, the offline commands, and its log checked by
`bodycam-evidence verify` like a camera's audit log."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyholder_rig import Holder, make_holder, viewer_plaintext

from bodycam.server.keyholder.client import (
    KeyholderClient,
    KeyholderRefusedError,
    KeyholderUnavailableError,
)
from bodycam.server.keyholder.log import LOG_FILE
from bodycam.server.keyholder.request import UnwrapResponse
from bodycam.tools.custody.cli import main as evidence_main

CLI = [sys.executable, "-m", "bodycam.server.keyholder.cli"]


def keyholder(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False,
                          timeout=120)


class Serving:
    def __init__(self, holder: Holder) -> None:
        self.holder = holder
        self.socket = holder.directory.parent / "holder.sock"
        self.process = subprocess.Popen([*CLI, "serve", "--dir", str(holder.directory)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        deadline = time.monotonic() + 60
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"serve did not start: {self.process.stderr.read()}")
            time.sleep(0.05)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _out, err = self.process.communicate(timeout=60)
        return err


@pytest.fixture
def holder(tmp_path: Path) -> Holder:
    return make_holder(tmp_path)


@pytest.fixture
def serving(holder: Holder) -> Iterator[Serving]:
    service = Serving(holder)
    yield service
    service.stop()


def test_socket_is_0660_and_says_hello(serving: Serving) -> None:
    assert stat.S_IMODE(os.stat(serving.socket).st_mode) == 0o660
    hello = KeyholderClient(serving.socket).hello()
    assert hello["log_key"] == serving.holder.init.log_key
    assert len(hello["recipients"]) == 1


def test_unlock_over_the_socket_is_logged_with_the_peer(serving: Serving) -> None:
    holder = serving.holder
    response = KeyholderClient(serving.socket).unwrap(holder.request())
    assert viewer_plaintext(holder, response, "00002.age") == \
        holder.authority_plaintext("00002.age")
    unlock = holder.records("unlock")[-1]
    assert unlock["peer"] == {"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid()}


def test_refusal_over_the_socket(serving: Serving) -> None:
    client = KeyholderClient(serving.socket)
    request = serving.holder.request()
    client.unwrap(request)
    with pytest.raises(KeyholderRefusedError) as caught:
        client.unwrap(request)
    assert caught.value.rule == "replayed"
    assert serving.holder.records()[-1]["rule"] == "replayed"


def test_broken_frame_refused_and_logged(serving: Serving) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(serving.socket))
        sock.sendall(b"\x00\x00\x00\x10{not json")
        sock.shutdown(socket.SHUT_WR)
        answer = sock.recv(65536)
    assert b"malformed" in answer
    assert serving.holder.records()[-1]["rule"] == "malformed"


def test_stopped_key_holder_is_a_clear_error(serving: Serving) -> None:
    serving.stop()
    assert not serving.socket.exists()  # removed on SIGTERM
    with pytest.raises(KeyholderUnavailableError) as caught:
        KeyholderClient(serving.socket).unwrap(serving.holder.request())
    assert "is not running" in str(caught.value)
    assert "no recording can be viewed" in str(caught.value)
    assert "Fix: start it" in str(caught.value)


def test_second_key_holder_on_the_same_socket_refused(serving: Serving, tmp_path: Path
                                                      ) -> None:
    other = make_holder(tmp_path / "other", socket=serving.socket)  # its own directory
    second = keyholder("serve", "--dir", str(other.directory))
    assert second.returncode == 1
    assert "another key holder is already listening" in second.stderr
    same = keyholder("serve", "--dir", str(serving.holder.directory))
    assert same.returncode == 1
    assert "another process has the key holder" in same.stderr
    assert KeyholderClient(serving.socket).hello()["log_key"] == serving.holder.init.log_key


def test_offline_unwrap_by_file(holder: Holder, tmp_path: Path) -> None:
    grant = tmp_path / "grant.json"
    grant.write_bytes(holder.request().dumps())
    out = tmp_path / "headers.json"
    done = keyholder("unwrap", "--dir", str(holder.directory), "--grant", str(grant),
                     "--out", str(out))
    assert done.returncode == 0, done.stderr
    response = UnwrapResponse.from_json(json.loads(out.read_text()))
    assert viewer_plaintext(holder, response, "00000.age") == \
        holder.authority_plaintext("00000.age")
    again = keyholder("unwrap", "--dir", str(holder.directory), "--grant", str(grant),
                      "--out", str(tmp_path / "again.json"))
    assert again.returncode == 1
    assert "refused (replayed)" in again.stderr
    assert holder.records("unlock")[-1]["peer"]["offline"] == "grant.json"


def test_log_verifies_with_bodycam_evidence(holder: Holder, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    key_holder = holder.open()
    key_holder.unwrap(holder.request(), {"pid": 0, "uid": 0, "gid": 0})
    key_holder.close()
    log = holder.directory / LOG_FILE
    pin = ["--device-key", holder.init.log_key]
    assert evidence_main(["verify", str(log), *pin]) == 0
    lines = log.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"benchmark", b"Benchmark")
    log.write_bytes(b"".join(lines))
    capsys.readouterr()
    assert evidence_main(["verify", str(log), *pin]) == 1
    assert "line 2" in capsys.readouterr().out


def test_identity_must_be_private(holder: Holder) -> None:
    (holder.directory / "authority.key").chmod(0o640)
    done = keyholder("show", "--dir", str(holder.directory))
    assert done.returncode == 1
    assert "must belong to the key holder's user with mode 0600" in done.stderr


def test_offline_unwrap_while_serving_refused(serving: Serving, tmp_path: Path) -> None:
    """One writer of the log: a second process appending would fork its chain."""
    grant = tmp_path / "grant.json"
    grant.write_bytes(serving.holder.request().dumps())
    done = keyholder("unwrap", "--dir", str(serving.holder.directory), "--grant", str(grant),
                     "--out", str(tmp_path / "headers.json"))
    assert done.returncode == 1 and "another process has the key holder" in done.stderr
    shown = keyholder("show", "--dir", str(serving.holder.directory))  # read-only: fine
    assert shown.returncode == 0 and serving.holder.init.log_key in shown.stdout


def test_missing_socket_directory_named(holder: Holder, tmp_path: Path) -> None:
    settings = holder.directory / "keyholder.toml"
    settings.write_text(settings.read_text().replace(
        str(tmp_path / "holder.sock"), str(tmp_path / "gone" / "holder.sock")))
    done = keyholder("serve", "--dir", str(holder.directory))
    assert done.returncode == 1
    assert f"the socket's directory {tmp_path / 'gone'} does not exist" in done.stderr

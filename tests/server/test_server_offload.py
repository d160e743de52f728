"""A camera's recording and audit log through a real `serve` over HTTPS, on SQLite,
PostgreSQL and S3 (moto): stored, receipted, listed, and fetched back byte for byte so
that the custodian's own tools verify and export it unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fetch_rig import fetch_as_custodian
from server_fixtures import Camera, Server

from bodycam.firmware.evidence.receipts import (
    AUDIT_RECEIPT_FORMAT,
    RECEIPT_FORMAT,
    TIME_FORMAT,
    verify_statement,
)
from bodycam.firmware.evidence.signed_log import line_hash
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext


def server_key(server: Server) -> str:
    for line in (server.data_dir / "camera-offload.toml").read_text().splitlines():
        if line.startswith("server_key = "):
            return str(json.loads(line.split("=", 1)[1]))
    raise AssertionError("no server_key in camera-offload.toml")


def custody(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bodycam.tools.custody.cli", *args],
                          capture_output=True, text=True, check=False, timeout=300)


def test_a_recording_is_stored_receipted_and_fetched_byte_for_byte(
        server: Server, camera: Camera, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server.serve()
    client = server.client(camera)
    receipt = client.upload(camera.recording)

    verify_statement(receipt, RECEIPT_FORMAT, server_key(server))
    manifest = (camera.recording / "manifest.jsonl").read_bytes()
    last = manifest.rstrip(b"\n").split(b"\n")[-1]
    names = sorted(p.name for p in camera.recording.iterdir() if p.name != "manifest.jsonl")
    assert receipt["recording_id"] == camera.recording.name
    assert receipt["device_id"] == camera.device_id
    assert receipt["manifest_hash"] == line_hash(last)
    assert receipt["manifest_seq"] == json.loads(last)["seq"]
    assert receipt["files"] == len(names)
    assert receipt["bytes"] == sum((camera.recording / n).stat().st_size for n in names)
    assert receipt["device_key"] == camera.key.device_key.fingerprint

    code, out, _ = server.run("recordings", "--json")
    (listed,) = json.loads(out)
    assert listed["state"] == "complete" and listed["receipt"] is True
    assert (listed["segments_stored"], listed["segments_expected"]) == (len(names), len(names))

    code, out, err = fetch_as_custodian(server, camera.recording.name, "--out",
                                        str(tmp_path / "out"))
    assert code == 0, err
    fetched = tmp_path / "out" / camera.recording.name
    for path in camera.recording.iterdir():
        assert (fetched / path.name).read_bytes() == path.read_bytes(), path.name
    assert sorted(p.name for p in fetched.iterdir()) == sorted(
        p.name for p in camera.recording.iterdir())
    for name, value in server.backend.env.items():
        monkeypatch.setenv(name, value)
    context = ServerContext.open(server.data_dir)
    try:
        (taken,) = Access.of(context).audit.events("recording_fetched")
    finally:
        context.close()
    assert taken.actor.startswith("custodian-")  # the person who signed in for it
    assert json.loads(taken.details)["recording"] == camera.recording.name

    verified = custody("verify", str(fetched), "--device-key", camera.key.device_key.b64)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    exported = custody("export", str(fetched), "-i", str(camera.authority.identity_file),
                       "-o", str(tmp_path / "case.mp4"))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert (tmp_path / "case.mp4").stat().st_size > 0


def test_the_signed_time_answers_the_nonce(server: Server, camera: Camera) -> None:
    server.serve()
    answer = server.client(camera).time("0123456789abcdef0123456789abcdef")
    assert answer.status_code == 200
    statement = verify_statement(answer.json(), TIME_FORMAT, server_key(server))
    assert statement["nonce"] == "0123456789abcdef0123456789abcdef"
    assert server.client(camera).time("not hex").status_code == 400


def test_the_audit_log_goes_up_incrementally_with_its_chain_checked(
        server: Server, camera: Camera) -> None:
    server.serve()
    client = server.client(camera)
    assert client.audit_head().json() == {"seq": None}
    first = camera.audit.read_bytes()
    answer = client.audit_patch("none", first)
    assert answer.status_code == 200, answer.text
    receipt = verify_statement(answer.json(), AUDIT_RECEIPT_FORMAT, server_key(server))
    lines = first.rstrip(b"\n").split(b"\n")
    assert (receipt["seq"], receipt["hash"]) == (len(lines) - 1, line_hash(lines[-1]))

    with camera.audit_log() as log:  # the camera goes on; only the new lines go up
        log.append("offload_started")
    added = camera.audit.read_bytes()[len(first):]
    head = client.audit_head().json()
    answer = client.audit_patch(f"{head['seq']}:{head['hash']}", added)
    assert answer.status_code == 200, answer.text
    assert answer.json()["seq"] == len(lines)
    again = client.audit_patch(f"{head['seq']}:{head['hash']}", added)  # sent twice
    assert again.status_code == 200 and again.json()["seq"] == len(lines)

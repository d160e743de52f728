"""The dock offload end to end: the whole simulated camera against a real `bodycam-server
serve` over HTTPS on loopback (tests/offload_server.py), driven only through the dock
contact and the buttons. Each fault ends the same way: the camera removed only what a
valid receipt covered, and kept everything else."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from device_rig import MakeDevice
from offload_rig import (
    OFFLOAD_S,
    booted,
    dock,
    docked_and_held_whole,
    events,
    files_of,
    finished,
    record,
    upload_by_hand,
    verify,
)
from offload_server import EvidenceServer, evidence_server, make_server
from offload_support import make_pki, server_key_b64

from bodycam.firmware.cli import main as bodycam_main
from bodycam.firmware.device.feedback import ALARMS
from bodycam.firmware.device.identity import IDENTITY_SNAPSHOT
from bodycam.firmware.evidence.offloaded import RECEIPT_NAME
from bodycam.firmware.evidence.receipts import RECEIPT_FORMAT, sign_statement

__all__ = ["evidence_server"]  # the fixture

pytestmark = pytest.mark.slow


def test_a_docked_camera_offloads_removes_and_the_card_verifies_as_offloaded(
        make_sim_device: MakeDevice, evidence_server: EvidenceServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    rig = booted(make_sim_device, evidence_server)
    recording = record(rig, 6)
    before = files_of(recording)
    assert len(before) >= 2  # the manifest and at least one segment
    start = dock(rig)
    done = finished(rig, start)
    assert (done["offloaded"], done["refused"], done["left"]) == (1, 0, 0)
    steps = [r["event"] for r in rig.audit()[start:] if r["event"].startswith(
        ("offload", "time_sync"))]
    assert steps == ["time_sync", "offload_started", "offload_receipt", "offload_removed",
                     "offload_audit", "offload_finished"]
    # the card keeps the manifest and the receipt, nothing else
    assert sorted(os.listdir(recording)) == ["manifest.jsonl", RECEIPT_NAME]
    receipt = (recording / RECEIPT_NAME).read_bytes()
    [kept] = events(rig, start, "offload_receipt")
    assert kept["receipt_sha256"] == hashlib.sha256(receipt).hexdigest()
    assert kept["sent"] == sum(len(v) for k, v in before.items() if k != "manifest.jsonl")
    # the docked pattern says "all offloaded": green steady
    rig.wait_until(lambda: rig.device.controller.dock_activity == "offloaded")
    assert rig.hardware.indicators.led_state("green") is True
    # the camera's clock took the server's signed time (the sim starts in 2025)
    [sync] = events(rig, start, "time_sync")
    assert sync["correction"] == "set (simulated clock)" and sync["offset_seconds"] > 3600
    rig.stop()
    key = evidence_server.offload["server_key"]
    code, out = verify(capsys, str(rig.config.storage.data_dir), "--server-key", key)
    assert code == 0, out
    assert "offloaded: the evidence server's receipt (the pinned server key" in out
    # the server holds it whole, byte for byte
    [item] = evidence_server.recordings()
    assert item["id"] == recording.name and item["state"] == "complete"
    fetched = evidence_server.fetch(recording.name, tmp_path / "fetched")
    assert fetched.returncode == 0, fetched.stderr
    [copy] = [p for p in (tmp_path / "fetched").rglob("manifest.jsonl")]
    assert files_of(copy.parent) == before


def test_a_recording_running_when_docked_goes_up_once_sealed_and_offload_never_blocks(
        make_sim_device: MakeDevice, evidence_server: EvidenceServer) -> None:
    """Docked while recording: the recording goes on (the dock only charges), and is
    offloaded once sealed. RECORD pressed in the dock while an upload is under way
    starts a recording at once; the upload stops and resumes at the byte."""
    rig = booted(make_sim_device, evidence_server, "offload.bandwidth_kbps=400")
    rig.tap("record")
    rig.wait_state("recording")
    start = dock(rig)
    rig.sleep(4)
    assert rig.state == "recording"  # the dock never ends a recording
    rig.hold("record", 3.5)
    rig.wait_state("docked")
    # the upload is slow (400 kbit/s): take the camera back into service while at least
    # half of it is still to go. Each look at the server starts a process (a second or
    # more on a busy machine), so a thin margin could be sent in full before RECORD.
    midway: list[str] = []

    def half_sent() -> bool:
        midway.extend(item["id"] for item in evidence_server.recordings()
                      if 0 < item["bytes_stored"] <= item["bytes_expected"] // 2)
        return bool(midway)

    rig.wait_until(half_sent, timeout=OFFLOAD_S)
    rig.tap("record")
    rig.wait_state("recording")
    assert not events(rig, start, "offload_receipt")
    rig.sleep(2)
    rig.hold("record", 3.5)
    rig.wait_state("docked")  # still in the dock: offloading again, both recordings
    rig.wait_until(lambda: len(events(rig, start, "offload_receipt")) == 2,
                   timeout=OFFLOAD_S)
    rig.wait_until(lambda: rig.device.controller.dock_activity == "offloaded")
    receipts = events(rig, start, "offload_receipt")
    [resumed] = [r for r in receipts if r["recording_id"] == midway[0]]
    assert resumed["held"] > 0  # the first recording resumed where it stopped
    assert resumed["held"] + resumed["sent"] == resumed["bytes"]
    assert all(sorted(os.listdir(d)) == ["manifest.jsonl", RECEIPT_NAME]
               for d in rig.recordings())


def test_a_recording_sealed_after_the_dock_pass_goes_up_in_the_same_dock(
        make_sim_device: MakeDevice, evidence_server: EvidenceServer,
        tmp_path: Path) -> None:
    """Stopping a recording in the dock returns to `docked` before the seal is on the
    card, so the pass that docking starts can miss it. The seal itself asks the worker
    for another pass: the recording does not wait for the next dock. (The seal's late
    arrival is made certain here by keeping the sealed recording out of the card until
    the first pass has finished.)"""
    rig = booted(make_sim_device, evidence_server)
    recording = record(rig, 3)
    aside = tmp_path / "not-yet-sealed"
    recording.rename(aside)
    start = dock(rig)
    assert finished(rig, start)["offloaded"] == 0
    rig.wait_until(lambda: rig.device.controller.dock_activity == "offloaded")
    aside.rename(recording)
    assert rig.device.offload is not None
    rig.device.offload.card_changed()
    found = rig.wait_audit(lambda r: r["event"] == "offload_receipt", after=start,
                           timeout=OFFLOAD_S)
    assert rig.audit()[found]["recording_id"] == recording.name
    rig.wait_until(lambda: sorted(os.listdir(recording)) == ["manifest.jsonl",
                                                             RECEIPT_NAME],
                   timeout=OFFLOAD_S)


@pytest.mark.parametrize("pinned", ["another-key", "another-ca"])
def test_a_camera_pinned_to_another_server_identity_uploads_nothing_until_reprovisioned(
        make_sim_device: MakeDevice, evidence_server: EvidenceServer, pinned: str,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    change = ({"server_key": server_key_b64(Ed25519PrivateKey.generate())}
              if pinned == "another-key" else {"server_ca": make_pki().ca_pem})
    rig = booted(make_sim_device, evidence_server, **change)
    recording = record(rig, 3)
    before = files_of(recording)
    start = dock(rig)
    found = rig.wait_audit(lambda r: r["event"] == "offload_refused", after=start,
                           timeout=OFFLOAD_S)
    refusal = rig.audit()[found]
    assert refusal["code"] == "wrong_server" and refusal["by"] == "camera"
    rig.wait_until(lambda: rig.device.controller.dock_activity == "failing")
    assert rig.hardware.indicators.led_state("amber") == ALARMS["offload_failing"].amber
    rig.wait_audit(lambda r: r["event"] == "alarm" and r["alarm"] == "offload_failing",
                   after=start)  # audited just after the pattern changes: wait for it
    assert files_of(recording) == before
    assert not events(rig, start, "offload_started")
    assert evidence_server.recordings() == []
    # out of the dock the alarm ends: the wearer on duty has no use for it
    after = dock(rig, False)
    rig.wait_state("idle")
    rig.wait_audit(lambda r: r["event"] == "alarm_cleared" and
                   r["alarm"] == "offload_failing", after=after)
    # the technician provisions this server's camera-offload.toml; same card, same key
    rig.stop()
    fixed = booted(make_sim_device, evidence_server, enrol=False)
    docked_and_held_whole(evidence_server, fixed, recording, before=before,
                          out=tmp_path / "fetched", capsys=capsys)


def test_a_camera_nobody_enrolled_is_refused_keeps_everything_and_offloads_once_enrolled(
        make_sim_device: MakeDevice, evidence_server: EvidenceServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    rig = booted(make_sim_device, evidence_server, enrol=False)
    recording = record(rig, 3)
    before = files_of(recording)
    start = dock(rig)
    found = rig.wait_audit(lambda r: r["event"] == "offload_refused", after=start,
                           timeout=OFFLOAD_S)
    refusal = rig.audit()[found]
    assert (refusal["code"], refusal["by"]) == ("not_enrolled", "server")
    assert "bodycam-server device enrol" in refusal["reason"]
    rig.wait_until(lambda: rig.device.controller.dock_activity == "failing")
    assert files_of(recording) == before and evidence_server.recordings() == []
    # the administrator enrols it; the next dock ends as every offload does
    dock(rig, False)
    rig.wait_state("idle")
    evidence_server.enrol(rig.config.storage.state_dir / IDENTITY_SNAPSHOT)
    docked_and_held_whole(evidence_server, rig, recording, before=before,
                          out=tmp_path / "fetched", capsys=capsys)


def test_a_segment_damaged_on_the_card_is_refused_by_name_and_kept(
        make_sim_device: MakeDevice, evidence_server: EvidenceServer) -> None:
    rig = booted(make_sim_device, evidence_server)
    damaged = record(rig, 3)
    good = record(rig, 3)
    segment = damaged / "00000.age"
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size: only the hash can tell
    segment.write_bytes(bytes(data))
    before = files_of(damaged)
    start = dock(rig)
    done = finished(rig, start)
    assert (done["offloaded"], done["refused"]) == (1, 1)
    [refusal] = events(rig, start, "offload_refused")
    assert refusal["recording_id"] == damaged.name and refusal["code"] == "damaged"
    assert "00000.age" in refusal["reason"]
    assert files_of(damaged) == before  # every byte kept
    assert sorted(os.listdir(good)) == ["manifest.jsonl", RECEIPT_NAME]
    assert rig.device.controller.dock_activity == "failing"
    rig.wait_audit(lambda r: r["event"] == "alarm" and r["alarm"] == "offload_failing",
                   after=start)  # the technician at the dock sees it
    assert [r["recording_id"] for r in events(rig, start, "offload_receipt")] == [good.name]
    states = {item["id"]: item for item in evidence_server.recordings()}
    assert states[good.name]["state"] == "complete"
    assert states[damaged.name]["state"] == "damaged"
    assert "00000.age" in json.dumps(states[damaged.name])


def _sign_with_server_key(server: EvidenceServer, fields: dict[str, Any]) -> dict[str, Any]:
    pem = next(server.data_dir.rglob("signing-key.pem")).read_bytes()
    key = load_pem_private_key(pem, None)
    assert isinstance(key, Ed25519PrivateKey)
    return sign_statement(key, RECEIPT_FORMAT, fields)


@pytest.mark.parametrize("receipt", ["forged", "mismatched"])
def test_a_forged_or_mismatched_receipt_removes_nothing(
        make_sim_device: MakeDevice, evidence_server: EvidenceServer, receipt: str) -> None:
    """The server hands out the receipt it stored; here that receipt was altered in its
    database (forged: edited after signing; mismatched: signed by the server's own key,
    but for another seal). The camera checks it before it removes anything."""
    rig = booted(make_sim_device, evidence_server)
    recording = record(rig, 3)
    before = files_of(recording)
    stored = json.loads(upload_by_hand(rig, recording).receipt)
    if receipt == "forged":
        stored["bytes"] += 1
        altered = stored
    else:
        fields = {k: v for k, v in stored.items() if k not in ("sig", "format",
                                                              "server_key")}
        fields["manifest_hash"] = "0" * 64
        altered = _sign_with_server_key(evidence_server, fields)
    with sqlite3.connect(evidence_server.data_dir / "server.db") as db:
        db.execute("UPDATE recordings SET receipt = ? WHERE id = ?",
                   (json.dumps(altered), recording.name))
    start = dock(rig)
    done = finished(rig, start)
    assert (done["offloaded"], done["refused"]) == (0, 1)
    [refusal] = events(rig, start, "offload_refused")
    assert refusal["code"] == "receipt" and "nothing removed" in refusal["reason"]
    assert ("does not verify" if receipt == "forged" else "manifest_hash") in refusal["reason"]
    assert files_of(recording) == before and not (recording / RECEIPT_NAME).exists()
    assert not events(rig, start, "offload_removed")
    [item] = evidence_server.recordings()  # the server holds it whole all the same
    assert item["state"] == "complete"


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; whatever still runs at its end is killed."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(30)


def test_the_camera_killed_mid_upload_resumes_and_loses_nothing(
        tmp_path: Path, evidence_server: EvidenceServer, started: list[subprocess.Popen[str]],
        capsys: pytest.CaptureFixture[str]) -> None:
    """A power cut (SIGKILL) while a segment is half uploaded; the restarted camera, still
    in the dock, continues at the byte the server holds."""
    identity = tmp_path / "authority.txt"
    subprocess.run(["age-keygen", "-o", str(identity)], check=True, capture_output=True)
    recipient = next(line.split(": ", 1)[1] for line in identity.read_text().splitlines()
                     if line.startswith("# public key: "))
    data = tmp_path / "cam"

    def sim(scenario: str, *extra: str) -> subprocess.Popen[str]:
        path = tmp_path / f"{len(list(tmp_path.glob('*.scenario')))}.scenario"
        path.write_text(scenario)
        process = subprocess.Popen(
            [sys.executable, "-m", "bodycam.firmware.cli", "sim", "--data-dir", str(data),
             "--recipient", recipient, "--scenario", str(path), "--quiet",
             "--config", str(evidence_server.offload_file), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started.append(process)
        return process

    first = sim('[[event]]\nat = 1\npress = "record"\n[[event]]\nat = 12\nhold = "record"\n'
                'for = 3.5\n[[event]]\nat = 18\nend = true\n')
    out, _ = first.communicate(timeout=OFFLOAD_S)
    assert first.returncode == 0, out
    evidence_server.enrol(data.with_name("cam-state") / IDENTITY_SNAPSHOT)
    [recording] = [d for d in (data / "evidence").iterdir() if not d.name.startswith(".")]
    before = files_of(recording)
    docked = sim('[[event]]\nat = 1\ndock = true\n[[event]]\nat = 600\nend = true\n',
                 "--set", "offload.bandwidth_kbps=200")
    # Cut while a segment's body is streaming: the server spools it (its folder store's
    # tmp/) until the request ends, so a spool with bytes in it is mid-segment.
    deadline = time.monotonic() + OFFLOAD_S
    while time.monotonic() < deadline:
        spools = list((evidence_server.data_dir / "blobs" / "tmp").glob("spool-*"))
        if any(p.stat().st_size > 64 * 1024 for p in spools if p.exists()):
            break
        time.sleep(0.05)
    else:
        docked.kill()
        raise AssertionError(f"the upload never got under way: {docked.communicate()[0]}")
    docked.send_signal(signal.SIGKILL)  # the power cut
    docked.wait(30)
    assert files_of(recording) == before  # nothing removed without a receipt
    deadline = time.monotonic() + 30  # the server notices the cut connection and keeps
    while evidence_server.recordings()[0]["bytes_stored"] == 0 and \
            time.monotonic() < deadline:  # what arrived (resume at the byte)
        time.sleep(0.1)
    held = evidence_server.recordings()[0]["bytes_stored"]
    again = sim('[[event]]\nat = 1\ndock = true\n[[event]]\nat = 600\nend = "offloaded"\n')
    out, _ = again.communicate(timeout=OFFLOAD_S)
    assert again.returncode == 0, out
    audit = [json.loads(line) for line in (data / "audit" / "audit.jsonl").read_text()
             .splitlines()]
    [kept] = [r for r in audit if r["event"] == "offload_receipt"]
    assert kept["held"] >= held > 0  # resumed at the byte, not from the start
    assert kept["held"] + kept["sent"] == kept["bytes"]
    assert sorted(os.listdir(recording)) == ["manifest.jsonl", RECEIPT_NAME]
    fetched = evidence_server.fetch(recording.name, tmp_path / "fetched")
    assert fetched.returncode == 0, fetched.stderr
    [copy] = list((tmp_path / "fetched").rglob("manifest.jsonl"))
    assert files_of(copy.parent) == before
    code, out = verify(capsys, str(data), "--server-key",
                       evidence_server.offload["server_key"])
    assert code == 0, out


def test_the_offload_file_is_layered_as_it_is(tmp_path: Path) -> None:
    """`bodycam check-config` accepts the server's own camera-offload.toml unchanged."""
    server = make_server(tmp_path)
    device = tmp_path / "bodycam.toml"
    device.write_text('[device]\nid = "BC-0042"\n')
    assert bodycam_main(["check-config", str(device), str(server.offload_file)]) == 0
    assert base64.b64decode(server.offload["server_key"])
    shutil.rmtree(server.data_dir)

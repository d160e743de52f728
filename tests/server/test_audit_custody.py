"""A recording's chain-of-custody report: every audit record that touched it, with the
hashes a court checks (manifest, segments, audit records), as JSON, as a printable page
and from `bodycam-server audit report`; read only by an auditor or someone who may view
the recording, and itself on record."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fetch_rig import fetch_as_custodian
from people_rig import DATABASES, PASSWORD, People, code, open_people, wrong_code
from server_fixtures import Camera, Server

from bodycam.server.access.rules import CONSOLE, AccessError
from bodycam.server.access.service import Access
from bodycam.server.audit.custody import (
    NoSuchRecordingError,
    custody_report,
    read_custody_report,
)
from bodycam.server.audit.custody_page import render_custody_html
from bodycam.server.context import ServerContext
from bodycam.server.custody.assignments import add_assignment
from bodycam.server.device_audit.models import AuditChunk
from bodycam.server.devices.models import Device
from bodycam.server.people.accounts import add_user
from bodycam.server.recordings.models import Recording, RecordingFile

RECORDING = "BC-0001-20260101T080000Z-ab12"


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def store_recording(people: People) -> None:
    """The rows the offload leaves, written straight (the end-to-end test below offloads)."""
    with people.context.database.transaction() as session:
        session.add(Device(id="BC-0001", enrolled_at=datetime.now(UTC), version=0))
        session.flush()
        session.add(Recording(
            id=RECORDING, device_id="BC-0001", device_key="0123456789abcdef",
            manifest_sha256="a" * 64, manifest_seq=9, manifest_hash="b" * 64,
            start="2026-01-01T08:00:00.000Z", end="2026-01-01T08:00:20.000Z", files=2,
            bytes=30, received_at=datetime.now(UTC), last_activity=0.0))
        session.flush()
        for n, sha in enumerate(("c" * 64, "d" * 64)):
            session.add(RecordingFile(recording_id=RECORDING, name=f"{n:05d}.age",
                                      position=n, size=15, sha256=sha, stored=15,
                                      complete=True, generation=1))
    audit = people.access.audit
    audit.record("recording_received", "camera BC-0001", recording=RECORDING,
                 manifest_sha256="a" * 64)
    audit.record("note_added", "rex", recording=RECORDING, text="<script>alert(1)</script>")
    audit.record("recording_viewed", "rex", recording="BC-0002-20260101T080000Z-ffff")


def read_as(people: People, user_id: int) -> dict[str, object]:
    with people.access.work(user_id, "custody.report") as work:
        return read_custody_report(work, RECORDING).to_json()


def test_the_report_lists_what_touched_the_recording_with_its_hashes(
        people: People) -> None:
    store_recording(people)
    ada = people.add("ada", "auditor")
    report = read_as(people, ada.user_id)
    assert report["manifest_sha256"] == "a" * 64 and report["manifest_hash"] == "b" * 64
    assert [(f["name"], f["sha256"], f["stored"]) for f in report["files"]] == [  # type: ignore[attr-defined]
        ("00000.age", "c" * 64, True), ("00001.age", "d" * 64, True)]
    events = report["events"]
    assert isinstance(events, list)
    assert [e["kind"] for e in events] == ["recording_received", "note_added"]
    rows = {e.seq: e for e in people.access.audit.events()}
    for event in events:
        assert (event["hash"], event["prev"]) == (rows[event["seq"]].hash,
                                                  rows[event["seq"]].prev)
    assert report["server_key"] == people.access.audit.signer.fingerprint
    (read,) = people.access.audit.events("custody_report_read")
    assert read.actor == "ada" and json.loads(read.details) == {
        "recording": RECORDING, "permission": "audit.read"}
    assert read_as(people, ada.user_id)["events"][-1]["kind"] == "custody_report_read"  # type: ignore[index]


def test_who_may_read_it(people: People) -> None:
    store_recording(people)
    assert read_as(people, people.add("rex", "reviewer").user_id)["held"] is True
    admin = people.add("root", "administrator")
    with pytest.raises(AccessError) as refused:
        read_as(people, admin.user_id)
    assert refused.value.rule == "administrator_no_evidence"
    wearer = people.add("wendy", "wearer", second_factor=False)
    with pytest.raises(AccessError) as lacking:
        read_as(people, wearer.user_id)
    assert lacking.value.rule == "permission" and "recording.view" in lacking.value.message
    refusals = [(e.actor, e.rule, json.loads(e.details)["recording"])
                for e in people.access.audit.events("refused")]
    assert refusals == [("root", "administrator_no_evidence", RECORDING),
                        ("wendy", "permission", RECORDING)]
    with pytest.raises(AccessError), people.access.work(CONSOLE, "custody.report") as work:
        read_custody_report(work, RECORDING)


def test_the_wearer_is_refused_even_when_no_caller_passes_the_target(people: People) -> None:
    """The command line passes no target: the wearers come from the assignments all the
    same, so a wearer who also reviews cannot read their own recording's report."""
    store_recording(people)
    wearer = people.add("wanda", "reviewer")
    people.add("admin", "administrator")
    with people.access.work(CONSOLE, "assignment.add") as work:
        add_assignment(work, "BC-0001", "wanda", "2026-01-01T07:00:00Z",
                       "2026-01-01T12:00:00Z")
    with pytest.raises(AccessError) as refused:
        read_as(people, wearer.user_id)
    assert refused.value.rule == "own_recording"


def test_a_deleted_recording_keeps_its_report_and_an_unknown_one_has_none(
        people: People) -> None:
    store_recording(people)
    with people.context.database.transaction() as session:
        session.query(RecordingFile).delete()
        session.query(Recording).delete()
    with people.context.database.transaction() as session:
        report = custody_report(session, RECORDING, server_key="k", now=0.0)
        assert report.held is False and len(report.events) == 2
        with pytest.raises(NoSuchRecordingError, match="no recording 'BC-9"):
            custody_report(session, "BC-9-20260101T080000Z-0000", server_key="k", now=0.0)


def test_the_printable_page_holds_the_hashes_and_escapes_what_people_typed(
        people: People) -> None:
    store_recording(people)
    with people.context.database.transaction() as session:
        report = custody_report(session, RECORDING, server_key="k", now=0.0)
    page = render_custody_html(report)
    for value in ("a" * 64, "b" * 64, "c" * 64, "d" * 64, *(e.hash for e in report.events)):
        assert value is not None and value in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "@media print" in page


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_an_offloaded_recording_end_to_end_and_from_the_command_line(
        server: Server, camera: Camera, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    server.serve()
    client = server.client(camera)
    client.upload(camera.recording)
    camera_log = camera.audit.read_bytes()
    assert client.audit_patch("none", camera_log).status_code == 200
    fetch_as_custodian(server, camera.recording.name, "--out", str(tmp_path / "out"))
    context = ServerContext.open(server.data_dir)
    try:
        with Access.of(context).work(CONSOLE, "user.add") as work:
            ada = add_user(work, "ada", "Ada", PASSWORD, roles=["auditor"])
    finally:
        context.close()
    assert ada.totp_secret is not None
    now = time.time()
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{PASSWORD}\n{code(ada.totp_secret, now)}\n"))
    _, out, _ = server.run("audit", "report", camera.recording.name, "--as", "ada",
                           "--password-stdin", "--json", "--html", str(tmp_path / "c.html"))
    report = json.loads(out)
    manifest = (camera.recording / "manifest.jsonl").read_bytes()
    assert report["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    for item in report["files"]:
        assert item["stored"] and item["sha256"] == hashlib.sha256(
            (camera.recording / item["name"]).read_bytes()).hexdigest()
    kinds = [e["kind"] for e in report["events"]]
    assert kinds == ["recording_received", "receipt_issued", "recording_fetched"]
    received = report["events"][0]
    assert received["actor"] == f"camera {camera.device_id}"
    assert received["details"]["manifest_sha256"] == report["manifest_sha256"]
    assert report["events"][1]["details"]["receipt_sig"] == report["receipt"]["sig"]
    sealed = camera_log.split(b"\n")[1]
    assert report["camera_records"] == [{
        "seq": 1, "hash": hashlib.sha256(sealed).hexdigest(),
        "time": json.loads(sealed)["time"], "event": "recording_sealed", "details": {}}]
    page = (tmp_path / "c.html").read_text()
    assert report["manifest_sha256"] in page and report["camera_records"][0]["hash"] in page
    wrong = wrong_code(ada.totp_secret, time.time())
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{PASSWORD}\n{wrong}\n"))
    code_, _, err = server.run("audit", "report", camera.recording.name, "--as", "ada",
                               "--password-stdin", check=False)
    assert code_ == 1 and "wrong username, password or code" in err


def test_a_camera_log_chunk_the_store_lost_is_named_not_skipped(people: People) -> None:
    store_recording(people)
    line = json.dumps({"seq": 4, "event": "recording_sealed", "recording_id": RECORDING,
                       "time": "2026-01-01T08:00:21.000Z"}).encode()
    good = people.context.blobs.put_bytes(b'{"seq":3,"event":"boot"}\n' + line + b"\n")
    with people.context.database.transaction() as session:
        session.add(AuditChunk(device_id="BC-0001", first_seq=3, last_seq=4, blob=good,
                               received_at=datetime.now(UTC)))
        session.add(AuditChunk(device_id="BC-0001", first_seq=5, last_seq=9, blob="e" * 64,
                               received_at=datetime.now(UTC)))
    with people.context.database.transaction() as session:
        report = custody_report(session, RECORDING, server_key="k", now=0.0,
                                blobs=people.context.blobs)
    assert [(c.seq, c.event, c.hash) for c in report.camera_records] == [
        (4, "recording_sealed", hashlib.sha256(line).hexdigest())]
    (note,) = report.notes
    assert note.startswith("lines 5-9 of BC-0001's audit log cannot be read")

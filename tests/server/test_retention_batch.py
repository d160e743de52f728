"""The retention job deletes a batch at a time: the SQL it sends does not grow with the
batch, and batching changes nothing of what is deleted, kept or recorded: blockers
that appear during the pending window, a legal hold placed while the job claims, blobs
two recordings of a batch share, blobs named by a fork note or a camera's audit log, a
blob the store fails to remove, a restore racing a deletion's claim."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from retention_rig import DEVICE, Retention, open_retention, racing, racing_a_hold
from sqlalchemy import event, update

from bodycam.server.access.rules import Target
from bodycam.server.custody.models import Case, CaseRecording
from bodycam.server.custody.target import recording_target
from bodycam.server.database.engine import Database
from bodycam.server.device_audit.models import AuditChunk
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.retention import deletion
from bodycam.server.retention.categories import restore, retention_of
from bodycam.server.retention.job import RunReport, run_retention
from bodycam.server.storage.blobs import StorageError, sha256_hex


@pytest.fixture(params=("sqlite", "postgresql"))
def rig(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Retention]:
    yield from open_retention(request, tmp_path, monkeypatch)


def run(rig: Retention) -> RunReport:
    return run_retention(rig.context.database, rig.context.blobs, rig.access.audit,
                         rig.clock, "test")


def pending(rig: Retention, *segments: bytes) -> str:
    """A recording whose pending window has not passed yet (the next `due` ends it)."""
    recording_id = rig.recording(*segments, days_ago=60)
    assert run(rig).pending == [recording_id]
    return recording_id


def due(rig: Retention) -> None:
    rig.later(8)  # past the default pending window of 7 days


def state(rig: Retention, recording_id: str) -> tuple[str, float | None]:
    with rig.context.database.transaction() as session:
        row = retention_of(session, recording_id)
        return row.state, row.pending_since


def tombstones(rig: Retention) -> dict[str, dict[str, Any]]:
    return {details["recording"]: details for details in (
        json.loads(e.details) for e in rig.access.audit.events("recording_deleted"))}


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """Every statement the engine sends meanwhile (an executemany once)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def _statements(rig: Retention, count: int) -> tuple[int, int]:
    """Statements of the run that makes `count` recordings pending, and of the run
    that deletes them (one batch each)."""
    old = [rig.recording(f"{count} segment {i}".encode(), f"{count} other {i}".encode(),
                         days_ago=60 + i / 1000) for i in range(count)]  # ids by the second
    with statements(rig.context.database) as expiring:
        assert sorted(run(rig).pending) == sorted(old)
    due(rig)
    with statements(rig.context.database) as deleting:
        report = run(rig)
    assert sorted(report.deleted) == sorted(old) and not report.failed
    return len(expiring), len(deleting)


def test_a_batch_costs_the_same_statements_whatever_its_size(rig: Retention) -> None:
    few = _statements(rig, 5)
    many = _statements(rig, 50)
    # one recording at a time cost ~22 statements each to delete and one to expire: 50
    # would be ~1,000 (and 45) more than 5
    assert many[0] <= few[0] + 2 and many[1] <= few[1] + 2, (few, many)


def test_blockers_that_appear_in_the_window_send_recordings_back_to_kept(
        rig: Retention) -> None:
    held, in_case, arriving, free = (pending(rig, f"window {i}".encode(), b"tail")
                                     for i in range(4))
    rig.hold(held)
    with rig.context.database.transaction() as session:
        case = Case(reference="2026/7", title="assault", opened_by="carol",
                    opened_at=rig.clock.now)
        session.add(case)
        session.flush()
        session.add(CaseRecording(case_id=case.id, recording_id=in_case, added_by="carol",
                                  added_at=rig.clock.now))
        session.execute(update(RecordingFile).where(
            RecordingFile.recording_id == arriving, RecordingFile.position == 1).values(
            complete=False))
    due(rig)
    report = run(rig)
    assert report.deleted == [free]
    assert report.skipped == {"legal_hold": [held], "open_case": [in_case],
                              "incomplete": [arriving]}
    for kept in (held, in_case, arriving):
        assert state(rig, kept) == ("kept", None)  # a fresh window once unblocked
    assert list(tombstones(rig)) == [free]
    assert set(tombstones(rig)[free]) == {  # what a tombstone of the job always said
        "recording", "device", "manifest_sha256", "manifest_hash", "fork_manifests",
        "start", "end", "segments", "how", "category", "period_days", "expired_at",
        "pending_since", "requested_by", "approved_by", "reason", "blobs_removed",
        "blobs_shared"}
    [record] = [json.loads(e.details) for e in rig.access.audit.events("retention_run")
                if json.loads(e.details)["deleted"]]
    assert record["skipped"]["legal_hold"] == {"count": 1, "ids": [held]}


def test_a_legal_hold_placed_while_the_job_claims_wins(rig: Retention) -> None:
    raced = pending(rig, b"raced")
    other = pending(rig, b"claimed alongside")
    due(rig)
    report = racing_a_hold(rig, raced, lambda: run(rig))
    assert isinstance(report, RunReport), report
    assert report.skipped == {"legal_hold": [raced]}, "the job deleted through a hold"
    assert report.deleted == [other]
    assert state(rig, raced) == ("kept", None)
    assert rig.context.blobs.has(sha256_hex(b"raced"))
    assert not rig.context.blobs.has(sha256_hex(b"claimed alongside"))


def test_a_blob_two_recordings_of_a_batch_name_is_removed_once(
        rig: Retention, monkeypatch: pytest.MonkeyPatch) -> None:
    first = pending(rig, b"", b"only the first")
    second = pending(rig, b"", b"only the second")
    due(rig)
    store = rig.context.blobs
    removed: list[str] = []
    real_delete = store.delete

    def delete(sha: str) -> None:  # the real store, its calls counted
        removed.append(sha)
        real_delete(sha)

    monkeypatch.setattr(store, "delete", delete)
    assert sorted(run(rig).deleted) == sorted([first, second])
    assert removed.count(sha256_hex(b"")) == 1 and len(removed) == len(set(removed))
    assert not store.has(sha256_hex(b""))
    for recording_id in (first, second):
        details = tombstones(rig)[recording_id]
        assert details["blobs_removed"] == 3 and details["blobs_shared"] == []


@pytest.mark.parametrize("names_per_query", [2000, 1])  # a long recording's names: chunks
def test_blobs_a_fork_note_or_a_camera_audit_chunk_names_stay(
        rig: Retention, monkeypatch: pytest.MonkeyPatch, names_per_query: int) -> None:
    monkeypatch.setattr(deletion, "_CHUNK", names_per_query)
    old = pending(rig, b"named by the camera's audit log", b"old alone")
    young = rig.recording(b"young", days_ago=1)
    with rig.context.database.transaction() as session:
        manifest = session.get_one(Recording, old).manifest_sha256
        session.get_one(Recording, young).fork = (
            f"2026-01-01T00:00:00Z: another signed manifest (blob {manifest}) was sent")
        session.add(AuditChunk(device_id=DEVICE, first_seq=1, last_seq=9,
                               blob=sha256_hex(b"named by the camera's audit log"),
                               received_at=datetime.now(UTC)))
    due(rig)
    assert run(rig).deleted == [old]
    store = rig.context.blobs
    assert store.has(manifest) and store.has(sha256_hex(b"named by the camera's audit log"))
    assert not store.has(sha256_hex(b"old alone"))
    assert tombstones(rig)[old]["blobs_shared"] == sorted(
        [manifest, sha256_hex(b"named by the camera's audit log")])


def test_a_blob_the_store_fails_to_remove_keeps_its_recordings_deleting_until_next_run(
        rig: Retention, monkeypatch: pytest.MonkeyPatch) -> None:
    stuck = pending(rig, b"the stuck blob", b"stuck alone")
    sharing = pending(rig, b"the stuck blob")
    free = pending(rig, b"free")
    due(rig)
    store = rig.context.blobs
    real_delete = store.delete

    def delete(sha: str) -> None:  # the real store, but one blob will not go
        if sha == sha256_hex(b"the stuck blob"):
            raise StorageError("the blob folder failed: input/output error")
        real_delete(sha)

    monkeypatch.setattr(store, "delete", delete)
    report = run(rig)
    assert report.deleted == [free]
    assert sorted(report.failed) == sorted([stuck, sharing])
    assert "input/output error" in report.failed[stuck]
    assert state(rig, stuck)[0] == state(rig, sharing)[0] == "deleting"
    assert list(tombstones(rig)) == [free]  # a tombstone only once the blobs are gone
    monkeypatch.undo()  # the store works again: the next run finishes them
    assert sorted(run(rig).deleted) == sorted([stuck, sharing])
    assert not store.has(sha256_hex(b"the stuck blob"))
    assert not store.has(sha256_hex(b"stuck alone"))


def test_a_restore_racing_the_claim_of_a_deletion_never_keeps_a_recording_without_blobs(
        rig: Retention) -> None:
    # Restoring reads the state, then writes it: without the recording's lock it read
    # `pending`, waited for the claim's row, and then wrote `kept` over `deleting`
    # while the blobs were going: a kept recording with nothing left, and no tombstone.
    rig.add("walt", "wearer")
    rita = rig.add("rita", "reviewer").user_id
    rec = pending(rig, b"restored too late")
    due(rig)
    with rig.context.database.transaction() as session:
        target = recording_target(session, rec)

    def restoring() -> object:
        with rig.access.work(rita, "recording.restore") as work:
            return restore(work, target, "evidential", "look again")

    result = racing(rig, lambda session: deletion.claim(
        session, Target(recording_id=rec), {"actor": "anna", "reason": "approved"}),
        restoring)
    assert isinstance(result, ValueError), f"restored over a deletion: {result}"
    assert "not waiting for deletion" in str(result)
    assert state(rig, rec)[0] == "deleting"
    assert run(rig).deleted == [rec]  # the deletion finishes, with its tombstone
    assert list(tombstones(rig)) == [rec]

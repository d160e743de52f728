"""The retention job: expiry, the pending window, deletion from the blob store with a
tombstone, content shared between recordings, crash recovery, and two jobs at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from retention_rig import Retention, open_retention
from sqlalchemy import update

from bodycam.server.access.rules import CONSOLE, AccessError, Target
from bodycam.server.audit.trail import AuditTrail
from bodycam.server.custody.models import Case, CaseRecording
from bodycam.server.database.engine import Database
from bodycam.server.recordings.models import RecordingFile
from bodycam.server.retention import deletion
from bodycam.server.retention.categories import retention_of
from bodycam.server.retention.job import Lease, RetentionJob, RunReport, run_retention
from bodycam.server.retention.window import set_pending_days
from bodycam.server.storage.blobs import sha256_hex


@pytest.fixture(params=("sqlite", "postgresql", "s3"))
def rig(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Retention]:
    yield from open_retention(request, tmp_path, monkeypatch)


def run(rig: Retention, holder: str = "test") -> RunReport:
    return run_retention(rig.context.database, rig.context.blobs, rig.access.audit,
                         rig.clock, holder)


def state(rig: Retention, recording_id: str) -> str:
    with rig.context.database.transaction() as session:
        return retention_of(session, recording_id).state


def test_an_expired_recording_waits_out_the_window_then_goes_with_a_tombstone(
        rig: Retention) -> None:
    fresh = rig.recording(b"fresh segment", days_ago=1)
    old = rig.recording(b"old segment 0", b"old segment 1", days_ago=40)
    blobs = rig.context.blobs
    first = run(rig)
    assert first.pending == [old] and first.deleted == [] and first.registered == 2
    assert state(rig, old) == "pending" and state(rig, fresh) == "kept"
    assert blobs.has(sha256_hex(b"old segment 0"))  # restorable during the window

    rig.later(6.9)
    assert run(rig).deleted == []
    rig.later(0.2)  # the default window is 7 days
    second = run(rig)
    assert second.deleted == [old]
    assert state(rig, old) == "deleted" and state(rig, fresh) == "kept"
    for data in (b"old segment 0", b"old segment 1", f"manifest of {old}".encode()):
        assert not blobs.has(sha256_hex(data))
    assert blobs.has(sha256_hex(b"fresh segment"))

    [tombstone] = rig.access.audit.events("recording_deleted")
    details = json.loads(tombstone.details)
    assert tombstone.actor == "retention"
    assert details["recording"] == old and details["device"] == "BC-0001"
    assert details["manifest_sha256"] == sha256_hex(f"manifest of {old}".encode())
    assert [s["sha256"] for s in details["segments"]] == [
        sha256_hex(b"old segment 0"), sha256_hex(b"old segment 1")]
    assert details["category"] == "uncategorised" and details["period_days"] == 31
    assert details["reason"] and details["requested_by"] and details["approved_by"]
    runs = [json.loads(e.details) for e in rig.access.audit.events("retention_run")]
    assert [r["pending_ids"] for r in runs] == [[old], [], []]  # every run, even idle
    assert [r["deleted_ids"] for r in runs] == [[], [], [old]]


def test_bytes_another_recording_holds_too_stay_in_the_store(rig: Retention) -> None:
    # Content-addressed: identical bytes are one blob. Real age ciphertext never repeats,
    # but an empty file's blob is shared by every recording that has one.
    old = rig.recording(b"", b"only the old one", days_ago=60)
    keeper = rig.recording(b"", days_ago=1)
    run(rig)
    rig.later(8)
    assert run(rig).deleted == [old]
    assert rig.context.blobs.has(sha256_hex(b""))
    assert not rig.context.blobs.has(sha256_hex(b"only the old one"))
    [tombstone] = rig.access.audit.events("recording_deleted")
    assert json.loads(tombstone.details)["blobs_shared"] == [sha256_hex(b"")]
    assert state(rig, keeper) == "kept"


def test_a_recording_still_arriving_is_skipped_and_the_run_says_why(
        rig: Retention) -> None:
    old = rig.recording(b"part one", b"part two", days_ago=60)
    with rig.context.database.transaction() as session:
        session.execute(update(RecordingFile).where(
            RecordingFile.recording_id == old, RecordingFile.position == 1).values(
            complete=False, stored=3))
    report = run(rig)
    assert report.pending == [] and report.skipped == {"incomplete": [old]}
    [record] = rig.access.audit.events("retention_run")
    assert json.loads(record.details)["skipped"] == {"incomplete": {"count": 1,
                                                                   "ids": [old]}}


def test_a_deletion_a_crash_interrupted_is_finished_by_the_next_run(
        rig: Retention) -> None:
    old = rig.recording(b"half deleted", days_ago=60)
    with rig.context.database.transaction() as session:  # claimed, then the crash
        deletion.claim(session, Target(recording_id=old), {"actor": "alice",
                                                           "reason": "test"})
    assert state(rig, old) == "deleting"
    report = run(rig)
    assert report.deleted == [old]
    assert not rig.context.blobs.has(sha256_hex(b"half deleted"))
    [tombstone] = rig.access.audit.events("recording_deleted")
    assert tombstone.actor == "alice"


def test_the_pending_window_is_the_agency_setting_within_bounds(rig: Retention) -> None:
    for days in (0, -1, 91):
        with pytest.raises(AccessError) as caught, rig.access.work(
                CONSOLE, "retention.window") as work:
            set_pending_days(work, days)
        assert caught.value.rule == "pending_window"
        assert "1 to 90" in caught.value.message
    with rig.access.work(CONSOLE, "retention.window") as work:
        set_pending_days(work, 2)
    old = rig.recording(b"short window", days_ago=60)
    run(rig)
    rig.later(2.01)
    assert run(rig).deleted == [old]
    refusals = [(e.kind, e.rule) for e in rig.access.audit.events("refused")]
    assert refusals == [("refused", "pending_window")] * 3


def test_a_run_that_finds_nothing_to_do_is_on_record_too(rig: Retention) -> None:
    rig.recording(b"young", days_ago=1)
    assert not run(rig).pending
    assert not run(rig).did_anything
    runs = [json.loads(e.details) for e in rig.access.audit.events("retention_run")]
    assert len(runs) == 2 and runs[1]["pending_ids"] == [] and runs[1]["deleted_ids"] == []


def test_a_second_job_does_nothing_while_another_holds_the_lease(rig: Retention) -> None:
    old = rig.recording(b"leased", days_ago=60)
    other = Lease(rig.context.database, "other-process", rig.clock)
    assert other.take() is None
    report = run(rig, holder="this-process")
    assert report.held_by is not None and "other-process" in report.held_by
    assert state(rig, old) == "kept" and not report.did_anything
    assert rig.access.audit.events("retention_run") == []  # the lease holder records its run
    rig.later(600 / 86400 + 1e-6)  # the other process died: its lease runs out
    assert run(rig, holder="this-process").pending == [old]


def test_two_jobs_started_at_once_delete_each_recording_exactly_once(
        rig: Retention) -> None:
    old = [rig.recording(f"segment {i}".encode(), days_ago=60) for i in range(6)]
    run(rig)
    rig.later(8)
    start = threading.Barrier(2)
    reports: list[RunReport] = []

    def job(name: str) -> None:
        database = Database(rig.context.database.url)  # a process of its own
        try:
            start.wait()
            reports.append(run_retention(database, rig.context.blobs,
                                         AuditTrail(database, rig.clock, rig.context.signing_key),
                                         rig.clock, name))
        finally:
            database.dispose()

    threads = [threading.Thread(target=job, args=(f"job-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(d for r in reports for d in r.deleted) == sorted(old)
    tombstones = [json.loads(e.details)["recording"]
                  for e in rig.access.audit.events("recording_deleted")]
    assert sorted(tombstones) == sorted(old)


def test_serve_runs_the_job_in_a_thread_that_stops_with_it(rig: Retention) -> None:
    old = rig.recording(b"served", days_ago=60)
    job = RetentionJob(rig.context.database, rig.context.blobs, rig.access.audit,
                       rig.clock, every=3600, first=0).start()
    try:
        for _ in range(6000):  # until the first run is on record (no speed is asserted)
            if rig.access.audit.events("retention_run"):
                break
            threading.Event().wait(0.01)
    finally:
        job.stop()
    assert state(rig, old) == "pending"
    assert len(rig.access.audit.events("retention_run")) == 1  # the next is an hour away


def test_a_legal_hold_or_an_open_case_keeps_an_expired_recording(rig: Retention) -> None:
    held, in_case, closed = (rig.recording(f"blocked {i}".encode(), days_ago=60)
                             for i in range(3))
    rig.hold(held)
    with rig.context.database.transaction() as session:
        for reference, recording_id, closed_at in (("open", in_case, None),
                                                   ("closed", closed, rig.clock.now)):
            case = Case(reference=reference, title=reference, opened_by="carol",
                        opened_at=rig.clock.now, closed_at=closed_at)
            session.add(case)
            session.flush()
            session.add(CaseRecording(case_id=case.id, recording_id=recording_id,
                                      added_by="carol", added_at=rig.clock.now))
    report = run(rig)
    assert report.skipped == {"legal_hold": [held], "open_case": [in_case]}
    assert report.pending == [closed]

"""The retention job: expired recordings wait out the pending window, then go.

Safe with several `serve` processes (and `bodycam-server retention run`) on one
database: a lease row (`job_leases`) is taken by compare-and-set, renewed while the job
works (every batch of BATCH recordings), and released at the end; whoever does not get
it does nothing. Recordings are claimed a batch at a time under their row locks with a
state check (deletion.claim_all), so even two jobs never delete one twice. Every
run that did anything is one audit record: what became pending, what was deleted, what
was skipped and why.

A run:
1. gives recordings that arrived since the last run their retention row;
2. finishes deletions a crash interrupted (state `deleting`);
3. makes expired recordings `pending` (unless a hold, open case or upload blocks them);
4. deletes pending recordings whose window has passed; one blocked meanwhile goes back
   to `kept`, and starts a fresh window once the block is gone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select, update

from bodycam.server.audit.trail import AuditTrail
from bodycam.server.database.engine import Database, compare_and_set
from bodycam.server.retention import deletion
from bodycam.server.retention.blocks import blocked_among
from bodycam.server.retention.categories import DAY, ensure_retention
from bodycam.server.retention.models import JobLease, RecordingRetention, RetentionCategory
from bodycam.server.retention.window import pending_days
from bodycam.server.storage.blobs import BlobStore

__all__ = ["JOB", "LEASE_S", "RUN_EVERY_S", "Lease", "RetentionJob", "RunReport",
           "holder_name", "run_retention"]

JOB: Final = "retention"
LEASE_S: Final = 600.0
RUN_EVERY_S: Final = 3600.0
FIRST_RUN_S: Final = 300.0
BATCH: Final = 200  # recordings per transaction (each batch renews the lease)
_LISTED: Final = 500  # ids named per list in the run's audit record
_log = logging.getLogger(__name__)


def holder_name() -> str:
    """This process, as the lease names it (host and pid: an operator can find it)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


@dataclass
class Lease:
    """The job's lease row, taken and renewed by compare-and-set."""

    database: Database
    holder: str
    clock: Callable[[], float]
    seconds: float = LEASE_S

    def take(self) -> str | None:
        """None if taken (or renewed); else who holds it, until when."""
        now = self.clock()
        with self.database.transaction() as session:
            if session.get(JobLease, JOB) is None:
                with session.begin_nested():
                    session.add(JobLease(name=JOB, holder="", expires_at=0.0))
            won = compare_and_set(session, update(JobLease).where(
                JobLease.name == JOB,
                (JobLease.expires_at <= now) | (JobLease.holder == self.holder))
                .values(holder=self.holder, expires_at=now + self.seconds))
            if won:
                return None
            row = session.get_one(JobLease, JOB)
            return f"{row.holder} until {row.expires_at:.0f}"

    def release(self) -> None:
        with self.database.transaction() as session:
            session.execute(update(JobLease).where(
                JobLease.name == JOB, JobLease.holder == self.holder).values(expires_at=0.0))


@dataclass
class RunReport:
    """What a run did. `held_by` set: another process holds the lease; nothing done."""

    held_by: str | None = None
    registered: int = 0
    pending: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def skip(self, rule: str, recording_id: str) -> None:
        self.skipped.setdefault(rule, []).append(recording_id)

    @property
    def did_anything(self) -> bool:
        return bool(self.registered or self.pending or self.deleted or self.skipped
                    or self.failed)

    def to_json(self) -> dict[str, Any]:
        return {"held_by": self.held_by, "registered": self.registered,
                "pending": self.pending, "deleted": self.deleted, "skipped": self.skipped,
                "failed": self.failed}

    def audit_details(self) -> dict[str, Any]:
        """Counts, and the ids (the first _LISTED of each list)."""
        return {"registered": self.registered,
                "pending": len(self.pending), "pending_ids": self.pending[:_LISTED],
                "deleted": len(self.deleted), "deleted_ids": self.deleted[:_LISTED],
                "skipped": {rule: {"count": len(ids), "ids": ids[:_LISTED]}
                            for rule, ids in self.skipped.items()},
                "failed": dict(list(self.failed.items())[:_LISTED])}


@dataclass
class _Run:
    database: Database
    blobs: BlobStore
    audit: AuditTrail
    clock: Callable[[], float]
    lease: Lease
    report: RunReport = field(default_factory=RunReport)

    def ids(self, state: str, before: float | None = None) -> list[str]:
        query = select(RecordingRetention.recording_id).where(
            RecordingRetention.state == state).order_by(RecordingRetention.recording_id)
        if before is not None:
            column = (RecordingRetention.expires_at if state == "kept"
                      else RecordingRetention.pending_since)
            query = query.where(column <= before)
        with self.database.transaction() as session:
            return list(session.scalars(query))

    def renew(self) -> None:
        held = self.lease.take()
        if held is not None:
            raise RuntimeError(f"the retention lease went to {held}; this run stops")

    def finish(self, recording_ids: list[str]) -> None:
        done, failed = deletion.finish(self.database, self.blobs, self.audit,
                                       recording_ids, self.clock)
        self.report.deleted.extend(d.recording_id for d in done)
        self.report.failed.update(failed)

    def expire(self, recording_ids: list[str]) -> None:
        """The batch's expired recordings become pending (one update, still checking
        state and expiry: a recording categorised meanwhile stays kept); blocked ones
        are skipped with their rule."""
        now = self.clock()
        with self.database.transaction() as session:
            blocked = blocked_among(session, recording_ids)
            for recording_id in recording_ids:
                if recording_id in blocked:
                    self.report.skip(blocked[recording_id], recording_id)
            free = [r for r in recording_ids if r not in blocked]
            went = set(session.scalars(update(RecordingRetention).where(
                RecordingRetention.recording_id.in_(free),
                RecordingRetention.state == "kept",
                RecordingRetention.expires_at <= now).values(
                state="pending", pending_since=now).returning(
                RecordingRetention.recording_id))) if free else set()
            self.report.pending.extend(r for r in free if r in went)

    def delete(self, recording_ids: list[str]) -> None:
        """Claim the batch's pending recordings (a blocked one goes back to kept, so it
        starts a fresh window once unblocked), then finish the claimed."""
        with self.database.transaction() as session:
            periods = {name: days for name, days in session.execute(
                select(RetentionCategory.name, RetentionCategory.period_days))}

            def tombstone(row: RecordingRetention) -> dict[str, Any]:
                days = periods[row.category]
                return {"actor": JOB, "how": "retention period expired",
                        "category": row.category, "period_days": days,
                        "expired_at": row.expires_at, "pending_since": row.pending_since,
                        "requested_by": f"retention category {row.category}",
                        "approved_by": "the category's period (two-person approved)",
                        "reason": f"kept {days} days as {row.category}, then the pending "
                                  "window passed"}

            claim = deletion.claim_all(session, recording_ids, tombstone, only="pending")
            for recording_id, (rule, _message) in claim.refused.items():
                self.report.skip(rule, recording_id)
            if claim.refused:
                session.execute(update(RecordingRetention).where(
                    RecordingRetention.recording_id.in_(list(claim.refused)),
                    RecordingRetention.state == "pending").values(
                    state="kept", pending_since=None))
        self.finish(claim.claimed)

    def run(self) -> None:
        with self.database.transaction() as session:
            self.report.registered = ensure_retention(session)
            window = pending_days(session) * DAY
        steps: list[tuple[Callable[[list[str]], None], list[str]]] = [
            (self.finish, self.ids("deleting")),
            (self.expire, self.ids("kept", before=self.clock())),
            (self.delete, self.ids("pending", before=self.clock() - window))]
        for step, ids in steps:
            for first in range(0, len(ids), BATCH):
                self.renew()
                step(ids[first:first + BATCH])


def run_retention(database: Database, blobs: BlobStore, audit: AuditTrail,
                  clock: Callable[[], float], holder: str | None = None) -> RunReport:
    """One run, if this process gets the lease (else a report naming who holds it)."""
    lease = Lease(database, holder or holder_name(), clock)
    held = lease.take()
    if held is not None:
        return RunReport(held_by=held)
    work = _Run(database, blobs, audit, clock, lease)
    try:
        work.run()
    except RuntimeError as exc:  # the lease was lost: the other holder carries on
        work.report.failed["lease"] = str(exc)
    finally:
        lease.release()
        # every run that held the lease is on record, also one that found nothing to do
        # (the issue: one record for every retention run; an auditor sees it ran)
        audit.record("retention_run", JOB, **work.report.audit_details())
    return work.report


class RetentionJob:
    """Runs the job in a thread of a `serve` process: `first` seconds after start (a
    server restarted more often than hourly still runs it), then every `every` seconds.
    Each process has one; the lease makes one of them work."""

    def __init__(self, database: Database, blobs: BlobStore, audit: AuditTrail,
                 clock: Callable[[], float], *, every: float = RUN_EVERY_S,
                 first: float = FIRST_RUN_S) -> None:
        self._args = (database, blobs, audit, clock)
        self._waits = (first, every)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)

    def start(self) -> RetentionJob:
        self._thread.start()
        return self

    def stop(self, wait: float = 30.0) -> None:
        """Stops between runs. A run still busy after `wait` seconds is left to end with
        the process: each step is its own transaction, so the next run carries on."""
        self._stop.set()
        self._thread.join(timeout=wait)

    def _loop(self) -> None:
        wait = self._waits[0]
        while not self._stop.wait(wait):
            wait = self._waits[1]
            try:
                report = run_retention(*self._args)
            except Exception:  # a failed run is logged; the next one tries again
                _log.exception("the retention run failed")
                continue
            if report.did_anything:
                _log.info("retention run: %d pending, %d deleted, skipped %s",
                          len(report.pending), len(report.deleted),
                          {k: len(v) for k, v in report.skipped.items()})

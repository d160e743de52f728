"""`python -m bodycam.server.bench.deletion`: the retention job's first mass deletion.

Per database (SQLite, and PostgreSQL in a private cluster), `repeats` times on a fresh
server: seed N recordings (seed.py) and store their ciphertext and manifests as real
(small) blobs, so deleting removes files as it would at an agency; run the job once to
register them, once 40 days on (all expired: they become pending), and time the run
after the pending window, which deletes every one. Printed: ms per recording of that
run (median of the repeats, and each), the part of it the blob store spent removing
blobs, and the SQL statements it sent per recording.
A benchmark, not a test: figures, and an error per backend that could not be measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event, select, update

from bodycam.server.audit.trail import AuditTrail
from bodycam.server.bench.seed import seed_evidence
from bodycam.server.bench.servers import BenchServer
from bodycam.server.context import ServerContext
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.retention.categories import DAY
from bodycam.server.retention.job import RunReport, run_retention
from bodycam.tools.dev.postgres import PostgresCluster

__all__ = ["DeletionPlan", "main", "run_deletion_bench", "store_blobs"]

EXPIRED_AT: Final = 40 * DAY  # after the seed: every seeded recording is past 31 days
WINDOW: Final = 8 * DAY  # and then past the default pending window (7 days)


@dataclass(frozen=True)
class DeletionPlan:
    recordings: int = 1000
    cameras: int = 50
    files: int = 3  # segments per recording (each a blob, plus the manifest)
    repeats: int = 3
    backends: tuple[str, ...] = ("sqlite", "postgresql")


def store_blobs(context: ServerContext) -> int:
    """Give every seeded recording real blobs: a small content per segment and manifest,
    stored, and the rows renamed to its hash (seed.py names blobs it never stores)."""
    blobs = context.blobs
    with context.database.transaction() as session:
        files = [(f.recording_id, f.name) for f in session.scalars(select(RecordingFile))]
        manifests = list(session.scalars(select(Recording.id)))
    renamed_files = [{"recording_id": r, "name": n,
                      "sha256": blobs.put_bytes(f"segment {r}/{n}".encode())}
                     for r, n in files]
    renamed = [{"id": r, "manifest_sha256": blobs.put_bytes(f"manifest {r}".encode())}
               for r in manifests]
    with context.database.transaction() as session:
        session.execute(update(RecordingFile), renamed_files)
        session.execute(update(Recording), renamed)
    return len(renamed_files) + len(renamed)


@contextmanager
def _counting(context: ServerContext) -> Iterator[list[int]]:
    """How many statements the engine sends meanwhile (an executemany counts once)."""
    count = [0]

    def seen(*_args: Any) -> None:
        count[0] += 1

    event.listen(context.database.engine, "before_cursor_execute", seen)
    try:
        yield count
    finally:
        event.remove(context.database.engine, "before_cursor_execute", seen)


@contextmanager
def _timing_blob_removal(context: ServerContext) -> Iterator[list[tuple[float, float]]]:
    """When the blob store was removing blobs meanwhile (from, to) per call, so the
    store's share of a run can be told from the database's."""
    spans: list[tuple[float, float]] = []
    store = context.blobs
    real = store.delete

    def delete(sha256: str) -> None:
        began = time.perf_counter()
        try:
            real(sha256)
        finally:
            spans.append((began, time.perf_counter()))

    store.delete = delete  # type: ignore[method-assign]
    try:
        yield spans
    finally:
        del store.delete


def _covered(spans: list[tuple[float, float]]) -> float:
    """Seconds during which at least one span was running (removals may overlap)."""
    total, until = 0.0, float("-inf")
    for began, ended in sorted(spans):
        if ended > until:
            total += ended - max(began, until)
            until = ended
    return total


def _run(context: ServerContext, at: float) -> RunReport:
    report = run_retention(context.database, context.blobs, AuditTrail.of(context),
                           lambda: at, "bench")
    if report.held_by is not None or report.failed:
        raise RuntimeError(f"the retention run did not complete: {report.to_json()}")
    return report


def _once(plan: DeletionPlan, work: Path, pg: PostgresCluster | None, n: int
          ) -> dict[str, Any]:
    init_args = ("--database", pg.create_database(f"deletion_{n}")) if pg else ()
    server = BenchServer.create(work / f"server-{n}", init_args=init_args)
    now = datetime.now(UTC)
    context = ServerContext.open(server.data_dir)
    try:
        seed_evidence(context.database, AuditTrail.of(context), recordings=plan.recordings,
                      cameras=plan.cameras, files=plan.files, now=now)
        stored = store_blobs(context)
        _run(context, now.timestamp())
        pending = _run(context, now.timestamp() + EXPIRED_AT)
        if len(pending.pending) != plan.recordings:
            raise RuntimeError(f"{len(pending.pending)} of {plan.recordings} recordings "
                               "became pending; the bench expects all")
        with _counting(context) as statements, _timing_blob_removal(context) as spans:
            began = time.perf_counter()
            deleted = _run(context, now.timestamp() + EXPIRED_AT + WINDOW)
            took = time.perf_counter() - began
        if len(deleted.deleted) != plan.recordings:
            raise RuntimeError(f"{len(deleted.deleted)} of {plan.recordings} recordings "
                               "were deleted; the bench expects all")
        left = sum(context.blobs.has(sha) for sha in _names(context))
        if left:
            raise RuntimeError(f"{left} blobs of deleted recordings are still stored")
        return {"delete_s": took, "blob_s": _covered(spans), "statements": statements[0],
                "blobs": stored}
    finally:
        context.close()


def _names(context: ServerContext) -> list[str]:
    with context.database.transaction() as session:
        return [*session.scalars(select(RecordingFile.sha256)),
                *session.scalars(select(Recording.manifest_sha256))]


def _backend(plan: DeletionPlan, work: Path, pg: PostgresCluster | None
             ) -> dict[str, Any]:
    runs = [_once(plan, work, pg, n) for n in range(plan.repeats)]
    per = [r["delete_s"] * 1000 / plan.recordings for r in runs]
    blobs = [r["blob_s"] * 1000 / plan.recordings for r in runs]
    return {"ms_per_recording": statistics.median(per), "runs_ms_per_recording": per,
            "blob_ms_per_recording": statistics.median(blobs),
            "database_ms_per_recording": statistics.median(
                p - b for p, b in zip(per, blobs, strict=True)),
            "statements_per_recording": statistics.median(
                r["statements"] / plan.recordings for r in runs),
            "blobs_per_run": runs[0]["blobs"]}


def run_deletion_bench(plan: DeletionPlan) -> dict[str, Any]:
    """Every backend of the plan; one that fails is reported and the others still run."""
    figures: dict[str, Any] = {}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bodycam-deletion-bench-") as tmp:
        for name in plan.backends:
            work = Path(tmp) / name
            work.mkdir()
            try:
                if name == "postgresql":
                    with PostgresCluster() as cluster:
                        figures[name] = _backend(plan, work, cluster)
                else:
                    figures[name] = _backend(plan, work, None)
            except Exception as exc:  # a benchmark reports what failed and goes on
                errors[name] = f"{type(exc).__name__}: {exc}"
    return {"figures": figures, "errors": errors, "plan": asdict(plan)}


def _format(report: dict[str, Any]) -> str:
    plan = report["plan"]
    lines = [f"retention run deleting {plan['recordings']} recordings ({plan['files']} "
             f"segments each), median of {plan['repeats']}:"]
    for name, f in report["figures"].items():
        runs = ", ".join(f"{ms:.2f}" for ms in f["runs_ms_per_recording"])
        lines.append(f"  {name:10} {f['ms_per_recording']:8.2f} ms per recording "
                     f"(runs: {runs}), of which removing blobs "
                     f"{f['blob_ms_per_recording']:.2f} ms and the rest (database, "
                     f"Python) {f['database_ms_per_recording']:.2f} ms; "
                     f"{f['statements_per_recording']:.2f} SQL statements per recording")
    lines += [f"ERROR {name}: {error}" for name, error in report["errors"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    default = DeletionPlan()
    parser = argparse.ArgumentParser(prog="python -m bodycam.server.bench.deletion",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=default.recordings)
    parser.add_argument("--cameras", type=int, default=default.cameras)
    parser.add_argument("--files", type=int, default=default.files,
                        help="segments per recording")
    parser.add_argument("--repeats", type=int, default=default.repeats)
    parser.add_argument("--backend", action="append", choices=default.backends,
                        help="only this database (repeatable; default both)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    for name in ("recordings", "cameras", "files", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be 1 or more")
    report = run_deletion_bench(DeletionPlan(
        recordings=args.recordings, cameras=args.cameras, files=args.files,
        repeats=args.repeats, backends=tuple(args.backend or default.backends)))
    print(json.dumps(report, indent=2) if args.json else _format(report))
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""`bodycam-server bench --evidence`: the evidence management at an agency's scale.

Per database (SQLite, and PostgreSQL in a private cluster): seed N recordings of C
cameras straight into the database (seed.py), then against a real `bodycam-server serve`
over HTTPS, signed in as a reviewer: p50/p95 of the recordings search page (first page,
one camera, a deep page) and of a recording's page; the time of a retention run (when
this server has the retention job); the time of `audit verify` over the whole signed
log; and a camera's offload throughput while `browsers` people browse, against the same
offload alone (alternating, as a ratio of medians: 1.0 means browsing costs nothing),
once with one `serve` process for everything and once with the cameras and the people
served by a process each (`serve --part`, as an agency with two cores would run it).
A benchmark, not a test: figures, and an error per part that could not be measured.
"""

from __future__ import annotations

import dataclasses
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx

from bodycam.firmware.evidence.public_keys import parse_public_key
from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access
from bodycam.server.audit.trail import AuditTrail
from bodycam.server.audit.verify import verify_log
from bodycam.server.bench.browse import Account, Browsing, page_times, signed_in
from bodycam.server.bench.card import DEFAULT_SEGMENT_BYTES, make_device, make_recordings
from bodycam.server.bench.command import run_camera
from bodycam.server.bench.report import nearest_rank
from bodycam.server.bench.seed import device_ids, recording_ids, seed_evidence
from bodycam.server.bench.servers import BenchServer
from bodycam.server.context import ServerContext
from bodycam.server.identity.signing_key import public_b64
from bodycam.server.people.accounts import add_user
from bodycam.server.retention.job import run_retention
from bodycam.tools.bench.report import machine_context
from bodycam.tools.dev.postgres import PostgresCluster

__all__ = ["FIGURES", "EvidencePlan", "run_evidence_bench"]

MB: Final = 1e6
PASSWORD: Final = "bench password, not for use"
FIGURES: Final = (
    "seed_s", "search_page_p50_ms", "search_page_p95_ms", "recording_page_p50_ms",
    "recording_page_p95_ms", "retention_register_s", "retention_run_s", "audit_verify_s",
    "audit_records",
    "ingest_alone_mb_s", "ingest_browsing_mb_s", "ingest_browsing_ratio",
    "pages_served_while_ingesting", "split_ingest_alone_mb_s", "split_ingest_browsing_mb_s",
    "split_ingest_browsing_ratio", "split_pages_served_while_ingesting")
Progress = Callable[[str], None]


@dataclass(frozen=True)
class EvidencePlan:
    recordings: int = 100_000
    cameras: int = 500
    files: int = 3  # segments per seeded recording
    requests: int = 200  # timed loads of each kind of page
    browsers: int = 20
    think_s: float = 5.0  # a person reads a page before the next click
    ingest_repeats: int = 2  # offloads alone and while browsing, alternating
    ingest_segments: int = 6
    backends: tuple[str, ...] = ("sqlite", "postgresql")


def _accounts(context: ServerContext, count: int) -> list[Account]:
    """`count` reviewers with a second factor, made through the access gate."""
    accounts = []
    with Access.of(context).work(CONSOLE, "bench.users") as work:
        for n in range(count):
            made = add_user(work, f"bench-reviewer-{n}", f"Bench Reviewer {n}", PASSWORD,
                            roles=["reviewer"])
            assert made.totp_secret is not None
            accounts.append(Account(made.username, PASSWORD, made.totp_secret))
    return accounts


def _paths(plan: EvidencePlan, count: int, now: datetime) -> tuple[list[str], list[str]]:
    """Search pages (first page, one camera, a deep page) and recording pages, random
    but the same for every backend."""
    pick = random.Random(11)
    devices = device_ids(plan.cameras)
    pages = max(1, plan.recordings // 50)
    searches = [pick.choice(["/recordings", f"/recordings?device={pick.choice(devices)}",
                             f"/recordings?page={pick.randint(1, pages)}"])
                for _ in range(count)]
    ids = [r for r, _, _ in recording_ids(plan.recordings, plan.cameras, now)]
    return searches, [f"/recordings/{pick.choice(ids)}" for _ in range(count)]


def _ms(times: list[float]) -> tuple[float, float]:
    return statistics.median(times) * 1000, nearest_rank(times, 0.95) * 1000


def _retention(context: ServerContext, now: datetime) -> dict[str, Any]:
    """Two runs of the retention job over everything seeded: the first registers every
    recording (uncategorised; none is due yet), the second, two days on, is a day's run:
    the recordings of the month's first day (a thirtieth) pass their period and go to
    the pending window. (Deleting after the window is not timed: seeded recordings have
    no blobs to remove.)"""
    trail = AuditTrail.of(context)
    def timed(at: float) -> tuple[float, dict[str, Any]]:
        began = time.perf_counter()
        report = run_retention(context.database, context.blobs, trail, lambda: at,
                                   "bench")
        took = time.perf_counter() - began
        if report.held_by is not None or report.failed:
            raise RuntimeError(f"the retention run did not complete: {report.to_json()}")
        return took, {k: len(v) if isinstance(v, list | dict) else v
                      for k, v in report.to_json().items()}

    first_s, first = timed(now.timestamp())
    day_s, day = timed(now.timestamp() + 2 * 86_400)
    return {"retention_register_s": first_s, "retention_run_s": day_s,
            "retention_runs": {"first": first, "two_days_on": day}}


def _ingest(server: BenchServer, plan: EvidencePlan, work: Path,
            browsing: Callable[[], Browsing]) -> dict[str, Any]:
    work.mkdir()
    device = make_device(work / "camera", f"BENCH-INGEST-{work.name.upper()}")
    server.enrol(device.identity_file)
    alone: list[float] = []
    busy: list[float] = []
    served = 0
    for repeat in range(plan.ingest_repeats):
        for with_browsers in ((False, True) if repeat % 2 == 0 else (True, False)):
            card = make_recordings(device, work / f"card-{repeat}-{int(with_browsers)}",
                                   count=1, segments=plan.ingest_segments,
                                   segment_bytes=DEFAULT_SEGMENT_BYTES)
            if with_browsers:
                with browsing() as people:
                    results = run_camera(device, card, server.offload_file)
                if people.errors:
                    raise RuntimeError(f"browsing failed: {people.errors[0]}")
                served += people.requests
            else:
                results = run_camera(device, card, server.offload_file)
            speed = sum(r["bytes"] for r in results) / sum(r["wall_s"] for r in results) / MB
            (busy if with_browsers else alone).append(speed)
    return {"ingest_alone_mb_s": statistics.median(alone),
            "ingest_browsing_mb_s": statistics.median(busy),
            "ingest_browsing_ratio": statistics.median(busy) / statistics.median(alone),
            "pages_served_while_ingesting": served, "alone": alone, "browsing": busy}


def _one_backend(plan: EvidencePlan, name: str, work: Path, pg: PostgresCluster | None,
                 progress: Progress) -> dict[str, Any]:
    init_args = ("--database", pg.create_database(f"bench_{name}")) if pg else ()
    server = BenchServer.create(work / "server", init_args=init_args)
    now = datetime.now(UTC)
    context = ServerContext.open(server.data_dir)
    try:
        progress(f"bench --evidence {name}: seeding {plan.recordings} recordings ...")
        seeded = seed_evidence(context.database, AuditTrail.of(context),
                               recordings=plan.recordings, cameras=plan.cameras,
                               files=plan.files, now=now)
        accounts = _accounts(context, plan.browsers + 1)
        progress(f"bench --evidence {name}: audit verify ...")
        began = time.perf_counter()
        check = verify_log(context.database, [parse_public_key(public_b64(context.signing_key))])
        verify_s = time.perf_counter() - began
        if not check.ok:
            raise RuntimeError(f"the seeded audit log does not verify: {check.problems[0]}")
        progress(f"bench --evidence {name}: retention runs ...")
        figures: dict[str, Any] = {"seed_s": seeded.seconds, "audit_verify_s": verify_s,
                                   "audit_records": check.records}
        errors: dict[str, str] = {}
        try:
            figures.update(_retention(context, now))
        except Exception as exc:  # reported; the other parts still run
            errors["retention"] = f"{type(exc).__name__}: {exc}"
    finally:
        context.close()
    server.start()
    try:
        with ExitStack() as stack:
            def part(name: str, measure: Callable[[], dict[str, Any]]) -> None:
                try:
                    figures.update(measure())
                except Exception as exc:  # reported; the other parts still run
                    errors[name] = f"{type(exc).__name__}: {exc}"

            reader = signed_in(server.url, server.ca_file, accounts[0])
            stack.callback(reader.close)
            searches, pages = _paths(plan, plan.requests, now)
            progress(f"bench --evidence {name}: pages ...")
            part("pages", lambda: _pages(reader, searches, pages))
            browsers = [signed_in(server.url, server.ca_file, a) for a in accounts[1:]]
            for browser in browsers:
                stack.callback(browser.close)

            def people() -> Browsing:
                return Browsing(browsers, searches + pages, plan.think_s)

            progress(f"bench --evidence {name}: offload alone and while "
                     f"{plan.browsers} people browse, one process ...")
            part("ingest", lambda: _ingest(server, plan, work / "one", people))
            rss_mb = server.peak_rss_mb()
            server.stop()
            # The same, with the cameras and the people served by a process each. The
            # people keep their sessions (those live in the database): a second sign-in
            # within 30 s would reuse a second-factor code, which is refused.
            server.part = "cameras"
            office = server.sibling("people")
            server.start()
            stack.callback(office.stop)
            office.start()
            for browser in browsers:
                browser.base_url = httpx.URL(office.url)
            progress(f"bench --evidence {name}: the same, cameras and people served by a "
                     "process each ...")
            part("split ingest", lambda: {
                f"split_{k}": v for k, v in _ingest(server, plan, work / "split",
                                                      people).items()})
        return {"figures": {k: figures.get(k) for k in FIGURES},
                "retention_runs": figures.get("retention_runs"),
                "seeded": dataclasses.asdict(seeded),
                "ingest_runs_mb_s": {k: figures.get(k) for k in (
                    "alone", "browsing", "split_alone", "split_browsing")},
                "peak_rss_mb": rss_mb, "errors": errors}
    finally:
        server.stop()


def _pages(reader: httpx.Client, searches: list[str], pages: list[str]) -> dict[str, Any]:
    page_times(reader, searches[:5] + pages[:5])  # warm-up, not counted
    search_p50, search_p95 = _ms(page_times(reader, searches))
    page_p50, page_p95 = _ms(page_times(reader, pages))
    return {"search_page_p50_ms": search_p50, "search_page_p95_ms": search_p95,
            "recording_page_p50_ms": page_p50, "recording_page_p95_ms": page_p95}


@contextmanager
def _postgres(plan: EvidencePlan) -> Iterator[PostgresCluster | None]:
    if "postgresql" not in plan.backends:
        yield None
        return
    with PostgresCluster() as cluster:
        yield cluster


def run_evidence_bench(plan: EvidencePlan, *, progress: Progress | None = None
                       ) -> dict[str, Any]:
    """Every backend of the plan; one that fails is reported and the others still run."""
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bodycam-evidence-bench-") as tmp, \
            _postgres(plan) as cluster:
        for name in plan.backends:
            work = Path(tmp) / name
            work.mkdir()
            try:
                results[name] = _one_backend(
                    plan, name, work, cluster if name == "postgresql" else None, say)
            except Exception as exc:  # a benchmark reports what failed and goes on
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            errors.update({f"{name} {part}": error
                           for part, error in results[name]["errors"].items()})
    return {"figures": {name: results[name]["figures"] for name in results},
            "details": results, "errors": errors,
            "context": {**machine_context(), "plan": dataclasses.asdict(plan),
                        "elapsed_s": round(time.perf_counter() - started, 1)}}

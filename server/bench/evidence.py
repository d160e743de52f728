"""`bodycam-server bench --evidence`: the evidence management at an agency's scale.

Per database (SQLite, and PostgreSQL in a private cluster): seed N recordings of C
cameras straight into the database (seed.py), then against a real `bodycam-server serve`
over HTTPS, signed in as a reviewer: p50/p95 of the recordings search page (first page,
one camera, a deep page) and of a recording's page; the time of a retention run (when
this server has the retention job); the time of `audit verify` over the whole signed
log; and a camera's offload throughput while `browsers` people browse, against the same
offload alone (alternating, the median of each pair's ratio: 1.0 means browsing costs
nothing, read against the spread of the runs alone), once with one `serve` process for
everything and once with the cameras and the people served by a process each (`serve
--part`, the people's at a lower CPU priority, `people_nice`, as the administrator guide
sets it with CPUWeight=). The browsing people's threads run at that priority too: they
stand for browsers on other machines.
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
    *(f"{layout}{pace}{figure}" for layout in ("", "split_") for pace in ("", "paced_")
      for figure in (
        "ingest_alone_mb_s", "ingest_browsing_mb_s", "ingest_browsing_ratio",
        "ingest_alone_spread", "pages_served_while_ingesting",
        "page_while_ingesting_p50_ms", "page_while_ingesting_p95_ms")))
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
    people_nice: int = 10  # the people's serve part and the browsing threads (0-19)
    dock_mbit: int = 50  # the paced runs: a camera's offload held to its dock link's rate
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


def _paced(offload: Path, work: Path, mbit: int) -> Path:
    """A copy of the server's camera-offload.toml with the camera's own upload pacing
    (`bandwidth_kbps`, the firmware's token bucket) at `mbit`."""
    text = offload.read_text(encoding="utf-8")
    if "bandwidth_kbps = 0\n" not in text:
        raise RuntimeError(f"{offload} has no `bandwidth_kbps = 0` line to pace")
    paced = work / "camera-offload-paced.toml"
    paced.write_text(text.replace("bandwidth_kbps = 0\n", f"bandwidth_kbps = {mbit * 1000}\n"),
                     encoding="utf-8")
    return paced


def _ingest(server: BenchServer, plan: EvidencePlan, work: Path,
            browsing: Callable[[], Browsing], *, paced: bool = False) -> dict[str, Any]:
    """Offloads alone and while people browse, alternating which comes first. The ratio
    is the median of each repeat's pair (browsing / alone, run back to back, so a
    machine whose load drifts affects both alike); the spread of the runs alone,
    (max - min) / median, is the noise a ratio is read against. `paced`: the camera
    sends no faster than its dock link (`plan.dock_mbit`), so the server has time to
    spare, as it does for a docked camera; unpaced, the offload takes all the processor
    it can get and anything the people's pages take shows."""
    work.mkdir()
    device = make_device(work / "camera", f"BENCH-INGEST-{work.name.upper()}")
    server.enrol(device.identity_file)
    offload = _paced(server.offload_file, work, plan.dock_mbit) if paced \
        else server.offload_file
    alone: list[float] = []
    busy: list[float] = []
    page_s: list[float] = []
    for repeat in range(plan.ingest_repeats):
        for with_browsers in ((False, True) if repeat % 2 == 0 else (True, False)):
            card = make_recordings(device, work / f"card-{repeat}-{int(with_browsers)}",
                                   count=1, segments=plan.ingest_segments,
                                   segment_bytes=DEFAULT_SEGMENT_BYTES)
            if with_browsers:
                with browsing() as people:
                    results = run_camera(device, card, offload)
                if people.errors:
                    raise RuntimeError(f"browsing failed: {people.errors[0]}")
                page_s += people.seconds
            else:
                results = run_camera(device, card, offload)
            speed = sum(r["bytes"] for r in results) / sum(r["wall_s"] for r in results) / MB
            (busy if with_browsers else alone).append(speed)
    pages = _ms(page_s) if page_s else (None, None)
    return {"ingest_alone_mb_s": statistics.median(alone),
            "ingest_browsing_mb_s": statistics.median(busy),
            "ingest_browsing_ratio": statistics.median(b / a for a, b in zip(alone, busy,
                                                                              strict=True)),
            "ingest_alone_spread": (max(alone) - min(alone)) / statistics.median(alone),
            "pages_served_while_ingesting": len(page_s),
            "page_while_ingesting_p50_ms": pages[0], "page_while_ingesting_p95_ms": pages[1],
            "alone": alone, "browsing": busy}


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
                return Browsing(browsers, searches + pages, plan.think_s, plan.people_nice)

            progress(f"bench --evidence {name}: offload alone and while "
                     f"{plan.browsers} people browse, one process ...")
            part("ingest", lambda: _ingest(server, plan, work / "one", people))
            part("paced ingest", lambda: {f"paced_{k}": v for k, v in _ingest(
                server, plan, work / "one-paced", people, paced=True).items()})
            rss_mb = server.peak_rss_mb()
            server.stop()
            # The same, with the cameras and the people served by a process each. The
            # people keep their sessions (those live in the database): a second sign-in
            # within 30 s would reuse a second-factor code, which is refused.
            server.part = "cameras"
            office = server.sibling("people", plan.people_nice)
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
            part("split paced ingest", lambda: {f"split_paced_{k}": v for k, v in _ingest(
                server, plan, work / "split-paced", people, paced=True).items()})
        return {"figures": {k: figures.get(k) for k in FIGURES},
                "retention_runs": figures.get("retention_runs"),
                "seeded": dataclasses.asdict(seeded),
                "ingest_runs_mb_s": {f"{layout}{pace}{k}": figures.get(f"{layout}{pace}{k}")
                                     for layout in ("", "split_") for pace in ("", "paced_")
                                     for k in ("alone", "browsing")},
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

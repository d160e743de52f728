"""Two server processes writing the audit log at once, on SQLite and PostgreSQL: every
record lands, numbered without a gap, in one chain (no fork), and it verifies."""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from people_rig import DATABASES, People, open_people

from bodycam.firmware.evidence.public_keys import parse_public_key
from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access
from bodycam.server.audit.verify import verify_log
from bodycam.server.context import ServerContext
from bodycam.server.identity.signing_key import public_b64

RECORDS = 40


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def write_records(data_dir: Path, name: str, start: Barrier) -> None:
    """One `serve`-like process: records of their own and records with work, interleaved."""
    context = ServerContext.open(data_dir)
    access = Access.of(context)
    try:
        start.wait()
        for n in range(RECORDS):
            if n % 2:
                access.audit.record("writer", name, n=n)
            else:
                with access.work(CONSOLE, "test.write") as work:
                    work.record("writer", n=n, by=name)
    finally:
        context.close()


def test_two_processes_append_to_one_chain(people: People) -> None:
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(2)
    data_dir = people.context.settings.data_dir
    writers = [spawn.Process(target=write_records, args=(data_dir, f"w{i}", start))
               for i in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
    assert [w.exitcode for w in writers] == [0, 0]
    events = people.access.audit.events()
    assert [e.seq for e in events] == list(range(len(events)))
    written = [e for e in events if e.kind == "writer"]
    assert len(written) == 2 * RECORDS
    interleaved = {e.actor + str(e.details) for e in written[:RECORDS]}
    assert len(interleaved) == RECORDS
    for before, after in itertools.pairwise(events):
        assert after.prev == before.hash
    key = parse_public_key(public_b64(people.context.signing_key))
    assert verify_log(people.context.database, [key]).problems == []

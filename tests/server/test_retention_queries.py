"""What pages, the API and the search read of retention: the same answer before and
after the job registered a recording, and the dashboard's lists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from retention_rig import Retention, open_retention
from sqlalchemy import select

from bodycam.server.custody.target import recording_target
from bodycam.server.recordings.models import Recording
from bodycam.server.retention.categories import DAY, categorise
from bodycam.server.retention.job import run_retention
from bodycam.server.retention.queries import (
    category_of,
    expiring,
    retention_state_of,
    retention_view,
    uncategorised_count,
)


@pytest.fixture(params=("sqlite", "postgresql"))
def rig(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Retention]:
    yield from open_retention(request, tmp_path, monkeypatch)


def test_a_recording_reads_the_same_before_and_after_the_job_registers_it(
        rig: Retention) -> None:
    rec = rig.recording(b"new", days_ago=2)
    with rig.context.database.transaction() as session:
        before = retention_view(session, rec)
        assert uncategorised_count(session) == 1
        assert retention_view(session, "BC-0001-20200101T000000Z-0000") is None
    run_retention(rig.context.database, rig.context.blobs, rig.access.audit, rig.clock)
    with rig.context.database.transaction() as session:
        after = retention_view(session, rec)
        assert uncategorised_count(session) == 1
    assert before == after
    assert before is not None and before.category == "uncategorised"
    assert before.expires_at == pytest.approx(rig.clock.now - 2 * DAY + 31 * DAY, abs=61)


def test_the_search_columns_and_the_dashboard_lists(rig: Retention) -> None:
    reviewer = rig.add("rita", "reviewer").user_id
    wearer = rig.add("walt", "wearer", second_factor=False).user_id
    soon = rig.recording(b"soon", days_ago=29, wearer=wearer)
    gone_soon = rig.recording(b"pending", days_ago=40, wearer=wearer)
    kept = rig.recording(b"kept", days_ago=29, wearer=wearer)
    run_retention(rig.context.database, rig.context.blobs, rig.access.audit, rig.clock)
    with rig.access.work(reviewer, "recording.categorise") as work:
        categorise(work, recording_target(work.session, kept), "evidential")
    with rig.context.database.transaction() as session:
        listed = {r.recording_id: r for r in expiring(session, rig.clock.now, 3)}
        rows = dict(session.execute(select(Recording.id, category_of())).all())
        states = dict(session.execute(select(Recording.id, retention_state_of())).all())
        assert uncategorised_count(session) == 2
    assert set(listed) == {soon, gone_soon}
    assert listed[gone_soon].delete_after == pytest.approx(rig.clock.now + 7 * DAY)
    assert listed[soon].delete_after is None
    assert rows == {soon: "uncategorised", gone_soon: "uncategorised", kept: "evidential"}
    assert states[gone_soon] == "pending" and states[kept] == "kept"

"""The recordings search: every filter, newest first, pages, who may search (and the
refusal on record), every search on record, bad input refused naming the fix, SQL
metacharacters as plain text, and the indexes the 100,000-recording case relies on."""

from __future__ import annotations

import pytest
from custody_rig import Custody, fresh, server_fixture
from sqlalchemy import text

from bodycam.server.access.rules import AccessError
from bodycam.server.custody.assignments import add_assignment
from bodycam.server.custody.cases import add_to_case, open_case
from bodycam.server.custody.errors import CustodyError
from bodycam.server.custody.holds import place_hold
from bodycam.server.custody.search import (
    MAX_PAGE_SIZE,
    Page,
    SearchFilters,
    SearchResult,
    search_recordings,
)
from bodycam.server.custody.target import recording_target
from bodycam.server.recordings.report import RECEIVING_S
from bodycam.server.retention.categories import categorise

DAY = "2026-12-06T"


_FIXTURES = (server_fixture,)  # pytest finds it here, as `server`


@pytest.fixture
def custody(server: Custody) -> Custody:
    """Two cameras. BC-0001: walter 07:00-12:00, wendy from 12:00. BC-0002: nobody.
    Recordings: a (BC-0001 09:00, complete), b (BC-0001 12:30, damaged),
    c (BC-0002 10:00, receiving), d (BC-0002 11:00, incomplete), e (BC-0001 11:55 to
    12:05, complete: both wore it)."""
    fresh(server)
    clock = server.people.clock
    for camera in ("BC-0001", "BC-0002"):
        server.camera(camera)
    with server.work("admin") as work:
        add_assignment(work, "BC-0001", "walter", f"{DAY}07:00:00Z", f"{DAY}12:00:00Z")
        add_assignment(work, "BC-0001", "wendy", f"{DAY}12:00:00Z")
    server.recording("BC-0001", f"{DAY}09:00:00.000Z", f"{DAY}09:10:00.000Z", tag="000a")
    server.recording("BC-0001", f"{DAY}12:30:00.000Z", f"{DAY}12:40:00.000Z", tag="000b",
                     files=((True, None), (False, "sha256 mismatch")))
    server.recording("BC-0002", f"{DAY}10:00:00.000Z", f"{DAY}10:10:00.000Z", tag="000c",
                     files=((False, None),), last_activity=clock.now)
    server.recording("BC-0002", f"{DAY}11:00:00.000Z", f"{DAY}11:10:00.000Z", tag="000d",
                     files=((True, None), (False, None)),
                     last_activity=clock.now - RECEIVING_S - 1)
    server.recording("BC-0001", f"{DAY}11:55:00.000Z", f"{DAY}12:05:00.000Z", tag="000e")
    return server


def search(custody: Custody, who: str = "rita", page: Page | None = None, **given: object
           ) -> SearchResult:
    with custody.work(who, "recordings.search") as work:
        return search_recordings(work, SearchFilters(**given), page)  # type: ignore[arg-type]


def tags(result: SearchResult) -> list[str]:
    return [row.id[-1] for row in result.rows]


def test_everything_newest_first_with_wearers_state_cases_holds(custody: Custody) -> None:
    with custody.work("carl") as work:
        open_case(work, "2026-0042", "Main Street")
        add_to_case(work, "2026-0042", "BC-0001-20261206T090000Z-000a")
        place_hold(work, "BC-0002-20261206T100000Z-000c", "prosecutor's letter")
    result = search(custody)
    assert result.total == 5 and tags(result) == ["b", "e", "d", "c", "a"]
    rows = {row.id[-1]: row for row in result.rows}
    assert [(t, rows[t].state) for t in "abcde"] == [
        ("a", "complete"), ("b", "damaged"), ("c", "receiving"), ("d", "incomplete"),
        ("e", "complete")]
    assert rows["a"].wearers == ["walter"] and rows["a"].wearers_complete
    assert rows["e"].wearers == ["walter", "wendy"] and rows["e"].wearers_complete
    assert rows["c"].wearers == [] and not rows["c"].wearers_complete
    assert rows["a"].cases == ["2026-0042"] and rows["c"].on_hold and not rows["a"].on_hold


@pytest.mark.parametrize(("given", "expected"), [
    ({"device": "BC-0002"}, ["d", "c"]),
    ({"wearer": "walter"}, ["e", "a"]),
    ({"wearer": "WENDY"}, ["b", "e"]),
    ({"wearer": "rita"}, []),
    ({"since": f"{DAY}11:05:00Z"}, ["b", "e", "d"]),  # d still running at 11:05
    ({"until": f"{DAY}10:00:00Z"}, ["c", "a"]),  # c starts at 10:00: included
    ({"since": f"{DAY}10:05:00+00:00", "until": f"{DAY}11:59:00+01:00"}, ["c"]),
    ({"state": "complete"}, ["e", "a"]),
    ({"state": "damaged"}, ["b"]),
    ({"state": "receiving"}, ["c"]),
    ({"state": "incomplete"}, ["d"]),
    ({"device": "BC-0001", "wearer": "walter", "state": "complete",
      "since": f"{DAY}10:00:00Z"}, ["e"]),
    ({"on_hold": False}, ["b", "e", "d", "c", "a"]),
])
def test_each_filter(custody: Custody, given: dict[str, object], expected: list[str]
                     ) -> None:
    assert tags(search(custody, **given)) == expected


def test_case_and_hold_filters(custody: Custody) -> None:
    with custody.work("carl") as work:
        open_case(work, "2026-0042", "Main Street")
        open_case(work, "2026-0043", "Elsewhere")
        for tag, start in (("a", "090000"), ("d", "110000")):
            device = "BC-0001" if tag == "a" else "BC-0002"
            add_to_case(work, "2026-0042", f"{device}-20261206T{start}Z-000{tag}")
        place_hold(work, "BC-0001-20261206T123000Z-000b", "letter")
    assert tags(search(custody, case="2026-0042")) == ["d", "a"]
    assert tags(search(custody, case="2026-0043")) == []
    assert tags(search(custody, on_hold=True)) == ["b"]
    assert tags(search(custody, on_hold=False, case="2026-0042")) == ["d", "a"]


def test_retention_category_filter(custody: Custody) -> None:
    """Retention's categories: a recording nobody categorised is `uncategorised`."""
    with custody.work("rita") as work:
        categorise(work, recording_target(work.session, "BC-0001-20261206T090000Z-000a"),
                   "evidential")
    assert tags(search(custody, category="evidential")) == ["a"]
    assert tags(search(custody, category="uncategorised")) == ["b", "e", "d", "c"]
    assert tags(search(custody, category="prosecution")) == []
    assert tags(search(custody, category="evidential', 'x")) == []


def test_pages(custody: Custody) -> None:
    first = search(custody, page=Page(1, 2))
    second = search(custody, page=Page(2, 2))
    third = search(custody, page=Page(3, 2))
    assert (first.total, first.pages) == (5, 3)
    assert tags(first) + tags(second) + tags(third) == ["b", "e", "d", "c", "a"]
    assert tags(search(custody, page=Page(9, 2))) == []


def test_every_search_is_on_record_with_its_filters(custody: Custody) -> None:
    search(custody, "carl", device="BC-0001", state="complete")
    assert custody.details("recordings_searched") == [{
        "filters": {"device": "BC-0001", "state": "complete"}, "page": 1, "size": 50,
        "total": 2}]


@pytest.mark.parametrize(("who", "rule"), [("admin", "administrator_no_evidence"),
                                           ("wendy", "permission"),
                                           ("audrey", "permission")])
def test_who_may_not_search(custody: Custody, who: str, rule: str) -> None:
    with pytest.raises(AccessError) as caught:
        search(custody, who)
    assert caught.value.rule == rule
    assert ("refused", who, rule) in custody.events()
    assert custody.events("recordings_searched") == []


@pytest.mark.parametrize(("given", "page", "says"), [
    ({"state": "gone"}, None, "state 'gone' is none of complete, damaged"),
    ({"since": "yesterday"}, None, "since 'yesterday' is not an ISO 8601 time. Fix"),
    ({"until": "2026-12-06 10:00"}, None, "no time zone"),
    ({"since": f"{DAY}12:00:00Z", "until": f"{DAY}10:00:00Z"}, None, "swap the two"),
    ({"wearer": "nobody"}, None, "no user 'nobody'"),
    ({"case": "2026-9999"}, None, "no case '2026-9999'"),
    ({}, Page(0, 10), "pages count from 1"),
    ({}, Page(1, MAX_PAGE_SIZE + 1), f"choose 1 to {MAX_PAGE_SIZE}"),
    ({}, Page(1, 0), "choose 1 to"),
])
def test_bad_input_is_refused_naming_the_fix(custody: Custody, given: dict[str, object],
                                             page: Page | None, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        search(custody, page=page, **given)


@pytest.mark.parametrize("field", ["device", "wearer", "case", "state", "since",
                                   "category"])
@pytest.mark.parametrize("value", ["' OR '1'='1", "x'; DROP TABLE recordings; --",
                                   "%", "_", "\\", "A" * 10_000])
def test_sql_metacharacters_and_oversized_input_match_nothing(
        custody: Custody, field: str, value: str) -> None:
    try:
        result = search(custody, **{field: value})
    except (CustodyError, ValueError) as exc:  # a clear refusal is as good as no match
        assert "Fix" in str(exc) or "no " in str(exc)
    else:
        assert result.total == 0
    assert search(custody).total == 5  # and nothing was dropped


def test_the_search_uses_its_indexes(custody: Custody) -> None:
    """The plan of the newest-first page and of one camera's page (SQLite's EXPLAIN
    QUERY PLAN; PostgreSQL's planner prefers a scan on a table this small, so it is
    asked with sequential scans switched off)."""
    database = custody.people.context.database
    queries = {
        "ix_recordings_start": "SELECT id FROM recordings ORDER BY start DESC LIMIT 50",
        "ix_recordings_device_start": "SELECT id FROM recordings WHERE device_id = "
                                      "'BC-0001' ORDER BY start DESC LIMIT 50"}
    with database.engine.connect() as connection:
        for index, query in queries.items():
            if database.is_sqlite:
                plan = " ".join(str(row) for row in connection.execute(
                    text("EXPLAIN QUERY PLAN " + query)))
            else:
                connection.execute(text("SET enable_seqscan = off"))
                plan = " ".join(str(row) for row in connection.execute(
                    text("EXPLAIN " + query)))
            assert index in plan, plan

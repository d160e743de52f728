"""Who wore which camera when: set by an administrator, never overlapping on one camera
(also when two administrators try at once), check-out/check-in, and an end that would
take a received recording's wearer refused. Each refusal says the rule or the fix."""

from __future__ import annotations

import threading
import time

import pytest
from custody_rig import Custody, custody_fixture, server_fixture
from sqlalchemy import text

from bodycam.server.access.rules import AccessError
from bodycam.server.custody.assignments import (
    add_assignment,
    check_in,
    check_out,
    end_assignment,
    list_assignments,
)
from bodycam.server.custody.errors import CustodyError
from bodycam.server.custody.instants import now_instant

_FIXTURES = (server_fixture, custody_fixture)  # pytest finds them here, as `server` and `custody`


def test_assignments_are_kept_in_canonical_utc_and_listed(custody: Custody) -> None:
    with custody.work("admin") as work:
        added = add_assignment(work, "BC-0001", "Walter", "2026-12-06T08:00:00+01:00",
                               "2026-12-06T15:00:00Z")
    assert (added.starts, added.ends, added.username) == (
        "2026-12-06T07:00:00.000Z", "2026-12-06T15:00:00.000Z", "walter")
    with custody.work("admin") as work:
        listed = list_assignments(work, device_id="BC-0001")
    assert [(a.username, a.assigned_by) for a in listed] == [("walter", "admin")]
    assert ("device_assigned", "admin", None) in custody.events()


@pytest.mark.parametrize(("starts", "ends"), [
    ("2026-12-06T10:00:00Z", "2026-12-06T11:00:00Z"),  # inside
    ("2026-12-06T06:00:00Z", "2026-12-06T08:00:00Z"),  # across the start
    ("2026-12-06T14:59:59.999Z", None),  # open-ended, starting before the end
    ("2026-12-06T05:00:00Z", "2026-12-06T16:00:00Z"),  # around it
])
def test_overlapping_assignments_of_one_camera_are_refused(
        custody: Custody, starts: str, ends: str | None) -> None:
    with custody.work("admin") as work:
        add_assignment(work, "BC-0001", "walter", "2026-12-06T07:00:00Z",
                       "2026-12-06T15:00:00Z")
    with pytest.raises(CustodyError, match=r"assigned to walter from 2026-12-06T07:00:00.000Z"
                       r".*one camera is worn by one person at a time. Fix: end") as caught, \
            custody.work("admin") as work:
        add_assignment(work, "BC-0001", "wendy", starts, ends)
    assert "Fix:" in str(caught.value)
    with custody.work("admin") as work:  # nothing was half-added
        assert [a.username for a in list_assignments(work)] == ["walter"]


def test_touching_assignments_are_a_hand_over_not_an_overlap(custody: Custody) -> None:
    with custody.work("admin") as work:
        add_assignment(work, "BC-0001", "walter", "2026-12-06T07:00:00Z",
                       "2026-12-06T15:00:00Z")
        add_assignment(work, "BC-0001", "wendy", "2026-12-06T15:00:00Z")
        assert [a.username for a in list_assignments(work)] == ["wendy", "walter"]


@pytest.mark.parametrize("case", [
    ("BC-9999", "walter", "2026-12-06T07:00:00Z", None, "no camera 'BC-9999'.*enrol"),
    ("BC-0001", "nobody", "2026-12-06T07:00:00Z", None, "no user 'nobody'"),
    ("BC-0001", "walter", "2026-12-06 07:00", None, "no time zone.*Fix: add Z"),
    ("BC-0001", "walter", "yesterday", None, "not an ISO 8601 time. Fix"),
    ("BC-0001", "walter", "2026-12-06T07:00:00Z", "2026-12-06T06:00:00Z",
     "end.*before it starts.*Fix"),
    ("BC-0001' OR '1'='1", "walter", "2026-12-06T07:00:00Z", None, "no camera"),
    ("BC-0001", "walter'; DROP TABLE users; --", "2026-12-06T07:00:00Z", None, "no user"),
])
def test_bad_input_is_refused_naming_the_fix(
        custody: Custody, case: tuple[str, str, str, str | None, str]) -> None:
    device, user, starts, ends, says = case
    with pytest.raises(ValueError, match=says), custody.work("admin") as work:
        add_assignment(work, device, user, starts, ends)


def test_only_an_administrator_assigns_and_the_refusal_is_on_record(custody: Custody
                                                                    ) -> None:
    with pytest.raises(AccessError) as caught, custody.work("rita", "assignment.add") as work:
        add_assignment(work, "BC-0001", "walter", "2026-12-06T07:00:00Z")
    assert caught.value.rule == "permission"
    assert ("refused", "rita", "permission") in custody.events()


def test_check_out_and_check_in_use_the_server_clock(custody: Custody) -> None:
    clock = custody.people.clock
    with custody.work("admin") as work:
        out = check_out(work, "BC-0001", "walter")
    assert (out.starts, out.ends) == (now_instant(clock.now), None)
    with pytest.raises(CustodyError, match=r"assigned to walter .*checked out.*overlaps"), \
            custody.work("admin") as work:
        check_out(work, "BC-0001", "wendy")
    clock.now += 8 * 3600
    with custody.work("admin") as work:
        back = check_in(work, "BC-0001")
    assert back.ends == now_instant(clock.now) and back.ended_by == "admin"
    with pytest.raises(CustodyError, match="not checked out to anyone"), \
            custody.work("admin") as work:
        check_in(work, "BC-0001")
    kinds = [kind for kind, _, _ in custody.events()]
    assert kinds.count("device_assigned") == 1 and "device_assignment_ended" in kinds


def test_an_assignment_never_ends_at_a_time_still_to_come(custody: Custody) -> None:
    """An end is never changed, so a mistyped future one would take the camera from
    everyone else until then and give its recordings the wrong wearer."""
    clock = custody.people.clock
    with custody.work("admin") as work:
        out = check_out(work, "BC-0001", "walter")
    clock.now += 3600
    later = now_instant(clock.now + 1)
    with pytest.raises(CustodyError, match=rf"cannot end at {later}, a time still to come "
                       rf"\(it is {now_instant(clock.now)} now\)\. Fix: give the time the "
                       "camera came back"), \
            custody.work("admin") as work:
        end_assignment(work, out.id, later)
    with custody.work("admin") as work:  # now itself has come (check-in ends there)
        assert end_assignment(work, out.id, now_instant(clock.now)).ends == now_instant(
            clock.now)


def test_an_end_never_takes_the_wearer_from_a_received_recording(custody: Custody
                                                                 ) -> None:
    with custody.work("admin") as work:
        open_one = add_assignment(work, "BC-0001", "walter", "2026-12-06T07:00:00Z")
    rid = custody.recording("BC-0001", "2026-12-06T09:00:00.000Z", "2026-12-06T09:30:00.000Z")
    with pytest.raises(CustodyError, match=f"recording {rid} .*walter.*Fix: end it at or "
                       "after 2026-12-06T09:30:00.000Z"), custody.work("admin") as work:
        end_assignment(work, open_one.id, "2026-12-06T09:10:00Z")
    with custody.work("admin") as work:
        ended = end_assignment(work, open_one.id, "2026-12-06T09:30:00Z")
    assert ended.ends == "2026-12-06T09:30:00.000Z"
    with pytest.raises(CustodyError, match=r"already ended.*never changed"), \
            custody.work("admin") as work:
        end_assignment(work, open_one.id, "2026-12-06T10:00:00Z")


def test_two_administrators_at_once_cannot_both_assign_one_camera(
        custody: Custody) -> None:
    """The first holds the camera's row locked until it commits; the second waits, then
    sees the first's assignment and is refused. On PostgreSQL the test watches the second
    wait on the lock (pg_locks), so it does not depend on timing; SQLite's one writer
    makes the second wait at BEGIN."""
    first_added = threading.Event()
    release = threading.Event()
    outcome: dict[str, str] = {}

    def first() -> None:
        with custody.work("admin") as work:
            add_assignment(work, "BC-0001", "walter", "2026-12-06T07:00:00Z")
            first_added.set()
            release.wait(30)
        outcome["first"] = "added"

    def second() -> None:
        try:
            with custody.work("adam") as work:
                add_assignment(work, "BC-0001", "wendy", "2026-12-06T08:00:00Z")
            outcome["second"] = "added"
        except CustodyError as exc:
            outcome["second"] = str(exc)

    one = threading.Thread(target=first)
    one.start()
    assert first_added.wait(30)
    two = threading.Thread(target=second)
    two.start()
    database = custody.people.context.database
    while two.is_alive() and not database.is_sqlite:
        with database.engine.connect() as connection:
            if connection.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                                  ).scalar():
                break
        time.sleep(0.01)  # polling pace only; nothing is asserted about time
    release.set()
    one.join(30)
    two.join(30)
    assert outcome["first"] == "added"
    assert "assigned to walter" in outcome["second"]

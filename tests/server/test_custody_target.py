"""Every recording's wearers come from the assignments covering its start..end, and the
hard rules see them through `recording_target`: a wearer never requests deletion nor
views their own recording; a recording with nobody, or a stretch with nobody, on record
cannot be deleted by hand (wearer_unknown)."""

from __future__ import annotations

import pytest
from custody_rig import Custody, custody_fixture, server_fixture

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError, Target
from bodycam.server.custody.assignments import add_assignment
from bodycam.server.custody.target import UnknownRecordingError, recording_target

T0 = "2026-12-06T07:00:00Z"




_FIXTURES = (server_fixture, custody_fixture)  # pytest finds them here, as `server` and `custody`


def assign(custody: Custody, user: str, starts: str, ends: str | None = None) -> None:
    with custody.work("admin") as work:
        add_assignment(work, "BC-0001", user, starts, ends)


def target_of(custody: Custody, rid: str) -> Target:
    with custody.people.context.database.transaction() as session:
        return recording_target(session, rid)


def refusal(custody: Custody, who: str, action: Permission, rid: str) -> str:
    with pytest.raises(AccessError) as caught, custody.work(who, action.value) as work:
        work.authorise(action, recording_target(work.session, rid))
    assert ("refused", who, caught.value.rule) in custody.events()
    return caught.value.rule


def test_a_recording_inside_one_assignment_has_that_wearer(custody: Custody) -> None:
    assign(custody, "walter", T0, "2026-12-06T15:00:00Z")
    rid = custody.recording("BC-0001", "2026-12-06T09:00:00.000Z", "2026-12-06T09:10:00.000Z")
    target = target_of(custody, rid)
    assert target.wearers == {custody.users["walter"]} and target.wearers_complete
    assert refusal(custody, "walter", Permission.REQUEST_DELETION, rid) == \
        "wearer_never_deletes"
    assert refusal(custody, "walter", Permission.VIEW, rid) == "own_recording"
    with custody.work("rita") as work:  # another reviewer may
        work.authorise(Permission.REQUEST_DELETION, recording_target(work.session, rid))
        work.authorise(Permission.VIEW, recording_target(work.session, rid))


def test_a_hand_over_during_a_recording_makes_both_its_wearers(custody: Custody) -> None:
    assign(custody, "wendy", T0, "2026-12-06T09:05:00Z")
    assign(custody, "walter", "2026-12-06T09:05:00Z")
    rid = custody.recording("BC-0001", "2026-12-06T09:00:00.000Z", "2026-12-06T09:10:00.000Z")
    target = target_of(custody, rid)
    assert target.wearers == {custody.users["walter"], custody.users["wendy"]}
    assert target.wearers_complete
    assert refusal(custody, "walter", Permission.REQUEST_DELETION, rid) == \
        "wearer_never_deletes"


def test_bounds_count_inclusively(custody: Custody) -> None:
    """Checked in at the very millisecond the recording starts: still its wearer."""
    assign(custody, "walter", T0, "2026-12-06T09:00:00Z")
    rid = custody.recording("BC-0001", "2026-12-06T09:00:00.000Z", "2026-12-06T09:10:00.000Z")
    assert custody.users["walter"] in (target_of(custody, rid).wearers or ())


def test_no_assignment_means_wearer_unknown_and_no_deletion(custody: Custody) -> None:
    rid = custody.recording("BC-0001", "2026-12-06T09:00:00.000Z", "2026-12-06T09:10:00.000Z")
    assert target_of(custody, rid).wearers is None
    assert refusal(custody, "rita", Permission.REQUEST_DELETION, rid) == "wearer_unknown"


def test_a_stretch_nobody_wore_on_record_means_wearer_unknown(custody: Custody) -> None:
    """Walter checked the camera in at 09:05, the recording ran to 09:10, and nobody is
    on record after: whoever that was might be the one asking to delete it."""
    assign(custody, "walter", T0, "2026-12-06T09:05:00Z")
    rid = custody.recording("BC-0001", "2026-12-06T09:00:00.000Z", "2026-12-06T09:10:00.000Z")
    target = target_of(custody, rid)
    assert target.wearers == {custody.users["walter"]} and not target.wearers_complete
    assert refusal(custody, "rita", Permission.REQUEST_DELETION, rid) == "wearer_unknown"
    assert refusal(custody, "walter", Permission.VIEW, rid) == "own_recording"
    assign(custody, "wendy", "2026-12-06T09:05:00Z", "2026-12-06T10:00:00Z")  # the fix
    with custody.work("rita") as work:
        work.authorise(Permission.REQUEST_DELETION, recording_target(work.session, rid))


def test_a_gap_before_the_first_assignment_counts_too(custody: Custody) -> None:
    assign(custody, "walter", "2026-12-06T09:05:00Z")
    rid = custody.recording("BC-0001", "2026-12-06T09:00:00.000Z", "2026-12-06T09:10:00.000Z")
    assert not target_of(custody, rid).wearers_complete


def test_a_time_the_server_cannot_place_leaves_the_wearer_unknown(custody: Custody) -> None:
    assign(custody, "walter", T0)
    rid = custody.recording("BC-0001", "2026-12-06T09:00:00.000Z", "None")
    assert target_of(custody, rid).wearers is None


def test_another_cameras_assignment_is_not_this_ones(custody: Custody) -> None:
    custody.camera("BC-0002")
    with custody.work("admin") as work:
        add_assignment(work, "BC-0002", "walter", T0)
    rid = custody.recording("BC-0001", "2026-12-06T09:00:00.000Z", "2026-12-06T09:10:00.000Z")
    assert target_of(custody, rid).wearers is None


@pytest.mark.parametrize("rid", ["BC-0001-20261206T090000Z-ffff", "../../etc/passwd",
                                 "x' OR '1'='1"])
def test_an_unknown_recording_is_named_as_such(custody: Custody, rid: str) -> None:
    with pytest.raises(UnknownRecordingError, match="bodycam-server recordings"):
        target_of(custody, rid)

"""Notes, cases and legal holds on recordings: who may, what is refused (with the rule
or the fix), what blocks deletion, and that a hold is only lifted through a two-person
approval. Every change and every refusal is in the audit log."""

from __future__ import annotations

import pytest
from custody_rig import Custody, custody_fixture, server_fixture

from bodycam.server.access.rules import AccessError
from bodycam.server.custody.blockers import deletion_blockers
from bodycam.server.custody.cases import (
    add_to_case,
    case_detail,
    close_case,
    list_cases,
    open_case,
    remove_from_case,
    reopen_case,
)
from bodycam.server.custody.errors import CustodyError
from bodycam.server.custody.holds import (
    LiftApproval,
    active_holds,
    direct_lift_refused,
    lift_hold,
    place_hold,
)
from bodycam.server.custody.notes import MAX_NOTE, add_note, read_notes
from bodycam.server.custody.target import UnknownRecordingError
from bodycam.server.retention.categories import ensure_retention, retention_of


@pytest.fixture
def rid(custody: Custody) -> str:
    return custody.recording("BC-0001", "2026-12-06T09:00:00.000Z",
                             "2026-12-06T09:10:00.000Z")


_FIXTURES = (server_fixture, custody_fixture)  # pytest finds them here, as `server` and `custody`


def blockers(custody: Custody, rid: str) -> list[str]:
    with custody.people.context.database.transaction() as session:
        return deletion_blockers(session, rid)


def test_a_reviewer_adds_notes_kept_as_written(custody: Custody, rid: str) -> None:
    with custody.work("rita") as work:
        add_note(work, rid, "  Suspect enters at 09:03.\nFace visible.  ")
        add_note(work, rid, "Correction: 09:04.")
    with custody.work("carl") as work:
        notes = read_notes(work, rid)
    assert [(n.author, n.text) for n in notes] == [
        ("rita", "Suspect enters at 09:03.\nFace visible."), ("rita", "Correction: 09:04.")]
    added = custody.details("note_added")
    assert [d["recording"] for d in added] == [rid, rid] and len(str(added[0]["sha256"])) == 64
    assert custody.details("notes_read") == [{"recording": rid, "notes": 2}]


@pytest.mark.parametrize(("text", "says"), [
    ("", "the note is empty. Fix"),
    ("   \n ", "the note is empty"),
    ("x" * (MAX_NOTE + 1), f"{MAX_NOTE + 1} characters long; at most {MAX_NOTE}"),
    ("nul \x00 inside", "control character \\(0x00\\) at position 4. Fix: remove it"),
    ("bell \x07", "control character"),
])
def test_a_bad_note_is_refused_and_nothing_is_kept(custody: Custody, rid: str, text: str,
                                                   says: str) -> None:
    with pytest.raises(CustodyError, match=says), custody.work("rita") as work:
        add_note(work, rid, text)
    with custody.work("rita") as work:
        assert read_notes(work, rid) == []


def test_sql_metacharacters_in_a_note_are_text(custody: Custody, rid: str) -> None:
    text = "'; DROP TABLE recording_notes; -- \" OR 1=1 /* \\ %_"
    with custody.work("rita") as work:
        add_note(work, rid, text)
    with custody.work("rita") as work:
        assert [n.text for n in read_notes(work, rid)] == [text]


@pytest.mark.parametrize(("who", "rule"), [("admin", "administrator_no_evidence"),
                                           ("wendy", "permission"),
                                           ("carl", "permission")])
def test_who_may_not_add_notes(custody: Custody, rid: str, who: str, rule: str) -> None:
    with pytest.raises(AccessError) as caught, custody.work(who, "note.add") as work:
        add_note(work, rid, "mine")
    assert caught.value.rule == rule
    assert ("refused", who, rule) in custody.events()


def test_a_note_on_an_unknown_recording_is_refused(custody: Custody) -> None:
    with pytest.raises(UnknownRecordingError), custody.work("rita") as work:
        add_note(work, "BC-0001-20261206T090000Z-ffff", "hello")


def test_an_open_case_blocks_deletion_until_closed(custody: Custody, rid: str) -> None:
    with custody.work("carl") as work:
        open_case(work, "2026-0042", "Burglary, Main Street")
        add_to_case(work, "2026-0042", rid)
        add_to_case(work, "2026-0042", rid)  # twice is once
    assert blockers(custody, rid) == ["open case 2026-0042"]
    with custody.work("rita") as work:
        found = case_detail(work, "2026-0042")
    assert found.recordings == [rid] and found.open
    with custody.work("carl") as work:
        closed = close_case(work, "2026-0042", "verdict delivered")
    assert not closed.open and closed.closed_by == "carl"
    assert blockers(custody, rid) == []
    with pytest.raises(CustodyError, match=r"closed; its recordings do not change\. Fix: "
                       r"reopen"), custody.work("carl") as work:
        remove_from_case(work, "2026-0042", rid, "not needed")
    with custody.work("cora") as work:
        reopen_case(work, "2026-0042", "appeal")
    assert blockers(custody, rid) == ["open case 2026-0042"]
    with custody.work("cora") as work:
        remove_from_case(work, "2026-0042", rid, "another camera shows it better")
    assert blockers(custody, rid) == []
    kinds = [k for k, _, _ in custody.events() if k.startswith("case_")]
    assert kinds == ["case_opened", "case_recording_added", "case_read", "case_closed",
                     "case_reopened", "case_recording_removed"]
    assert custody.details("case_closed")[0]["recordings"] == [rid]


@pytest.mark.parametrize(("reference", "title", "says"), [
    ("", "t", "case reference ''"),
    ("-leading", "t", "starting with a letter or digit"),
    ("x" * 65, "t", "1 to 64"),
    ("2026'; DROP TABLE cases; --", "t", "case reference"),
    ("2026-1", "", "case title is empty"),
    ("2026-1", "two\nlines", "control character.*one line"),
])
def test_bad_case_input_is_refused(custody: Custody, reference: str, title: str,
                                   says: str) -> None:
    with pytest.raises(CustodyError, match=says), custody.work("carl") as work:
        open_case(work, reference, title)
    with custody.work("carl") as work:
        assert list_cases(work) == []


def test_case_references_are_unique_and_only_custodians_manage_cases(
        custody: Custody, rid: str) -> None:
    with custody.work("carl") as work:
        open_case(work, "2026-0042", "Burglary")
    with pytest.raises(CustodyError, match="exists already"), custody.work("cora") as work:
        open_case(work, "2026-0042", "Other")
    with pytest.raises(AccessError) as caught, custody.work("rita") as work:
        add_to_case(work, "2026-0042", rid)
    assert caught.value.rule == "permission"
    with pytest.raises(AccessError) as caught, custody.work("admin") as work:
        open_case(work, "2026-0043", "Admin's")
    assert caught.value.rule == "administrator_no_evidence"
    with pytest.raises(CustodyError, match="no case '2026-9999'"), \
            custody.work("carl") as work:
        add_to_case(work, "2026-9999", rid)


def test_a_hold_blocks_deletion_and_is_never_lifted_directly(custody: Custody, rid: str
                                                             ) -> None:
    with custody.work("carl") as work:
        hold = place_hold(work, rid, "preservation letter from the prosecutor, ref 17/26")
    assert blockers(custody, rid) == [
        f"legal hold {hold.id} placed by carl: preservation letter from the prosecutor, "
        "ref 17/26"]
    with pytest.raises(AccessError, match="needs a request with a reason and the approval "
                       "of a different person") as caught, custody.work("carl") as work:
        direct_lift_refused(work, hold.id)
    assert caught.value.rule == "two_person_lift"
    assert ("refused", "carl", "two_person_lift") in custody.events()
    refused = custody.details("refused")
    assert refused[-1]["recording"] == rid
    with custody.people.context.database.transaction() as session:
        assert [h.id for h in active_holds(session, rid)] == [hold.id]


def test_lifting_needs_two_people(custody: Custody, rid: str) -> None:
    carl, cora = custody.users["carl"], custody.users["cora"]
    with custody.work("carl") as work:
        hold = place_hold(work, rid, "investigation")
    with pytest.raises(AccessError) as caught, custody.work("carl") as work:
        lift_hold(work, hold.id, LiftApproval(7, requested_by=carl, approved_by=carl))
    assert caught.value.rule == "four_eyes"
    assert blockers(custody, rid) != []
    with custody.work("cora") as work:
        lifted = lift_hold(work, hold.id, LiftApproval(8, requested_by=carl,
                                                       approved_by=cora))
    assert lifted.lifted_by == "cora" and blockers(custody, rid) == []
    assert custody.details("hold_lifted") == [{
        "recording": rid, "hold": hold.id, "approval": 8, "requested_by": carl,
        "approved_by": cora}]
    with pytest.raises(CustodyError, match="lifted already"), custody.work("cora") as work:
        lift_hold(work, hold.id, LiftApproval(9, requested_by=carl, approved_by=cora))


@pytest.mark.parametrize(("who", "reason", "error"), [
    ("rita", "r", AccessError), ("admin", "r", AccessError), ("carl", "", CustodyError),
    ("carl", "x" * 2001, CustodyError)])
def test_who_may_not_place_a_hold_and_bad_reasons(custody: Custody, rid: str, who: str,
                                                   reason: str, error: type[Exception]
                                                   ) -> None:
    with pytest.raises(error), custody.work(who, "hold.place") as work:
        place_hold(work, rid, reason)
    assert blockers(custody, rid) == []


def test_a_deleted_recording_takes_no_hold_and_joins_no_case(custody: Custody, rid: str
                                                            ) -> None:
    """Retention marked it deleted (its ciphertext gone): a hold or case would keep
    nothing, and saying otherwise would mislead whoever reads it."""
    with custody.people.context.database.transaction() as session:
        ensure_retention(session, rid)
        retention_of(session, rid).state = "deleted"
    with custody.work("carl") as work:
        open_case(work, "2026-0042", "Main Street")
    with pytest.raises(CustodyError, match=r"is deleted: .*only its tombstone remains"), \
            custody.work("carl") as work:
        place_hold(work, rid, "too late")
    with pytest.raises(CustodyError, match="is deleted"), custody.work("carl") as work:
        add_to_case(work, "2026-0042", rid)
    assert blockers(custody, rid) == []

"""Two-person approvals: deletion, a category's period, a legal hold's lift. Every hard
rule by the service every entry point calls, each refusal on record with its rule, and
an approval racing with a legal hold being placed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from retention_rig import DEVICE, Retention, open_retention, racing_a_hold
from sqlalchemy import update

from bodycam.server.access.rules import AccessError
from bodycam.server.access.service import Work
from bodycam.server.custody.models import Case, CaseRecording, DeviceAssignment, LegalHold
from bodycam.server.custody.target import recording_target
from bodycam.server.retention.approvals import (
    Decision,
    decide,
    list_approvals,
    request_deletion,
    request_hold_lift,
    request_period_change,
)
from bodycam.server.retention.categories import DAY, categorise, restore, retention_of
from bodycam.server.retention.job import run_retention
from bodycam.server.storage.blobs import sha256_hex


@dataclass
class Staff:
    wearer: int
    reviewer: int
    reviewer2: int
    approver: int
    approver2: int
    custodian: int
    admin: int


@pytest.fixture(params=("sqlite", "postgresql"))
def rig(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Retention]:
    yield from open_retention(request, tmp_path, monkeypatch)


@pytest.fixture
def staff(rig: Retention) -> Staff:
    def user(name: str, *roles: str) -> int:
        return rig.add(name, *roles).user_id

    return Staff(wearer=user("walt", "wearer", "reviewer"), reviewer=user("rita", "reviewer"),
                 reviewer2=user("ron", "reviewer"), approver=user("anna", "approver"),
                 approver2=user("abe", "approver"), custodian=user("carol", "custodian"),
                 admin=user("adam", "administrator"))


def refused(rig: Retention, actor: int, change: Callable[[Work], object]) -> str:
    """The rule that refused `change`, after checking the refusal is in the audit log."""
    before = len(rig.access.audit.events("refused"))
    with pytest.raises(AccessError) as caught, rig.access.work(actor, "test") as work:
        change(work)
    after = rig.access.audit.events("refused")
    assert len(after) == before + 1 and after[-1].rule == caught.value.rule
    return caught.value.rule


def request(rig: Retention, actor: int, recording_id: str, reason: str = "no evidence"
            ) -> int:
    with rig.access.work(actor, "deletion.request") as work:
        return request_deletion(work, recording_id, reason).id


def approve(rig: Retention, actor: int, approval_id: int, yes: bool = True) -> Decision:
    return decide(rig.access, rig.context.blobs, actor, approval_id, approve=yes,
                  note="checked")


def state(rig: Retention, recording_id: str) -> str:
    with rig.context.database.transaction() as session:
        return retention_of(session, recording_id).state


def test_one_requests_another_approves_and_the_recording_is_gone_with_its_tombstone(
        rig: Retention, staff: Staff) -> None:
    rec = rig.recording(b"segment a", b"segment b", wearer=staff.wearer)
    asked = request(rig, staff.reviewer, rec, "filmed by mistake in a changing room")
    assert state(rig, rec) == "kept"  # nothing happens on a request alone
    done = approve(rig, staff.approver, asked)
    assert done.approval.state == "approved" and done.deleted is not None
    assert state(rig, rec) == "deleted"
    for data in (b"segment a", b"segment b", f"manifest of {rec}".encode()):
        assert not rig.context.blobs.has(sha256_hex(data))
    [tombstone] = rig.access.audit.events("recording_deleted")
    details = json.loads(tombstone.details)
    assert (details["requested_by"], details["approved_by"]) == ("rita", "anna")
    assert details["reason"] == "filmed by mistake in a changing room"
    assert details["segments"][1]["sha256"] == sha256_hex(b"segment b")
    kinds = [e.kind for e in rig.access.audit.events()]
    assert kinds.index("deletion_requested") < kinds.index("deletion_approved") < \
        kinds.index("recording_deleted")


def test_the_requester_never_approves_their_own_request(rig: Retention,
                                                        staff: Staff) -> None:
    both = rig.add("bob", "reviewer", "approver").user_id
    rec = rig.recording(b"x", wearer=staff.wearer)
    asked = request(rig, both, rec)
    with pytest.raises(AccessError) as caught:
        approve(rig, both, asked)
    assert caught.value.rule == "four_eyes"
    assert rig.access.audit.events("refused")[-1].rule == "four_eyes"
    assert state(rig, rec) == "kept"
    assert rig.context.blobs.has(sha256_hex(b"x"))


def test_the_wearer_can_neither_request_nor_approve_their_recording_deletion(
        rig: Retention, staff: Staff) -> None:
    rec = rig.recording(b"own", wearer=staff.wearer)
    assert refused(rig, staff.wearer, lambda w: request_deletion(w, rec, "mine")) == \
        "wearer_never_deletes"
    wearing_approver = rig.add("wanda", "approver").user_id
    with rig.context.database.transaction() as session:  # she wore it too (hand-over)
        now = datetime.fromtimestamp(rig.clock.now, UTC)
        rig.assign(session, wearing_approver, DEVICE, now - timedelta(days=2), now)
    asked = request(rig, staff.reviewer, rec)
    with pytest.raises(AccessError) as caught:
        approve(rig, wearing_approver, asked)
    assert caught.value.rule == "wearer_never_deletes"
    assert state(rig, rec) == "kept"


def test_a_request_by_the_wearer_is_never_approved_by_anyone(rig: Retention,
                                                             staff: Staff) -> None:
    # The assignment said Ron wore the camera when Walt asked; an administrator then
    # corrected it: Walt wore it. His request can no longer be approved.
    rec = rig.recording(b"corrected", wearer=staff.reviewer2)
    asked = request(rig, staff.wearer, rec)
    with rig.context.database.transaction() as session:
        session.execute(update(DeviceAssignment).values(user_id=staff.wearer))
    with pytest.raises(AccessError) as caught:
        approve(rig, staff.approver, asked)
    assert caught.value.rule == "wearer_never_deletes"
    assert state(rig, rec) == "kept"


def test_an_administrator_neither_requests_nor_approves(rig: Retention,
                                                        staff: Staff) -> None:
    rec = rig.recording(b"admin", wearer=staff.wearer)
    assert refused(rig, staff.admin, lambda w: request_deletion(w, rec, "tidy")) == \
        "administrator_no_evidence"
    asked = request(rig, staff.reviewer, rec)
    with pytest.raises(AccessError) as caught:
        approve(rig, staff.admin, asked)
    assert caught.value.rule == "administrator_no_evidence"


def test_a_recording_without_a_wearer_on_record_is_not_deleted_by_hand(
        rig: Retention, staff: Staff) -> None:
    rec = rig.recording(b"nobody", wearer=None)
    assert refused(rig, staff.reviewer, lambda w: request_deletion(w, rec, "x")) == \
        "wearer_unknown"


def test_a_rejected_request_deletes_nothing_and_the_rejection_is_on_record(
        rig: Retention, staff: Staff) -> None:
    rec = rig.recording(b"rejected", wearer=staff.wearer)
    asked = request(rig, staff.reviewer, rec)
    done = approve(rig, staff.approver, asked, yes=False)
    assert done.approval.state == "rejected" and done.deleted is None
    assert state(rig, rec) == "kept" and rig.context.blobs.has(sha256_hex(b"rejected"))
    assert [e.actor for e in rig.access.audit.events("deletion_rejected")] == ["anna"]
    with pytest.raises(ValueError, match="rejected already"):
        approve(rig, staff.approver2, asked)


def test_a_legal_hold_or_an_open_case_blocks_the_request_and_the_approval(
        rig: Retention, staff: Staff) -> None:
    held = rig.recording(b"held", wearer=staff.wearer)
    rig.hold(held)
    assert refused(rig, staff.reviewer, lambda w: request_deletion(w, held, "x")) == \
        "legal_hold"
    in_case = rig.recording(b"in case", wearer=staff.wearer)
    asked = request(rig, staff.reviewer, in_case)
    with rig.context.database.transaction() as session:  # the case is opened after
        case = Case(reference="2026/42", title="burglary", opened_by="carol",
                    opened_at=rig.clock.now)
        session.add(case)
        session.flush()
        session.add(CaseRecording(case_id=case.id, recording_id=in_case,
                                  added_by="carol", added_at=rig.clock.now))
    with pytest.raises(AccessError) as caught:
        approve(rig, staff.approver, asked)
    assert caught.value.rule == "open_case"
    assert state(rig, in_case) == "kept" and rig.context.blobs.has(sha256_hex(b"in case"))
    with rig.context.database.transaction() as session:
        assert [a.state for a in list_approvals(session, state=None)] == ["pending"]


def test_an_approval_racing_with_a_legal_hold_loses_to_the_hold(
        rig: Retention, staff: Staff) -> None:
    rec = rig.recording(b"raced", wearer=staff.wearer)
    asked = request(rig, staff.reviewer, rec)
    result = racing_a_hold(rig, rec, lambda: approve(rig, staff.approver, asked))
    assert isinstance(result, AccessError), f"the approval went through a hold: {result}"
    assert result.rule == "legal_hold"
    assert state(rig, rec) == "kept" and rig.context.blobs.has(sha256_hex(b"raced"))


def test_a_period_change_takes_two_people_and_deletes_nothing_at_once(
        rig: Retention, staff: Staff) -> None:
    other_admin = rig.add("alma", "administrator").user_id
    old = rig.recording(b"twenty days old", days_ago=20, wearer=staff.wearer)
    for days in (0, -5, 100_000):
        assert refused(rig, staff.admin, lambda w, d=days: request_period_change(
            w, "uncategorised", d, "shorter")) == "retention_period"
    with rig.access.work(staff.admin, "retention.change") as work:
        asked = request_period_change(work, "uncategorised", 10, "DPO guidance").id
    for person in (staff.admin, other_admin):
        with pytest.raises(AccessError) as caught:
            approve(rig, person, asked)
        assert caught.value.rule == "administrator_no_evidence"
    approve(rig, staff.approver, asked)
    with rig.context.database.transaction() as session:
        row = retention_of(session, old)
        assert row.state == "kept"  # expiry recomputed; nothing deleted by the change
        assert row.expires_at == pytest.approx(row.recorded_at + 10 * DAY)
    report = run_retention(rig.context.database, rig.context.blobs, rig.access.audit,
                           rig.clock)
    assert report.pending == [old] and report.deleted == []
    assert rig.context.blobs.has(sha256_hex(b"twenty days old"))


def test_a_hold_is_lifted_only_after_a_second_person_approves(rig: Retention,
                                                              staff: Staff) -> None:
    rec = rig.recording(b"on hold", days_ago=60, wearer=staff.wearer)
    hold = rig.hold(rec)
    with rig.access.work(staff.custodian, "hold.lift") as work:
        asked = request_hold_lift(work, str(hold), "case closed by the court").id
    report = run_retention(rig.context.database, rig.context.blobs, rig.access.audit,
                           rig.clock)
    assert report.skipped == {"legal_hold": [rec]}  # the request alone lifts nothing
    with pytest.raises(AccessError) as caught:
        approve(rig, staff.custodian, asked)
    assert caught.value.rule in ("four_eyes", "permission")
    approve(rig, staff.approver, asked)
    with rig.context.database.transaction() as session:
        assert session.get_one(LegalHold, hold).lifted_by == "anna"
    report = run_retention(rig.context.database, rig.context.blobs, rig.access.audit,
                           rig.clock)
    assert report.pending == [rec] and report.deleted == []  # a fresh pending window


def test_categorising_and_restoring_a_pending_recording(rig: Retention,
                                                        staff: Staff) -> None:
    rec = rig.recording(b"almost gone", days_ago=40, wearer=staff.wearer)
    run_retention(rig.context.database, rig.context.blobs, rig.access.audit, rig.clock)
    assert state(rig, rec) == "pending"
    with rig.context.database.transaction() as session:
        target = recording_target(session, rec)
    assert refused(rig, staff.admin, lambda w: categorise(w, target, "evidential")) == \
        "administrator_no_evidence"
    assert refused(rig, staff.reviewer, lambda w: restore(
        w, target, "not_evidential", "look again")) == "still_expired"
    with rig.access.work(staff.reviewer, "recording.restore") as work:
        restore(work, target, "evidential", "assault on an officer")
    assert state(rig, rec) == "kept"
    assert [json.loads(e.details)["reason"] for e in
            rig.access.audit.events("recording_restored")] == ["assault on an officer"]
    rig.later(8)
    report = run_retention(rig.context.database, rig.context.blobs, rig.access.audit,
                           rig.clock)
    assert report.deleted == [] and state(rig, rec) == "kept"

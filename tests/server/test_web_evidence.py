"""The evidence pages in-process on SQLite and PostgreSQL: a recording's notes, category,
case and legal hold set from its page; the two-person deletion (request, the requester
refused, the wearer refused, a different approver deletes; the tombstone in the audit
log); the chain-of-custody report; the audit log for auditors only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from people_rig import DATABASES, People, open_people
from web_rig import add_recording, assign, person, text

from bodycam.server.retention.categories import ensure_retention
from bodycam.server.retention.models import RecordingRetention

REC = "BC-0001-20261201T080000Z-00a1"


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def test_notes_category_case_and_hold_from_the_recordings_page(people: People) -> None:
    add_recording(people, REC, "BC-0001")
    rita = person(people, "rita", "reviewer")
    cora = person(people, "cora", "custodian")
    page = rita.post(f"/recordings/{REC}/notes", {"text": "Shows the arrest; <b>keep</b>"})
    assert page.status_code == 200 and "Your note is added." in page.text
    assert "&lt;b&gt;keep&lt;/b&gt;" in page.text and "rita," in page.text
    page = rita.post(f"/recordings/{REC}/category", {"name": "evidential"})
    assert "now in category evidential" in page.text
    assert "evidential (by rita)" in text(page.text)
    refused = rita.post(f"/recordings/{REC}/category", {"name": "forever"})
    assert refused.status_code == 400 and "no retention category 'forever'" in text(refused.text)
    assert cora.post("/cases", {"reference": "2026-0042", "title": "Market St"}
                     ).status_code == 200
    assert "part of case 2026-0042" in cora.post(f"/recordings/{REC}/cases",
                                                 {"reference": "2026-0042"}).text
    held = cora.post(f"/recordings/{REC}/holds", {"reason": "court order 17/2026"})
    assert "nothing deletes this recording now" in held.text
    case = cora.get("/cases/2026-0042")
    assert case.status_code == 200 and REC in case.text
    closed = cora.post("/cases/change", {"reference": "2026-0042", "step": "close",
                                         "reason": "trial over"})
    assert "The case is closed" in closed.text
    assert rita.post(f"/recordings/{REC}/holds", {"reason": "x"}).status_code == 403
    lift = cora.post(f"/recordings/{REC}/holds/1/lift", {"reason": "court order ended"})
    assert "Lifting hold 1 is requested (request 1)" in lift.text
    dora = person(people, "dora", "approver")
    assert "lift legal hold 1" in text(dora.get("/deletions").text)
    assert "Request 1 is approved." in dora.post("/deletions/1/approve").text
    assert "Legal hold none" in text(rita.get(f"/recordings/{REC}").text)
    kinds = [k for k, _, _ in people.events()]
    for kind in ("note_added", "recording_categorised", "case_opened",
                 "case_recording_added", "hold_placed", "case_closed", "recording_opened",
                 "hold_lift_requested", "hold_lift_approved"):
        assert kind in kinds, kind


def test_two_person_deletion_through_the_pages(people: People) -> None:
    other = "BC-0001-20261201T100000Z-00b2"
    add_recording(people, REC, "BC-0001")
    add_recording(people, other, "BC-0001", start="2026-12-01T10:00:00.000Z")
    walt = person(people, "walt", "approver")  # wore the camera, and approves for others
    assign(people, "BC-0001", "walt")
    rita = person(people, "rita", "reviewer")
    asked = rita.post(f"/recordings/{REC}/deletion", {"reason": "nothing of interest"})
    assert asked.status_code == 200 and "Deletion is requested (request 1)" in asked.text
    again = rita.post(f"/recordings/{REC}/deletion", {"reason": "twice"})
    assert again.status_code == 400 and "already waiting" in again.text

    quinn = person(people, "quinn", "reviewer", "approver")
    assert "(request 2)" in quinn.post(f"/recordings/{other}/deletion",
                                       {"reason": "test footage"}).text
    own = quinn.post("/deletions/2/approve")
    assert own.status_code == 403 and "rule: four_eyes" in own.text
    wearer = walt.post("/deletions/1/approve")
    assert wearer.status_code == 403 and "rule: wearer_never_deletes" in wearer.text

    rory = person(people, "rory", "approver")
    pending = text(rory.get("/deletions").text)
    assert "Request 1:" in pending and "Requested by rita" in pending
    done = rory.post("/deletions/1/approve", {"note": "agreed"})
    assert done.status_code == 200 and f"Recording {REC} is deleted" in done.text
    rejected = rory.post("/deletions/2/reject", {"note": "keep it"})
    assert "Request 2 is rejected." in rejected.text
    with people.context.database.transaction() as session:
        gone = session.get(RecordingRetention, REC)
        kept = session.get(RecordingRetention, other)
        assert gone is not None and gone.state == "deleted"
        assert kept is not None and kept.state == "kept"
    assert [a for _, a, _ in people.events("deletion_approved")] == ["rory"]
    refused = {(a, r) for k, a, r in people.events("refused")}
    assert {("quinn", "four_eyes"), ("walt", "wearer_never_deletes")} <= refused


def test_the_custody_report_and_the_audit_log(people: People) -> None:
    add_recording(people, REC, "BC-0001")
    rita = person(people, "rita", "reviewer")
    rita.post(f"/recordings/{REC}/notes", {"text": "seen"})
    report = rita.get(f"/recordings/{REC}/custody")
    assert report.status_code == 200 and "note_added" in report.text
    assert "style-src 'unsafe-inline'" in report.headers["content-security-policy"]
    as_json = rita.get(f"/recordings/{REC}/custody.json").json()
    assert as_json["recording_id"] == REC and as_json["manifest_sha256"] == "0" * 64
    assert rita.get("/audit").status_code == 403
    audrey = person(people, "audrey", "auditor")
    log = audrey.get("/audit", params={"recording": REC})
    assert log.status_code == 200 and "note_added" in log.text
    refused = audrey.get("/audit", params={"outcome": "refused"})
    assert "(permission)" in refused.text and "rita" in refused.text
    assert audrey.get(f"/recordings/{REC}/custody").status_code == 200
    assert audrey.get(f"/recordings/{REC}").status_code == 403  # reports, nothing else
    assert audrey.get("/audit", params={"kind": "x" * 500}).status_code == 422
    assert [a for _, a, _ in people.events("audit_log_read")] == ["audrey"] * 2


def test_the_dashboard_lists_recordings_about_to_expire_and_uncategorised(
        people: People) -> None:
    add_recording(people, REC, "BC-0001")
    kept = "BC-0001-20261201T100000Z-00b2"
    add_recording(people, kept, "BC-0001", start="2026-12-01T10:00:00.000Z")
    rita = person(people, "rita", "reviewer")
    rita.post(f"/recordings/{kept}/category", {"name": "evidential"})
    with people.context.database.transaction() as session:
        ensure_retention(session)  # what the retention job does with new recordings
        row = session.get(RecordingRetention, kept)
        assert row is not None
        people.clock.now = row.recorded_at + 30 * 86400  # uncategorised keeps 31 days
    board = text(person(people, "ulla", "reviewer").get("/?days=7").text)
    assert "Uncategorised recordings (1)" in board and REC in board
    assert "retention ends within 7 days (1)" in board
    assert f"{REC} uncategorised" in board and kept not in board


def test_the_wearer_can_neither_delete_nor_view_their_own_recording(people: People) -> None:
    add_recording(people, REC, "BC-0001")
    walt = person(people, "walt", "reviewer", "approver")  # a wearer who also reviews
    assign(people, "BC-0001", "walt")
    asked = walt.post(f"/recordings/{REC}/deletion", {"reason": "embarrassing"})
    assert asked.status_code == 403 and "rule: wearer_never_deletes" in asked.text
    report = walt.get(f"/recordings/{REC}/custody")
    assert report.status_code == 403 and "rule: own_recording" in report.text
    rita = person(people, "rita", "reviewer")
    rita.post(f"/recordings/{REC}/deletion", {"reason": "routine"})
    approved = walt.post("/deletions/1/approve")
    assert approved.status_code == 403 and "rule: wearer_never_deletes" in approved.text
    with people.context.database.transaction() as session:
        row = session.get(RecordingRetention, REC)
        assert row is None or row.state == "kept"
    refused = [(a, r) for _, a, r in people.events("refused")]
    assert refused.count(("walt", "wearer_never_deletes")) == 2
    assert ("walt", "own_recording") in refused


def test_an_administrator_cannot_reach_evidence_by_any_page(people: People) -> None:
    add_recording(people, REC, "BC-0001")
    root = person(people, "root", "administrator")
    for path in (f"/recordings/{REC}", f"/recordings/{REC}/custody",
                 f"/recordings/{REC}/custody.json", "/recordings", "/cases", "/deletions",
                 "/audit"):
        assert root.get(path).status_code == 403, path
    for path, data in ((f"/recordings/{REC}/notes", {"text": "x"}),
                       (f"/recordings/{REC}/category", {"name": "evidential"}),
                       (f"/recordings/{REC}/deletion", {"reason": "x"}),
                       (f"/recordings/{REC}/holds", {"reason": "x"})):
        answer = root.post(path, data)
        assert answer.status_code == 403, path
        assert "rule: administrator_no_evidence" in answer.text, path
    assert "note_added" not in [k for k, _, _ in people.events()]

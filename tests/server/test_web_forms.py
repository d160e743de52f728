"""The web interface's buttons that the API already had: restoring a recording in its
pending-deletion window, enabling a disabled person again, ending an assignment at a
time in the past; and the refusals a browser gets as pages, not JSON (a failed CSRF
check on a form, a form the server cannot read, a page that does not exist)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from people_rig import DATABASES, People, open_people
from sqlalchemy import select
from web_rig import ORIGIN, add_recording, assign, person, sign_in, stranger, text

from bodycam.server.custody.models import DeviceAssignment
from bodycam.server.people.models import User
from bodycam.server.retention.categories import ensure_retention
from bodycam.server.retention.job import run_retention
from bodycam.server.retention.models import RecordingRetention

REC = "BC-0001-20261201T080000Z-00a1"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def _pending(people: People) -> None:
    """The recording's retention ran out: the job marks it pending (not yet deleted)."""
    with people.context.database.transaction() as session:
        ensure_retention(session)
        row = session.get(RecordingRetention, REC)
        assert row is not None
        people.clock.now = row.expires_at + 60
    run_retention(people.context.database, people.context.blobs, people.access.audit,
                  people.clock)
    with people.context.database.transaction() as session:
        assert session.get_one(RecordingRetention, REC).state == "pending"


def test_restore_preselects_the_first_category_that_keeps_the_recording(
        people: People) -> None:
    """Any category whose period ran out already is refused (still_expired): the form
    starts on one that keeps it, and says when only a legal hold can."""
    add_recording(people, REC, "BC-0001")
    _pending(people)
    made = people.clock.now - 31 * 86_400 - 60  # _pending: 31 days and a minute on
    page = person(people, "rita", "reviewer").get(f"/recordings/{REC}").text
    assert '<option value="evidential" selected>' in page, text(page)
    people.clock.now = made + 1000 * 86_400  # evidential's 730 days ran out too
    page = person(people, "rolf", "reviewer").get(f"/recordings/{REC}").text
    assert '<option value="prosecution" selected>' in page
    people.clock.now = made + 3000 * 86_400  # and prosecution's 2190
    text_of = text(person(people, "ruth", "reviewer").get(f"/recordings/{REC}").text)
    assert "No category's period keeps it beyond today: only a legal hold can" in text_of

def test_a_pending_recording_is_restored_from_its_page(people: People) -> None:
    add_recording(people, REC, "BC-0001")
    people.add("walt", "wearer", second_factor=False)
    assign(people, "BC-0001", "walt")
    _pending(people)
    rita = person(people, "rita", "reviewer")
    page = rita.get(f"/recordings/{REC}")
    assert 'action="/recordings/' + REC + '/restore"' in page.text
    assert "Restore: keep it after all" in text(page.text)
    short = rita.post(f"/recordings/{REC}/restore", {"name": "uncategorised",
                                                      "reason": "still needed"})
    assert short.status_code == 403 and "still past its retention period" in text(short.text)
    bare = rita.post(f"/recordings/{REC}/restore", {"name": "evidential", "reason": " "})
    assert bare.status_code == 400 and "a reason is required" in text(bare.text)
    done = rita.post(f"/recordings/{REC}/restore", {"name": "evidential",
                                                     "reason": "complaint filed"})
    assert done.status_code == 200, done.text
    assert "restored into category evidential" in text(done.text)
    assert "Restore: keep it after all" not in text(done.text)  # kept: no button now
    with people.context.database.transaction() as session:
        assert session.get_one(RecordingRetention, REC).state == "kept"
    walt_page = person(people, "cora", "custodian").get(f"/recordings/{REC}")
    assert "Restore: keep it after all" not in walt_page.text  # no recording.categorise
    assert ("recording_restored", "rita", None) in people.events("recording_restored")


def test_a_disabled_person_is_enabled_again_from_the_users_page(people: People) -> None:
    bob = people.add("bob", "reviewer")
    root = person(people, "root", "administrator")
    assert "bob is disabled" in root.post("/admin/users/bob/disable").text
    page = root.get("/admin/users")
    assert 'action="/admin/users/bob/enable"' in page.text
    assert person(people, "ria", "reviewer").post("/admin/users/bob/enable"
                                                  ).status_code == 403
    enabled = root.post("/admin/users/bob/enable")
    assert enabled.status_code == 200 and "bob is enabled again" in enabled.text
    again = root.post("/admin/users/bob/enable")
    assert again.status_code == 400 and "bob is not disabled" in text(again.text)
    with people.context.database.transaction() as session:
        assert not session.scalars(select(User).where(User.username == "bob")).one().disabled
    assert sign_in(people, "bob", bob.totp_secret).get("/").status_code == 200
    assert [(k, a) for k, a, _ in people.events("user_enabled")] == [("user_enabled", "root")]


def test_an_assignment_is_ended_at_a_time_in_the_past(people: People) -> None:
    add_recording(people, REC, "BC-0001")
    people.add("wendy", "wearer", second_factor=False)
    root = person(people, "root", "administrator")
    out = root.post("/admin/assignments/out", {"device": "BC-0001", "username": "wendy"})
    assert "BC-0001 is checked out to wendy." in out.text
    taken = datetime.fromtimestamp(people.clock.now, UTC)
    people.clock.now += 20 * 60  # the end is recorded twenty minutes later
    with people.context.database.transaction() as session:
        (row,) = session.scalars(select(DeviceAssignment))
        assignment = row.id
    assert f'action="/admin/assignments/{assignment}/end"' in root.get("/admin/devices").text
    early = (taken - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    refused = root.post(f"/admin/assignments/{assignment}/end", {"ends": early})
    assert refused.status_code == 400 and "cannot end at" in text(refused.text)
    back = (taken + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S")
    ended = root.post(f"/admin/assignments/{assignment}/end", {"ends": back})
    assert ended.status_code == 200, ended.text
    assert f"wendy wore BC-0001 until {back}.000Z" in text(ended.text)
    with people.context.database.transaction() as session:
        assert session.get_one(DeviceAssignment, assignment).ends == f"{back}.000Z"
    assert root.post("/admin/assignments/0/end", {"ends": back}, ).status_code == 422
    assert "device_assignment_ended" in [k for k, a, _ in people.events() if a == "root"]


def test_a_form_failing_the_csrf_check_gets_a_page_that_says_what_to_do(
        people: People) -> None:
    people.add("bob", "reviewer")
    root = person(people, "root", "administrator")
    answer = root.client.post("/admin/users/bob/disable", data={"csrf_token": "old"},
                              headers={"Origin": ORIGIN, **HTML,
                                       "Referer": f"{ORIGIN}/admin/users"})
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    said = text(answer.text)
    assert "The form could not be accepted" in said and "(rule: csrf)" in said
    assert "Nothing was changed" in said and "reload it" in said and "submit it again" in said
    assert 'href="/admin/users"' in answer.text  # back to the form
    foreign = root.client.post("/admin/users/bob/disable",
                               data={"csrf_token": root.csrf_token},
                               headers={"Origin": "https://evil.example", **HTML})
    assert foreign.status_code == 403 and "sent from another site" in text(foreign.text)
    assert 'href="/"' in foreign.text  # no page of ours to go back to
    out = root.client.post("/sign-out", data={"csrf_token": "old"},
                           headers={"Origin": ORIGIN, **HTML})
    assert out.status_code == 403 and "(rule: csrf)" in text(out.text)
    assert [r for _, _, r in people.events("request_refused")] == ["csrf", "csrf_origin",
                                                                    "csrf"]
    with people.context.database.transaction() as session:
        assert not session.scalars(select(User).where(User.username == "bob")).one().disabled
    api = root.client.post("/api/v1/users/bob/disable", headers={"Origin": ORIGIN, **HTML})
    assert api.status_code == 403 and api.json()["error"] == "csrf"  # the API keeps JSON


def test_a_form_the_server_cannot_read_and_a_missing_page_are_pages_too(
        people: People) -> None:
    root = person(people, "root", "administrator")
    long = root.client.post("/admin/assignments", data={
        "csrf_token": root.csrf_token, "device": "x" * 65, "username": "walt",
        "starts": "2026-12-01T07:00"}, headers={"Origin": ORIGIN, **HTML})
    assert long.status_code == 422 and long.headers["content-type"].startswith("text/html")
    said = text(long.text)
    assert "The form could not be read" in said and "device:" in said
    assert "correct the fields named" in said
    missing = root.client.get("/admin/nothing-here", headers=HTML)
    assert missing.status_code == 404 and "There is no page at this address" in text(
        missing.text)
    assert stranger(people).get("/admin/nothing-here").json() == {"detail": "Not Found"}
    api = root.client.get("/api/v1/nothing-here", headers=HTML)
    assert api.status_code == 404 and api.json()["error"] == "not_found"

"""The web interface through the real application in-process, on SQLite and PostgreSQL:
every page asks for a signed-in person, the navigation follows the person's
permissions, every refusal names its rule and is in the audit log, and the
administrator's pages change people, roles and cameras through the access gate.
(test_web_browser.py drives the same pages in Chromium.)"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from people_rig import DATABASES, PASSWORD, People, code, open_people
from sqlalchemy import select
from test_evidence_support import new_session
from web_rig import Person, add_recording, sign_in, stranger

from bodycam.firmware.device.identity import identity_text
from bodycam.server.access.models import RolePermission, UserRole
from bodycam.server.devices.models import DeviceKey
from bodycam.server.people.models import User

REC = "BC-0001-20261201T080000Z-00a1"
PAGES = ("/", "/recordings", f"/recordings/{REC}", "/admin/users", "/admin/roles",
         "/admin/devices")


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def admin(people: People) -> Person:
    added = people.add("root", "administrator")
    return sign_in(people, "root", added.totp_secret)


def reviewer(people: People, username: str = "rita") -> Person:
    added = people.add(username, "reviewer")
    return sign_in(people, username, added.totp_secret)


def nav(page: str) -> list[str]:
    menu = re.search(r'<nav class="menu" aria-label="Main">(.*?)</nav>', page, re.S)
    assert menu is not None
    return re.findall(r'<a href="[^"]+"[^>]*>([^<]+)</a>', menu.group(1))


def test_every_page_sends_a_stranger_or_a_forged_cookie_to_sign_in(people: People) -> None:
    client = stranger(people)
    for cookies in ({}, {"__Host-bodycam-session": "forged"}):
        for path in PAGES:
            answer = client.get(path, cookies=cookies)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/sign-in", path


def test_the_navigation_offers_only_what_the_person_may_do(people: People) -> None:
    assert nav(admin(people).get("/").text) == ["Dashboard", "Users", "Roles", "Devices",
                                                "Retention"]
    assert nav(reviewer(people).get("/").text) == ["Dashboard", "Recordings", "Cases",
                                                   "Deletion requests"]
    audrey = people.add("audrey", "auditor")
    assert nav(sign_in(people, "audrey", audrey.totp_secret).get("/").text) == [
        "Dashboard", "Audit log"]
    people.add("walt", "wearer", second_factor=False)
    assert nav(sign_in(people, "walt", None).get("/").text) == ["Dashboard"]


def test_an_administrator_is_refused_evidence_by_the_rule_and_it_is_recorded(
        people: People) -> None:
    add_recording(people, REC, "BC-0001")
    root = admin(people)
    for path in ("/recordings", f"/recordings/{REC}"):
        page = root.get(path)
        assert page.status_code == 403, path
        assert "administrators have no access to evidence" in page.text
        assert "rule: administrator_no_evidence" in page.text
    refused = [e for e in people.access.audit.events("refused")]
    assert [(e.actor, e.rule) for e in refused] == [("root", "administrator_no_evidence")] * 2
    assert REC in refused[1].details
    assert people.events("recording_opened") == []


def test_a_reviewer_is_refused_the_administrators_pages(people: People) -> None:
    rita = reviewer(people)
    for path in ("/admin/users", "/admin/roles", "/admin/devices"):
        page = rita.get(path)
        assert page.status_code == 403 and "rule: permission" in page.text, path
    answer = rita.post("/admin/users", {"username": "mallory", "display_name": "M",
                                        "password": PASSWORD, "roles": ["administrator"]})
    assert answer.status_code == 403 and "lacks permission user.manage" in answer.text
    with people.context.database.transaction() as session:
        assert session.scalars(select(User).where(User.username == "mallory")).first() is None
    assert ("refused", "rita", "permission") in people.events("refused")


def test_the_administrator_adds_a_person_and_sees_the_second_factor_once(
        people: People) -> None:
    root = admin(people)
    page = root.post("/admin/users", {"username": "Bob", "display_name": "Bob Builder",
                                      "password": PASSWORD, "roles": ["reviewer"]})
    assert page.status_code == 200 and "Added bob." in page.text
    key = re.search(r'<code id="setup-key">([A-Z2-7 ]+)</code>', page.text)
    assert key is not None and "<svg" in page.text and "otpauth://totp/" in page.text
    assert "setup-key" not in root.get("/admin/users").text  # shown once only
    bob = sign_in(people, "bob", key.group(1).replace(" ", ""))
    assert "Recordings" in nav(bob.get("/").text)
    assert ("user_added", "root", None) in people.events("user_added")
    assert ("role_granted", "root", None) in people.events("role_granted")


def test_bad_input_on_the_add_form_names_the_problem_and_adds_nobody(people: People
                                                                      ) -> None:
    root = admin(people)
    for data, message in (
            ({"username": "x' OR '1'='1", "display_name": "X", "password": PASSWORD},
             "use 1 to 64 letters"),
            ({"username": "short", "display_name": "S", "password": "short"},
             "give at least 12"),
            ({"username": "mixed", "display_name": "M", "password": PASSWORD,
              "roles": ["reviewer", "administrator"]}, "never go together"),
            ({"username": "ghost", "display_name": "G", "password": PASSWORD,
              "roles": ["no-such-role"]}, "no role 'no-such-role'")):
        page = root.post("/admin/users", data)
        assert page.status_code in (400, 403) and message in html.unescape(page.text), data
        assert 'role="alert"' in page.text
    oversized = root.post("/admin/users", {"username": "y" * 5000, "display_name": "Y",
                                           "password": PASSWORD})
    assert oversized.status_code == 422
    with people.context.database.transaction() as session:
        assert list(session.scalars(select(User.username))) == ["root"]


def test_a_form_without_the_sessions_csrf_token_changes_nothing(people: People) -> None:
    people.add("bob", "reviewer")
    root = admin(people)
    for token in ("", "forged"):
        answer = root.post("/admin/users/bob/disable", token=token)
        assert answer.status_code == 403 and "(rule: csrf)" in answer.text  # a page
    foreign = root.client.post("/admin/users/bob/disable",
                               data={"csrf_token": root.csrf_token},
                               headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "(rule: csrf_origin)" in foreign.text
    with people.context.database.transaction() as session:
        bob = session.scalars(select(User).where(User.username == "bob")).one()
        assert not bob.disabled
    assert people.events("user_disabled") == []
    assert [r for _, _, r in people.events("request_refused")] == ["csrf", "csrf",
                                                                    "csrf_origin"]


def test_granting_revoking_unlocking_and_disabling(people: People) -> None:
    people.add("bob", "reviewer")
    root = admin(people)
    assert "bob now holds role custodian." in root.post("/admin/users/bob/roles",
                                                         {"role": "custodian"}).text
    assert "bob no longer holds role reviewer." in root.post(
        "/admin/users/bob/roles/reviewer/revoke").text
    assert "bob is unlocked: failed sign-ins cleared" in root.post("/admin/users/bob/unlock").text
    fresh = root.post("/admin/users/bob/second-factor")
    assert "bob has a new second factor" in fresh.text and "setup-key" in fresh.text
    assert "bob is disabled" in root.post("/admin/users/bob/disable").text
    with people.context.database.transaction() as session:
        bob = session.scalars(select(User).where(User.username == "bob")).one()
        held = list(session.scalars(select(UserRole.role).where(UserRole.user_id == bob.id)))
        assert bob.disabled and held == ["custodian"]
    kinds = [k for k, actor, _ in people.events() if actor == "root"]
    for kind in ("role_granted", "role_revoked", "user_unlocked", "second_factor_reset",
                 "user_disabled"):
        assert kind in kinds


def test_the_administrator_cannot_change_their_own_account(people: People) -> None:
    root = admin(people)
    page = root.post("/admin/users/root/roles/administrator/revoke")
    assert page.status_code == 403 and "rule: no_self_change" in page.text
    assert root.post("/admin/users/root/disable").status_code == 403
    with people.context.database.transaction() as session:
        assert not session.scalars(select(User).where(User.username == "root")).one().disabled
    assert ("refused", "root", "no_self_change") in people.events("refused")


def test_roles_change_within_the_hard_rules(people: People) -> None:
    root = admin(people)
    page = root.post("/admin/roles", {"role": "shift-lead", "description": "nights",
                                      "permissions": ["recording.view", "recording.note"]})
    assert page.status_code == 200 and "Role shift-lead now permits" in page.text
    mixed = root.post("/admin/roles", {"role": "superuser",
                                       "permissions": ["user.manage", "recording.view"]})
    assert mixed.status_code == 403 and "rule: administrator_no_evidence" in mixed.text
    unknown = root.post("/admin/roles", {"role": "odd", "permissions": ["recording.eat"]})
    assert unknown.status_code == 400
    assert "unknown permission 'recording.eat'" in html.unescape(unknown.text)
    bad_name = root.post("/admin/roles", {"role": "Robert'); DROP TABLE roles;--"})
    assert bad_name.status_code == 400 and "use 1 to 64 lower-case letters" in bad_name.text
    with people.context.database.transaction() as session:
        granted = set(session.scalars(select(RolePermission.permission).where(
            RolePermission.role == "shift-lead")))
        assert granted == {"recording.view", "recording.note"}
        assert session.scalars(select(RolePermission).where(
            RolePermission.role == "superuser")).first() is None


def test_a_camera_is_enrolled_by_pasting_its_identity(people: People) -> None:
    root = admin(people)
    key = new_session()
    text = identity_text("BC-0042", "software", key.device_key)
    page = root.post("/admin/devices", {"identity": text})
    assert page.status_code == 200 and "Camera BC-0042 enrolled" in page.text
    assert "<th scope=\"row\">BC-0042</th>" in page.text
    altered = text.replace("Fingerprint: ", "Fingerprint: 00")
    refused = root.post("/admin/devices", {"identity": altered})
    assert refused.status_code == 400 and "altered or mistyped" in refused.text
    junk = root.post("/admin/devices", {"identity": "<script>alert(1)</script>"})
    assert junk.status_code == 400 and "<script>alert" not in junk.text
    with people.context.database.transaction() as session:
        assert list(session.scalars(select(DeviceKey.device_id))) == ["BC-0042"]
    assert [a for _, a, _ in people.events("device_enrolled")] == ["root"]


def test_a_reviewer_lists_searches_and_opens_recordings(people: People) -> None:
    add_recording(people, REC, "BC-0001")
    add_recording(people, "BC-0002-20261201T090000Z-00b2", "BC-0002", stored=(True, False),
                  damaged="sha256 differs from the manifest", start="2026-12-01T09:00:00.000Z")
    rita = reviewer(people)
    listing = rita.get("/recordings")
    assert listing.status_code == 200 and REC in listing.text and "2 recordings" in listing.text
    only = rita.get("/recordings?device=BC-0002")
    assert "1 recording" in only.text and REC not in only.text
    rita.post(f"/recordings/{REC}/category", {"name": "evidential"})
    evidential = rita.get("/recordings", params={"category": "evidential"})
    assert "1 recording" in evidential.text and REC in evidential.text
    complete = rita.get("/recordings", params={"state": "complete"}).text
    assert "1 recording" in complete and REC in complete
    later = rita.get("/recordings", params={"since": "2026-12-01T08:30"}).text
    assert "1 recording" in later and REC not in later
    bad_time = rita.get("/recordings", params={"since": "last tuesday"})
    assert bad_time.status_code == 400 and "is not an ISO 8601 time" in html.unescape(
        bad_time.text)
    injected = rita.get("/recordings", params={"device": "x' OR '1'='1"})
    assert injected.status_code == 200 and "No recording matches" in injected.text
    assert rita.get("/recordings", params={"device": "x" * 5000}).status_code == 422
    page = rita.get("/recordings/BC-0002-20261201T090000Z-00b2")
    assert page.status_code == 200
    assert "<strong>damaged</strong>: sha256 differs from the manifest" in page.text
    assert "1 of 2 stored" in page.text
    assert rita.get("/recordings/BC-0009-20261201T090000Z-0000").status_code == 404
    assert rita.get("/recordings/..%2Fetc").status_code == 404
    opened = people.access.audit.events("recording_opened")
    assert [(e.actor, e.recording_id) for e in opened] == [
        ("rita", REC), ("rita", "BC-0002-20261201T090000Z-00b2")]


def test_the_dashboard_shows_what_needs_attention(people: People) -> None:
    add_recording(people, REC, "BC-0001")
    add_recording(people, "BC-0002-20261201T090000Z-00b2", "BC-0002", stored=(True, False))
    people.clock.now += 10 * 86400
    add_recording(people, "BC-0003-20261211T090000Z-00c3", "BC-0003")
    board = reviewer(people).get("/").text
    assert "Damaged or incomplete recordings (1)" in board
    unwhole = re.search(r'id="unwhole-heading".*?</section>', board, re.S)
    assert unwhole is not None
    assert "BC-0002-20261201T090000Z-00b2" in unwhole.group(0) and REC not in unwhole.group(0)
    assert "have not offloaded" not in board  # a device matter: the administrator's
    assert "Uncategorised recordings (3)" in board
    assert "whose retention ends within 7 days (0)" in board
    cameras = admin(people).get("/?days=7").text
    stale = re.search(r'id="stale-heading".*?</section>', cameras, re.S)
    assert stale is not None
    assert "BC-0001" in stale.group(0) and "BC-0002" in stale.group(0)
    assert "BC-0003" not in stale.group(0)
    assert "Damaged or incomplete" not in cameras  # evidence: not the administrator's


def test_the_sign_in_page_still_works_with_the_new_frame(people: People) -> None:
    alice = people.add("alice", "reviewer")
    assert alice.totp_secret is not None
    page = stranger(people).get("/sign-in")
    assert 'aria-label="Main"' not in page.text and "Sign in" in page.text
    assert code(alice.totp_secret, people.clock.now).isdigit()


def test_assignments_from_the_devices_page(people: People) -> None:
    add_recording(people, REC, "BC-0001")
    people.add("walt", "wearer", second_factor=False)
    people.add("wendy", "wearer", second_factor=False)
    root = admin(people)
    page = root.post("/admin/assignments", {"device": "BC-0001", "username": "walt",
                                            "starts": "2026-12-01T07:00",
                                            "ends": "2026-12-01T16:00"})
    assert page.status_code == 200, page.text
    assert "walt wears BC-0001 from 2026-12-01T07:00:00.000Z" in page.text
    clash = root.post("/admin/assignments", {"device": "BC-0001", "username": "wendy",
                                             "starts": "2026-12-01T15:00:00",
                                             "ends": "2026-12-01T18:00:00"})
    assert clash.status_code == 400 and "one camera is worn by one person" in clash.text
    bad = root.post("/admin/assignments", {"device": "BC-0001", "username": "wendy",
                                           "starts": "yesterday"})
    assert bad.status_code == 400 and "is not an ISO 8601 time" in html.unescape(bad.text)
    out = root.post("/admin/assignments/out", {"device": "BC-0001", "username": "wendy"})
    assert "BC-0001 is checked out to wendy." in out.text
    people.clock.now += 600  # ten minutes later
    back = root.post("/admin/assignments/in", {"device": "BC-0001"})
    assert "BC-0001 is checked in (worn by wendy" in back.text
    assert reviewer(people).post("/admin/assignments/out", {
        "device": "BC-0001", "username": "walt"}).status_code == 403
    kinds = [k for k, a, _ in people.events() if a == "root"]
    assert kinds.count("device_assigned") == 2 and "device_assignment_ended" in kinds


def test_retention_categories_and_a_period_change_needs_two_people(people: People) -> None:
    root = admin(people)
    page = root.get("/admin/retention")
    assert page.status_code == 200 and "evidential" in page.text
    for days, message in (("0", "a retention period of 0 days is refused"),
                          ("-5", "a retention period of -5 days is refused"),
                          ("ten", "is not a whole number of days")):
        refused = root.post("/admin/retention/period", {"category": "evidential",
                                                        "days": days, "reason": "policy"})
        assert refused.status_code in (400, 403) and message in html.unescape(refused.text)
    asked = root.post("/admin/retention/period", {"category": "evidential", "days": "1095",
                                                  "reason": "new state law"})
    assert "(request 1); an approver decides it" in asked.text
    made = root.post("/admin/retention", {"name": "traffic", "days": "90",
                                          "description": "traffic stops"})
    assert "Category traffic is created." in made.text
    assert root.post("/admin/retention", {"name": "zero", "days": "0"}).status_code == 403
    window = root.post("/admin/retention/window", {"days": "0"})
    assert window.status_code == 403 and "rule: pending_window" in window.text
    dora = sign_in(people, "dora", people.add("dora", "approver").totp_secret)
    assert "set category evidential to 1095 days" in html.unescape(dora.get("/deletions").text)
    assert "Request 1 is approved." in dora.post("/deletions/1/approve").text
    assert "1095 days" in root.get("/admin/retention").text
    assert ("refused", "root", "retention_period") in people.events("refused")


def test_a_person_changes_their_own_password(people: People) -> None:
    rita = reviewer(people)
    assert "Change your password" in rita.get("/account").text
    wrong = rita.post("/account/password", {"current": "not it", "new": "a brand new phrase",
                                            "again": "a brand new phrase"})
    assert wrong.status_code == 403 and "the current password is wrong" in wrong.text
    differ = rita.post("/account/password", {"current": PASSWORD, "new": "a brand new phrase",
                                             "again": "another phrase!!"})
    assert differ.status_code == 400 and "the two new passwords differ" in differ.text
    short = rita.post("/account/password", {"current": PASSWORD, "new": "short",
                                            "again": "short"})
    assert short.status_code == 400 and "give at least 12" in short.text
    done = rita.post("/account/password", {"current": PASSWORD, "new": "a brand new phrase",
                                           "again": "a brand new phrase"})
    assert done.status_code == 303 and done.headers["location"] == "/sign-in?signed-out=1"
    assert rita.get("/").status_code == 303  # every session of hers has ended
    assert ("password_changed", "rita", None) in people.events("password_changed")

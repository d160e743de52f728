"""Users, roles and devices through the JSON API: administrators do it all, through the
same services and hard rules as the command line; everyone else is refused 403 naming
the rule, and each refusal is in the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_rig import bearer, client_of, sign_in
from people_rig import DATABASES, PASSWORD, People, code, open_people
from sqlalchemy import select
from test_evidence_support import new_session

from bodycam.firmware.device.identity import identity_text
from bodycam.server.access.permissions import DEFAULT_ROLES
from bodycam.server.people.models import User


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def test_an_administrator_adds_a_person_who_then_signs_in_with_the_second_factor(
        people: People) -> None:
    admin = sign_in(people, "carol", "administrator")
    added = admin.client.post("/api/v1/users", headers=admin.changes, json={
        "username": "Dave", "name": "Dave Reviewer", "password": PASSWORD,
        "roles": ["reviewer"]})
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["user"] == {"username": "dave", "name": "Dave Reviewer", "disabled": False,
                            "second_factor": True, "roles": ["reviewer"]}
    secret = body["second_factor"]["secret"]
    assert body["second_factor"]["uri"].startswith("otpauth://totp/")
    token = admin.token()
    people.clock.now += 30
    signed = client_of(people).post("/api/v1/session", json={
        "username": "dave", "password": PASSWORD, "code": code(secret, people.clock.now)})
    assert signed.status_code == 200
    assert [u["username"] for u in bearer(people, token).get(
        "/api/v1/users").json()] == ["carol", "dave"]


def test_a_reviewer_manages_nobody_and_the_refusal_is_on_record(people: People) -> None:
    reviewer = sign_in(people, "alice", "reviewer")
    for method, path, body in (("GET", "/api/v1/users", None),
                               ("POST", "/api/v1/users", {"username": "eve", "name": "Eve",
                                                          "password": PASSWORD}),
                               ("GET", "/api/v1/users/nobody", None),
                               ("GET", "/api/v1/roles", None),
                               ("GET", "/api/v1/devices", None)):
        answer = reviewer.client.request(method, path, json=body, headers=reviewer.changes)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"] == "permission"
        assert "lacks permission" in answer.json()["message"]
    assert people.events("refused").count(("refused", "alice", "permission")) == 5


def test_an_administrator_cannot_give_themselves_or_anyone_evidence_and_admin(
        people: People) -> None:
    admin = sign_in(people, "carol", "administrator")
    own = admin.client.post("/api/v1/users/carol/roles", headers=admin.changes,
                            json={"role": "auditor"})
    assert own.status_code == 403 and own.json()["error"] == "no_self_change"
    both = admin.client.post("/api/v1/users", headers=admin.changes, json={
        "username": "mallory", "name": "Mallory", "password": PASSWORD,
        "roles": ["administrator", "reviewer"]})
    assert both.status_code == 403 and both.json()["error"] == "administrator_no_evidence"
    with people.context.database.transaction() as session:  # not half-added
        assert session.scalars(select(User.username)).all() == ["carol"]
    mixed = admin.client.put("/api/v1/roles/superuser", headers=admin.changes, json={
        "permissions": ["user.manage", "recording.view"]})
    assert mixed.status_code == 403 and mixed.json()["error"] == "administrator_no_evidence"
    assert ("refused", "carol", "administrator_no_evidence") in people.events()


def test_roles_are_listed_and_changed_with_clear_refusals(people: People) -> None:
    admin = sign_in(people, "carol", "administrator")
    roles = {r["name"]: r for r in admin.client.get("/api/v1/roles").json()}
    assert roles["reviewer"]["permissions"] == sorted(p.value for p in DEFAULT_ROLES[
        "reviewer"][1])
    made = admin.client.put("/api/v1/roles/night-shift", headers=admin.changes, json={
        "permissions": ["recording.view"], "description": "views at night"})
    assert made.status_code == 200 and made.json()["permissions"] == ["recording.view"]
    unknown = admin.client.put("/api/v1/roles/night-shift", headers=admin.changes,
                               json={"permissions": ["recording.burn"]})
    assert unknown.status_code == 422 and "recording.burn" in unknown.json()["message"]
    bad_name = admin.client.put("/api/v1/roles/Night%20Shift", headers=admin.changes,
                                json={"permissions": []})
    assert bad_name.status_code == 422 and "role name" in bad_name.json()["message"]


def test_unknown_people_are_404_for_administrators_only(people: People) -> None:
    admin = sign_in(people, "carol", "administrator")
    answer = admin.client.post("/api/v1/users/nobody/disable", headers=admin.changes)
    assert answer.status_code == 404 and answer.json()["error"] == "no_user"


def test_disable_unlock_and_a_new_second_factor(people: People) -> None:
    admin = sign_in(people, "carol", "administrator")
    alice = sign_in(people, "alice", "reviewer")
    token = alice.token()
    fresh = admin.client.post("/api/v1/users/alice/second-factor", headers=admin.changes)
    assert fresh.status_code == 200 and fresh.json()["secret"]
    assert bearer(people, token).get("/api/v1/tokens").status_code == 401
    assert admin.client.post("/api/v1/users/alice/unlock",
                             headers=admin.changes).status_code == 200
    gone = admin.client.post("/api/v1/users/alice/disable", headers=admin.changes)
    assert gone.status_code == 200 and gone.json()["disabled"] is True
    assert alice.client.get("/api/v1/tokens").status_code == 401
    back = admin.client.post("/api/v1/users/alice/enable", headers=admin.changes)
    assert back.status_code == 200 and back.json()["disabled"] is False
    again = admin.client.post("/api/v1/users/alice/enable", headers=admin.changes)
    assert again.status_code == 422 and "alice is not disabled" in again.json()["message"]
    assert ("second_factor_reset", "carol", None) in people.events()
    assert ("user_disabled", "carol", None) in people.events()
    assert ("user_enabled", "carol", None) in people.events()


def test_enrolling_a_camera_and_refusing_an_altered_identity(people: People) -> None:
    admin = sign_in(people, "carol", "administrator")
    key = new_session().device_key
    text = identity_text("BC-0042", "software", key)
    enrolled = admin.client.post("/api/v1/devices", headers=admin.changes,
                                 json={"identity": text})
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["keys"][0]["fingerprint"] == key.fingerprint
    altered = text.replace(key.fingerprint, "0" * len(key.fingerprint))
    refused = admin.client.post("/api/v1/devices", headers=admin.changes,
                                json={"identity": altered.replace("BC-0042", "BC-0043")})
    assert refused.status_code == 422 and "altered" in refused.json()["message"]
    listed = admin.client.get("/api/v1/devices").json()
    assert [(d["id"], d["recordings"]) for d in listed] == [("BC-0042", 0)]
    assert ("device_enrolled", "carol", None) in people.events()

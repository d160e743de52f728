"""Retention and the two-person rule through the JSON API (SQLite and PostgreSQL): the
wearer never requests a deletion, nobody approves their own request, an administrator
approves nothing, a category's period is never zero; a deletion requested by one person
and approved by another removes the blobs and leaves a tombstone; a hold is lifted only
by two people. Every refusal names its rule and is on record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_rig import Person, Scene, open_scene, sign_in, stored
from people_rig import DATABASES
from sqlalchemy import select

from bodycam.server.audit.models import AuditEvent


@pytest.fixture(params=DATABASES)
def scene(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scene]:
    yield from open_scene(request, tmp_path)


def approver(scene: Scene) -> Person:
    return sign_in(scene.custody.people, "bob", "approver")


def ask(person: Person, recording: str) -> dict[str, object]:
    answer = person.client.post(f"/api/v1/recordings/{recording}/deletion-requests",
                                headers=person.changes, json={"reason": "not evidence"})
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_the_wearer_cannot_request_the_deletion_of_their_recording(scene: Scene) -> None:
    walter = scene.walter
    answer = walter.client.post(f"/api/v1/recordings/{scene.recording}/deletion-requests",
                                headers=walter.changes, json={"reason": "embarrassing"})
    assert answer.status_code == 403 and answer.json()["error"] == "wearer_never_deletes"
    assert "wore the camera" in answer.json()["message"]
    assert ("refused", "walter", "wearer_never_deletes") in scene.custody.events()


def test_nobody_approves_their_own_request_and_administrators_none(scene: Scene) -> None:
    request = ask(scene.reviewer, scene.recording)
    own = scene.reviewer.client.post(f"/api/v1/approvals/{request['id']}/approve",
                                     headers=scene.reviewer.changes, json={})
    assert own.status_code == 403 and own.json()["error"] in {"permission", "four_eyes"}
    admin = scene.admin.client.post(f"/api/v1/approvals/{request['id']}/approve",
                                    headers=scene.admin.changes, json={})
    assert admin.status_code == 403 and admin.json()["error"] == "administrator_no_evidence"
    walter_as_approver = sign_in(scene.custody.people, "wanda", "approver")
    mine = walter_as_approver.client.post(f"/api/v1/approvals/{request['id']}/approve",
                                          headers=walter_as_approver.changes,
                                          json={"note": "fine"})
    assert mine.status_code == 200, mine.text  # wanda neither wore nor asked
    again = walter_as_approver.client.post(f"/api/v1/approvals/{request['id']}/reject",
                                           headers=walter_as_approver.changes, json={})
    assert again.status_code == 422 and "already" in again.json()["message"]


def test_an_approver_cannot_approve_a_request_they_made(scene: Scene) -> None:
    people = scene.custody.people
    both = sign_in(people, "dora", "reviewer", "approver")
    request = ask(both, scene.recording)
    answer = both.client.post(f"/api/v1/approvals/{request['id']}/approve",
                              headers=both.changes, json={})
    assert answer.status_code == 403 and answer.json()["error"] == "four_eyes"
    assert ("refused", "dora", "four_eyes") in scene.custody.events()


def test_a_two_person_deletion_removes_the_blobs_and_leaves_a_tombstone(scene: Scene
                                                                        ) -> None:
    segment = stored(scene, b"ciphertext" * 50)
    request = ask(scene.reviewer, scene.recording)
    bob = approver(scene)
    pending = bob.client.get("/api/v1/approvals").json()
    assert isinstance(pending, list), pending
    assert [a["id"] for a in pending] == [request["id"]]
    done = bob.client.post(f"/api/v1/approvals/{request['id']}/approve",
                           headers=bob.changes, json={"note": "agreed"})
    assert done.status_code == 200, done.text
    assert done.json()["approval"]["state"] == "approved"
    assert not scene.custody.people.context.blobs.has(segment)
    with scene.custody.people.context.database.transaction() as session:
        kinds = {row.kind: json.loads(row.details) for row in session.scalars(
            select(AuditEvent).where(AuditEvent.recording_id == scene.recording))}
    tombstone = kinds["recording_deleted"]
    assert (tombstone["requested_by"], tombstone["approved_by"]) == ("alice", "bob")
    assert tombstone["reason"] == "not evidence" and segment in json.dumps(tombstone)
    report = scene.auditor.client.get(f"/api/v1/recordings/{scene.recording}/custody")
    assert report.status_code == 200 and report.json()["held"] in (True, False)


def test_a_category_period_of_zero_days_is_refused_by_every_way_in(scene: Scene) -> None:
    admin = scene.admin
    made = admin.client.post("/api/v1/retention/categories", headers=admin.changes,
                             json={"name": "traffic", "period_days": 0})
    assert made.status_code == 403 and made.json()["error"] == "retention_period"
    changed = admin.client.post("/api/v1/retention/categories/evidential/period-requests",
                                headers=admin.changes,
                                json={"period_days": -5, "reason": "save space"})
    assert changed.status_code == 403 and changed.json()["error"] == "retention_period"
    assert ("refused", "carol", "retention_period") in scene.custody.events()
    fine = admin.client.post("/api/v1/retention/categories/evidential/period-requests",
                             headers=admin.changes,
                             json={"period_days": 365, "reason": "new law"})
    assert fine.status_code == 201, fine.text
    listed = admin.client.get("/api/v1/approvals", params={"kind": "category_period"})
    assert [a["value"] for a in listed.json()] == ["365"]
    evidential = next(c for c in admin.client.get("/api/v1/retention/categories").json()
                      if c["name"] == "evidential")
    assert evidential["period_days"] == 730  # nothing changes before a second person


def test_categorising_a_recording_sets_its_expiry(scene: Scene) -> None:
    reviewer = scene.reviewer
    answer = reviewer.client.post(f"/api/v1/recordings/{scene.recording}/category",
                                  headers=reviewer.changes, json={"category": "evidential"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["category"] == "evidential"
    unknown = reviewer.client.post(f"/api/v1/recordings/{scene.recording}/category",
                                   headers=reviewer.changes, json={"category": "forever"})
    assert unknown.status_code == 422 and "evidential" in unknown.json()["message"]
    page = reviewer.client.get(f"/api/v1/recordings/{scene.recording}").json()
    assert page["retention"]["category"] == "evidential"
    found = reviewer.client.get("/api/v1/recordings", params={"category": "evidential"})
    assert [r["id"] for r in found.json()["rows"]] == [scene.recording]
    assert reviewer.client.get("/api/v1/recordings", params={
        "category": "not_evidential"}).json()["rows"] == []


def test_a_hold_is_lifted_by_two_people_only(scene: Scene) -> None:
    cindy = scene.custodian
    hold = cindy.client.post(f"/api/v1/recordings/{scene.recording}/holds",
                             headers=cindy.changes, json={"reason": "complaint"}).json()["id"]
    blocked = scene.reviewer.client.post(
        f"/api/v1/recordings/{scene.recording}/deletion-requests",
        headers=scene.reviewer.changes, json={"reason": "tidy"})
    assert blocked.status_code == 403, blocked.text
    asked = cindy.client.post(f"/api/v1/holds/{hold}/lift-requests", headers=cindy.changes,
                              json={"reason": "complaint withdrawn"})
    assert asked.status_code == 201, asked.text
    bob = approver(scene)
    lifted = bob.client.post(f"/api/v1/approvals/{asked.json()['id']}/approve",
                             headers=bob.changes, json={})
    assert lifted.status_code == 200, lifted.text
    page = scene.reviewer.client.get(f"/api/v1/recordings/{scene.recording}").json()
    assert page["holds"] == []

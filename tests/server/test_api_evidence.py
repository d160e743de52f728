"""Recordings, notes, holds, cases, assignments, fetching, the audit log and the
chain-of-custody report through the JSON API, on SQLite and PostgreSQL: each through the
custody services and the hard rules; every refusal a 4xx naming the rule or the problem,
and on record."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_rig import Scene, open_scene, stored
from people_rig import DATABASES


@pytest.fixture(params=DATABASES)
def scene(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scene]:
    yield from open_scene(request, tmp_path)


def test_search_and_a_recordings_page_show_its_wearers_and_are_on_record(
        scene: Scene) -> None:
    found = scene.reviewer.client.get("/api/v1/recordings", params={"wearer": "walter"})
    assert found.status_code == 200, found.text
    (row,) = found.json()["rows"]
    assert (row["id"], row["wearers"], row["state"]) == (scene.recording, ["walter"],
                                                         "complete")
    page = scene.reviewer.client.get(f"/api/v1/recordings/{scene.recording}").json()
    assert page["files"][0]["sha256"] == f"{0:064x}" and page["wearers"] == ["walter"]
    events = scene.custody.events()
    assert ("recordings_searched", "alice", None) in events
    assert ("recording_read", "alice", None) in events


def test_bad_search_input_is_a_clear_422(scene: Scene) -> None:
    client = scene.reviewer.client
    for params, words in (({"state": "shredded"}, "none of"),
                          ({"since": "yesterday"}, "since"),
                          ({"size": 0}, "size"),
                          ({"device": "x" * 201}, "device"),
                          ({"colour": "red"}, "colour")):
        answer = client.get("/api/v1/recordings", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert words in answer.json()["message"], answer.json()


def test_an_administrator_sees_no_evidence_by_any_endpoint(scene: Scene) -> None:
    client, rid = scene.admin.client, scene.recording
    for path in ("/api/v1/recordings", f"/api/v1/recordings/{rid}",
                 f"/api/v1/recordings/{rid}/notes", f"/api/v1/recordings/{rid}/custody",
                 f"/api/v1/recordings/{rid}/files/manifest.jsonl", "/api/v1/cases"):
        answer = client.get(path)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"] == "administrator_no_evidence"
    assert ("refused", "carol", "administrator_no_evidence") in scene.custody.events()


def test_notes_are_kept_verbatim_and_oversized_ones_refused(scene: Scene) -> None:
    reviewer, rid = scene.reviewer, scene.recording
    text = "Robert'); DROP TABLE recording_notes;-- said \"hello\" % _ \\"
    added = reviewer.client.post(f"/api/v1/recordings/{rid}/notes", headers=reviewer.changes,
                                 json={"text": text})
    assert added.status_code == 201, added.text
    assert [n["text"] for n in reviewer.client.get(
        f"/api/v1/recordings/{rid}/notes").json()] == [text]
    huge = reviewer.client.post(f"/api/v1/recordings/{rid}/notes", headers=reviewer.changes,
                                json={"text": "n" * 10_001})
    assert huge.status_code == 422 and "text" in huge.json()["message"]
    nowhere = reviewer.client.post("/api/v1/recordings/BC-0001-20260101T000000Z-ffff/notes",
                                   headers=reviewer.changes, json={"text": "x"})
    assert nowhere.status_code == 404 and nowhere.json()["error"] == "no_recording"


def test_a_hold_is_placed_and_never_lifted_directly(scene: Scene) -> None:
    custodian, rid = scene.custodian, scene.recording
    placed = custodian.client.post(f"/api/v1/recordings/{rid}/holds",
                                   headers=custodian.changes, json={"reason": "complaint"})
    assert placed.status_code == 201, placed.text
    hold = placed.json()["id"]
    lift = custodian.client.post(f"/api/v1/holds/{hold}/lift", headers=custodian.changes)
    assert lift.status_code == 403 and lift.json()["error"] == "two_person_lift"
    assert ("refused", "cindy", "two_person_lift") in scene.custody.events()
    page = scene.reviewer.client.get(f"/api/v1/recordings/{rid}").json()
    assert [h["reason"] for h in page["holds"]] == ["complaint"]


def test_a_case_with_a_slash_in_its_reference(scene: Scene) -> None:
    custodian, rid = scene.custodian, scene.recording
    changes = custodian.changes
    assert custodian.client.post("/api/v1/cases", headers=changes, json={
        "reference": "2026/0042", "title": "Market Street"}).status_code == 201
    added = custodian.client.post("/api/v1/cases/recordings", headers=changes, json={
        "reference": "2026/0042", "recording_id": rid})
    assert added.status_code == 200 and added.json()["recordings"] == [rid]
    detail = scene.reviewer.client.get("/api/v1/cases/detail",
                                       params={"reference": "2026/0042"})
    assert detail.status_code == 200 and detail.json()["open"] is True
    closed = custodian.client.post("/api/v1/cases/close", headers=changes, json={
        "reference": "2026/0042", "reason": "trial over"})
    assert closed.json()["open"] is False
    again = custodian.client.post("/api/v1/cases/close", headers=changes, json={
        "reference": "2026/0042", "reason": "twice"})
    assert again.status_code == 422 and "closed" in again.json()["message"]
    twin = custodian.client.post("/api/v1/cases", headers=changes, json={
        "reference": "2026/0042", "title": "again"})
    assert twin.status_code == 422 and "exists" in twin.json()["message"]


def test_overlapping_assignments_and_check_out_in(scene: Scene) -> None:
    admin = scene.admin
    clash = admin.client.post("/api/v1/assignments", headers=admin.changes, json={
        "device_id": "BC-0001", "username": "alice",
        "starts": "2026-12-01T08:30:00+00:00"})
    assert clash.status_code == 422 and "overlaps" in clash.json()["message"]
    out = admin.client.post("/api/v1/devices/BC-0001/check-out", headers=admin.changes,
                            json={"username": "alice"})
    assert out.status_code == 201 and out.json()["ends"] is None
    scene.custody.people.clock.now += 600
    back = admin.client.post("/api/v1/devices/BC-0001/check-in", headers=admin.changes)
    assert back.status_code == 200 and back.json()["ends"] is not None
    listed = admin.client.get("/api/v1/assignments", params={"device": "BC-0001"}).json()
    assert [a["username"] for a in listed] == ["alice", "walter"]
    refused = scene.reviewer.client.get("/api/v1/assignments")
    assert refused.status_code == 403 and refused.json()["error"] == "permission"


def test_fetching_a_recordings_files_byte_for_byte(scene: Scene) -> None:
    data = b"age-encryption.org/v1 ciphertext" * 100
    stored(scene, data)
    client, rid = scene.custodian.client, scene.recording
    got = client.get(f"/api/v1/recordings/{rid}/files/seg00000.mp4.age")
    assert got.status_code == 200 and got.content == data
    assert got.headers["x-content-sha256"] == hashlib.sha256(data).hexdigest()
    assert client.get(f"/api/v1/recordings/{rid}/files/manifest.jsonl").content == (
        b"manifest\n")
    missing = client.get(f"/api/v1/recordings/{rid}/files/seg99999.mp4.age")
    assert missing.status_code == 404 and missing.json()["error"] == "no_file"
    reviewer = scene.reviewer.client.get(f"/api/v1/recordings/{rid}/files/manifest.jsonl")
    assert reviewer.status_code == 403 and reviewer.json()["error"] == "permission"
    assert scene.custody.events("recording_fetched") == [
        ("recording_fetched", "cindy", None)] * 2


def test_auditors_read_the_log_verify_it_and_read_custody_reports(scene: Scene) -> None:
    scene.reviewer.client.get(f"/api/v1/recordings/{scene.recording}")
    auditor = scene.auditor.client
    first = auditor.get("/api/v1/audit/events", params={"limit": 3}).json()
    assert [e["seq"] for e in first] == [0, 1, 2] and all(e["hash"] for e in first)
    after = auditor.get("/api/v1/audit/events", params={"after": 2, "limit": 1}).json()
    assert after[0]["seq"] == 3 and after[0]["prev"] == first[2]["hash"]
    mine = auditor.get("/api/v1/audit/events", params={"recording": scene.recording}).json()
    assert "recording_read" in [e["kind"] for e in mine]
    checked = auditor.get("/api/v1/audit/verify").json()
    assert checked["ok"] is True and checked["problems"] == []
    report = auditor.get(f"/api/v1/recordings/{scene.recording}/custody")
    assert report.status_code == 200, report.text
    assert "recording_read" in [e["kind"] for e in report.json()["events"]]
    assert scene.reviewer.client.get("/api/v1/audit/events").status_code == 403
    assert ("custody_report_read", "aud", None) in scene.custody.events()


def test_the_wearer_reads_no_custody_report_and_fetches_nothing_of_their_recording(
        scene: Scene) -> None:
    walter, rid = scene.walter.client, scene.recording  # a reviewer, but the wearer
    report = walter.get(f"/api/v1/recordings/{rid}/custody")
    assert report.status_code == 403 and report.json()["error"] == "own_recording"
    fetched = walter.get(f"/api/v1/recordings/{rid}/files/manifest.jsonl")
    assert fetched.status_code == 403
    assert ("refused", "walter", "own_recording") in scene.custody.events()

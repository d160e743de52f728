"""The server's side of the issue's faults, each on SQLite, PostgreSQL and S3 (moto):
an unenrolled camera, the same upload twice, a damaged segment, the server killed with
SIGKILL mid-upload, two `serve` processes on one database and blob store. After each,
the end state is the same: the whole recording held, complete, byte-identical."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fetch_rig import fetch_as_custodian
from offload_client import API, OffloadClient
from server_fixtures import Camera, Server, make_camera
from test_server_offload import server_key

from bodycam.firmware.evidence.receipts import RECEIPT_FORMAT, verify_statement
from bodycam.tools.dev.ports import free_port


def listed(server: Server) -> list[dict[str, object]]:
    code, out, err = server.run("recordings", "--json")
    assert code == 0, err
    parsed: list[dict[str, object]] = json.loads(out)
    return parsed


def assert_held_whole(server: Server, camera: Camera, out: Path) -> None:
    """complete, and fetched back byte for byte."""
    (item,) = listed(server)
    assert item["state"] == "complete", item
    code, _, err = fetch_as_custodian(server, camera.recording.name, "--out", str(out))
    assert code == 0, err
    for path in camera.recording.iterdir():
        assert (out / camera.recording.name / path.name).read_bytes() == path.read_bytes()


def segments(camera: Camera) -> list[Path]:
    return sorted(camera.recording.glob("*.age"))


def test_an_unenrolled_camera_is_refused_and_nothing_is_stored(
        server: Server, tmp_path: Path) -> None:
    stranger = make_camera(tmp_path / "stranger")  # never enrolled
    server.serve()
    client = server.client(stranger)
    manifest = (stranger.recording / "manifest.jsonl").read_bytes()
    answer = client.put_manifest(stranger.recording.name, manifest)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "not_enrolled"
    assert "device enrol" in answer.json()["message"]
    segment = segments(stranger)[0]
    sent = client.patch(stranger.recording.name, segment.name, 0, segment.read_bytes())
    assert sent.status_code == 403
    assert client.audit_patch("none", stranger.audit.read_bytes()).status_code == 403
    assert listed(server) == []
    assert server.stored_objects() == []


def test_an_unsigned_or_stale_request_is_refused_with_the_reason(
        server: Server, camera: Camera) -> None:
    server.serve()
    client = server.client(camera)
    manifest = (camera.recording / "manifest.jsonl").read_bytes()
    url = f"{client.url}{API}/recordings/{camera.recording.name}/manifest"
    unsigned = client.http.put(url, content=manifest)
    assert unsigned.status_code == 401 and "not signed" in unsigned.json()["message"]
    stale = OffloadClient(client.url, server.ca, camera.key, camera.device_id, skew=-400)
    answer = stale.put_manifest(camera.recording.name, manifest)
    assert answer.status_code == 401 and "server's time first" in answer.json()["message"]
    assert listed(server) == []


def test_the_same_upload_twice_is_stored_once(
        server: Server, camera: Camera, tmp_path: Path) -> None:
    server.serve()
    client = server.client(camera)
    first = client.upload(camera.recording)
    objects = server.stored_objects()
    again = client.put_manifest(camera.recording.name,
                                (camera.recording / "manifest.jsonl").read_bytes())
    assert again.status_code == 200
    assert all(item["complete"] for item in again.json()["files"])
    for segment in segments(camera):  # every byte once more, from the start
        sent = client.patch(camera.recording.name, segment.name, 0, segment.read_bytes())
        assert sent.status_code == 204
        assert sent.headers["Upload-Complete"] == "?1"
        assert sent.headers["Upload-Offset"] == str(segment.stat().st_size)
    assert client.upload(camera.recording) == first  # the same receipt, not a new one
    assert server.stored_objects() == objects
    assert_held_whole(server, camera, tmp_path / "out")


def test_a_damaged_segment_is_refused_by_name_and_the_recording_marked_damaged(
        server: Server, camera: Camera, tmp_path: Path) -> None:
    server.serve()
    client = server.client(camera)
    recording = camera.recording.name
    answer = client.put_manifest(recording, (camera.recording / "manifest.jsonl").read_bytes())
    assert answer.status_code == 201
    segment = segments(camera)[1]
    good = segment.read_bytes()
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0x01  # one bit flipped on the card
    sent = client.patch(recording, segment.name, 0, bytes(damaged))
    assert sent.status_code == 422, sent.text
    refusal = sent.json()
    assert refusal["error"] == "damaged" and refusal["file"] == segment.name
    assert segment.name in refusal["message"]
    (item,) = listed(server)
    assert item["state"] == "damaged" and item["damaged"] == [segment.name]
    receipt = client.receipt(recording)
    assert receipt.status_code == 409 and receipt.json()["error"] == "incomplete"
    assert segment.name in receipt.json()["message"]
    head = client.head(recording, segment.name)
    assert head.headers["Upload-Offset"] == "0"  # the damaged copy was discarded

    issued = client.upload(camera.recording)  # the good copy clears it
    verify_statement(issued, RECEIPT_FORMAT, server_key(server))
    assert_held_whole(server, camera, tmp_path / "out")


def test_the_server_killed_mid_upload_resumes_and_loses_nothing(
        server: Server, camera: Camera, tmp_path: Path) -> None:
    serve = server.serve()
    client = server.client(camera)
    recording = camera.recording.name
    client.put_manifest(recording, (camera.recording / "manifest.jsonl").read_bytes())
    segment = segments(camera)[0]
    data = segment.read_bytes()
    half = len(data) // 2
    assert client.patch(recording, segment.name, 0, data[:half]).status_code == 204

    release = threading.Event()
    sending = threading.Event()

    def body() -> Iterator[bytes]:
        yield data[half:half + 4096]
        sending.set()
        release.wait(60)
        yield data[half + 4096:]

    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.patch, recording, segment.name, half, data[half:],
                              body())
        assert sending.wait(60)
        serve.kill()  # SIGKILL while the body is on its way
        release.set()
        with pytest.raises(httpx.TransportError):
            pending.result(60)

    server.serve()  # a new process on the same data
    client = server.client(camera)
    head = client.head(recording, segment.name)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == str(half)  # everything acknowledged is there
    issued = client.upload(camera.recording)
    verify_statement(issued, RECEIPT_FORMAT, server_key(server))
    assert_held_whole(server, camera, tmp_path / "out")


def test_two_serve_processes_share_one_database_and_blob_store(
        server: Server, camera: Camera, tmp_path: Path) -> None:
    other = free_port()
    server.serve()
    server.serve(other)
    first, second = server.client(camera), server.client(camera, other)
    recording = camera.recording.name
    manifest = (camera.recording / "manifest.jsonl").read_bytes()
    assert first.put_manifest(recording, manifest).status_code == 201
    assert second.put_manifest(recording, manifest).status_code == 200

    segment, *rest = segments(camera)
    data = segment.read_bytes()
    half = len(data) // 2
    assert first.patch(recording, segment.name, 0, data[:half]).status_code == 204
    assert second.head(recording, segment.name).headers["Upload-Offset"] == str(half)
    assert second.patch(recording, segment.name, half, data[half:]).status_code == 204

    racing = rest[0].read_bytes()  # the same bytes to both processes at once
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda c: c.patch(recording, rest[0].name, 0, racing),
                                (first, second)))
    codes = sorted(a.status_code for a in answers)
    assert codes in ([204, 204], [204, 409]), [a.text for a in answers]

    replayed = second.signed("GET", f"{API}/audit")  # one nonce, two processes
    assert first.http.get(f"{first.url}{API}/audit", headers=replayed).status_code == 200
    again = second.http.get(f"{second.url}{API}/audit", headers=replayed)
    assert again.status_code == 401 and "replay" in again.json()["message"]

    receipt = second.upload(camera.recording)
    assert first.receipt(recording).json() == receipt
    blobs = [name for name in server.stored_objects() if "piece" not in name]
    assert len(blobs) == len(list(camera.recording.iterdir()))  # each file once
    assert_held_whole(server, camera, tmp_path / "out")

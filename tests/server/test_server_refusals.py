"""What the server refuses, and that refusing changes nothing it held: an unsealed or
tampered manifest, a second manifest under the same recording id (fork), an audit log
cut back (rollback) or rewritten (fork), and a full disk (507, then resumed)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fetch_rig import fetch_as_custodian
from server_fixtures import Backend, Camera, Server, make_backend, make_server
from small_disk import fill, mounted_small_disk
from sqlalchemy import select
from test_evidence_support import record
from test_server_faults import assert_held_whole, listed, segments

from bodycam.firmware.evidence.signed_log import SignedLog, line_hash
from bodycam.firmware.evidence.store import MANIFEST_FORMAT, FileEvidenceStore
from bodycam.server.devices.models import Device


def manifest_of(camera: Camera) -> bytes:
    return (camera.recording / "manifest.jsonl").read_bytes()


def test_an_unsealed_recording_is_refused(server: Server, camera: Camera) -> None:
    """A recording still running is offloaded once it is sealed, never before."""
    store = FileEvidenceStore(
        data_dir=camera.data_dir, recipients=[camera.authority.recipient], signer=camera.key,
        device_id=camera.device_id, firmware_version="0.1.0", config_digest="c0" * 32,
        clock=camera.clock, reserve_bytes=0, sync_interval=0.5, free_space=lambda _p: 2**40)
    writer = record(store, camera.clock, segments=1)
    running = store.evidence_dir / writer.recording_id
    server.serve()
    answer = server.client(camera).put_manifest(running.name,
                                                (running / "manifest.jsonl").read_bytes())
    assert answer.status_code == 409 and answer.json()["error"] == "unsealed"
    assert listed(server) == []


def test_a_tampered_manifest_is_refused_naming_the_problem(
        server: Server, camera: Camera) -> None:
    lines = manifest_of(camera).split(b"\n")
    lines[2] = lines[2].replace(b'"size":', b'"size":1', 1)  # a segment grown by a digit
    server.serve()
    answer = server.client(camera).put_manifest(camera.recording.name, b"\n".join(lines))
    assert answer.status_code == 422, answer.text
    problems = answer.json()["problems"]
    assert any(p["line"] == 3 and "signature" in p["message"] for p in problems), problems
    assert listed(server) == []


def test_a_second_manifest_for_the_same_recording_is_a_fork_and_replaces_nothing(
        server: Server, camera: Camera, tmp_path: Path) -> None:
    server.serve()
    client = server.client(camera)
    client.upload(camera.recording)
    header = json.loads(manifest_of(camera).split(b"\n")[0])
    other = tmp_path / "other" / "manifest.jsonl"  # validly signed, same id, other content
    other.parent.mkdir()
    with SignedLog.open(other, camera.key, camera.clock) as log:
        log.append("header", **{k: header[k] for k in (
            "recording_id", "device_id", "device_public_key", "device_key_algorithm",
            "device_key_fingerprint", "key_store", "audit_head", "firmware_version",
            "recipients", "config_digest", "start", "clock_synchronised", "prerecord_us")},
            format=MANIFEST_FORMAT)
        log.append("seal", reason="stopped by wearer", segments=0, counter=None)
    answer = client.put_manifest(camera.recording.name, other.read_bytes())
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "fork"
    (item,) = listed(server)
    assert item["fork"] and item["state"] == "complete"
    assert_held_whole(server, camera, tmp_path / "out")  # the first one, unchanged


def _devices(server: Server) -> dict[str, str | None]:
    database = server.database()
    try:
        with database.transaction() as session:
            return {d.id: d.flag for d in session.scalars(select(Device))}
    finally:
        database.dispose()


def test_an_audit_log_cut_back_or_rewritten_is_refused_and_flagged(
        server: Server, camera: Camera) -> None:
    server.serve()
    client = server.client(camera)
    with camera.audit_log() as log:
        log.append("offload_started")
    whole = camera.audit.read_bytes()
    assert client.audit_patch("none", whole).status_code == 200
    lines = whole.rstrip(b"\n").split(b"\n")

    cut = client.audit_patch("none", lines[0] + b"\n")  # the card's log cut back
    assert cut.status_code == 409 and cut.json()["error"] == "rollback"
    record_ = json.loads(lines[1])
    record_["firmware"] = "forged"
    rewritten = json.dumps(record_, sort_keys=True, separators=(",", ":")).encode()
    fork = client.audit_patch(f"0:{line_hash(lines[0])}", rewritten + b"\n" + lines[2] + b"\n")
    assert fork.status_code == 409 and fork.json()["error"] == "fork"
    head = client.audit_head().json()
    assert (head["seq"], head["hash"]) == (len(lines) - 1, line_hash(lines[-1]))  # kept
    flag = _devices(server)[camera.device_id]
    assert flag is not None and "rollback" in flag and "fork" in flag


def test_audit_lines_that_do_not_verify_are_refused(server: Server, camera: Camera) -> None:
    server.serve()
    client = server.client(camera)
    whole = camera.audit.read_bytes()
    lines = whole.rstrip(b"\n").split(b"\n")
    record_ = json.loads(lines[-1])
    record_["sig"] = base64.b64encode(bytes(64)).decode()
    forged = b"\n".join([*lines[:-1], json.dumps(record_, sort_keys=True,
                                                 separators=(",", ":")).encode()]) + b"\n"
    answer = client.audit_patch("none", forged)
    assert answer.status_code == 422 and "signature" in answer.text
    assert client.audit_head().json() == {"seq": None}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real file system that fills up: a 4 MiB tmpfs."""
    with mounted_small_disk(tmp_path / "small-disk") as mount:
        yield mount


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql", "s3"])
def test_a_full_disk_is_a_clear_507_and_nothing_is_lost(
        small_disk: Path, camera: Camera, backend_name: str, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    """The data directory (blob folder or S3's spool) on a small disk, the database
    elsewhere; the disk fills mid-recording: 507, the camera keeps everything; space
    freed: the upload resumes and the recording is whole."""
    backend = make_backend(backend_name, request)
    if backend_name != "postgresql":  # the database must not be what fills up
        backend = Backend(backend.name, (*backend.init_args, "--database",
                                         f"sqlite:///{tmp_path / 'server.db'}"), backend.env)
    server = make_server(small_disk, backend)
    settings = server.data_dir / "server.toml"
    settings.write_text(settings.read_text().replace("reserve_mb = 64", "reserve_mb = 0"))
    server.enrol(camera)
    try:
        server.serve()
        client = server.client(camera)
        recording = camera.recording.name
        assert client.put_manifest(recording, manifest_of(camera)).status_code == 201
        first, second, *_ = segments(camera)
        assert client.patch(recording, first.name, 0, first.read_bytes()).status_code == 204
        filler = fill(small_disk, 8 * 1024)
        full = client.patch(recording, second.name, 0, second.read_bytes())
        assert full.status_code == 507, full.text
        assert full.json()["error"] == "storage_full"
        assert "full" in full.json()["message"] and "Fix" in full.json()["message"]
        assert client.head(recording, first.name).headers["Upload-Complete"] == "?1"
        assert client.head(recording, second.name).headers["Upload-Offset"] == "0"
        assert client.receipt(recording).status_code == 409  # never a receipt for it

        filler.unlink()
        client.upload(camera.recording)
        assert_held_whole(server, camera, tmp_path / "out")
    finally:
        server.stop()


def test_a_damaged_copy_in_the_blob_folder_is_caught_on_fetch(
        camera: Camera, tmp_path: Path) -> None:
    server = make_server(tmp_path, Backend("sqlite"))
    server.enrol(camera)
    server.serve()
    server.client(camera).upload(camera.recording)
    segment = segments(camera)[0]
    digest = hashlib.sha256(segment.read_bytes()).hexdigest()
    blob = server.data_dir / "blobs" / "blobs" / digest[:2] / digest[2:4] / digest
    damaged = bytearray(blob.read_bytes())
    damaged[100] ^= 0xFF
    blob.write_bytes(bytes(damaged))
    code, _, err = fetch_as_custodian(server, camera.recording.name, "--out",
                                      str(tmp_path / "out"), check=False)
    assert code == 1 and f"CORRUPT: {segment.name}" in err
    assert not (tmp_path / "out" / camera.recording.name / segment.name).exists()
    server.stop()

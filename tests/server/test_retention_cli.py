"""End to end: a recording a camera offloaded for real is deleted by two people from the
command line (signed in with password and second factor), its ciphertext and manifest
leave the blob store (folder and S3), and the refusals name their rules."""

from __future__ import annotations

import io
import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fetch_rig import fetch_as_custodian
from people_rig import PASSWORD, code
from server_fixtures import Camera, Server
from sqlalchemy import select

from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.custody.instants import canonical
from bodycam.server.custody.models import DeviceAssignment
from bodycam.server.people.accounts import add_user
from bodycam.server.recordings.models import Recording, RecordingFile
from bodycam.server.storage.blobs import sha256_hex


def people(server: Server, recording_id: str) -> dict[str, str]:
    """Walt wore the camera; Rita reviews, Anna approves, Adam administers: their TOTP
    secrets."""
    context = ServerContext.open(server.data_dir)
    access = Access.of(context)
    secrets: dict[str, str] = {}
    walt = 0
    try:
        for name, role in (("walt", "wearer"), ("rita", "reviewer"), ("anna", "approver"),
                           ("adam", "administrator")):
            with access.work(CONSOLE, "user.add") as work:
                added = add_user(work, name, name.title(), PASSWORD, roles=[role])
            assert added.totp_secret is not None
            secrets[name] = added.totp_secret
            walt = walt or added.user_id
        with context.database.transaction() as session:
            recording = session.get_one(Recording, recording_id)
            assert recording.start is not None and recording.end is not None
            start = datetime.fromisoformat(recording.start) - timedelta(hours=1)
            session.add(DeviceAssignment(
                device_id=recording.device_id, user_id=walt, starts=canonical(start),
                ends=canonical(datetime.fromisoformat(recording.end) + timedelta(hours=1)),
                assigned_by="adam", assigned_at=time.time()))
    finally:
        context.close()
    return secrets


def as_person(server: Server, monkeypatch: pytest.MonkeyPatch, secret: str | None,
              *args: str) -> tuple[int, str, str]:
    answer = f"{PASSWORD}\n{code(secret, time.time()) if secret else ''}\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    return server.run(*args, "--password-stdin", check=False)


def test_two_people_delete_an_offloaded_recording_from_the_command_line(
        server: Server, camera: Camera, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    server.serve()
    server.client(camera).upload(camera.recording)
    server.stop()
    recording_id = camera.recording.name
    secret = people(server, recording_id)
    stored = [sha256_hex(p.read_bytes()) for p in sorted(camera.recording.iterdir())]
    objects = server.stored_objects()
    assert all(any(sha in key for key in objects) for sha in stored)

    rc, _, err = as_person(server, monkeypatch, secret["walt"], "deletion", "request",
                           recording_id, "--reason", "mine", "--as", "walt")
    assert rc == 1 and "never requests or approves" in err  # wearer_never_deletes
    rc, _, err = as_person(server, monkeypatch, secret["adam"], "deletion", "request",
                           recording_id, "--reason", "tidy", "--as", "adam")
    assert rc == 1 and "administrators have no access to evidence" in err
    rc, out, err = as_person(server, monkeypatch, secret["rita"], "deletion", "request",
                             recording_id, "--reason", "recorded by accident", "--as",
                             "rita")
    assert rc == 0, err
    assert "request 1 (deletion of" in out
    rc, _, err = as_person(server, monkeypatch, None, "approval", "approve", "1",
                           "--as", "anna")
    assert rc == 1 and "wrong username, password or code" in err  # no code, no approval

    rc, out, err = as_person(server, monkeypatch, secret["anna"], "approval", "approve",
                             "1", "--note", "checked", "--as", "anna")
    assert rc == 0, err
    assert "request 1: approved" in out and f"deleted {recording_id}" in out
    left = server.stored_objects()
    assert not any(sha in key for sha in stored for key in left)

    database = server.database()
    try:
        with database.transaction() as session:
            names = set(session.scalars(select(RecordingFile.name).where(
                RecordingFile.recording_id == recording_id)))
    finally:
        database.dispose()
    assert names  # the names and hashes stay (no content): the custody report needs them
    rc, out, _ = server.run("retention", "status", "--json")
    assert json.loads(out)["states"] == {"deleted": 1}
    rc, out, _ = server.run("recordings", "--json")
    assert [r["state"] for r in json.loads(out)] == ["deleted"]
    rc, _, err = fetch_as_custodian(server, recording_id, "--out", str(tmp_path / "out"),
                                    check=False)
    assert rc == 1 and "was deleted" in err


def test_a_category_of_zero_days_is_refused_with_the_rule(
        server: Server) -> None:
    rc, _, err = server.run("retention", "add-category", "quick", "--days", "0",
                            check=False)
    assert rc == 1 and "0 days is refused" in err and "Fix:" in err
    rc, out, _ = server.run("retention", "add-category", "traffic", "--days", "90",
                            "--description", "traffic stops")
    assert rc == 0
    rc, out, _ = server.run("retention", "categories", "--json")
    listed = {c["name"]: c["period_days"] for c in json.loads(out)["categories"]}
    assert listed == {"uncategorised": 31, "not_evidential": 31, "evidential": 730,
                      "prosecution": 2190, "traffic": 90}

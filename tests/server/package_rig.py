"""Helpers of the prosecutor package tests: a real camera recording (the real Recorder,
real age), encrypted to a real key holder's identity; the disclosure made by that key
holder for a prosecutor's age key (the grant endpoint's answer shape); the custody
report from the real JSON API; the agency's export keys. Nothing is mocked."""

from __future__ import annotations

import base64
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from api_rig import sign_in
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from custody_rig import Custody
from people_rig import Clock, People, make_context
from server_fixtures import Camera, make_camera

from bodycam.firmware.evidence.age.keys import format_identity_file, generate_identity
from bodycam.server.access.service import Access
from bodycam.server.identity.signing_key import public_b64
from bodycam.server.keyholder.holder import KeyHolder
from bodycam.server.keyholder.sample import request_for
from bodycam.server.keyholder.setup import initialise
from bodycam.tools.custody.cli import main

PEER = {"peer": "package-test"}


@dataclass
class Prosecutor:
    identity_file: Path
    recipient: str


@dataclass
class Scene:
    """Everything a custodian feeds `bodycam-evidence package`."""

    camera: Camera
    holder_dir: Path
    prosecutor: Prosecutor
    disclosure: Path  # the disclose grant's answer (JSON)
    custody: Path  # the chain-of-custody report, from GET .../custody
    keys: Path

    def package(self, out: Path, *extra: str) -> int:
        return main(["package", "--keys", str(self.keys),
                     "-i", str(self.camera.authority.identity_file), "--out", str(out),
                     "--recording", str(self.camera.recording),
                     "--disclosure", str(self.disclosure), "--custody", str(self.custody),
                     "--case", "CASE-2026-17", *extra])


def prosecutor(directory: Path) -> Prosecutor:
    secret, recipient = generate_identity()
    path = directory / "prosecutor.key"
    path.write_text(format_identity_file(secret))
    path.chmod(0o600)
    return Prosecutor(path, recipient)


def make_scene(directory: Path) -> Scene:
    camera = make_camera(directory / "camera")
    server_key = Ed25519PrivateKey.generate()
    holder_dir = directory / "holder"
    initialise(holder_dir, public_b64(server_key), identity=camera.authority.identity_file,
               post_quantum=False, socket=directory / "holder.sock", group=None)
    person = prosecutor(directory)
    holder = KeyHolder.open(holder_dir)
    try:
        request = request_for(camera.recording, server_key, person.recipient,
                              requested_by="cindy", reason="disclosure to the prosecutor")
        response = holder.unwrap(request, PEER)
    finally:
        holder.close()
    answer = {"grant": request.grant.get("nonce"), "recipient": person.recipient,
              "purpose": "disclose",
              "headers": {s.file: base64.b64encode(s.header).decode() for s in response.segments},
              "manifest": base64.b64encode(request.manifest).decode()}
    disclosure = directory / "disclosure.json"
    disclosure.write_text(json.dumps(answer))
    custody = directory / "custody.json"
    custody.write_bytes(custody_report(directory / "server", camera.recording.name))
    keys = directory / "export-keys"
    assert main(["export-key", "init", "--out", str(keys), "--agency", "Test Police"]) == 0
    return Scene(camera, holder_dir, person, disclosure, custody, keys)


def custody_report(server_dir: Path, recording_id: str) -> bytes:
    """GET /api/v1/recordings/{id}/custody for a row of this recording, as a custodian
    who is a reviewer too (the report needs recording.view or audit.read)."""
    clock = Clock()
    context = make_context(server_dir, [], clock)
    try:
        people = People(context, clock, Access.of(context))
        custody = Custody(people, {})
        device, stamp, tag = recording_id.rsplit("-", 2)
        start = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        custody.camera(device)
        assert custody.recording(device, start.isoformat(), start.isoformat(),
                                 tag=tag) == recording_id
        custodian = sign_in(people, "cindy", "custodian", "reviewer")
        answer = custodian.client.get(f"/api/v1/recordings/{recording_id}/custody")
        assert answer.status_code == 200, answer.text
        return answer.content
    finally:
        context.close()


def copy_package(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target

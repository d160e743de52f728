"""A view end to end on the evidence server: a camera's real recording offloaded to a
real `bodycam-server serve`, a key holder holding the camera's authority identity (made
by age-keygen) on a socket of its own, and the server's `view_recording` through the
access rules. The viewer decrypts with a key of their own; the server's data directory
and database never hold the identity or a picture; the wearer and the administrator get
no grant; a stopped key holder is a clear error; its log lands in the audit trail,
checked line by line."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fetch_rig import fetch_as_custodian
from keyholder_rig import start_holder, stop_holder
from people_rig import code
from server_fixtures import Camera, Server, make_backend
from server_rig import run_server
from sqlalchemy import text

from bodycam.firmware.evidence.age import decrypt
from bodycam.firmware.evidence.age.keys import (
    generate_identity,
    parse_identity,
    read_identity_file,
)
from bodycam.server.access.rules import CONSOLE, AccessError
from bodycam.server.access.service import Access
from bodycam.server.audit.trail import REFUSED
from bodycam.server.context import ServerContext
from bodycam.server.custody.assignments import add_assignment
from bodycam.server.identity.signing_key import public_b64
from bodycam.server.keyholder.apply import ApplyError, apply_headers
from bodycam.server.keyholder.cli import main as keyholder_main
from bodycam.server.keyholder.client import KeyholderRefusedError, KeyholderUnavailableError
from bodycam.server.keyholder.link import KeyholderLink
from bodycam.server.keyholder.log import LOG_FILE
from bodycam.server.keyholder.pull import PULLED, PullError, pull_log
from bodycam.server.keyholder.request import apply_header
from bodycam.server.keyholder.service import KeyholderService
from bodycam.server.keyholder.setup import InitResult, initialise
from bodycam.server.keyholder.view import view_recording
from bodycam.server.people.accounts import add_user
from bodycam.tools.custody.cli import main as evidence_main

PASSWORD = "correct horse battery staple"
REASON = "complaint 2025-114: review of the stop"


@pytest.fixture(params=["sqlite", "postgresql", "s3"])
def backend(request: pytest.FixtureRequest) -> object:
    return make_backend(request.param, request)


@dataclass
class Rig:
    server: Server
    camera: Camera
    context: ServerContext
    access: Access
    holder_dir: Path
    socket: Path
    init: InitResult
    users: dict[str, int]
    totp: dict[str, str]
    service: KeyholderService | None = None

    @property
    def recording_id(self) -> str:
        return self.camera.recording.name

    def start_holder(self) -> None:
        self.service = start_holder(self.holder_dir)

    def stop_holder(self) -> None:
        stop_holder(self.service)
        self.service = None

    def view(self, user: str, viewer: str, reason: str = REASON) -> object:
        return view_recording(self.access, self.context, self.users[user], self.recording_id,
                              viewer_key=viewer, reason=reason)

    def kinds(self) -> list[tuple[str, str, str | None]]:
        return [(e.kind, e.actor, e.rule) for e in self.access.audit.events()]


@pytest.fixture
def rig(server: Server, camera: Camera, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    for name, value in server.backend.env.items():
        monkeypatch.setenv(name, value)
    server.serve()
    client = server.client(camera)
    client.upload(camera.recording)
    client.close()
    server.stop()
    context = ServerContext.open(server.data_dir)
    access = Access.of(context)
    users, totp = {}, {}
    for name, roles in (("rita", ["reviewer"]), ("adam", ["administrator"]),
                        ("walt", ["wearer"]), ("rex", ["reviewer"])):
        with access.work(CONSOLE, "user.add") as work:
            made = add_user(work, name, name.title(), PASSWORD, roles=roles,
                            second_factor=name != "walt")
        users[name], totp[name] = made.user_id, made.totp_secret or ""
    with access.work(CONSOLE, "device.assign") as work:  # rex wore the camera
        add_assignment(work, camera.device_id, "rex", "2000-01-01T00:00:00+00:00")
    socket = tmp_path / "kh" / "keyholder.sock"
    init = initialise(tmp_path / "kh" / "holder", public_b64(context.signing_key),
                      identity=camera.authority.identity_file, post_quantum=False,
                      socket=socket, group=None)
    camera.authority.identity_file.unlink()  # the key holder's copy is the only one
    rig = Rig(server, camera, context, access, tmp_path / "kh" / "holder", socket, init,
              users, totp)
    rig.start_holder()
    run_server("keyholder", "connect", "--data-dir", str(server.data_dir), "--socket",
               str(socket), "--log-key", init.log_key, env=server.backend.env)
    yield rig
    rig.stop_holder()
    context.close()


def _authority_plaintext(rig: Rig, name: str) -> bytes:
    out = io.BytesIO()
    decrypt(read_identity_file(rig.holder_dir / "authority.key"),
            io.BytesIO((rig.camera.recording / name).read_bytes()), out)
    return out.getvalue()


def test_reviewer_views_with_own_key_and_it_is_audited(rig: Rig) -> None:
    secret, viewer = generate_identity()
    response = rig.view("rita", viewer)
    segments = sorted(p.name for p in rig.camera.recording.glob("*.age"))
    assert [s.file for s in response.segments] == segments
    for rewrapped in response.segments:
        stored = (rig.camera.recording / rewrapped.file).read_bytes()  # = the server's blob
        out = io.BytesIO()
        decrypt([parse_identity(secret)], io.BytesIO(apply_header(rewrapped, stored)), out)
        assert out.getvalue() == _authority_plaintext(rig, rewrapped.file)
    granted = rig.access.audit.events("view_granted")[-1]
    assert granted.actor == "rita" and json.loads(granted.details)["reason"] == REASON
    pulled = [json.loads(e.details)["record"] for e in rig.access.audit.events(PULLED)]
    assert [r["event"] for r in pulled] == ["keyholder_init", "unlock"]
    assert pulled[-1]["requested_by"] == "rita" and pulled[-1]["reason"] == REASON
    assert pulled[-1]["nonce"] == json.loads(granted.details)["nonce"]


@pytest.mark.parametrize(("user", "rule"), [("adam", "administrator_no_evidence"),
                                            ("walt", "permission"),
                                            ("rex", "own_recording")])
def test_wearer_and_administrator_get_no_grant(rig: Rig, user: str, rule: str) -> None:
    with pytest.raises(AccessError) as caught:
        rig.view(user, generate_identity()[1])
    assert caught.value.rule == rule
    assert (("refused", user, rule) in rig.kinds())
    assert not rig.access.audit.events("view_granted")
    assert not [r for r in rig.service.holder.log.lines_after(-1) if '"unlock"' in r]


def test_stopped_key_holder_says_why_and_signs_nothing(rig: Rig) -> None:
    rig.stop_holder()
    with pytest.raises(KeyholderUnavailableError) as caught:
        rig.view("rita", generate_identity()[1])
    assert "is not running" in str(caught.value) and "Fix: start it" in str(caught.value)
    assert not rig.access.audit.events("view_granted")
    code, _out, err = rig.server.run("keyholder", "status", check=False)
    assert code == 1 and "is not running" in err


def test_key_holder_refusal_reaches_the_audit_trail(rig: Rig) -> None:
    rig.stop_holder()
    (rig.holder_dir / "keyholder.toml").write_text(
        (rig.holder_dir / "keyholder.toml").read_text().replace("max_segments = 1000",
                                                                "max_segments = 1"))
    rig.start_holder()
    with pytest.raises(KeyholderRefusedError) as caught:
        rig.view("rita", generate_identity()[1])
    assert caught.value.rule == "over_broad"
    refused = [e for e in rig.access.audit.events(PULLED) if e.outcome == REFUSED]
    assert [e.rule for e in refused] == ["over_broad"]


def test_no_identity_or_picture_on_the_server(rig: Rig) -> None:
    secret, viewer = generate_identity()
    rig.view("rita", viewer)
    authority = (rig.holder_dir / "authority.key").read_text()
    needles = [line.encode() for line in authority.splitlines() if line.startswith("AGE-")]
    needles += [secret.encode()]
    first = sorted(p.name for p in rig.camera.recording.glob("*.age"))[0]
    needles.append(_authority_plaintext(rig, first)[1000:1064])  # 64 bytes of the picture
    for path in rig.server.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data or n.lower() in data.lower() for n in needles), path
    with rig.context.database.transaction() as session:
        tables = session.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'" if
            rig.context.database.is_sqlite else
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        for table in tables:
            for row in session.execute(text(f'SELECT * FROM "{table}"')):
                dumped = repr(tuple(row)).encode()
                assert not any(n[:40] in dumped for n in needles[:2]), table


def test_pull_refuses_a_rewritten_key_holder_log(rig: Rig) -> None:
    rig.view("rita", generate_identity()[1])  # pulled: the trail holds every line so far
    rig.stop_holder()
    log = rig.holder_dir / LOG_FILE
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]))  # the unlock cut off ...
    rig.start_holder()
    rig.service.holder.log.append("refused", rule="malformed", message="x")  # ... replaced
    link = KeyholderLink.load(rig.context.settings.identity_dir)
    with pytest.raises(PullError) as caught:
        pull_log(rig.access, link.client(), link.log_key)
    assert "rolled back or rewritten" in str(caught.value)
    assert len(rig.access.audit.events(PULLED)) == 2  # nothing of the rewrite went in


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_offline_by_file_end_to_end(rig: Rig, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The air-gapped path: the server writes a grant file (as a signed-in reviewer), the
    key holder unwraps it by file, the viewer puts the headers on the fetched ciphertext
    and decrypts with `bodycam-evidence decrypt`; the log comes back by file."""
    rig.stop_holder()  # the key holder is offline
    secret, viewer = generate_identity()
    fetch_as_custodian(rig.server, rig.recording_id, "--out", str(tmp_path / "fetched"))
    now_code = code(rig.totp["rita"], time.time())
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n{now_code}\n"))
    grant = tmp_path / "grant.json"
    rig.server.run("keyholder", "grant", rig.recording_id, "--as", "rita", "--password-stdin",
                   "--viewer", viewer, "--reason", REASON, "--out", str(grant))
    headers = tmp_path / "headers.json"
    assert keyholder_main(["unwrap", "--dir", str(rig.holder_dir), "--grant", str(grant),
                           "--out", str(headers)]) == 0
    fetched = tmp_path / "fetched" / rig.recording_id
    opened = tmp_path / "opened"
    assert keyholder_main(["apply", "--headers", str(headers), "--recording", str(fetched),
                           "--out", str(opened)]) == 0
    key = tmp_path / "viewer.key"
    key.write_text(secret + "\n")
    for segment in sorted(opened.iterdir()):
        plain = tmp_path / f"{segment.name}.ts"
        assert evidence_main(["decrypt", "-i", str(key), "-o", str(plain), str(segment)]) == 0
        assert plain.read_bytes() == _authority_plaintext(rig, segment.name)
    log_copy = tmp_path / "keyholder-log.jsonl"
    assert keyholder_main(["log", "--dir", str(rig.holder_dir), "--out", str(log_copy)]) == 0
    code_, out, _err = rig.server.run("keyholder", "pull", "--from", str(log_copy))
    assert code_ == 0 and out.startswith("2 new")  # keyholder_init, unlock
    assert json.loads(rig.access.audit.events(PULLED)[-1].details)["record"]["event"] == \
        "unlock"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_tampered_segment_refused_before_decrypting(rig: Rig, tmp_path: Path) -> None:
    _secret, viewer = generate_identity()
    response = rig.view("rita", viewer)
    headers = tmp_path / "headers.json"
    headers.write_text(json.dumps(response.to_json()))
    fetch_as_custodian(rig.server, rig.recording_id, "--out", str(tmp_path / "fetched"))
    fetched = tmp_path / "fetched" / rig.recording_id
    victim = sorted(fetched.glob("*.age"))[-1]
    data = bytearray(victim.read_bytes())
    data[-100] ^= 1
    victim.chmod(0o640)
    victim.write_bytes(bytes(data))
    with pytest.raises(ApplyError) as caught:
        apply_headers(headers, fetched, tmp_path / "opened")
    assert victim.name in str(caught.value) and "SHA-256 differs" in str(caught.value)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_administrator_gets_no_grant_file_either(rig: Rig, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line is one more entry point to the same gate."""
    monkeypatch.setattr("sys.stdin", io.StringIO(
        f"{PASSWORD}\n{code(rig.totp['adam'], time.time())}\n"))
    out = tmp_path / "grant.json"
    status, _out, err = rig.server.run(
        "keyholder", "grant", rig.recording_id, "--as", "adam", "--password-stdin",
        "--viewer", generate_identity()[1], "--reason", REASON, "--out", str(out),
        check=False)
    assert status == 1 and "administrators have no access to evidence" in err
    assert not out.exists()
    assert ("refused", "adam", "administrator_no_evidence") in rig.kinds()

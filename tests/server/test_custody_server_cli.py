"""The custodian CLI against a real evidence server: `bodycam-evidence server sign-in |
verify | export` run as the console script would (a process of its own, whose HOME is a
custodian's workstation holding only the custodian's own age key), against a real
`bodycam-server serve` over HTTPS (certificate pinned with --ca) and a real key holder
on its socket holding the camera's authority identity, the only copy there is.

What the issue asks: the export plays and is what the camera recorded; the wearer, the
administrator and the auditor are refused by the rule's name and on record; a stopped
key holder is a clear error; a segment altered on the server fails verification naming
the file; headers granted for another key do not open with the custodian's; the
workstation never holds the authority identity."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from media_fixtures import probe
from offload_client import tls_context
from people_rig import PASSWORD, code
from server_fixtures import Backend, Camera, Server, make_backend
from viewing_rig import REASON, Frame, Viewing, alter_stored, camera_frames, open_viewing

from bodycam.firmware.evidence.age import AgeError, decrypt
from bodycam.firmware.evidence.age.header import read_header
from bodycam.firmware.evidence.age.keys import (
    format_identity_file,
    generate_identity,
    parse_identity,
    recipient_fingerprint,
)
from bodycam.firmware.evidence.signed_log import read_records
from bodycam.server.access.rules import CONSOLE
from bodycam.server.keyholder.log import LOG_FILE
from bodycam.server.people.accounts import add_user
from bodycam.tools.custody.server_client import (
    EvidenceServer,
    ServerConfig,
    ServerError,
    load_config,
    sign_in,
)

CUSTODIAN = "cora"
AUDITOR = "audrey"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return make_backend(request.param, request)


@dataclass
class Workstation:
    """A custodian's workstation: a home directory with the custodian's key only."""

    home: Path
    secret: str
    recipient: str

    @property
    def identity(self) -> Path:
        return self.home / "custodian.key"

    def run(self, *args: str, stdin: str = "", token: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BODYCAM_")}
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / ".config"))
        if token is not None:
            env["BODYCAM_SERVER_TOKEN"] = token
        return subprocess.run([sys.executable, "-m", "bodycam.tools.custody.cli", *args],
                              input=stdin, capture_output=True, text=True, env=env,
                              cwd=self.home, check=False, timeout=600)


@dataclass
class Scene:
    viewing: Viewing
    desk: Workstation

    @property
    def server(self) -> Server:
        return self.viewing.server

    def token(self, username: str) -> str:
        """An API token of `username`, made through the product's own sign-in."""
        config = sign_in(self.server.url, self.server.ca, username, PASSWORD,
                         code(self.viewing.secrets[username], time.time()),
                         token_name="test", days=1)
        assert config.token is not None
        return config.token

    def client(self, username: str) -> EvidenceServer:
        return EvidenceServer(ServerConfig(self.server.url, self.server.ca,
                                           self.token(username)))

    def export(self, out: Path, token: str | None = None, *extra: str
               ) -> subprocess.CompletedProcess[str]:
        return self.desk.run("server", "export", self.viewing.recording_id, "--server",
                             self.server.url, "--ca", str(self.server.ca), "-i",
                             str(self.desk.identity), "--reason", REASON, "--out", str(out),
                             *extra, token=token)

    def audit(self, kind: str) -> list[dict[str, Any]]:
        return [dict(json.loads(e.details), rule=e.rule, actor=e.actor)
                for e in self.viewing.access.audit.events() if e.kind == kind]


@pytest.fixture
def scene(server: Server, camera: Camera, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    for viewing in open_viewing(server, camera, tmp_path, monkeypatch):
        for username, role in ((CUSTODIAN, "custodian"), (AUDITOR, "auditor")):
            with viewing.access.work(CONSOLE, "user.add") as work:
                added = add_user(work, username, username.title(), PASSWORD, roles=[role])
            assert added.totp_secret is not None
            viewing.secrets[username] = added.totp_secret
        home = tmp_path / "workstation"
        home.mkdir()
        secret, recipient = generate_identity()
        desk = Workstation(home, secret, recipient)
        desk.identity.write_text(format_identity_file(secret))
        desk.identity.chmod(0o600)
        viewing.server.serve()
        yield Scene(viewing, desk)


def mp4_frames(path: Path) -> list[tuple[float, Frame]]:
    with av.open(str(path)) as container:
        return [(float(f.pts * Fraction(f.time_base)), f.to_ndarray(format="rgb24"))
                for f in container.decode(video=0) if f.pts is not None]


def authority_secrets(scene: Scene) -> list[str]:
    """The authority identity's lines, as the key holder keeps them."""
    text = (scene.viewing.holder_dir / "authority.key").read_text()
    return [line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY")]


def test_custodian_signs_in_and_exports_with_own_key(scene: Scene, tmp_path: Path) -> None:
    desk, viewing = scene.desk, scene.viewing
    signed = desk.run("server", "sign-in", "--server", scene.server.url, "--ca",
                      str(scene.server.ca), "--user", CUSTODIAN, "--password-stdin",
                      stdin=f"{PASSWORD}\n{code(viewing.secrets[CUSTODIAN], time.time())}\n")
    assert signed.returncode == 0, signed.stderr
    kept = desk.home / ".config" / "bodycam" / "server.toml"
    assert kept.stat().st_mode & 0o777 == 0o600 and "token = " in kept.read_text()
    out = desk.home / "case-2026-114"
    done = desk.run("server", "export", viewing.recording_id, "-i", str(desk.identity),
                    "--reason", REASON, "--out", str(out))  # server and CA as signed in
    assert done.returncode == 0, done.stderr
    mp4 = out / f"{viewing.recording_id}.mp4"
    streams = probe(mp4)["streams"]
    assert isinstance(streams, list)
    assert {s["codec_name"] for s in streams} >= {"h264", "aac"}
    exported, recorded = mp4_frames(mp4), camera_frames(viewing)
    assert len(exported) == len(recorded) > 0
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(exported, recorded, strict=True))
    assert (out / viewing.recording_id / "receipt.json").is_file()
    for path in viewing.segments():  # the ciphertext kept is the camera's, byte for byte
        assert (out / viewing.recording_id / path.name).read_bytes() == path.read_bytes()
    granted = scene.audit("export_granted")
    assert [(g["actor"], g["reason"], g["purpose"], g["viewer"]) for g in granted] == [
        (CUSTODIAN, REASON, "export", recipient_fingerprint(desk.recipient))]
    unlocks = [r for r in read_records(viewing.holder_dir / LOG_FILE)
               if r.get("nonce") == granted[0]["nonce"]]
    assert unlocks and "export" in unlocks[0]["approved_by"]
    assert unlocks[0]["requested_by"] == CUSTODIAN and unlocks[0]["reason"] == REASON
    verified = desk.run("server", "verify", viewing.recording_id, "--server-key",
                        str(scene.server.data_dir / "camera-offload.toml"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VERIFIED" in verified.stdout and "receipt (the pinned server key" in verified.stdout
    # the workstation held the custodian's key and never the authority's
    held = "\n".join(p.read_bytes().decode("latin-1") for p in desk.home.rglob("*")
                     if p.is_file())
    assert all(secret not in held for secret in authority_secrets(scene))
    assert desk.secret in held
    assert desk.run("server", "sign-out").returncode == 0 and not kept.exists()


@pytest.mark.parametrize(("user", "rule"), [("adam", "administrator_no_evidence"),
                                            ("walt", "permission"),
                                            (AUDITOR, "permission"),
                                            ("rita", "permission")])
def test_wearer_administrator_auditor_get_no_grant(scene: Scene, user: str, rule: str
                                                   ) -> None:
    token = scene.token(user)
    done = scene.export(scene.desk.home / "out", token)
    assert done.returncode == 4 and f"403 {rule}" in done.stderr, done.stderr
    assert not any((scene.desk.home / "out").rglob("*.mp4"))
    answer = httpx.post(f"{scene.server.url}/api/v1/recordings/"
                        f"{scene.viewing.recording_id}/grants",
                        headers={"Authorization": f"Bearer {token}"},
                        verify=tls_context(scene.server.ca), timeout=120,
                        json={"recipient": generate_identity()[1], "reason": REASON,
                              "purpose": "disclose"})
    assert answer.status_code == 403 and answer.json()["error"] == rule
    refused = [(r["actor"], r["rule"], r["action"]) for r in scene.audit("refused")]
    assert (user, rule, "recording.export") in refused
    assert (user, rule, "recording.disclose") in refused
    assert not scene.audit("export_granted") and not scene.audit("disclosure_granted")


def test_stopped_key_holder_is_a_clear_error(scene: Scene) -> None:
    scene.viewing.stop_holder()
    done = scene.export(scene.desk.home / "out", scene.token(CUSTODIAN))
    assert done.returncode == 4, done.stderr
    assert "503 keyholder_unavailable" in done.stderr and "not running" in done.stderr
    assert not (scene.desk.home / "out").exists()
    assert not scene.audit("export_granted")
    # the rules answer first: the administrator hears the rule, not the key holder's state
    done = scene.export(scene.desk.home / "out", scene.token("adam"))
    assert done.returncode == 4 and "403 administrator_no_evidence" in done.stderr


def test_segment_altered_on_the_server_fails_naming_the_file(scene: Scene) -> None:
    second = scene.viewing.segments()[1]
    alter_stored(scene.viewing, second)
    token = scene.token(CUSTODIAN)
    verified = scene.desk.run("server", "verify", scene.viewing.recording_id, "--server",
                              scene.server.url, "--ca", str(scene.server.ca), token=token)
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert "INTEGRITY FAILURE" in verified.stdout
    assert f"{second.name}: SHA-256 differs" in verified.stdout
    done = scene.export(scene.desk.home / "out", token)
    assert done.returncode == 1 and second.name in done.stderr, done.stderr
    assert not any((scene.desk.home / "out").glob("*.mp4"))


def test_headers_for_another_key_do_not_open_with_the_custodians(scene: Scene) -> None:
    viewing = scene.viewing
    prosecutor_secret, prosecutor = generate_identity(post_quantum=True)
    with scene.client(CUSTODIAN) as server:
        grant = server.grant(viewing.recording_id, prosecutor, REASON, "disclose")
        first = viewing.segments()[0]
        stored = server.fetch(viewing.recording_id, first.name)
    assert grant.purpose == "disclose" and set(grant.headers) == {
        p.name for p in viewing.segments()}
    source = io.BytesIO(stored)
    read_header(source)
    opened = grant.headers[first.name] + stored[source.tell():]
    with pytest.raises(AgeError):
        decrypt([parse_identity(scene.desk.secret)], io.BytesIO(opened), io.BytesIO())
    plain = io.BytesIO()
    decrypt([parse_identity(prosecutor_secret)], io.BytesIO(opened), plain)
    assert plain.getvalue() == viewing.plaintext(first.name)
    disclosed = scene.audit("disclosure_granted")
    assert [(d["actor"], d["recipient"], d["reason"]) for d in disclosed] == [
        (CUSTODIAN, prosecutor, REASON)]
    assert grant.manifest == (viewing.camera.recording / "manifest.jsonl").read_bytes()


def test_bad_grant_requests_say_what_is_wrong(scene: Scene) -> None:
    token = scene.token(CUSTODIAN)
    url = f"{scene.server.url}/api/v1/recordings/{scene.viewing.recording_id}/grants"

    def ask(body: dict[str, Any], recording: str | None = None) -> httpx.Response:
        return httpx.post(url if recording is None else url.replace(
            scene.viewing.recording_id, recording), json=body, timeout=120,
            headers={"Authorization": f"Bearer {token}"}, verify=tls_context(scene.server.ca))

    good = {"recipient": scene.desk.recipient, "reason": REASON, "purpose": "export"}
    answer = ask({**good, "recipient": "age1notakey"})
    assert answer.status_code == 422 and "recipient" in answer.json()["message"]
    answer = ask({**good, "reason": ""})
    assert answer.status_code == 422 and "reason" in answer.json()["message"]
    answer = ask({**good, "segments": ["99999.age"]})
    assert answer.status_code == 422 and "99999.age" in answer.json()["message"]
    assert ask({**good, "purpose": "view"}).status_code == 422
    answer = ask(good, "BC-0001-20260101T000000Z-abcd")
    assert answer.status_code == 404
    answer = httpx.post(url, json=good, verify=tls_context(scene.server.ca), timeout=120)
    assert answer.status_code == 401
    answer = ask({**good, "segments": [scene.viewing.segments()[0].name]})
    assert answer.status_code == 201 and list(answer.json()["headers"]) == [
        scene.viewing.segments()[0].name]


def test_a_certificate_not_pinned_is_refused(scene: Scene) -> None:
    """Without --ca the system's trust store decides, and it does not know this server."""
    done = scene.desk.run("server", "verify", scene.viewing.recording_id, "--server",
                          scene.server.url, token=scene.token(CUSTODIAN))
    assert done.returncode == 4 and "TLS certificate is not the one pinned" in done.stderr
    assert "--ca" in done.stderr


def test_the_kept_sign_in_is_private_and_the_env_token_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BODYCAM_SERVER_TOKEN", raising=False)
    kept = tmp_path / "config" / "bodycam" / "server.toml"
    ServerConfig("https://evidence.example:8443", tmp_path / "ca.pem", "tok-kept", "t1",
                 CUSTODIAN).save(kept)
    assert kept.stat().st_mode & 0o777 == 0o600
    assert kept.parent.stat().st_mode & 0o777 == 0o700
    config = load_config(None, None, kept)
    assert (config.url, config.ca, config.token) == (
        "https://evidence.example:8443", tmp_path / "ca.pem", "tok-kept")
    with pytest.raises(ServerError, match=r"not signed in to https://other\.example"):
        EvidenceServer(load_config("https://other.example", None, kept))
    monkeypatch.setenv("BODYCAM_SERVER_TOKEN", "tok-env")
    assert load_config(None, None, kept).token == "tok-env"
    with pytest.raises(ServerError, match="no evidence server given"):
        load_config(None, None, tmp_path / "none.toml")


def test_export_writes_over_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "out").mkdir(parents=True)
    (home / "out" / "case.mp4").write_bytes(b"earlier work")
    secret, _ = generate_identity()
    desk = Workstation(home, secret, "")
    desk.identity.write_text(format_identity_file(secret))
    done = desk.run("server", "export", "BC-0001-20250101T080000Z-abcd", "--server",
                    "https://127.0.0.1:9", "-i", str(desk.identity), "--reason", REASON,
                    "--out", str(home / "out"))
    assert done.returncode == 2 and "not an empty directory" in done.stderr
    assert (home / "out" / "case.mp4").read_bytes() == b"earlier work"

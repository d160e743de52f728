"""The player's server side in process (FastAPI's TestClient on the real app, a real key
holder on its socket, an offloaded camera recording): the view request answers with
headers that open with the browser's key; the ciphertext goes only to the person whose
unexpired grant covers that segment, never cached; the wearer, the administrator, a
forged request and a stopped key holder get a clear refusal in JSON."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from people_rig import PASSWORD, code
from server_fixtures import Camera, Server, make_backend
from viewing_rig import REASON, Viewing, open_viewing

from bodycam.firmware.evidence.age import decrypt
from bodycam.firmware.evidence.age.keys import generate_identity, parse_identity
from bodycam.server.app import create_app
from bodycam.server.people.web_session import CSRF_HEADER


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> object:
    return make_backend(request.param, request)


@pytest.fixture
def viewing(server: Server, camera: Camera, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Viewing]:
    yield from open_viewing(server, camera, tmp_path, monkeypatch)


class Browser:
    """A signed-in person's browser, in process."""

    def __init__(self, viewing: Viewing, username: str) -> None:
        self.viewing = viewing
        self.client = TestClient(create_app(viewing.context), base_url=viewing.server.url)
        answer = self.client.post("/api/v1/session", json={
            "username": username, "password": PASSWORD,
            "code": code(viewing.secrets[username], time.time())})
        assert answer.status_code == 200, answer.text
        self.csrf = answer.json()["csrf_token"]

    def view(self, viewer: str, reason: str = REASON, csrf: str | None = None
             ) -> tuple[int, dict[str, object]]:
        answer = self.client.post(f"/recordings/{self.viewing.recording_id}/view",
                                  json={"viewer_key": viewer, "reason": reason},
                                  headers={CSRF_HEADER: self.csrf if csrf is None else csrf})
        return answer.status_code, answer.json()

    def ciphertext(self, name: str) -> tuple[int, bytes, str]:
        answer = self.client.get(f"/recordings/{self.viewing.recording_id}/ciphertext/{name}")
        return answer.status_code, answer.content, answer.headers.get("cache-control", "")


def test_view_gives_headers_for_the_browsers_key_and_ciphertext_to_match(
        viewing: Viewing) -> None:
    rita = Browser(viewing, "rita")
    secret, viewer = generate_identity()
    status, body = rita.view(viewer)
    assert status == 200, body
    assert body["viewer"] == "rita" and float(str(body["expires"])) > time.time()
    segments = body["segments"]
    assert isinstance(segments, list)
    assert [s["file"] for s in segments] == [p.name for p in viewing.segments()]
    for segment in segments:
        status, data, cache = rita.ciphertext(segment["file"])
        assert status == 200 and cache == "no-store"
        assert data == (viewing.camera.recording / segment["file"]).read_bytes()
        opened = base64.b64decode(segment["header"]) + data[segment["header_bytes"]:]
        out = io.BytesIO()
        decrypt([parse_identity(secret)], io.BytesIO(opened), out)
        assert out.getvalue() == viewing.plaintext(segment["file"])
    kinds = [e.kind for e in viewing.access.audit.events()]
    assert kinds.count("ciphertext_sent") == len(segments)


def test_ciphertext_only_under_an_unexpired_grant_of_ones_own(viewing: Viewing) -> None:
    rita, rick = Browser(viewing, "rita"), Browser(viewing, "rick")
    first = viewing.segments()[0].name
    status, data, cache = rita.ciphertext(first)
    assert status == 403 and cache == "no-store"
    assert b"no_active_grant" in data and b"press play again" in data
    assert rita.view(generate_identity()[1])[0] == 200
    assert rita.ciphertext(first)[0] == 200
    assert rick.ciphertext(first)[0] == 403  # rita's grant is not rick's
    assert rita.ciphertext("../" + first)[0] in (403, 404)
    later = time.time() + 16 * 60  # the grant lasts 15 minutes
    viewing.context.clock = lambda: later
    status, data, _ = rita.ciphertext(first)
    assert status == 403 and b"no_active_grant" in data


@pytest.mark.parametrize(("user", "rule"), [("adam", "administrator_no_evidence"),
                                            ("walt", "permission")])
def test_wearer_and_administrator_get_no_headers(viewing: Viewing, user: str,
                                                 rule: str) -> None:
    person = Browser(viewing, user)
    status, body = person.view(generate_identity()[1])
    assert status == 403 and body["rule"] == rule and body["error"]
    assert person.ciphertext(viewing.segments()[0].name)[0] == 403
    assert "view_granted" not in [e.kind for e in viewing.access.audit.events()]


def test_view_without_the_csrf_token_is_refused(viewing: Viewing) -> None:
    rita = Browser(viewing, "rita")
    status, body = rita.view(generate_identity()[1], csrf="forged")
    assert status == 403 and body["error"] == "csrf"
    assert "view_granted" not in [e.kind for e in viewing.access.audit.events()]


@pytest.mark.parametrize(("viewer", "reason", "fix"), [
    ("age1notakey", REASON, "recipient"),
    (None, "", "reason"),
])
def test_a_bad_view_request_says_what_is_wrong(viewing: Viewing, viewer: str | None,
                                               reason: str, fix: str) -> None:
    status, body = Browser(viewing, "rita").view(viewer or generate_identity()[1], reason)
    assert status == 400 and body["rule"] == "bad_view_request"
    assert fix in str(body["error"]).lower()


def test_stopped_key_holder_is_a_clear_503(viewing: Viewing) -> None:
    viewing.stop_holder()
    status, body = Browser(viewing, "rita").view(generate_identity()[1])
    assert status == 503 and body["rule"] == "keyholder_unavailable"
    assert "key holder" in str(body["error"])

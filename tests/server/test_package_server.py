"""`bodycam-evidence package --case CASE --prosecutor age1...` against a real evidence
server (`bodycam-server serve` over HTTPS, certificate pinned) and a real key holder on
its socket holding the only copy of the authority identity: the package verifies, the
prosecutor's key opens the segments with the real `age`, and the server's audit records
the export and the disclosure (with the prosecutor's key in full)."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from package_rig import prosecutor
from people_rig import PASSWORD, code
from server_fixtures import Backend, Camera, Server, make_backend
from viewing_rig import Viewing, open_viewing

from bodycam.firmware.evidence.age.keys import format_identity_file, generate_identity
from bodycam.server.access.rules import CONSOLE
from bodycam.server.people.accounts import add_user
from bodycam.tools.custody.cli import main
from bodycam.tools.custody.package.keys import CA_CERT
from bodycam.tools.custody.server_client import TOKEN_ENV, sign_in

CUSTODIAN = "cora"
CASE = "CASE-2026-17"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return make_backend(request.param, request)


@pytest.fixture
def viewing(server: Server, camera: Camera, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Viewing]:
    for scene in open_viewing(server, camera, tmp_path, monkeypatch):
        with scene.access.work(CONSOLE, "user.add") as work:
            # the custody report needs recording.view or audit.read besides export
            added = add_user(work, CUSTODIAN, "Cora", PASSWORD,
                             roles=["custodian", "reviewer"])
        assert added.totp_secret is not None
        scene.secrets[CUSTODIAN] = added.totp_secret
        scene.server.serve()
        yield scene


def _token(viewing: Viewing) -> str:
    config = sign_in(viewing.server.url, viewing.server.ca, CUSTODIAN, PASSWORD,
                     code(viewing.secrets[CUSTODIAN], time.time()), token_name="t", days=1)
    assert config.token is not None
    return config.token


def _open_case(viewing: Viewing, token: str) -> None:
    tls = ssl.create_default_context(cafile=str(viewing.server.ca))
    with httpx.Client(base_url=viewing.server.url, verify=tls,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        made = http.post("/api/v1/cases", json={"reference": CASE, "title": "a test case"})
        assert made.status_code == 201, made.text
        added = http.post("/api/v1/cases/recordings",
                          json={"reference": CASE, "recording_id": viewing.recording_id})
        assert added.status_code == 200, added.text


def test_package_from_the_server_verifies_and_the_disclosure_is_on_record(
        viewing: Viewing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    token = _token(viewing)
    _open_case(viewing, token)
    secret, _ = generate_identity()
    custodian_key = tmp_path / "custodian.key"
    custodian_key.write_text(format_identity_file(secret))
    person = prosecutor(tmp_path)
    keys = tmp_path / "export-keys"
    assert main(["export-key", "init", "--out", str(keys), "--agency", "Test Police"]) == 0
    monkeypatch.setenv(TOKEN_ENV, token)
    out = tmp_path / "package"
    code_ = main(["package", "--case", CASE, "--prosecutor", person.recipient,
                  "--reason", "disclosure ordered in case 17", "--keys", str(keys),
                  "-i", str(custodian_key), "--out", str(out),
                  "--server", viewing.server.url, "--ca", str(viewing.server.ca)])
    assert code_ == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["verify", "--ca", str(keys / CA_CERT), str(out)]) == 0, \
        capsys.readouterr().out
    rid = viewing.recording_id
    custody = json.loads((out / "recordings" / rid / "custody.json").read_text())
    assert custody["receipt"] is not None
    # the receipt as the server signed it, hashed into the C2PA provenance assertion
    assert json.loads((out / "recordings" / rid / "receipt.json").read_bytes()) == \
        custody["receipt"]
    for segment in viewing.segments():
        opened = subprocess.run(["age", "-d", "-i", str(person.identity_file),
                                 str(out / "recordings" / rid / "prosecutor" / segment.name)],
                                capture_output=True, check=True).stdout
        assert opened == viewing.plaintext(segment.name)
    events = [(e.kind, json.loads(e.details)) for e in viewing.access.audit.events()]
    disclosed = [d for kind, d in events if kind == "disclosure_granted"]
    assert disclosed and any(person.recipient in json.dumps(d) for d in disclosed)
    assert any(kind == "export_granted" for kind, _ in events)


def test_package_from_the_server_needs_a_reason_and_a_case(
        viewing: Viewing, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "export-keys"
    assert main(["export-key", "init", "--out", str(keys), "--agency", "Test Police"]) == 0
    person = prosecutor(tmp_path)
    secret, _ = generate_identity()
    (tmp_path / "c.key").write_text(format_identity_file(secret))
    capsys.readouterr()
    assert main(["package", "--case", CASE, "--prosecutor", person.recipient, "--keys",
                 str(keys), "-i", str(tmp_path / "c.key"), "--out",
                 str(tmp_path / "p")]) == 2
    assert "--reason TEXT" in capsys.readouterr().err
    assert main(["package", "--case", CASE, "--prosecutor", "age1notakey", "--reason", "r",
                 "--keys", str(keys), "-i", str(tmp_path / "c.key"), "--out",
                 str(tmp_path / "p")]) == 2
    assert "--prosecutor" in capsys.readouterr().err

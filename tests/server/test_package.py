"""The prosecutor package (issue 12, "Disclosure to the prosecutor"): built from a real
recording with the real key holder's disclosure and the real API's custody report,
C2PA-signed with c2pa-python and timestamped by the agency's own RFC 3161 authority,
checked by `bodycam-evidence verify PACKAGE`, by c2pa-python's reader and by the real
`age` with the prosecutor's key. One byte changed anywhere fails and names the file."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import c2pa
import pytest
from asn1crypto import tsp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from package_rig import Scene, make_scene

from bodycam.firmware.evidence.age.keys import read_identity_file
from bodycam.tools.custody.cli import main
from bodycam.tools.custody.package.c2pa_manifest import ASSERTION, TRUSTED, read_mp4, sign_mp4
from bodycam.tools.custody.package.keys import (
    CA_CERT,
    CA_KEY,
    DOCUMENT_SIGNING,
    issue_leaf,
    load,
)
from bodycam.tools.custody.package.tsa import Refusal, TimestampServer, respond


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return make_scene(tmp_path_factory.mktemp("package-scene"))


@pytest.fixture(scope="module")
def package(scene: Scene, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package") / "CASE-2026-17"
    assert scene.package(out) == 0
    return out


def verify(path: Path, scene: Scene, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["verify", "--ca", str(scene.keys / CA_CERT), str(path)])
    return code, capsys.readouterr().out


def test_package_verifies(scene: Scene, package: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(package, scene, capsys)
    assert code == 0, out
    assert "VERIFIED" in out


def test_prosecutor_opens_segments_with_age(scene: Scene, package: Path) -> None:
    rid = scene.camera.recording.name
    for original in sorted(scene.camera.recording.glob("*.age")):
        mine = package / "recordings" / rid / "prosecutor" / original.name
        opened = subprocess.run(["age", "-d", "-i", str(scene.prosecutor.identity_file),
                                 str(mine)], capture_output=True, check=True).stdout
        authority = subprocess.run(["age", "-d", "-i",
                                    str(scene.camera.authority.identity_file), str(original)],
                                   capture_output=True, check=True).stdout
        assert opened == authority and opened
        # the authority's key does not open the prosecutor's copy: it was re-wrapped
        assert subprocess.run(["age", "-d", "-i", str(scene.camera.authority.identity_file),
                               str(mine)], capture_output=True, check=False).returncode != 0


def test_c2pa_manifest_carries_camera_provenance(scene: Scene, package: Path) -> None:
    rid = scene.camera.recording.name
    reading = read_mp4(package / "recordings" / rid / f"{rid}.mp4",
                       (scene.keys / CA_CERT).read_text())
    assert reading.state == TRUSTED, reading.problems
    assert reading.timestamped
    assert reading.provenance is not None
    assert reading.provenance["recording_id"] == rid
    assert reading.provenance["device_id"] == scene.camera.device_id
    last = (scene.camera.recording / "manifest.jsonl").read_bytes().splitlines()[-1]
    assert reading.provenance["manifest_head"]["sig"] == json.loads(last)["sig"]
    assert ASSERTION == "org.bodycam.provenance"


def _kinds(scene: Scene) -> list[str]:
    rid = scene.camera.recording.name
    return [f"recordings/{rid}/{rid}.mp4", f"recordings/{rid}/{rid}.report.json",
            f"recordings/{rid}/custody.json", f"recordings/{rid}/camera/manifest.jsonl",
            f"recordings/{rid}/camera/00000.age.header",
            f"recordings/{rid}/prosecutor/00001.age", "README.txt", "agency-ca.pem",
            "export-chain.pem", "c2pa-trust.cfg"]


KINDS = ("mp4", "report", "custody", "manifest", "header", "prosecutor", "readme", "ca",
         "chain", "trust-config")


@pytest.mark.parametrize("kind", KINDS)
def test_one_byte_changed_fails_and_names_the_file(
        kind: str, scene: Scene, package: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "package"
    shutil.copytree(package, copy)
    name = _kinds(scene)[KINDS.index(kind)]
    data = bytearray((copy / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / name).write_bytes(bytes(data))
    code, out = verify(copy, scene, capsys)
    assert code == 1, out
    assert f"problem: {name}: SHA-256 differs" in out


def test_changed_index_fails_naming_the_signature(scene: Scene, package: Path,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "package"
    shutil.copytree(package, copy)
    index = (copy / "index.json").read_text()
    (copy / "index.json").write_text(index.replace("CASE-2026-17", "CASE-2026-18"))
    code, out = verify(copy, scene, capsys)
    assert code == 1
    assert "index.sig: the signature over index.json does not verify" in out


def test_index_timestamp_is_checked(scene: Scene, package: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """index.tsr: the agency TSA's token over index.json; another index's token, a
    changed token or none at all fails, naming it."""
    other = tmp_path / "other"
    assert scene.package(other) == 0
    cases = {"swapped": (other / "index.tsr").read_bytes(),
             # the last byte: the authority's signature
             "changed": (package / "index.tsr").read_bytes()[:-1] + bytes(
                 [(package / "index.tsr").read_bytes()[-1] ^ 1]),
             "removed": None}
    expected = {"swapped": "index.tsr: stamps another index",
                "changed": "index.tsr: ",
                "removed": "index.tsr: missing, though index.json names a timestamp"}
    for name, token in cases.items():
        copy = tmp_path / name
        shutil.copytree(package, copy)
        if token is None:
            (copy / "index.tsr").unlink()
        else:
            (copy / "index.tsr").write_bytes(token)
        code, out = verify(copy, scene, capsys)
        assert code == 1, (name, out)
        assert f"problem: {expected[name]}" in out, (name, out)


def test_added_and_removed_files_are_named(scene: Scene, package: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "package"
    shutil.copytree(package, copy)
    rid = scene.camera.recording.name
    (copy / "recordings" / rid / "prosecutor" / "00002.age").unlink()
    (copy / "recordings" / rid / "note.txt").write_text("added later")
    code, out = verify(copy, scene, capsys)
    assert code == 1
    assert f"recordings/{rid}/prosecutor/00002.age: listed in the index but missing" in out
    assert f"recordings/{rid}/note.txt: not in the signed index" in out


def test_package_of_another_agency_fails_against_the_pinned_ca(
        scene: Scene, package: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A forger who re-signs everything with a CA of their own passes only a verifier
    who trusts the CA inside the package: pinned to the agency's CA it fails."""
    other = tmp_path / "other-keys"
    assert main(["export-key", "init", "--out", str(other), "--agency", "Forgers"]) == 0
    capsys.readouterr()
    code = main(["verify", "--ca", str(other / CA_CERT), str(package)])
    out = capsys.readouterr().out
    assert code == 1
    assert "export-chain.pem: the export certificate is not issued by the trusted" in out
    assert "not Trusted under the agency CA" in out
    # without --ca it verifies against its own CA copy, and says that it was not pinned
    assert main(["verify", str(package)]) == 0
    assert "agency CA not pinned" in capsys.readouterr().out


def test_export_key_init_is_private_and_never_replaces(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    keys = tmp_path / "keys"
    assert main(["export-key", "init", "--out", str(keys), "--agency", "Test Police"]) == 0
    assert "fingerprint" in capsys.readouterr().out
    for name in ("agency-ca.key", "export.key", "tsa.key"):
        assert (keys / name).stat().st_mode & 0o777 == 0o600
    before = (keys / "export.key").read_bytes()
    assert main(["export-key", "init", "--out", str(keys), "--agency", "Test Police"]) == 2
    assert "never replaces a key" in capsys.readouterr().err
    assert (keys / "export.key").read_bytes() == before


def test_renewed_export_key_signs_new_packages_and_old_ones_still_verify(
        scene: Scene, package: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "keys"
    shutil.copytree(scene.keys, keys)
    old = (keys / "export-chain.pem").read_bytes()
    assert main(["export-key", "renew", "--keys", str(keys)]) == 0
    assert (keys / "export-chain.pem").read_bytes() != old
    assert [p.read_bytes() for p in (keys / "retired").glob("export-chain-*.pem")] == [old]
    assert (keys / "export.key").stat().st_mode & 0o777 == 0o600
    out = tmp_path / "renewed"
    assert Scene(scene.camera, scene.holder_dir, scene.prosecutor, scene.disclosure,
                 scene.custody, keys).package(out) == 0
    for built in (out, package):  # the CA is the same: both verify against it
        code, text = verify(built, scene, capsys)
        assert code == 0, text
    (keys / "agency-ca.key").unlink()  # kept offline: renewing needs it brought back
    assert main(["export-key", "renew", "--keys", str(keys)]) == 2
    assert "bring the CA key" in capsys.readouterr().err


def test_package_refuses_an_existing_out_and_a_partial_disclosure(
        scene: Scene, package: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert scene.package(package) == 1
    assert "is never written over" in capsys.readouterr().err
    body = json.loads(scene.disclosure.read_text())
    body["headers"].pop("00001.age")
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(body))
    out = tmp_path / "pkg"
    code = main(["package", "--keys", str(scene.keys), "-i",
                 str(scene.camera.authority.identity_file), "--out", str(out),
                 "--recording", str(scene.camera.recording), "--disclosure", str(partial),
                 "--custody", str(scene.custody)])
    assert code == 1
    assert "no header for 00001.age" in capsys.readouterr().err
    assert not out.exists() and not out.with_name("pkg.partial").exists()
    assert read_identity_file(scene.prosecutor.identity_file)


def _sign_with_short_lived_leaf(keys_dir: Path, source: Path, out: Path,
                                lifetime_s: int) -> datetime:
    """Sign `source` twice with an export leaf that expires `lifetime_s` from now: with
    the agency TSA (out/ts.mp4) and without (out/plain.mp4); returns its expiry."""
    keys = load(keys_dir)
    ca_key = serialization.load_pem_private_key((keys_dir / CA_KEY).read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    now = datetime.now(UTC)
    leaf = issue_leaf(ca_key, keys.ca, "short-lived export", DOCUMENT_SIGNING,
                      start=now - timedelta(hours=1), end=now + timedelta(seconds=lifetime_s))
    ca_pem = (keys_dir / CA_CERT).read_text()
    provenance = {"format": "test"}
    with TimestampServer(keys.tsa) as tsa:
        sign_mp4(source, out / "ts.mp4", provenance, leaf, ca_pem, tsa_url=tsa.url)
    sign_mp4(source, out / "plain.mp4", provenance, leaf, ca_pem, tsa_url=None)
    return leaf.chain[0].not_valid_after_utc


def test_timestamp_keeps_the_manifest_valid_after_the_export_certificate_expires(
        scene: Scene, tmp_path: Path) -> None:
    source = tmp_path / "export.mp4"
    assert main(["export", str(scene.camera.recording), "-i",
                 str(scene.camera.authority.identity_file), "-o", str(source)]) == 0
    expiry = None
    for lifetime in (15, 60, 240):  # longer only if a loaded machine signed too late
        for stale in ("ts.mp4", "plain.mp4"):
            (tmp_path / stale).unlink(missing_ok=True)
        try:
            expiry = _sign_with_short_lived_leaf(scene.keys, source, tmp_path, lifetime)
            break
        except c2pa.C2paError as exc:
            assert "not valid at time of signing" in str(exc)
    assert expiry is not None
    ca_pem = (scene.keys / CA_CERT).read_text()
    before = read_mp4(tmp_path / "plain.mp4", ca_pem)
    assert before.state == TRUSTED, before.problems  # the control: valid while in date
    while datetime.now(UTC) <= expiry + timedelta(seconds=1):
        time.sleep(0.2)  # waits on the condition: the export certificate has expired
    stamped = read_mp4(tmp_path / "ts.mp4", ca_pem)
    assert stamped.state == TRUSTED, stamped.problems
    assert stamped.timestamped
    unstamped = read_mp4(tmp_path / "plain.mp4", ca_pem)
    assert unstamped.state != TRUSTED
    assert any(p.startswith("signingCredential.expired") for p in unstamped.problems)


def test_timestamp_authority_refuses_what_is_not_a_query(scene: Scene) -> None:
    keys = load(scene.keys)
    answer = Refusal.load(respond(b"not DER", keys.tsa, datetime.now(UTC)))
    assert answer["status"]["status"].native == "rejection"
    assert "not a DER TimeStampReq" in answer["status"]["status_string"].native[0]
    query = tsp.TimeStampReq({"version": "v1", "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"short"},
        "cert_req": True}).dump()
    answer = Refusal.load(respond(query, keys.tsa, datetime.now(UTC)))
    assert answer["status"]["status"].native == "rejection"


def test_bench_package_prints_time_per_recorded_minute_and_the_ratio(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["bench-package", str(scene.camera.recording), "-i",
                 str(scene.camera.authority.identity_file), "--runs", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["runs"] == 1
    assert result["recorded_s"] > 0
    assert result["package_s_per_recorded_min"] > 0 and result["plain_s_per_recorded_min"] > 0
    assert result["ratio_package_to_plain"] == pytest.approx(
        result["package_s_median"] / result["plain_s_median"], rel=0.05)

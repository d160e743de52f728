"""The prosecutor package (issue 12, "Disclosure to the prosecutor"): built from a real
recording with the real key holder's disclosure and the real API's custody report,
C2PA-signed with c2pa-python and timestamped by the agency's own RFC 3161 authority,
checked by `bodycam-evidence verify PACKAGE`, by c2pa-python's reader and by the real
`age` with the prosecutor's key. One byte changed anywhere fails and names the file."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from package_rig import Scene, make_scene

from bodycam.firmware.evidence.age.keys import read_identity_file
from bodycam.tools.custody.cli import main
from bodycam.tools.custody.package.c2pa_manifest import ASSERTION, TRUSTED, read_mp4
from bodycam.tools.custody.package.keys import CA_CERT


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
                               str(mine)], capture_output=True).returncode != 0


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

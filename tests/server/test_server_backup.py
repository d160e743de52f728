"""The README's back-up and restore, done as written, on the embedded default (SQLite and
the blob folder): the keys and settings copied, the database copied with `sqlite3
.backup` while `serve` runs, then the blob folder; restored into another directory (the
database line of server.toml changed, as the guide says). The restored server lists the
recording complete, gives it back byte for byte, answers the camera with the same signed
receipt under the same key, and takes the camera's audit log where it left off."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from fetch_rig import fetch_as_custodian
from server_fixtures import Camera, Server

SETTINGS = ("server.toml", "camera-offload.toml", "identity")


def back_up(data_dir: Path, target: Path) -> None:
    """What the guide's table says, in its order: keys and settings, the database (online
    backup), then the blob folder."""
    target.mkdir()
    for name in SETTINGS:
        source = data_dir / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copy2(source, target / name)
    subprocess.run(["sqlite3", str(data_dir / "server.db"),
                    f".backup '{target / 'server.db'}'"], check=True, timeout=60)
    shutil.copytree(data_dir / "blobs", target / "blobs")


def restore(backup: Path, data_dir: Path, old_dir: Path) -> None:
    shutil.copytree(backup, data_dir)
    settings = data_dir / "server.toml"
    text = settings.read_text()
    assert f'"sqlite:///{old_dir / "server.db"}"' in text  # the absolute path the guide names
    settings.write_text(text.replace(str(old_dir / "server.db"), str(data_dir / "server.db")))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_online_copy_database_then_blobs_restores_the_server_whole(
        server: Server, camera: Camera, tmp_path: Path) -> None:
    server.serve()
    client = server.client(camera)
    receipt = client.upload(camera.recording)
    first = camera.audit.read_bytes()
    assert client.audit_patch("none", first).status_code == 200
    back_up(server.data_dir, tmp_path / "backup")
    client.close()
    server.stop()
    shutil.rmtree(server.data_dir)  # the disk is lost

    restored = Server(tmp_path / "restored", server.backend, port=server.port,
                      processes=server.processes)  # the fixture stops its serve too
    restore(tmp_path / "backup", restored.data_dir, server.data_dir)
    code, out, err = restored.run("recordings", "--json")
    assert code == 0, err
    [item] = json.loads(out)
    assert (item["id"], item["state"], item["receipt"]) == (
        camera.recording.name, "complete", True)
    code, _, err = fetch_as_custodian(restored, camera.recording.name, "--out",
                                      str(tmp_path / "fetched"))
    assert code == 0, err
    for path in camera.recording.iterdir():
        assert (tmp_path / "fetched" / camera.recording.name / path.name).read_bytes() == \
            path.read_bytes()
    restored.serve()
    again = restored.client(camera)
    answer = again.receipt(camera.recording.name)
    assert answer.status_code == 200 and answer.json() == receipt  # same key, same receipt
    with camera.audit_log() as log:  # the camera goes on; the restored head is the old one
        log.append("offload_started")
    head = again.audit_head().json()
    lines = first.rstrip(b"\n").split(b"\n")
    assert head["seq"] == len(lines) - 1
    added = camera.audit.read_bytes()[len(first):]
    answer = again.audit_patch(f"{head['seq']}:{head['hash']}", added)
    assert answer.status_code == 200, answer.text
    assert answer.json()["seq"] == len(lines)
    again.close()

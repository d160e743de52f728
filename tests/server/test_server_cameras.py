"""Eight cameras docked at once, offloading to one server: on the embedded default
(SQLite + blob folder) and on PostgreSQL (the session's cluster from conftest.py's
`postgres` fixture). Each camera is the whole simulated device (tests/conftest.py's
`make_sim_device`) with its own identity, enrolled as an administrator does; the server
is a real `bodycam-server serve`. All complete, byte-identical, each receipt valid for
its own recording, nothing lost, each card down to manifest + receipt."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from device_rig import MakeDevice
from offload_rig import booted, dock, files_of, finished, record, verify
from offload_server import make_server

from bodycam.firmware.evidence.offloaded import RECEIPT_NAME, check_receipt
from bodycam.firmware.offload.card import read_recording
from bodycam.tools.dev.postgres import PostgresCluster

pytestmark = pytest.mark.slow
CAMERAS = 8
# Each camera paced to 2 Mbit/s: the eight uploads overlap for seconds (at full loopback
# speed a small recording could finish before the next camera has started).
PACED = "offload.bandwidth_kbps=2000"


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_eight_cameras_offloading_at_once_all_complete_and_lose_nothing(
        make_sim_device: MakeDevice, tmp_path: Path, database: str,
        request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]) -> None:
    init: tuple[str, ...] = ()
    if database == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        init = ("--database", cluster.create_database(f"cams{secrets.token_hex(4)}"))
    server = make_server(tmp_path, *init)
    server.start()
    try:
        rigs = [booted(make_sim_device, server, PACED, f'device.id="CAM-{n:04d}"',
                       name=f"cam{n}") for n in range(CAMERAS)]
        recordings = [record(rig, 3) for rig in rigs]
        before = [files_of(recording) for recording in recordings]
        starts = [dock(rig) for rig in rigs]  # the shift ends: all in their docks at once
        for rig, start in zip(rigs, starts, strict=True):
            done = finished(rig, start)
            assert (done["offloaded"], done["refused"], done["left"]) == (1, 0, 0), done
        listed = {item["id"]: item for item in server.recordings()}
        assert sorted(listed) == sorted(r.name for r in recordings)
        key = server.offload["server_key"]
        for n, (rig, recording) in enumerate(zip(rigs, recordings, strict=True)):
            item = listed[recording.name]
            assert (item["state"], item["device"]) == ("complete", f"CAM-{n:04d}"), item
            assert sorted(os.listdir(recording)) == ["manifest.jsonl", RECEIPT_NAME]
            card = read_recording(recording)
            assert card is not None
            check_receipt((recording / RECEIPT_NAME).read_bytes(), card.manifest, key)
            out = tmp_path / "fetched" / recording.name
            fetched = server.fetch(recording.name, out)
            assert fetched.returncode == 0, fetched.stderr
            [copy] = list(out.rglob("manifest.jsonl"))
            assert files_of(copy.parent) == before[n]
            rig.stop()
            code, said = verify(capsys, str(rig.config.storage.data_dir), "--server-key", key)
            assert code == 0, said
    finally:
        server.stop()

"""The camera's upload against a real `bodycam-server serve`: a segment goes in one
PATCH however large (each request idles the link for a round trip and the server's
fsyncs, and a file in several pieces is copied on the server), sent from the card in
pieces of at most 64 KiB (RAM), and a file cut short on the card while it is sent stops
the upload as damage: the camera keeps its copy, the server completes nothing."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bodycam.firmware.config.model import OffloadConfig
from bodycam.firmware.evidence.offloaded import check_receipt
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.offload.card import CardRecording, sealed_recordings
from bodycam.firmware.offload.connection import Connection, Response
from bodycam.firmware.offload.digests import DigestsAhead
from bodycam.firmware.offload.protocol import PIECE, OffloadClient
from bodycam.firmware.offload.timesync import TimeSync, take_server_time
from bodycam.firmware.offload.upload import DamagedOnCardError, upload_recording
from bodycam.hal.clocks import SystemClock
from bodycam.server.bench.camera import load_offload_config
from bodycam.server.bench.card import BenchDevice, make_device, make_recordings
from bodycam.server.bench.servers import BenchServer

SEGMENT = 5 * 1024 * 1024 + 12345  # more than the 4 MiB a request used to carry


class WatchedConnection(Connection):
    """The real connection, noting each request and the size of each body piece."""

    def __init__(self, config: OffloadConfig) -> None:
        super().__init__(config)
        self.requests: list[str] = []
        self.pieces: list[int] = []

    def _watch(self, body: Iterable[bytes]) -> Iterator[bytes]:
        for piece in body:
            self.pieces.append(len(piece))
            yield piece

    def request(self, method: str, path: str, headers: Mapping[str, str],
                body: bytes | Iterable[bytes] | None = None) -> Response:
        self.requests.append(method)
        if body is not None and not isinstance(body, bytes):
            body = self._watch(body)
        return super().request(method, path, headers, body)


@dataclass
class Rig:
    server: BenchServer
    device: BenchDevice
    recording: CardRecording
    config: OffloadConfig

    def client(self) -> tuple[WatchedConnection, OffloadClient]:
        clock = SystemClock()
        connection = WatchedConnection(self.config)
        sync: list[TimeSync] = []
        client = OffloadClient(connection, SessionKey(self.device.key_store(), clock),
                               self.device.device_id, lambda: sync[0].server_now(clock))
        sync.append(take_server_time(client, self.config.server_key, clock))
        return connection, client

    def state(self) -> dict[str, object]:
        done = subprocess.run([sys.executable, "-m", "bodycam.server.cli", "recordings",
                               "--data-dir", str(self.server.data_dir), "--json"],
                              capture_output=True, text=True, check=True, timeout=120)
        [item] = json.loads(done.stdout)
        assert isinstance(item, dict)
        return item


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    device = make_device(tmp_path / "camera", "BC-UPLOAD")
    evidence = make_recordings(device, tmp_path / "camera", count=1, segments=2,
                               segment_bytes=SEGMENT)
    [recording] = sealed_recordings(evidence)
    server = BenchServer.create(tmp_path / "server")
    server.enrol(device.identity_file)
    server.start()
    try:
        yield Rig(server, device, recording, load_offload_config(server.offload_file))
    finally:
        server.stop()


def test_each_segment_goes_in_one_request_sent_in_small_pieces(rig: Rig) -> None:
    connection, client = rig.client()
    try:
        uploaded = upload_recording(client, rig.recording, lambda _n: None)
    finally:
        connection.close()
    check_receipt(uploaded.receipt, rig.recording.manifest, rig.config.server_key)
    sizes = [f.size for f in rig.recording.manifest.files]
    assert len(sizes) == 2 and min(sizes) > SEGMENT
    assert connection.requests == ["GET", "PUT", "PATCH", "PATCH", "POST"]
    assert sum(connection.pieces) == uploaded.sent == sum(sizes)
    assert max(connection.pieces) == PIECE
    assert rig.state()["state"] == "complete"


def test_a_file_cut_short_on_the_card_while_it_is_sent_stops_as_damage(rig: Rig) -> None:
    first = rig.recording.directory / rig.recording.manifest.files[0].name
    before = first.read_bytes()

    def pace(count: int) -> None:
        if count and first.stat().st_size == len(before):  # hashed; now being sent
            with first.open("r+b") as stream:
                stream.truncate(100_000)

    connection, client = rig.client()
    try:
        with pytest.raises(DamagedOnCardError) as raised:
            upload_recording(client, rig.recording, pace)
    finally:
        connection.close()
    assert f"{first.name} of {rig.recording.recording_id} ends at 100000 bytes" in str(
        raised.value)
    assert connection.requests == ["GET", "PUT", "PATCH"]
    state = rig.state()
    assert state["state"] != "complete" and state["receipt"] is False
    assert sorted(p.name for p in rig.recording.directory.iterdir()) == [
        "00000.age", "00001.age", "manifest.jsonl"]  # the camera removed nothing


def test_digests_made_ahead_are_those_of_the_range_or_none(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000
    (tmp_path / "00000.age").write_bytes(data)
    with DigestsAhead(tmp_path) as ahead:
        ahead.plan("00000.age", 1000, 2_000_000)
        ahead.plan("00000.age", 0, len(data) + 1)  # past the end: short on the card
        ahead.plan("00001.age", 0, 10)  # not on the card
        assert ahead.take("00000.age", 1000, 2_000_000) == hashlib.sha256(
            data[1000:2_001_000]).digest()
        assert ahead.take("00000.age", 0, len(data) + 1) is None
        assert ahead.take("00001.age", 0, 10) is None
        assert ahead.take("00000.age", 5, 5) is None  # never planned: the sender hashes

"""Driving a simulated camera through a dock offload, for the end-to-end offload tests
(test_offload_end_to_end.py, test_offload_link_faults.py, server/test_server_cameras.py).

The camera is tests/device_rig.py's simulated device (the `make_sim_device` fixture).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import pytest
from device_rig import MakeDevice, RunningSimDevice
from offload_server import EvidenceServer

from bodycam.firmware.device.identity import IDENTITY_SNAPSHOT
from bodycam.firmware.evidence.offloaded import RECEIPT_NAME
from bodycam.firmware.offload.card import CardRecording, read_recording
from bodycam.firmware.offload.connection import Connection
from bodycam.firmware.offload.protocol import OffloadClient
from bodycam.firmware.offload.timesync import SimClockSetter, TimeSync, take_server_time
from bodycam.firmware.offload.upload import Uploaded, upload_recording
from bodycam.tools.custody.cli import main as evidence_main

__all__ = ["OFFLOAD_S", "assert_held_whole", "booted", "camera_client", "card_of", "dock",
           "docked_and_held_whole", "events", "files_of", "finished", "record",
           "upload_by_hand", "verify"]

OFFLOAD_S: Final = 180.0  # real seconds an offload may take on the shared test machine




def booted(make_sim_device: MakeDevice, server: EvidenceServer, *overrides: str,
           enrol: bool = True, name: str = "device", **changes: str) -> RunningSimDevice:
    """A simulated camera provisioned with the server's camera-offload.toml (and enrolled
    there, as the administrator does with its BODYCAM-IDENTITY.txt)."""
    rig = make_sim_device(*server.overrides(**changes), *overrides, name=name,
                          clock_corrector=SimClockSetter())
    if enrol:
        server.enrol(rig.config.storage.state_dir / IDENTITY_SNAPSHOT)
    return rig


def record(rig: RunningSimDevice, seconds: float) -> Path:
    """Record for `seconds`, stop, wait for the seal; the recording's directory."""
    start = len(rig.audit())
    rig.tap("record")
    rig.wait_state("recording")
    rig.sleep(seconds)
    rig.hold("record", 3.5)
    found = rig.wait_audit(lambda r: r["event"] == "recording_sealed", after=start)
    recording_id = rig.audit()[found]["recording_id"]
    return Path(rig.device.store.evidence_dir) / recording_id


def dock(rig: RunningSimDevice, docked: bool = True) -> int:
    """Put the camera into (or take it out of) the dock; the audit index before."""
    start = len(rig.audit())
    rig.hardware.power.set_docked(docked)
    rig.hardware.power.set_charging(docked)
    return start


def finished(rig: RunningSimDevice, after: int) -> dict[str, Any]:
    found = rig.wait_audit(lambda r: r["event"] == "offload_finished", after=after,
                           timeout=OFFLOAD_S)
    return rig.audit()[found]


def events(rig: RunningSimDevice, after: int, name: str) -> list[dict[str, Any]]:
    return [r for r in rig.audit()[after:] if r["event"] == name]


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`bodycam-evidence verify ARGS`: exit code and everything it printed."""
    capsys.readouterr()
    code = evidence_main(["verify", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def files_of(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@contextmanager
def camera_client(rig: RunningSimDevice) -> Iterator[OffloadClient]:
    """An offload client with the camera's own keys and the server's time: the camera's
    protocol code, driven by a test outside the camera's worker."""
    offload = rig.config.offload
    connection = Connection(offload)
    sync: list[TimeSync] = []
    client = OffloadClient(connection, rig.device.identity.session, rig.config.device.id,
                           lambda: sync[0].server_now(rig.clock))
    try:
        sync.append(take_server_time(client, offload.server_key, rig.clock))
        yield client
    finally:
        connection.close()


def card_of(recording: Path) -> CardRecording:
    card = read_recording(recording)
    assert card is not None, f"{recording} is not a sealed recording"
    return card


def upload_by_hand(rig: RunningSimDevice, recording: Path,
                   pace: Callable[[int], None] = lambda _n: None) -> Uploaded:
    """Upload `recording` with the camera's own offload code and keys, outside its worker:
    what a dock session did before the camera could keep the receipt (a power cut), or a
    receipt for a test to tamper with. Nothing on the card changes."""
    with camera_client(rig) as client:
        return upload_recording(client, card_of(recording), pace)


def assert_held_whole(server: EvidenceServer, rig: RunningSimDevice, recording: Path, *,
                      before: dict[str, bytes], out: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    """The end state after every fault: complete on the server, fetched back byte for
    byte, the card down to manifest + receipt and verifying as offloaded."""
    [item] = [r for r in server.recordings() if r["id"] == recording.name]
    assert item["state"] == "complete", item
    fetched = server.fetch(recording.name, out)
    assert fetched.returncode == 0, fetched.stderr
    [copy] = list(out.rglob("manifest.jsonl"))
    assert files_of(copy.parent) == before
    assert sorted(os.listdir(recording)) == ["manifest.jsonl", RECEIPT_NAME]
    rig.stop()
    code, said = verify(capsys, str(rig.config.storage.data_dir), "--server-key",
                        server.offload["server_key"])
    assert code == 0, said


def docked_and_held_whole(server: EvidenceServer, rig: RunningSimDevice, recording: Path, *,
                          before: dict[str, bytes], out: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    """Dock (again, once the fault is mended): one clean pass, then the usual end state."""
    start = dock(rig)
    done = finished(rig, start)
    assert (done["offloaded"], done["refused"], done["left"]) == (1, 0, 0), done
    assert_held_whole(server, rig, recording, before=before, out=out, capsys=capsys)

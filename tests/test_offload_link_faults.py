"""The issue's faults end to end, each with the same end state: the server holds the whole
recording `complete`, byte-identical and verifiable, and the camera removed only what a
valid receipt covered. The camera is the whole simulated device; the server a real
`bodycam-server serve`.

Over a real network link (tools/dev/netns.py): the camera in this network namespace, the
server in another, joined by a veth pair shaped like a slow dock uplink: the cable cut
mid-segment, the server killed mid-upload. On loopback: the server's disk full, the same
upload sent twice. (The camera killed
mid-upload, a damaged segment, another server's identity and forged receipts are in
test_offload_end_to_end.py; eight cameras at once in server/test_server_cameras.py.)
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from device_rig import MakeDevice
from offload_rig import (
    OFFLOAD_S,
    assert_held_whole,
    booted,
    camera_client,
    card_of,
    dock,
    events,
    files_of,
    finished,
    record,
    upload_by_hand,
)
from offload_server import EvidenceServer, evidence_server, make_server
from small_disk import fill, mounted_small_disk
from test_netns import need_root

from bodycam.firmware.evidence.offloaded import RECEIPT_NAME
from bodycam.firmware.offload.protocol import PatchBody
from bodycam.tools.dev.netns import VethLink

__all__ = ["evidence_server"]  # the fixture (a server on loopback)

pytestmark = pytest.mark.slow
UPLINK_MBIT = 0.5  # a segment of the test's video takes a few seconds: time to cut it
BODY_IDLE_S = 3
QUICK_RETRY = ("offload.timeout_seconds=5", "offload.retry_max_seconds=5")


@pytest.fixture
def link() -> Iterator[VethLink]:
    need_root()
    with VethLink(rate_mbit=UPLINK_MBIT) as made:
        yield made


@pytest.fixture
def far_server(tmp_path: Path, link: VethLink) -> Iterator[EvidenceServer]:
    """init for the far end's address; serve runs inside the far namespace."""
    server = make_server(tmp_path, host=link.far_address, prefix=tuple(link.prefix))
    settings = server.data_dir / "server.toml"  # give a silent body up soon (default 120)
    text = settings.read_text()
    assert "body_idle_seconds = 120\n" in text
    settings.write_text(text.replace("body_idle_seconds = 120",
                                     f"body_idle_seconds = {BODY_IDLE_S}"))
    server.start()
    yield server
    server.stop()


def spooled(server: EvidenceServer) -> int:
    """Bytes of the largest PATCH body the server is receiving right now (its folder
    store spools a body under blobs/tmp until the request ends)."""
    sizes = [0]
    for path in (server.data_dir / "blobs" / "tmp").glob("spool-*"):
        try:
            sizes.append(path.stat().st_size)
        except FileNotFoundError:
            continue  # finished meanwhile
    return max(sizes)


def wait_mid_body(server: EvidenceServer, least: int) -> int:
    """Wait until a segment's body is on its way (at least `least` bytes arrived)."""
    deadline = time.monotonic() + OFFLOAD_S
    while time.monotonic() < deadline:
        seen = spooled(server)
        if seen >= least:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"no upload got under way: {server.log.read_text()[-2000:]}")


def stored_mid_file(server: EvidenceServer, sizes: list[int]) -> int:
    """Wait until the server counts bytes of a partly sent file (it gave up on the silent
    body and kept what arrived); its bytes stored."""
    whole_files = {sum(sizes[:n]) for n in range(len(sizes) + 1)}
    deadline = time.monotonic() + OFFLOAD_S
    while time.monotonic() < deadline:
        [item] = server.recordings()
        if item["bytes_stored"] not in whole_files:
            return int(item["bytes_stored"])
        time.sleep(0.2)
    raise AssertionError(f"the server kept no part of the cut segment: {item}")


def test_a_link_cut_mid_segment_resumes_at_the_byte_where_it_stopped(
        make_sim_device: MakeDevice, link: VethLink, far_server: EvidenceServer,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The cable is pulled while a segment's body is on its way: no FIN, no RST reaches
    the server. It gives the silent body up after `body_idle_seconds` and keeps what
    came; the camera times out, and once the link is back resumes at exactly that byte.
    On a slow uplink (0.5 Mbit/s) no healthy request times out meanwhile."""
    rig = booted(make_sim_device, far_server, *QUICK_RETRY)
    recording = record(rig, 8)
    before = files_of(recording)
    sizes = [len(data) for name, data in sorted(before.items()) if name != "manifest.jsonl"]
    start = dock(rig)
    seen = wait_mid_body(far_server, 64 * 1024)
    link.cut()  # the dock's cable pulled while a segment is half sent
    found = rig.wait_audit(lambda r: r["event"] == "offload_failed", after=start,
                           timeout=OFFLOAD_S)
    assert rig.audit()[found]["code"] == "unreachable"
    stored = stored_mid_file(far_server, sizes)
    assert stored >= seen
    assert files_of(recording) == before  # no receipt, nothing removed
    assert not events(rig, start, "offload_receipt")
    link.restore()
    back = len(rig.audit())
    done = finished(rig, start)
    assert (done["offloaded"], done["refused"], done["left"]) == (1, 0, 0)
    [kept] = events(rig, start, "offload_receipt")
    assert kept["held"] == stored  # resumed at the byte the server held, nothing resent
    assert kept["held"] + kept["sent"] == kept["bytes"] == sum(sizes)
    assert not [r for r in events(rig, back, "offload_failed") if "timed out" in r["reason"]]
    assert_held_whole(far_server, rig, recording, before=before, out=tmp_path / "fetched",
                      capsys=capsys)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """The server's data directory fills up for real: an 8 MiB tmpfs."""
    with mounted_small_disk(tmp_path / "small-disk", size_mb=8) as mount:
        yield mount


def test_a_full_server_store_is_refused_clearly_and_the_camera_keeps_every_byte(
        make_sim_device: MakeDevice, small_disk: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The server's blob folder on a disk that is full: 507, the camera keeps everything,
    audits the refusal with the server's reason and raises the offload_failing alarm (the
    amber LED blinks and the buzzer sounds on their pins); space freed, it completes."""
    server = make_server(small_disk, "--database", f"sqlite:///{tmp_path / 'server.db'}")
    server.log = tmp_path / "server.log"  # not on the disk that fills up
    settings = server.data_dir / "server.toml"
    settings.write_text(settings.read_text().replace("reserve_mb = 64", "reserve_mb = 0"))
    server.start()
    try:
        rig = booted(make_sim_device, server, *QUICK_RETRY)
        recording = record(rig, 6)
        before = files_of(recording)
        filler = fill(small_disk, 16 * 1024)
        pins = len(rig.output_changes())
        start = dock(rig)
        found = rig.wait_audit(lambda r: r["event"] == "offload_refused", after=start,
                               timeout=OFFLOAD_S)
        refusal = rig.audit()[found]
        assert (refusal["code"], refusal["by"]) == ("storage_full", "server")
        assert "is full" in refusal["reason"] and "Fix: free space" in refusal["reason"]
        alarm = rig.wait_audit(lambda r: r["event"] == "alarm" and
                               r["alarm"] == "offload_failing", after=start)
        assert "storage_full" in rig.audit()[alarm]["detail"]
        rig.wait_until(lambda: rig.device.controller.dock_activity == "failing")

        def sounded(pin: str) -> int:
            changes = rig.output_changes(pins)
            return min(changes.count((pin, True)), changes.count((pin, False)))

        rig.wait_until(lambda: sounded("led_amber") >= 2 and sounded("buzzer") >= 2)
        assert files_of(recording) == before  # every byte kept, no receipt
        assert not events(rig, start, "offload_receipt")
        assert [item["state"] for item in server.recordings()] in ([], ["receiving"])

        filler.unlink()  # the administrator frees space; the next retry gets through
        done = finished(rig, start)
        assert (done["offloaded"], done["refused"], done["left"]) == (1, 0, 0)
        rig.wait_audit(lambda r: r["event"] == "alarm_cleared" and
                       r["alarm"] == "offload_failing", after=start)
        assert_held_whole(server, rig, recording, before=before, out=tmp_path / "fetched",
                          capsys=capsys)
    finally:
        server.stop()


def test_the_server_killed_mid_upload_restarts_and_the_camera_completes(
        make_sim_device: MakeDevice, far_server: EvidenceServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """SIGKILL while a segment's body streams in (its spool dies with it); the camera
    keeps everything and retries; the restarted server on the same data says where to go
    on: nothing it had counted is sent again."""
    rig = booted(make_sim_device, far_server, *QUICK_RETRY)
    recording = record(rig, 8)
    before = files_of(recording)
    start = dock(rig)
    deadline = time.monotonic() + OFFLOAD_S  # a segment stored, the next one on its way
    while not far_server.recordings() or far_server.recordings()[0]["bytes_stored"] == 0:
        assert time.monotonic() < deadline, far_server.log.read_text()[-2000:]
        time.sleep(0.2)
    wait_mid_body(far_server, 64 * 1024)
    far_server.stop(signal.SIGKILL)
    rig.wait_audit(lambda r: r["event"] == "offload_failed", after=start, timeout=OFFLOAD_S)
    assert files_of(recording) == before  # no receipt, nothing removed
    assert not events(rig, start, "offload_receipt")
    [item] = far_server.recordings()
    counted = item["bytes_stored"]
    assert counted > 0
    far_server.start()  # systemd restarts it: same data directory, same port
    done = finished(rig, start)
    assert (done["offloaded"], done["refused"], done["left"]) == (1, 0, 0)
    [kept] = events(rig, start, "offload_receipt")
    assert kept["held"] == counted  # resumed where the server's database says
    assert kept["held"] + kept["sent"] == kept["bytes"]
    assert_held_whole(far_server, rig, recording, before=before, out=tmp_path / "fetched",
                      capsys=capsys)


def stored_blobs(server: EvidenceServer) -> list[str]:
    root = server.data_dir / "blobs"
    return sorted(str(p.relative_to(root)) for part in ("blobs", "pieces")
                  for p in (root / part).rglob("*") if p.is_file())


def test_the_same_upload_sent_twice_is_stored_once_and_the_receipt_is_the_same(
        make_sim_device: MakeDevice, evidence_server: EvidenceServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A dock session got the server's receipt but the power went before the camera kept
    it: at the next dock the camera sends the recording again. The server stores nothing
    new and hands out the same receipt; the camera removes its copy once."""
    rig = booted(make_sim_device, evidence_server)
    recording = record(rig, 3)
    before = files_of(recording)
    first = upload_by_hand(rig, recording)
    assert files_of(recording) == before
    objects = stored_blobs(evidence_server)
    start = dock(rig)
    done = finished(rig, start)
    assert (done["offloaded"], done["refused"], done["left"]) == (1, 0, 0)
    [kept] = events(rig, start, "offload_receipt")
    assert (kept["sent"], kept["held"]) == (0, kept["bytes"])  # nothing went twice
    assert json.loads((recording / RECEIPT_NAME).read_bytes()) == json.loads(first.receipt)
    assert len(events(rig, start, "offload_removed")) == 1
    after = stored_blobs(evidence_server)  # the dock also sent the audit log's new lines
    assert set(objects) <= set(after) and not [o for o in after if o.startswith("pieces/")]
    ours = {hashlib.sha256(data).hexdigest() for data in before.values()}
    assert not {Path(o).name for o in set(after) - set(objects)} & ours  # none stored again
    assert_held_whole(evidence_server, rig, recording, before=before,
                      out=tmp_path / "fetched", capsys=capsys)


def test_one_file_sent_twice_at_once_is_stored_once_and_counted_as_held(
        make_sim_device: MakeDevice, evidence_server: EvidenceServer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Two uploads of the same segment race (as the late rest of a cut-off body and the
    resumed upload do): of two claims on one offset exactly one counts; the camera, told
    the server's new offset, goes on from there, and its audit counts those bytes as held
    by the server, not as lost: held + sent = every byte of the recording."""
    rig = booted(make_sim_device, evidence_server)
    recording = record(rig, 6)
    before = files_of(recording)
    first = card_of(recording).manifest.files[0]
    data = before[first.name]
    half = len(data) // 2
    raced: list[int] = []

    def race(_count: int) -> None:  # runs before the camera's first byte of the file
        if not raced:
            with camera_client(rig) as other:
                body = PatchBody(half, hashlib.sha256(data[:half]).digest(), [data[:half]])
                raced.append(other.patch_file(recording.name, first.name, 0, body).offset)

    uploaded = upload_by_hand(rig, recording, race)
    assert raced == [half]
    sizes = sum(len(v) for name, v in before.items() if name != "manifest.jsonl")
    assert (uploaded.held, uploaded.sent) == (half, sizes - half)
    start = dock(rig)  # the camera's worker keeps that receipt and removes its copy
    done = finished(rig, start)
    assert (done["offloaded"], done["refused"], done["left"]) == (1, 0, 0)
    assert_held_whole(evidence_server, rig, recording, before=before,
                      out=tmp_path / "fetched", capsys=capsys)

"""No plaintext media ever touches storage (DESIGN.md property 1), checked on the disk.

The real device program records on the simulated hardware while this test walks the
whole data directory and the state directory beside it over and over, and once more after it
stopped, looking for the signatures of plaintext media: MPEG-TS packets, H.264
parameter sets and IDR slices, AAC ADTS frames. The scanner is shown to find each of
them in real plaintext decrypted from the same recording (in memory), so a pass means
something. File modes are checked too: nothing world-readable, the device key 0600.
"""

from __future__ import annotations

import io
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from bodycam.firmware.evidence.age import decrypt
from bodycam.firmware.evidence.age.keys import read_identity_file
from bodycam.tools.bench.powerloss import FAST_VIDEO, SimProcess, make_identity, write_scenario

pytestmark = pytest.mark.slow

TS_PACKET = 188
TS_RUN = 5  # sync bytes in a row: chance in ciphertext about 2**-40 per offset
SPS, PPS = b"\x00\x00\x00\x01\x67", b"\x00\x00\x00\x01\x68"  # 2**-40 per offset
# x264 starts IDR slices with the 3-byte start code; 4 bytes alone would be too common
# in ciphertext (2**-32 per offset), so an IDR counts when it follows a PPS closely.
IDR, IDR_AFTER_PPS = b"\x00\x00\x01\x65", 1024
ADTS_RUN = 3  # ADTS headers each exactly one frame length after the previous
PRESS_AT_S, END_AT_S, SPEED = 1.0, 5.0, 3.0


def ts_run_at(data: bytes) -> int | None:
    """Offset of TS_RUN 0x47 sync bytes spaced 188 bytes apart, if any."""
    span = TS_PACKET * (TS_RUN - 1)
    if len(data) <= span:
        return None
    sync = np.frombuffer(data, dtype=np.uint8) == 0x47
    run = sync[:len(data) - span].copy()
    for k in range(1, TS_RUN):
        run &= sync[k * TS_PACKET:len(data) - span + k * TS_PACKET]
    hits = np.flatnonzero(run)
    return int(hits[0]) if hits.size else None


def h264_markers(data: bytes) -> list[str]:
    """Which of SPS, PPS and IDR slice (Annex-B start code + NAL header) occur."""
    found = [name for name, marker in (("SPS", SPS), ("PPS", PPS)) if marker in data]
    at = data.find(PPS)
    while at >= 0:
        if data.find(IDR, at, at + IDR_AFTER_PPS) >= 0:
            return [*found, "IDR"]
        at = data.find(PPS, at + 1)
    return found


def adts_run_at(data: bytes) -> int | None:
    """Offset of ADTS_RUN chained AAC frames (FFF1/FFF9, same stream parameters)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size < 7:
        return None
    candidates = np.flatnonzero((raw[:-1] == 0xFF) & ((raw[1:] == 0xF1) | (raw[1:] == 0xF9)))
    for start in candidates.tolist():
        at, fixed = start, data[start + 2] & 0xFD  # profile, rate index, channel high bit
        for _ in range(ADTS_RUN):
            header = data[at:at + 7]
            length = _adts_length(header, fixed)
            if length is None:
                break
            at += length
        else:
            return int(start)
    return None


def _adts_length(header: bytes, fixed: int) -> int | None:
    if len(header) < 7 or header[0] != 0xFF or header[1] not in (0xF1, 0xF9):
        return None
    if header[2] & 0xFD != fixed or (header[2] >> 2) & 0xF > 12:
        return None
    length = ((header[3] & 0x03) << 11) | (header[4] << 3) | (header[5] >> 5)
    return length if length >= 7 else None


def plaintext_found(data: bytes) -> list[str]:
    """Every kind of plaintext media signature in `data` (empty: none)."""
    found = []
    if (at := ts_run_at(data)) is not None:
        found.append(f"MPEG-TS packets at {at}")
    found += [f"H.264 {name}" for name in h264_markers(data)]
    if (at := adts_run_at(data)) is not None:
        found.append(f"AAC ADTS frames at {at}")
    return found


def scan_tree(root: Path) -> dict[str, list[str]]:
    """Plaintext signatures per file below `root`; files vanishing mid-walk are skipped."""
    findings: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        try:
            if not path.is_file():
                continue
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # renamed meanwhile (.partial -> .age); the next pass reads it
        if found := plaintext_found(data):
            findings[str(path.relative_to(root))] = found
    return findings


@dataclass(frozen=True)
class Recorded:
    data_dir: Path
    state_dir: Path  # the simulator keeps it beside the data directory, never inside
    identity: Path
    passes: int  # scans of the whole tree while the program was running
    findings: dict[str, list[str]]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    """Record with the real program, scanning the data directory all the while."""
    work = tmp_path_factory.mktemp("noplain")
    recipient, identity = make_identity(work)
    data_dir, state_dir = work / "data", work / "data-state"
    scenario = write_scenario(work / "record.toml", press_at_s=PRESS_AT_S, end_at_s=END_AT_S)
    sim = SimProcess(data_dir=data_dir, recipient=recipient, scenario=scenario, speed=SPEED,
                     settings=(*FAST_VIDEO, "evidence.segment_seconds=2"),
                     log_path=work / "sim.log", umask=0)  # modes as the firmware sets them
    findings: dict[str, list[str]] = {}
    passes = 0
    try:
        sim.wait_for_state("recording", timeout=60)
        while sim.proc.poll() is None:
            if data_dir.is_dir():
                findings.update(scan_tree(data_dir))
                findings.update(scan_tree(state_dir))
                passes += 1
            time.sleep(0.01)
        assert sim.wait(timeout=60) == 0
    finally:
        sim.close()
    findings.update(scan_tree(data_dir))
    findings.update(scan_tree(state_dir))
    return Recorded(data_dir, state_dir, identity, passes, findings)


def _decrypted_segment(data_dir: Path, identity: Path) -> bytes:
    segment = sorted((data_dir / "evidence").glob("*/00000.age"))[0]
    plaintext = io.BytesIO()  # memory only: plaintext must not reach the disk here either
    with segment.open("rb") as src:
        decrypt(read_identity_file(identity), src, plaintext)
    return plaintext.getvalue()


def _adts_stream(ts: bytes) -> bytes:
    """The segment's AAC frames as a raw ADTS stream (what a careless muxer would write)."""
    out = io.BytesIO()
    with av.open(io.BytesIO(ts), "r", format="mpegts") as src, \
            av.open(out, "w", format="adts") as dst:
        audio = src.streams.audio[0]
        stream = dst.add_stream_from_template(audio)
        for packet in src.demux(audio):
            if packet.size:
                packet.stream = stream
                dst.mux(packet)
    return out.getvalue()


def test_scanner_detects_each_kind_of_plaintext(recorded: Recorded) -> None:
    ts = _decrypted_segment(recorded.data_dir, recorded.identity)
    assert ts_run_at(ts) is not None
    assert h264_markers(ts) == ["SPS", "PPS", "IDR"]
    adts = _adts_stream(ts)
    assert adts_run_at(adts) is not None
    # The same signatures survive being embedded anywhere in a larger file.
    assert len(plaintext_found(b"\x01" * 1001 + ts[:8 * TS_PACKET])) >= 2
    assert adts_run_at(b"\x02" * 333 + adts) == 333


def test_tree_scan_flags_a_plaintext_file(recorded: Recorded, tmp_path: Path) -> None:
    ts = _decrypted_segment(recorded.data_dir, recorded.identity)
    (tmp_path / "evidence" / "rec").mkdir(parents=True)
    (tmp_path / "evidence" / "rec" / "00000.age").write_bytes(ts[:20_000])
    (tmp_path / "manifest.jsonl").write_bytes(b'{"event":"header"}\n')
    assert list(scan_tree(tmp_path)) == ["evidence/rec/00000.age"]


def test_no_plaintext_on_storage_during_and_after_recording(recorded: Recorded) -> None:
    assert recorded.passes >= 5, "the recording was too short to be scanned while running"
    assert sorted((recorded.data_dir / "evidence").glob("*/0000[0-9].age")), \
        "nothing was recorded"
    assert recorded.findings == {}


def test_nothing_in_the_data_dir_is_world_readable(recorded: Recorded) -> None:
    exposed = {str(p): oct(stat.S_IMODE(p.stat().st_mode))
               for tree in (recorded.data_dir, recorded.state_dir)
               for p in tree.rglob("*") if p.stat().st_mode & stat.S_IRWXO}
    assert exposed == {}
    key = recorded.state_dir / "device-ed25519.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600

"""A benchmark camera's card: a device key and sealed recordings of realistic segments.

The recordings are made by the camera's own evidence store (age encryption, signed
manifest, seal), so the server verifies them exactly as it verifies a real camera's.
Only the plaintext is synthetic: MPEG-TS packets of random payload instead of encoded
video (once encrypted, the server cannot tell, and the offload never looks inside), so
making a gigabyte costs seconds, not an encoder's minutes. The default segment is what
the shipped configuration writes: 10 s at 4000 + 96 kbit/s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from bodycam.firmware import __version__
from bodycam.firmware.device.identity import identity_text
from bodycam.firmware.evidence.age.keys import generate_identity
from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.store import FileEvidenceStore
from bodycam.hal.clocks import ManualClock

__all__ = ["DEFAULT_SEGMENT_BYTES", "BenchDevice", "make_device", "make_recordings"]

TS_PACKET: Final = 188
# 10 s of the default 4000 kbit/s video + 96 kbit/s audio (config/defaults.toml).
DEFAULT_SEGMENT_BYTES: Final = 10 * (4000 + 96) * 1000 // 8
_WRITE: Final = 348 * TS_PACKET  # ~64 KiB per write, as the muxer hands over
_SEGMENT_US: Final = 10_000_000


@dataclass(frozen=True)
class BenchDevice:
    """A camera as the server knows it: its id, key directory and identity file."""

    device_id: str
    state_dir: Path
    identity_file: Path

    def key_store(self) -> SoftwareKeyStore:
        return SoftwareKeyStore.open(self.state_dir)


def make_device(directory: Path, device_id: str) -> BenchDevice:
    """A new device key in `directory`/state and the BODYCAM-IDENTITY.txt to enrol."""
    state = directory / "state"
    store = SoftwareKeyStore.create(state)
    identity = directory / "BODYCAM-IDENTITY.txt"
    identity.write_text(identity_text(device_id, store.kind, SessionKey(
        store, ManualClock()).device_key), newline="")
    return BenchDevice(device_id, state, identity)


def _media(size: int) -> bytes:
    """`size` bytes of TS packets (sync byte, random rest): incompressible like video."""
    packets = bytearray(os.urandom(size))
    packets[::TS_PACKET] = b"\x47" * len(range(0, size, TS_PACKET))
    return bytes(packets)


def make_recordings(device: BenchDevice, evidence_root: Path, *, count: int, segments: int,
                    segment_bytes: int) -> Path:
    """`count` sealed recordings of `segments` segments in `evidence_root`/data (the
    card's data directory); returns the evidence directory the offload reads."""
    clock = ManualClock(start_wall=datetime.now(UTC))
    _secret, recipient = generate_identity()
    store = FileEvidenceStore(
        data_dir=evidence_root / "data", recipients=[recipient],
        signer=SessionKey(device.key_store(), clock), device_id=device.device_id,
        firmware_version=__version__, config_digest="bench", clock=clock, reserve_bytes=0,
        sync_interval=0.5)
    for _ in range(count):
        writer = store.begin_recording(wall_start=clock.wall(), clock_synchronised=True,
                                       prerecord_us=0)
        for index in range(segments):
            segment = writer.open_segment(index * _SEGMENT_US, clock.wall())
            media = _media(segment_bytes)
            for start in range(0, len(media), _WRITE):
                segment.write(media[start:start + _WRITE])
            clock.advance(10)
            segment.close((index + 1) * _SEGMENT_US)
        writer.seal("stopped")
        clock.advance(1)
    return store.evidence_dir

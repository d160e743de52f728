"""Shared builders for the evidence tests (no tests here): real keys, real recordings.

Named test_evidence_* so it sits with the tests it serves; the other test modules import
it as `test_evidence_support` (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.storage_space import FreeSpace
from bodycam.firmware.evidence.store import FileEvidenceStore, FileRecordingWriter
from bodycam.hal.clocks import ManualClock

# A payload-only MPEG-TS packet on PID 0x0011 (content is irrelevant to storage).
TS_PACKET = b"\x47\x00\x11\x10" + bytes(184)
GIB = 1024**3


@dataclass(frozen=True)
class AgeIdentity:
    identity_file: Path
    recipient: str


def age_identity(directory: Path) -> AgeIdentity:
    """A fresh key pair made by the real `age-keygen`."""
    path = directory / "authority.txt"
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    recipient = next(line.split(": ", 1)[1] for line in path.read_text().splitlines()
                     if line.startswith("# public key: "))
    return AgeIdentity(path, recipient)


def age_decrypt(identity: AgeIdentity, path: Path) -> subprocess.CompletedProcess[bytes]:
    """`age -d` on a file; returns the process (stdout = plaintext, even when truncated)."""
    return subprocess.run(["age", "-d", "-i", str(identity.identity_file), str(path)],
                          capture_output=True, check=False)


def new_session(clock: ManualClock | None = None) -> SessionKey:
    """A boot's session key, certified by a fresh in-memory software device key."""
    return SessionKey(SoftwareKeyStore.generate(), clock or ManualClock())


def make_store(tmp_path: Path, identity: AgeIdentity, clock: ManualClock, key: SessionKey, *,
               free: int = 100 * GIB, reserve: int = 0,
               free_space: FreeSpace | None = None) -> FileEvidenceStore:
    """A store whose free space is `free` bytes (or whatever `free_space` reports)."""
    return FileEvidenceStore(
        data_dir=tmp_path / "data", recipients=[identity.recipient], signer=key,
        device_id="BC-0001", firmware_version="0.1.0", config_digest="c0" * 32, clock=clock,
        reserve_bytes=reserve, sync_interval=0.5,
        free_space=free_space or (lambda _path: free))


def record(store: FileEvidenceStore, clock: ManualClock, segments: int = 2,
           packets: int = 800) -> FileRecordingWriter:
    """An open recording with `segments` closed segments (~150 kB each) and a marker."""
    writer = store.begin_recording(wall_start=clock.wall(), clock_synchronised=True,
                                   prerecord_us=5_000_000)
    for index in range(segments):
        start = index * 10_000_000
        segment = writer.open_segment(start, clock.wall())
        segment.write(TS_PACKET * packets)
        clock.advance(10)
        segment.close(start + 10_000_000)
        if index == 0:
            writer.add_marker(start + 3_000_000, clock.wall())
    return writer

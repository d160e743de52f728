"""A small signed recording made without a camera: what the key holder's benchmark (and
its unit tests) re-wrap. Real age files and a real signed manifest (session key
certified by a throwaway device key), with the records the key holder reads: header,
segment_open with preamble_sha256, segment with sha256."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodycam.firmware.evidence.age import AgeEncryptor
from bodycam.firmware.evidence.age.keys import parse_recipient
from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.signed_log import SignedLog
from bodycam.hal.clocks import ManualClock
from bodycam.server.keyholder.grant import GrantSegment, sign_grant
from bodycam.server.keyholder.request import UnwrapRequest, preamble_of

__all__ = ["request_for", "sample_recording"]


def _encrypted(data: bytes, recipients: list[str]) -> tuple[bytes, bytes]:
    """(the age file, its preamble: header and payload nonce)."""
    out = io.BytesIO()
    preamble: list[bytes] = []

    def sink(chunk: bytes) -> None:
        if not preamble:
            preamble.append(chunk)  # the encryptor hands over header + nonce first
        out.write(chunk)

    encryptor = AgeEncryptor([parse_recipient(r) for r in recipients], sink)
    encryptor.write(data)
    encryptor.close()
    return out.getvalue(), preamble[0]


def sample_recording(directory: Path, recipients: list[str], *, segments: int = 3,
                     segment_bytes: int = 200_000,
                     recording_id: str = "BC-0001-20250101T080000Z-3fa2") -> Path:
    """`directory/<recording_id>/` with manifest.jsonl and NNNNN.age; returns that path."""
    folder = directory / recording_id
    folder.mkdir(parents=True)
    clock = ManualClock()
    with SignedLog.open(folder / "manifest.jsonl",
                        SessionKey(SoftwareKeyStore.generate(), clock), clock) as manifest:
        manifest.append("header", format="bodycam-manifest/2", recording_id=recording_id,
                        device_id=recording_id.split("-2", maxsplit=1)[0])
        for index in range(segments):
            name = f"{index:05d}.age"
            data, preamble = _encrypted(os.urandom(segment_bytes), recipients)
            manifest.append("segment_open", index=index, file=name,
                            preamble_sha256=hashlib.sha256(preamble).hexdigest())
            (folder / name).write_bytes(data)
            manifest.append("segment", index=index, file=name, size=len(data),
                            sha256=hashlib.sha256(data).hexdigest())
        manifest.append("seal", reason="stopped by wearer", segments=segments, counter=None)
    return folder


def request_for(folder: Path, server_key: Ed25519PrivateKey, viewer: str, *,
                segments: list[str] | None = None, requested_by: str = "reviewer",
                reason: str = "benchmark of the key holder",
                lifetime: timedelta = timedelta(minutes=15),
                issued: datetime | None = None) -> UnwrapRequest:
    """A grant request for the sample recording in `folder`, signed by `server_key`."""
    manifest = (folder / "manifest.jsonl").read_bytes()
    names = segments or sorted(p.name for p in folder.glob("*.age"))
    chosen = [GrantSegment(n, hashlib.sha256((folder / n).read_bytes()).hexdigest())
              for n in names]
    grant = sign_grant(server_key, recording_id=folder.name,
                       manifest_sha256=hashlib.sha256(manifest).hexdigest(), segments=chosen,
                       viewer=viewer, requested_by=requested_by, approved_by="sample",
                       reason=reason, issued=issued or datetime.now(UTC), lifetime=lifetime)
    return UnwrapRequest(grant, manifest, {
        n: preamble_of((folder / n).read_bytes()[:64 * 1024]) for n in names})

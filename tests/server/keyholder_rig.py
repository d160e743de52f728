"""Helpers of the key holder tests: a real key holder directory (identity, log key,
settings, grant memory), a sample recording encrypted to its identity, a server key that
signs grants, and a viewer's own identity. Nothing is mocked: the checks, the re-wrap,
the log and the SQLite memory are the product's."""

from __future__ import annotations

import io
import json
import threading
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodycam.firmware.evidence.age import decrypt
from bodycam.firmware.evidence.age.keys import (
    format_identity_file,
    generate_identity,
    parse_identity,
    read_identity_file,
)
from bodycam.firmware.evidence.signed_log import read_records
from bodycam.server.identity.signing_key import public_b64
from bodycam.server.keyholder.config import SETTINGS_FILE
from bodycam.server.keyholder.holder import KeyHolder
from bodycam.server.keyholder.log import LOG_FILE
from bodycam.server.keyholder.request import UnwrapRequest, UnwrapResponse, apply_header
from bodycam.server.keyholder.sample import request_for, sample_recording
from bodycam.server.keyholder.service import KeyholderService
from bodycam.server.keyholder.setup import InitResult, initialise


@dataclass
class Clock:
    now: float = field(default_factory=lambda: datetime.now(UTC).timestamp())

    def __call__(self) -> float:
        return self.now


@dataclass
class Holder:
    """A key holder directory and what surrounds it."""

    directory: Path
    init: InitResult
    server_key: Ed25519PrivateKey
    viewer_secret: str
    viewer: str
    recording: Path
    clock: Clock

    def open(self) -> KeyHolder:
        return KeyHolder.open(self.directory, self.clock)

    def request(self, **kwargs: Any) -> UnwrapRequest:
        kwargs.setdefault("issued", datetime.fromtimestamp(self.clock.now, UTC))
        return request_for(self.recording, kwargs.pop("key", self.server_key),
                           kwargs.pop("viewer", self.viewer), **kwargs)

    def set(self, **limits: int) -> None:
        """Change limits in keyholder.toml (read at the next open)."""
        path = self.directory / SETTINGS_FILE
        lines = [line for line in path.read_text().splitlines()
                 if line.split(" = ")[0] not in limits]
        path.write_text("\n".join(lines + [f"{k} = {v}" for k, v in limits.items()]) + "\n")

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        records = read_records(self.directory / LOG_FILE)
        return [r for r in records if event is None or r["event"] == event]

    def authority_plaintext(self, name: str) -> bytes:
        """What the camera encrypted, opened with the authority identity itself."""
        out = io.BytesIO()
        decrypt(read_identity_file(self.directory / "authority.key"),
                io.BytesIO((self.recording / name).read_bytes()), out)
        return out.getvalue()


def viewer_file(holder: Holder, response: UnwrapResponse, name: str) -> bytes:
    """The segment as the viewer's age file: new header + the stored bytes after the old."""
    rewrapped = next(s for s in response.segments if s.file == name)
    return apply_header(rewrapped, (holder.recording / name).read_bytes())


def viewer_plaintext(holder: Holder, response: UnwrapResponse, name: str) -> bytes:
    out = io.BytesIO()
    decrypt([parse_identity(holder.viewer_secret)],
            io.BytesIO(viewer_file(holder, response, name)), out)
    return out.getvalue()


def make_holder(directory: Path, *, post_quantum: bool = False, segments: int = 3,
                socket: Path | None = None) -> Holder:
    server_key = Ed25519PrivateKey.generate()
    init = initialise(directory / "holder", public_b64(server_key), identity=None,
                      post_quantum=post_quantum, socket=socket or directory / "holder.sock",
                      group=None)
    recording = sample_recording(directory / "recordings", init.recipients, segments=segments,
                                 segment_bytes=150_000)
    secret, viewer = generate_identity()
    return Holder(directory / "holder", init, server_key, secret, viewer, recording, Clock())


def identity_file(directory: Path, secret: str) -> Path:
    path = directory / "viewer.key"
    path.write_text(format_identity_file(secret))
    path.chmod(0o600)
    return path


def settings(holder: Holder) -> dict[str, Any]:
    return tomllib.loads((holder.directory / SETTINGS_FILE).read_text())


def grant_json(request: UnwrapRequest) -> dict[str, Any]:
    return json.loads(json.dumps(request.grant))


def start_holder(holder_dir: Path) -> KeyholderService:
    """A key holder serving its socket from a thread of the test process."""
    service = KeyholderService(KeyHolder.open(holder_dir))
    threading.Thread(target=service.serve_forever, daemon=True).start()
    return service


def stop_holder(service: KeyholderService | None) -> None:
    """Stop it and close its socket and state (nothing if it is not running)."""
    if service is not None:
        service.shutdown()
        service.server_close()
        service.holder.close()

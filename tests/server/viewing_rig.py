"""Helpers of the player tests: a camera's real recording offloaded to a real server, a
key holder (in this process, on its own socket) holding the camera's authority identity,
the server connected to it, and accounts with TOTP secrets. What the camera saw comes
from the authority's own decrypt of the card's files (the key holder's copy), decoded
with PyAV: the browser's frames are compared against that."""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import av
import numpy as np
import numpy.typing as npt
import pytest
from keyholder_rig import start_holder, stop_holder
from people_rig import PASSWORD, code
from playwright.sync_api import Browser, Page, expect
from server_fixtures import Camera, Server
from server_rig import run_server

from bodycam.firmware.evidence.age import decrypt
from bodycam.firmware.evidence.age.keys import read_identity_file
from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.identity.signing_key import public_b64
from bodycam.server.keyholder.service import KeyholderService
from bodycam.server.keyholder.setup import initialise
from bodycam.server.people.accounts import add_user

REASON = "complaint 2026-114: review of the stop"
WAIT_MS: Final = 60_000  # a shared, slow machine: generous, and never a pass/fail figure
# reviewer (may view), administrator (no evidence), wearer (nothing on recordings)
ACCOUNTS = (("rita", "reviewer"), ("rick", "reviewer"), ("adam", "administrator"),
            ("walt", "wearer"))


@dataclass
class Viewing:
    server: Server
    camera: Camera
    context: ServerContext
    access: Access
    holder_dir: Path
    secrets: dict[str, str]
    service: KeyholderService | None = None
    log: list[str] = field(default_factory=list)

    @property
    def recording_id(self) -> str:
        return self.camera.recording.name

    def segments(self) -> list[Path]:
        return sorted(self.camera.recording.glob("*.age"))

    def start_holder(self) -> None:
        self.service = start_holder(self.holder_dir)

    def stop_holder(self) -> None:
        stop_holder(self.service)
        self.service = None

    def plaintext(self, name: str) -> bytes:
        """What the camera encrypted into segment `name` (the authority's own decrypt)."""
        out = io.BytesIO()
        decrypt(read_identity_file(self.holder_dir / "authority.key"),
                io.BytesIO((self.camera.recording / name).read_bytes()), out)
        return out.getvalue()


def open_viewing(server: Server, camera: Camera, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch | None) -> Iterator[Viewing]:
    """The body of the tests' `viewing` fixture: recording offloaded, key holder up and
    connected, no serve process running (each test starts what it needs)."""
    for name, value in server.backend.env.items():
        if monkeypatch is None:
            os.environ[name] = value
        else:
            monkeypatch.setenv(name, value)
    server.serve()
    client = server.client(camera)
    client.upload(camera.recording)
    client.close()
    server.stop()
    server.processes.clear()
    context = ServerContext.open(server.data_dir)
    access = Access.of(context)
    secrets = {}
    for username, role in ACCOUNTS:
        with access.work(CONSOLE, "user.add") as work:
            added = add_user(work, username, username.title(), PASSWORD, roles=[role])
        assert added.totp_secret is not None
        secrets[username] = added.totp_secret
    socket = tmp_path / "kh" / "keyholder.sock"
    init = initialise(tmp_path / "kh" / "holder", public_b64(context.signing_key),
                      identity=camera.authority.identity_file, post_quantum=False,
                      socket=socket, group=None)
    camera.authority.identity_file.unlink()  # the key holder's copy is the only one
    viewing = Viewing(server, camera, context, access, tmp_path / "kh" / "holder", secrets)
    viewing.start_holder()
    try:
        run_server("keyholder", "connect", "--data-dir", str(server.data_dir), "--socket",
                   str(socket), "--log-key", init.log_key, env=server.backend.env)
        yield viewing
    finally:  # also when a script closes the generator early
        viewing.stop_holder()
        server.stop()
        context.close()


Frame = npt.NDArray[np.uint8]


def alter_stored(viewing: Viewing, segment: Path) -> None:
    """Flip one bit of the segment's payload in the server's blob folder: its header still
    opens, its hash is not the one the camera signed."""
    stored = next((viewing.server.data_dir / "blobs").rglob(
        hashlib.sha256(segment.read_bytes()).hexdigest()))
    stored.chmod(0o644)
    data = bytearray(stored.read_bytes())
    data[-100] ^= 0x01
    stored.write_bytes(bytes(data))


def camera_frames(viewing: Viewing) -> list[tuple[float, Frame]]:
    """Every video frame of the recording as the camera encoded it: (presentation time
    in seconds, as the MPEG-TS carries it and MSE plays it; RGB), decoded from the
    authority's plaintext."""
    frames: list[tuple[float, Frame]] = []
    for path in viewing.segments():
        with av.open(io.BytesIO(viewing.plaintext(path.name)), format="mpegts") as container:
            for frame in container.decode(video=0):
                assert frame.pts is not None
                at = float(frame.pts * Fraction(frame.time_base))
                frames.append((at, frame.to_ndarray(format="rgb24")))
    return frames


def secrets_in(directory: Path, viewing: Viewing) -> list[str]:
    """Where under `directory` an age identity or a piece of any segment's plaintext
    lies (each segment's plaintext sampled at three places, 48 bytes each)."""
    needles = {b"AGE-SECRET-KEY": "an age identity"}
    for path in viewing.segments():
        plain = viewing.plaintext(path.name)
        for at in (400, len(plain) // 2, len(plain) - 600):
            needles[plain[at:at + 48]] = f"plaintext of {path.name} at {at}"
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {what}" for needle, what in needles.items()
                      if needle in data or needle.lower() in data]
    return found


def signed_in(browser: Browser, viewing: Viewing, username: str) -> Page:
    page = browser.new_context(ignore_https_errors=True,
                               viewport={"width": 1024, "height": 900}).new_page()
    page.goto(viewing.server.url + "/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(
        code(viewing.secrets[username], time.time()))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def press_play(page: Page, viewing: Viewing, reason: str = REASON) -> None:
    page.goto(f"{viewing.server.url}/recordings/{viewing.recording_id}")
    page.get_by_role("link", name="Play this recording").click()
    page.get_by_label("Reason for viewing (on record)").fill(reason)
    page.get_by_role("button", name="Play").click()


def stats(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate("() => window.bodycamPlayer")
    return found


def wait_until_all_decrypted(page: Page, viewing: Viewing) -> None:
    count = len(viewing.segments())
    page.wait_for_function(
        f"() => window.bodycamPlayer.decrypts.length === {count} || "
        "window.bodycamPlayer.error !== null", timeout=WAIT_MS)
    assert stats(page)["error"] is None, stats(page)["error"]

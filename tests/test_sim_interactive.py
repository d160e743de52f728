"""`bodycam sim` without a scenario on a terminal: the keyboard drives the buttons.

Runs the real program on a pseudo-terminal (what a developer's shell is), presses keys
and reads the status line it draws, then checks what the camera wrote.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from device_rig import AuthorityIdentity

from bodycam.firmware.evidence.verify import verify_log, verify_recording

STATE = re.compile(rb"state=(\w+)")

# `bodycam sim`'s own SimClock against key presses in real time: run with the realtime tests.
pytestmark = pytest.mark.realtime


class Terminal:
    def __init__(self, argv: list[str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=subprocess.DEVNULL,
                                     close_fds=True)
        os.close(slave)
        self.screen = b""

    def wait_for_state(self, state: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536)
                except OSError:  # the program closed the terminal
                    break
                states = STATE.findall(self.screen[-65536:])
                if states and states[-1].decode() == state:
                    return
        raise AssertionError(f"no state={state} on the terminal; last output: "
                             f"{self.screen[-300:]!r}")

    def key(self, char: str) -> None:
        os.write(self.master, char.encode())

    def close(self) -> int:
        """Wait for the program to end, reading the terminal so its writes never block."""
        deadline = time.monotonic() + 60
        try:
            while self.proc.poll() is None and time.monotonic() < deadline:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if ready:
                    try:
                        self.screen += os.read(self.master, 65536)
                    except OSError:
                        break
            return self.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            os.close(self.master)


def test_keys_drive_the_camera_and_the_screen_shows_state_and_display(
        tmp_path: Path, authority_identity: AuthorityIdentity) -> None:
    data = tmp_path / "cam"
    term = Terminal([sys.executable, "-m", "bodycam.firmware.cli", "sim", "--quiet",
                     "--data-dir", str(data), "--recipient", authority_identity.recipient,
                     "--speed", "2", "--set", "video.width=320", "--set", "video.height=180"])
    try:
        term.wait_for_state("idle")
        term.key("d")
        term.wait_for_state("display_on")
        assert b"\x1b[38;2;" in term.screen  # the front display as colour blocks
        term.key("r")
        term.wait_for_state("recording")
        time.sleep(0.5)  # let go of the first press (a key held twice is ignored)
        term.key("R")  # hold RECORD: stop
        term.wait_for_state("display_on")
        term.key("q")
    finally:
        code = term.close()
    assert code == 0
    recordings = sorted((data / "evidence").iterdir())
    assert len(recordings) == 1
    assert verify_recording(recordings[0]).status == "verified"
    assert verify_log(data / "audit" / "audit.jsonl").status == "verified"

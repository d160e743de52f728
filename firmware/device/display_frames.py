"""Writes the simulated front display to PNG files for people and tests to look at.

Called from the display thread with each shown frame (None when the panel goes off).
A file is written when the picture changes, at most every `min_interval` simulated
seconds for a live image (a mode change — on, off, fault — is always written), named by
simulated milliseconds, zero-padded to 8 digits (``00012345.png``), so the files sort
in time order and a GIF can be made from them.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from bodycam.hal.interfaces import Clock


def frame_file_name(t_seconds: float) -> str:
    return f"{round(t_seconds * 1000):08d}.png"


class PngFrameWriter:
    """A FrameObserver keeping the front display's history as PNG files (see above)."""

    def __init__(self, out_dir: Path, size: tuple[int, int], clock: Clock,
                 min_interval: float = 0.25) -> None:
        self._dir = out_dir
        self._dir.mkdir(parents=True, exist_ok=True)
        self._black = Image.new("RGB", size)
        self._clock = clock
        self._min_interval = min_interval
        self._last_bytes: bytes | None = None
        self._last_t = float("-inf")
        self._last_was_off: bool | None = None
        self.written = 0

    def __call__(self, image: Image.Image | None, t: float) -> None:
        off = image is None
        picture = self._black if image is None else image
        data = picture.tobytes()
        if data == self._last_bytes:
            return
        mode_change = off != self._last_was_off
        if not mode_change and t - self._last_t < self._min_interval:
            return
        picture.save(self._dir / frame_file_name(t))
        self._last_bytes, self._last_t, self._last_was_off = data, t, off
        self.written += 1

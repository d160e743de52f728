"""The synthetic picture the simulated camera films.

A scrolling colour texture and a bouncing square make motion (so the encoder does real
work and a frozen picture is visible), a burned-in line shows simulated wall and media
time, and every whole second of media time is one FULL WHITE frame: together with the
microphone's beep at the same instants it lets a test or a person measure A/V sync and
latency end to end from the recorded file alone.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

Rgb = npt.NDArray[np.uint8]

_SCROLL_PX_PER_FRAME = 4


def is_flash_frame(index: int, fps: int) -> bool:
    """Frame `index` of the absolute grid (media time index/fps) starts a whole second."""
    return index % fps == 0


class Scene:
    """Renders frame `index` of a `width` x `height` RGB scene; cheap enough for 30 fps."""

    def __init__(self, width: int, height: int) -> None:
        if width < 32 or height < 32:
            raise ValueError(f"scene size {width}x{height} is too small (min 32x32)")
        self.width = width
        self.height = height
        self._period = width  # texture repeats every `width` pixels horizontally
        self._texture = self._make_texture(width * 2, height)
        self._white: Rgb = np.full((height, width, 3), 255, dtype=np.uint8)
        self._text_height = max(12, height // 16)
        self._font = ImageFont.load_default(size=self._text_height - 2)
        self._box = max(8, height // 6)

    @staticmethod
    def _make_texture(width: int, height: int) -> Rgb:
        # Diagonal colour bands at moderate brightness, so the white flash stands out.
        y, x = np.mgrid[0:height, 0:width]
        phase = (x + y) * (2 * np.pi / 96.0)
        rgb = np.stack([np.sin(phase), np.sin(phase + 2.1), np.sin(phase + 4.2)], axis=-1)
        return ((rgb * 0.5 + 0.5) * 150 + 20).astype(np.uint8)

    def render(self, index: int, fps: int, wall: datetime) -> Rgb:
        """Frame `index` (media time index/fps seconds); `wall` is burned in as text."""
        if is_flash_frame(index, fps):
            return self._white.copy()
        shift = (index * _SCROLL_PX_PER_FRAME) % self._period
        frame = self._texture[:, shift:shift + self.width].copy()
        self._draw_box(frame, index)
        media_s = index / fps
        label = f"SIM {wall:%Y-%m-%d %H:%M:%S}.{wall.microsecond // 1000:03d}Z  t={media_s:.3f}s"
        self._draw_text(frame, label)
        return frame

    def _draw_box(self, frame: Rgb, index: int) -> None:
        span_x = self.width - self._box
        span_y = self.height - self._text_height - self._box
        # Triangle waves: the square bounces between the edges.
        x = abs((index * 5) % (2 * span_x) - span_x)
        y = self._text_height + abs((index * 3) % (2 * span_y) - span_y)
        frame[y:y + self._box, x:x + self._box] = (230, 40, 40)

    def _draw_text(self, frame: Rgb, label: str) -> None:
        strip = Image.new("RGB", (self.width, self._text_height), (0, 0, 0))
        ImageDraw.Draw(strip).text((2, 1), label, fill=(255, 255, 255), font=self._font)
        frame[:self._text_height] = np.asarray(strip)

"""Front-display images: the mirrored live view, the recording mark, the fault screen.

The person being filmed must see themselves as in a mirror, so the preview is flipped
horizontally; the overlay is drawn afterwards and never flipped, so "REC" reads correctly.
The recording mark is an opaque black box holding a red dot, "REC" and the elapsed time:
opaque so that it stays recognisable on any scene, and black/white on monochrome panels
so that it survives the panel's dithering unchanged.

The image is composed upright and then rotated by `rotation` degrees clockwise into the
panel's orientation (the same convention as luma's `rotate`, which must then stay 0).
Blanking the panel when the display is off is the display driver's job, not this one's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bodycam.hal.interfaces import PanelMode, PreviewFrame

Color = tuple[int, int, int]
BLACK: Color = (0, 0, 0)
WHITE: Color = (255, 255, 255)
RED: Color = (255, 0, 0)
AMBER: Color = (255, 176, 0)

_ROTATIONS = {0: None, 90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
              270: Image.Transpose.ROTATE_90}  # PIL's ROTATE_n turns counter-clockwise


@dataclass(frozen=True, slots=True)
class OverlayState:
    """What the overlay shows on top of the live image."""

    recording: bool = False
    elapsed_s: float = 0.0  # since the recording started
    marker_flash: bool = False  # a marker was just set
    battery_low: bool = False
    fault: str | None = None  # short reason word; replaces the live view with a fault screen


def format_elapsed(seconds: float) -> str:
    """mm:ss, or h:mm:ss from one hour on."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def _font(px: int) -> Font:
    return ImageFont.load_default(px)


@cache
def _bitmap_font() -> Font:
    """Pillow's built-in bitmap font: crisp without anti-aliasing, for monochrome panels."""
    return ImageFont.load_default_imagefont()


class DisplayRenderer:
    """Composes one RGB image of exactly `size` per call; keeps no per-frame state."""

    def __init__(self, size: tuple[int, int], mode: PanelMode = "RGB", mirror: bool = True,
                 rotation: int = 0) -> None:
        if rotation not in _ROTATIONS:
            raise ValueError(f"display rotation {rotation} is not supported; "
                             f"use one of {sorted(_ROTATIONS)} in [display] rotation")
        if mode not in ("RGB", "1"):
            raise ValueError(f"display mode {mode!r} is unknown; use 'RGB' or '1'")
        if min(size) < 32:
            raise ValueError(f"display size {size} is too small for a readable recording "
                             "mark; use a panel of at least 32x32 pixels")
        self.size = size
        self.mode = mode
        self.mirror = mirror
        self.rotation = rotation
        w, h = size
        self._canvas = (h, w) if rotation in (90, 270) else (w, h)
        self._pad = max(2, min(self._canvas) // 40)
        mono = mode == "1"
        self._font = _bitmap_font() if mono else _font(max(9, min(self._canvas) // 9))
        self._dot = WHITE if mono else RED  # the panel's dither keeps pure white/black
        self._warn = WHITE if mono else AMBER

    def render(self, preview: PreviewFrame | None, overlay: OverlayState) -> Image.Image:
        if overlay.fault is not None:
            image = self._fault_screen(overlay.fault)
        else:
            image = self._live(preview)
            draw = self._draw(image)
            if overlay.recording:
                self._rec_mark(draw, overlay.elapsed_s)
            if overlay.battery_low:
                self._battery_low(draw)
            if overlay.marker_flash:
                self._marker(draw)
        transpose = _ROTATIONS[self.rotation]
        return image if transpose is None else image.transpose(transpose)

    # ------------------------------------------------------------------ live view

    def _live(self, preview: PreviewFrame | None) -> Image.Image:
        if preview is None:
            return Image.new("RGB", self._canvas, BLACK)
        rgb = preview.rgb
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"preview frame must be HxWx3 uint8 RGB, got {rgb.shape} "
                             f"{rgb.dtype}; configure the camera's preview stream as RGB")
        h, w = rgb.shape[:2]
        cw, ch = self._canvas
        if w * ch > h * cw:  # wider than the panel: crop the sides
            keep = max(1, round(h * cw / ch))
            x0 = (w - keep) // 2
            rgb = rgb[:, x0:x0 + keep]
        else:  # taller: crop top and bottom
            keep = max(1, round(w * ch / cw))
            y0 = (h - keep) // 2
            rgb = rgb[y0:y0 + keep]
        if self.mirror:
            rgb = rgb[:, ::-1]
        image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
        if image.size != self._canvas:
            image = image.resize(self._canvas, Image.Resampling.BILINEAR)
        return image

    # ------------------------------------------------------------------ overlays

    def _draw(self, image: Image.Image) -> ImageDraw.ImageDraw:
        draw = ImageDraw.Draw(image)
        if self.mode == "1":
            draw.fontmode = "1"  # no grey anti-aliasing for the panel's dither to shred
        return draw

    def _text_box(self, draw: ImageDraw.ImageDraw, x: int, y: int, text: str, *,
                  lead: int = 0) -> tuple[int, int, int, int]:
        """Draw `text` on an opaque black box at (x, y); return the box.

        `lead` reserves space before the text (for the recording dot).
        """
        pad = self._pad
        gap = pad if lead else 0
        left, top, right, bottom = self._bbox(text)
        width = lead + gap + (right - left) + 2 * pad
        height = (bottom - top) + 2 * pad
        box = (x, y, x + width - 1, y + height - 1)
        draw.rectangle(box, fill=BLACK)
        draw.text((x + lead + gap + pad - left, y + pad - top), text, fill=WHITE,
                  font=self._font)
        return box

    def _bbox(self, text: str) -> tuple[int, int, int, int]:
        left, top, right, bottom = self._font.getbbox(text)
        return int(left), int(top), int(right), int(bottom)

    def _line_height(self) -> int:
        _, top, _, bottom = self._bbox("REC 0:")
        return bottom - top

    def _rec_mark(self, draw: ImageDraw.ImageDraw, elapsed_s: float) -> None:
        pad = self._pad
        dot = self._line_height()
        x0, y0, _, y1 = self._text_box(draw, pad, pad, f"REC {format_elapsed(elapsed_s)}",
                                       lead=dot)
        top = (y0 + y1 - dot) // 2 + 1
        draw.ellipse((x0 + pad, top, x0 + pad + dot - 1, top + dot - 1), fill=self._dot)

    def _battery_low(self, draw: ImageDraw.ImageDraw) -> None:
        pad = self._pad
        body_h = self._line_height()
        body_w = body_h * 2
        x1 = self._canvas[0] - pad - 1
        box = (x1 - body_w - 3 * pad, pad, x1, pad + body_h + 2 * pad - 1)
        draw.rectangle(box, fill=BLACK)
        bx0, by0 = box[0] + pad, box[1] + pad
        draw.rectangle((bx0, by0, bx0 + body_w - 1, by0 + body_h - 1), outline=WHITE)
        draw.rectangle((bx0 + body_w, by0 + body_h // 3, bx0 + body_w + pad - 1,
                        by0 + 2 * body_h // 3), fill=WHITE)  # the terminal nub
        draw.rectangle((bx0 + 2, by0 + 2, bx0 + 2 + max(1, body_w // 5), by0 + body_h - 3),
                       fill=self._warn)

    def _marker(self, draw: ImageDraw.ImageDraw) -> None:
        pad = self._pad
        height = self._line_height() + 2 * pad
        self._text_box(draw, pad, self._canvas[1] - pad - height, "MARK")

    def _fault_screen(self, reason: str) -> Image.Image:
        image = Image.new("RGB", self._canvas, BLACK)
        draw = self._draw(image)
        cw, ch = self._canvas
        big = _font(max(12, ch // 2))
        draw.text((cw // 2, ch * 2 // 5), "!", fill=self._warn, font=big, anchor="mm",
                  stroke_width=max(1, ch // 48), stroke_fill=self._warn)
        word = reason.upper()
        while word and self._font.getlength(word) > cw - 2 * self._pad:
            word = word[:-1]
        left, _, right, bottom = self._bbox(word)  # bitmap fonts have no anchors
        draw.text(((cw - (right - left)) // 2 - left, ch - self._pad - bottom), word,
                  fill=WHITE, font=self._font)
        return image

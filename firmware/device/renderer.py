"""Front-display images: the mirrored live view, the recording mark, the fault screen,
and the identity screen (the device key fingerprint, for the enrolment check).

The person being filmed must see themselves as in a mirror, so the preview is flipped
horizontally; the overlay is drawn afterwards and never flipped, so "REC" reads correctly.
The recording mark is an opaque black box holding a red dot, "REC" and the elapsed time:
opaque so that it stays recognisable on any scene, and black/white on monochrome panels
so that it survives the panel's dithering unchanged.

The image is composed upright and then rotated by `rotation` degrees clockwise into the
panel's orientation (the same convention as luma's `rotate`, which must then stay 0).
Blanking the panel when the display is off is the display driver's job, not this one's.

The identity screen lets a technician compare the fingerprint the custodian was given
(BODYCAM-IDENTITY.txt, from a removable card anyone could have edited) with what the
camera itself says, on a second channel (security audit L10). The fingerprint is drawn
in groups of four, as large as the panel allows: a scaled-up bitmap font on monochrome
panels (crisp through the dither), the TrueType default elsewhere.
"""

from __future__ import annotations

import re
import textwrap
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
    identity: IdentityCard | None = None  # replaces everything with the identity screen


@dataclass(frozen=True, slots=True)
class IdentityCard:
    """What the identity screen shows: the device id and its key's fingerprint."""

    device_id: str
    fingerprint: str  # as `bodycam identity` and BODYCAM-IDENTITY.txt print it


IDENTITY_TITLE = "DEVICE KEY"
GROUP = 4  # fingerprint characters per group, as people read them aloud
HEX_DIGITS = "0123456789abcdef"


def fingerprint_lines(fingerprint: str, per_line: int = 2) -> list[str]:
    """The fingerprint in groups of four, `per_line` groups to a line."""
    groups = textwrap.wrap(fingerprint, GROUP)
    return [" ".join(groups[i:i + per_line]) for i in range(0, len(groups), per_line)]


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
        if overlay.identity is not None:
            image = self._identity_screen(overlay.identity)
        elif overlay.fault is not None:
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

    # ------------------------------------------------------------------ identity screen

    def _identity_screen(self, card: IdentityCard) -> Image.Image:
        """The fingerprint as large as fits, centred; above it the title and below it the
        device id when the panel has room for them (a 128x32 panel shows only the
        fingerprint: it is what must be compared)."""
        image = Image.new("RGB", self._canvas, BLACK)
        cw, ch = self._canvas
        pad = self._pad
        title = self._text_image(IDENTITY_TITLE, self._font, 1)
        device_id = card.device_id
        while device_id and self._font.getlength(device_id) > cw - 2 * pad:
            device_id = device_id[:-1]
        footer = self._text_image(device_id, self._font, 1)
        lines = fingerprint_lines(card.fingerprint)
        for above, below in ((title, footer), (title, None), (None, None)):
            top = pad + (above.height + pad if above is not None else 0)
            bottom = ch - pad - (below.height + pad if below is not None else 0)
            blocks = self._fitting_lines(lines, (cw - 2 * pad, bottom - top))
            if blocks is not None:
                break
        else:
            blocks = [self._text_image(line, self._font, 1) for line in lines]
        if above is not None:
            self._centred(image, above, pad)
        if below is not None:
            self._centred(image, below, ch - pad - below.height)
        y = top + (bottom - top - sum(b.height for b in blocks)) // 2
        for block in blocks:
            self._centred(image, block, y)
            y += block.height
        return image

    def _fitting_lines(self, lines: list[str],
                       room: tuple[int, int]) -> list[Image.Image] | None:
        """The fingerprint lines at the largest size that fits `room` (width, height):
        integer scales of the bitmap font on monochrome panels (they stay crisp), the
        TrueType default down to 8 px elsewhere; None when nothing fits."""
        if self.mode == "1":
            fonts = [(self._font, scale) for scale in (3, 2, 1)]
        else:
            fonts = [(_font(px), 1) for px in range(room[1] // max(1, len(lines)), 7, -1)]
        for font, scale in fonts:
            # sized for the widest hex digit in every place, so that the size (and so the
            # layout) does not depend on which digits this fingerprint happens to have
            widest = max(HEX_DIGITS, key=font.getlength)
            worst = [re.sub(r"\S", widest, line) for line in lines]
            if _fits([self._text_image(line, font, scale) for line in worst], room):
                return [self._text_image(line, font, scale) for line in lines]
        return None

    def _text_image(self, text: str, font: Font, scale: int) -> Image.Image:
        """`text` in white on black, cropped to the ink rows of digits and letters plus a
        line gap, scaled by `scale` (nearest neighbour: bitmap pixels stay square)."""
        left, _, right, _ = (int(v) for v in font.getbbox(text or " "))
        top, bottom = _ink_rows(font, self.mode)
        gap = max(1, (bottom - top) // 4)
        image = Image.new("RGB", (max(1, right - left), bottom - top + gap), BLACK)
        draw = self._draw(image)
        draw.text((-left, -top), text, fill=WHITE, font=font)
        if scale == 1:
            return image
        return image.resize((image.width * scale, image.height * scale),
                            Image.Resampling.NEAREST)

    @staticmethod
    def _centred(image: Image.Image, block: Image.Image, y: int) -> None:
        image.paste(block, ((image.width - block.width) // 2, y))


@cache
def _ink_rows(font: Font, mode: PanelMode) -> tuple[int, int]:
    """First and last+1 pixel rows any character of a fingerprint, a title or a device id
    inks in `font` (a bitmap font's box includes empty rows above the capitals)."""
    sample = "0123456789abcdefABCDEFKVY-"
    left, top, right, bottom = (int(v) for v in font.getbbox(sample))
    image = Image.new("L", (right - left + 1, bottom - top + 1), 0)
    draw = ImageDraw.Draw(image)
    if mode == "1":
        draw.fontmode = "1"
    draw.text((-left, -top), sample, fill=255, font=font)
    ink = image.getbbox()
    if ink is None:
        return top, bottom
    return top + ink[1], top + ink[3]


def _fits(blocks: list[Image.Image], room: tuple[int, int]) -> bool:
    return max(b.width for b in blocks) <= room[0] and sum(b.height for b in blocks) <= room[1]

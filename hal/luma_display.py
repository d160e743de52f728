"""The front display on any luma.core device, shared by the Pi driver and the simulator.

The simulator wraps luma's `dummy` device and the Pi wraps ssd1351/ssd1331/ssd1306/sh1106,
so both run this same conversion code. It only adapts the image to the panel (size check,
colour mode); mirroring, cropping and overlays are the firmware renderer's job.
"""

from __future__ import annotations

import threading
from typing import Any

from PIL import Image

from bodycam.firmware.config.model import DisplayDriver
from bodycam.hal.interfaces import FrontDisplay, PanelMode

# Colour mode of each supported luma.oled driver.
DRIVER_MODES: dict[DisplayDriver, PanelMode] = {
    "ssd1351": "RGB",
    "ssd1331": "RGB",
    "ssd1306": "1",
    "sh1106": "1",
}


def rotate_steps(rotation_degrees: int) -> int:
    """luma's `rotate` argument (0-3 quarter turns clockwise) from [display] rotation."""
    if rotation_degrees % 90 or not 0 <= rotation_degrees < 360:
        raise ValueError(f"display rotation must be 0, 90, 180 or 270, got {rotation_degrees}")
    return rotation_degrees // 90


def to_panel_mode(image: Image.Image, mode: PanelMode) -> Image.Image:
    """Convert to the panel's mode: RGB as is, monochrome with Floyd-Steinberg dithering."""
    if mode == "1":
        return image.convert("L").convert("1", dither=Image.Dither.FLOYDSTEINBERG)
    return image.convert("RGB")


def contrast_level(brightness: float) -> int:
    """luma's contrast level (0-255) for a brightness fraction of full drive (0-1]."""
    if not 0 < brightness <= 1:
        raise ValueError(f"display brightness must be a fraction in (0, 1], got {brightness}")
    return max(1, round(255 * brightness))


class LumaDisplay(FrontDisplay):
    """FrontDisplay over a luma.core device (real panel or dummy).

    The panel's drive is set once, at `brightness` of full, through luma's contrast:
    luma starts colour panels at full drive, and an OLED's power follows the drive."""

    def __init__(self, device: Any, brightness: float = 1.0) -> None:
        mode = device.mode
        if mode not in ("RGB", "1"):
            raise ValueError(f"unsupported luma device mode {mode!r}; expected 'RGB' or '1'")
        level = contrast_level(brightness)
        device.contrast(level)
        self.contrast = level
        """The contrast level sent to the panel (for tests and the self-test)."""
        self._brightness = brightness
        self._device = device
        self._mode: PanelMode = mode
        self._lock = threading.Lock()
        self._on = True
        self.last_image: Image.Image | None = None
        """The last image sent to the panel, already in the panel's mode (for tests)."""

    @property
    def device(self) -> Any:
        return self._device

    @property
    def size(self) -> tuple[int, int]:
        width, height = self._device.size
        return int(width), int(height)

    @property
    def mode(self) -> PanelMode:
        return self._mode

    @property
    def is_on(self) -> bool:
        with self._lock:
            return self._on

    @property
    def brightness(self) -> float:
        return self._brightness

    def show(self, image: Image.Image) -> None:
        if image.size != self.size:
            raise ValueError(f"display image is {image.size[0]}x{image.size[1]} but the panel "
                             f"is {self.size[0]}x{self.size[1]}; the renderer must scale/crop "
                             "to the panel size")
        converted = to_panel_mode(image, self._mode)
        with self._lock:
            if not self._on:
                self._device.show()
                self._on = True
            self._device.display(converted)
            self.last_image = converted

    def off(self) -> None:
        with self._lock:
            self._device.hide()
            blank = Image.new(self._mode, self.size)
            self._device.display(blank)  # so the next show() never flashes the old frame
            self.last_image = blank
            self._on = False

    def close(self) -> None:
        with self._lock:
            self._device.cleanup()
            self._on = False

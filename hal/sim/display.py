"""Simulated front display: the shared LumaDisplay on luma's `dummy` device.

The dummy device takes the configured driver's colour mode and size, so the simulator
exercises the same conversion (dithering for monochrome panels) as the real panel.
"""

from __future__ import annotations

from pathlib import Path

from luma.core.device import dummy
from PIL import Image

from bodycam.firmware.config.model import DisplayConfig
from bodycam.hal.luma_display import DRIVER_MODES, LumaDisplay, rotate_steps


class SimDisplay(LumaDisplay):
    """LumaDisplay over luma.core.device.dummy, with PNG snapshots of the panel."""

    def __init__(self, config: DisplayConfig) -> None:
        super().__init__(dummy(width=config.width, height=config.height,
                               rotate=rotate_steps(config.rotation),
                               mode=DRIVER_MODES[config.driver]),
                         config.brightness / 100)

    def panel_image(self) -> Image.Image:
        """What the panel shows now, as mounted (after rotation); black before any frame."""
        image: Image.Image | None = self.device.image
        if image is None:
            return Image.new(self.mode, (self.device.width, self.device.height))
        return image.copy()

    def save_png(self, path: Path) -> None:
        self.panel_image().convert("RGB").save(path, format="PNG")

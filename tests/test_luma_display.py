"""LumaDisplay on luma's dummy device: mode conversion for all four supported drivers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from luma.core.device import dummy
from PIL import Image

from bodycam.firmware.config.model import DisplayConfig, DisplayDriver
from bodycam.hal.luma_display import DRIVER_MODES, LumaDisplay, rotate_steps, to_panel_mode
from bodycam.hal.sim.display import SimDisplay

SIZES: dict[DisplayDriver, tuple[int, int]] = {
    "ssd1351": (128, 128), "ssd1331": (96, 64), "ssd1306": (128, 64), "sh1106": (128, 64),
}


def display_config(driver: DisplayDriver, rotation: int = 0) -> DisplayConfig:
    width, height = SIZES[driver]
    return DisplayConfig(driver=driver, width=width, height=height, rotation=rotation,
                         mirror=True, spi_port=0, spi_device=0, spi_speed_hz=20_000_000,
                         gpio_dc=24, gpio_reset=25, fps=15)


def grey(size: tuple[int, int], level: int = 128) -> Image.Image:
    return Image.new("RGB", size, (level, level, level))


@pytest.mark.parametrize("driver", list(SIZES))
def test_show_converts_to_the_panel_mode(driver: DisplayDriver) -> None:
    display = SimDisplay(display_config(driver))
    assert display.mode == DRIVER_MODES[driver]
    assert display.size == SIZES[driver]
    display.show(grey(display.size))
    assert display.last_image is not None
    assert display.last_image.mode == display.mode
    assert display.device.image.mode == display.mode


def test_monochrome_panels_are_dithered_not_thresholded() -> None:
    display = SimDisplay(display_config("ssd1306"))
    display.show(grey(display.size, 128))
    assert display.last_image is not None
    lit = np.asarray(display.last_image, dtype=bool).mean()
    assert 0.4 < lit < 0.6  # mid grey becomes a 50 % dot pattern, not all black/white


def test_colour_panels_keep_colour_and_drop_alpha() -> None:
    display = SimDisplay(display_config("ssd1351"))
    display.show(Image.new("RGBA", display.size, (200, 10, 30, 255)))
    assert display.last_image is not None
    assert display.last_image.getpixel((5, 5)) == (200, 10, 30)


def test_wrong_size_is_refused_with_both_sizes() -> None:
    display = SimDisplay(display_config("ssd1351"))
    with pytest.raises(ValueError, match=r"100x100 but the panel is 128x128"):
        display.show(grey((100, 100)))


def test_rotation_swaps_the_logical_size() -> None:
    display = SimDisplay(display_config("ssd1306", rotation=90))
    assert display.size == (64, 128)
    display.show(grey(display.size, 255))
    assert display.device.image.size == (128, 64)  # the panel as mounted
    with pytest.raises(ValueError, match="0, 90, 180 or 270"):
        rotate_steps(45)


class RecordingDummy(dummy):  # type: ignore[misc]
    """A dummy panel that also records power commands (the real bus is not here)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[str] = []

    def show(self) -> None:
        self.calls.append("show")

    def hide(self) -> None:
        self.calls.append("hide")


def test_off_blanks_and_hides_and_show_wakes_the_panel() -> None:
    panel = RecordingDummy(width=128, height=128, mode="RGB")
    display = LumaDisplay(panel)
    display.show(grey(display.size, 255))
    display.off()
    assert not display.is_on
    assert panel.calls == ["hide"]
    assert panel.image.getbbox() is None  # all black
    display.show(grey(display.size, 255))
    assert (display.is_on, panel.calls) == (True, ["hide", "show"])


def test_save_png_writes_what_the_panel_shows(tmp_path: Path) -> None:
    display = SimDisplay(display_config("sh1106"))
    display.show(grey(display.size, 255))
    display.save_png(tmp_path / "panel.png")
    with Image.open(tmp_path / "panel.png") as saved:
        assert saved.size == (128, 64)
        assert saved.getpixel((3, 3)) == (255, 255, 255)


def test_to_panel_mode_converts_any_source_mode() -> None:
    assert to_panel_mode(Image.new("L", (4, 4), 255), "RGB").mode == "RGB"
    assert to_panel_mode(Image.new("RGB", (4, 4)), "1").mode == "1"


def test_unsupported_device_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported luma device mode 'RGBA'"):
        LumaDisplay(dummy(width=8, height=8, mode="RGBA"))

"""Front-display renderer: mirror, crop, recording mark, mono panels, fault screen."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from bodycam.firmware.device.renderer import (
    DisplayRenderer,
    IdentityCard,
    OverlayState,
    fingerprint_lines,
    format_elapsed,
)
from bodycam.hal.interfaces import PanelMode, PreviewFrame

PANELS: list[tuple[tuple[int, int], PanelMode]] = [
    ((128, 128), "RGB"), ((96, 64), "RGB"), ((128, 64), "1")]
PANEL_IDS = ["128x128-rgb", "96x64-rgb", "128x64-mono"]
REC = OverlayState(recording=True, elapsed_s=754)

Array = npt.NDArray[np.uint8]


def frame(rgb: Array) -> PreviewFrame:
    return PreviewFrame(rgb=rgb, pts_us=0)


def gradient(w: int = 256, h: int = 144) -> Array:
    """Red rises left to right, green top to bottom: any flip or crop shows in the pixels."""
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    rgb[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    return rgb


def pixels(image: Image.Image) -> npt.NDArray[np.int16]:
    return np.asarray(image, dtype=np.int16)


def red_mask(px: npt.NDArray[np.int16]) -> npt.NDArray[np.bool_]:
    return (px[..., 0] > 200) & (px[..., 1] < 60) & (px[..., 2] < 60)


@pytest.mark.parametrize(("size", "mode"), PANELS, ids=PANEL_IDS)
def test_output_is_rgb_of_exactly_the_panel_size(size: tuple[int, int], mode: PanelMode) -> None:
    renderer = DisplayRenderer(size, mode)
    for preview in (None, frame(gradient()), frame(gradient(100, 300))):
        for overlay in (OverlayState(), REC, OverlayState(fault="storage")):
            image = renderer.render(preview, overlay)
            assert (image.mode, image.size) == ("RGB", size)


def test_no_preview_yet_is_black() -> None:
    image = DisplayRenderer((128, 128)).render(None, OverlayState())
    assert image.getbbox() is None


@pytest.mark.parametrize(("size", "mode"), PANELS, ids=PANEL_IDS)
def test_live_image_is_mirrored_left_right(size: tuple[int, int], mode: PanelMode) -> None:
    mirrored = pixels(DisplayRenderer(size, mode, mirror=True)
                      .render(frame(gradient()), OverlayState()))
    straight = pixels(DisplayRenderer(size, mode, mirror=False)
                      .render(frame(gradient()), OverlayState()))
    assert straight[:, 0, 0].mean() + 100 < straight[:, -1, 0].mean()  # red rises rightwards
    assert mirrored[:, 0, 0].mean() > mirrored[:, -1, 0].mean() + 100  # ... and now leftwards
    assert np.abs(mirrored - straight[:, ::-1]).max() <= 1
    assert np.abs(mirrored[..., 1] - straight[..., 1]).max() <= 1  # vertical unchanged


@pytest.mark.parametrize(("size", "preview_wh"),
                         [((128, 128), (256, 144)), ((96, 64), (256, 144)),
                          ((96, 64), (120, 160)), ((128, 64), (200, 200))])
def test_preview_is_center_cropped_to_the_panel_aspect(size: tuple[int, int],
                                                       preview_wh: tuple[int, int]) -> None:
    pw, ph = preview_wh
    scale = min(pw / size[0], ph / size[1])
    cw, ch = round(size[0] * scale), round(size[1] * scale)
    x0, y0 = (pw - cw) // 2, (ph - ch) // 2
    rgb = np.zeros((ph, pw, 3), np.uint8)
    rgb[..., 2] = 255  # blue outside the expected crop window
    rgb[y0:y0 + ch, x0:x0 + cw] = gradient(cw, ch)
    px = pixels(DisplayRenderer(size, mirror=False).render(frame(rgb), OverlayState()))
    assert px[..., 2].max() == 0  # nothing from outside the window
    assert px[:, 0, 0].max() < 16 and px[:, -1, 0].min() > 239  # the whole window width
    assert px[0, :, 1].max() < 16 and px[-1, :, 1].min() > 239  # and its whole height


@pytest.mark.parametrize(("size", "mode"), PANELS[:2], ids=PANEL_IDS[:2])
def test_rec_mark_is_red_and_identical_on_any_image(size: tuple[int, int], mode: PanelMode) -> None:
    renderer = DisplayRenderer(size, mode)
    alone = pixels(renderer.render(None, REC))
    x0, y0, x1, y1 = Image.fromarray(alone.astype(np.uint8)).getbbox() or (0, 0, 0, 0)
    w, h = size
    assert x1 <= w * 0.8 and y1 <= h // 2  # in the top-left corner region
    red = red_mask(alone)
    assert red[: h // 2, : w // 2].sum() >= 20
    rng = np.random.default_rng(7)
    scenes = [np.full((144, 256, 3), (255, 0, 0), np.uint8),  # a red scene
              np.full((144, 256, 3), 255, np.uint8),  # a white wall
              rng.integers(0, 256, (144, 256, 3), dtype=np.uint8)]  # noise
    for scene in scenes:
        px = pixels(renderer.render(frame(scene), REC))
        assert np.array_equal(px[y0:y1, x0:x1], alone[y0:y1, x0:x1])


@pytest.mark.parametrize(("size", "mode"), PANELS, ids=PANEL_IDS)
def test_overlay_text_is_not_mirrored(size: tuple[int, int], mode: PanelMode) -> None:
    alone = pixels(DisplayRenderer(size, mode, mirror=False)
                   .render(None, REC))
    x0, y0, x1, y1 = Image.fromarray(alone.astype(np.uint8)).getbbox() or (0, 0, 0, 0)
    mark = alone[y0:y1, x0:x1]
    assert not np.array_equal(mark, mark[:, ::-1])  # the mark is asymmetric, so this tells
    mirrored = pixels(DisplayRenderer(size, mode, mirror=True)
                      .render(frame(gradient()), REC))
    assert np.array_equal(mirrored[y0:y1, x0:x1], mark)


def test_mono_mark_survives_the_panels_dither() -> None:
    renderer = DisplayRenderer((128, 64), "1")
    alone = renderer.render(None, REC)
    x0, y0, x1, y1 = alone.getbbox() or (0, 0, 0, 0)
    assert set(np.unique(np.asarray(alone))) == {0, 255}  # pure black and white only
    grey = np.full((144, 256, 3), 128, np.uint8)
    dithered = np.asarray(renderer.render(frame(grey), REC).convert("1"))
    expected = np.asarray(alone.convert("1"))
    assert expected[y0:y1, x0:x1].sum() >= 20  # white dot and text
    assert np.array_equal(dithered[y0:y1, x0:x1], expected[y0:y1, x0:x1])


def test_rotation_turns_the_composed_image_clockwise() -> None:
    upright = DisplayRenderer((96, 64))
    turned = DisplayRenderer((64, 96), rotation=90)  # panel mounted a quarter turn
    image = turned.render(None, REC)
    assert image.size == (64, 96)
    red = red_mask(pixels(image))
    assert red[: 96 // 2, 64 // 2:].sum() >= 20  # the top-left mark is now top-right
    assert red[:, : 64 // 2].sum() == 0
    assert np.array_equal(pixels(image), pixels(
        upright.render(None, REC).transpose(Image.Transpose.ROTATE_270)))


def test_marker_flash_and_battery_icon_use_their_own_corners() -> None:
    renderer = DisplayRenderer((128, 128))
    base = pixels(renderer.render(None, REC))
    marked = pixels(renderer.render(None, OverlayState(True, 754, marker_flash=True)))
    low = pixels(renderer.render(None, OverlayState(True, 754, battery_low=True)))
    changed_mark = np.argwhere((marked != base).any(axis=2))
    changed_low = np.argwhere((low != base).any(axis=2))
    assert len(changed_mark) and (changed_mark[:, 0] >= 64).all()  # bottom ...
    assert (changed_mark[:, 1] < 64).all()  # ... left
    assert len(changed_low) and (changed_low[:, 0] < 32).all()  # top ...
    assert (changed_low[:, 1] >= 64).all()  # ... right


@pytest.mark.parametrize(("size", "mode"), PANELS, ids=PANEL_IDS)
def test_fault_screen_replaces_the_live_view(size: tuple[int, int], mode: PanelMode) -> None:
    renderer = DisplayRenderer(size, mode)
    fault = OverlayState(recording=True, fault="storage")
    alone = renderer.render(None, fault)
    assert alone.getbbox() is not None
    assert np.array_equal(pixels(renderer.render(frame(gradient()), fault)), pixels(alone))
    assert not np.array_equal(pixels(renderer.render(None, OverlayState(fault="no key"))),
                              pixels(alone))


def test_bad_arguments_name_the_fix() -> None:
    with pytest.raises(ValueError, match="rotation"):
        DisplayRenderer((128, 128), rotation=45)
    with pytest.raises(ValueError, match="mode"):
        DisplayRenderer((128, 128), "L")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        DisplayRenderer((128, 128)).render(frame(np.zeros((10, 10), np.uint8)), OverlayState())


@pytest.mark.parametrize(("seconds", "text"),
                         [(0, "00:00"), (59.9, "00:59"), (754, "12:34"), (3725, "1:02:05"),
                          (-3, "00:00")])
def test_elapsed_time_format(seconds: float, text: str) -> None:
    assert format_elapsed(seconds) == text


# ------------------------------------------------------------------ identity screen (L10)

# Every panel size the configuration allows (config/schema: display.height's sizes).
IDENTITY_PANELS: list[tuple[tuple[int, int], PanelMode]] = [
    ((128, 128), "RGB"), ((128, 96), "RGB"), ((96, 64), "RGB"), ((128, 64), "1"),
    ((128, 32), "1")]
IDENTITY_IDS = [f"{w}x{h}-{'mono' if m == '1' else 'rgb'}" for (w, h), m in IDENTITY_PANELS]
FINGERPRINT = "6c3d81134cbd4d82"


def ink_bands(image: Image.Image) -> list[tuple[int, int]]:
    """Row ranges [top, bottom) holding ink, separated by blank rows: one per text line."""
    rows = (pixels(image).max(axis=(1, 2)) > 64).tolist()
    bands, top = [], None
    for y, inked in enumerate([*rows, False]):
        if inked and top is None:
            top = y
        elif not inked and top is not None:
            bands.append((top, y))
            top = None
    return bands


def identity(size: tuple[int, int], mode: PanelMode, fingerprint: str = FINGERPRINT,
             device_id: str = "BC-0001") -> Image.Image:
    card = IdentityCard(device_id, fingerprint)
    return DisplayRenderer(size, mode).render(None, OverlayState(identity=card))


def test_fingerprint_is_grouped_in_fours_two_groups_a_line() -> None:
    assert fingerprint_lines(FINGERPRINT) == ["6c3d 8113", "4cbd 4d82"]
    assert fingerprint_lines("0123456789abcdef0123") == ["0123 4567", "89ab cdef", "0123"]


@pytest.mark.parametrize(("size", "mode"), IDENTITY_PANELS, ids=IDENTITY_IDS)
def test_identity_screen_draws_every_fingerprint_character_legibly(
        size: tuple[int, int], mode: PanelMode) -> None:
    """Each fingerprint line is a band of its own (nothing overlaps), at least 7 px tall
    (the smallest bitmap glyph a person reads at arm's length), inside the panel, and a
    change of any single character changes the pixels of its own line."""
    image = identity(size, mode)
    assert (image.mode, image.size) == ("RGB", size)
    bands = ink_bands(image)
    assert len(bands) >= 2
    title_and_id = len(bands) - 2  # the fingerprint's two lines, plus title/id if room
    assert title_and_id in (0, 1, 2)
    lines = bands[1:3] if title_and_id else bands[:2]
    assert all(bottom - top >= 7 for top, bottom in lines), bands
    px = pixels(image)
    assert not px[0].any() and not px[-1].any()  # nothing cut off at the edges
    assert not px[:, 0].any() and not px[:, -1].any()
    for position, char in enumerate(FINGERPRINT):
        other = "0" if char != "0" else "1"
        changed = FINGERPRINT[:position] + other + FINGERPRINT[position + 1:]
        diff = np.abs(pixels(identity(size, mode, changed)) - px).max(axis=(1, 2)) > 64
        top, bottom = lines[position // 8]
        assert diff[top:bottom].any(), f"character {position} is not drawn"
        assert not diff[:top].any() and not diff[bottom:].any()


def test_identity_screen_uses_the_room_it_has() -> None:
    """The fingerprint is what gets compared: it is drawn larger on larger panels, and
    scaled up 2x on a 128x64 monochrome panel (crisp bitmap pixels)."""

    def line_height(size: tuple[int, int], mode: PanelMode) -> int:
        top, bottom = ink_bands(identity(size, mode))[1]
        return bottom - top

    assert line_height((128, 128), "RGB") > line_height((96, 64), "RGB")
    assert line_height((128, 64), "1") >= 2 * 7


def test_a_long_device_id_is_cut_to_the_panel_not_over_it() -> None:
    image = identity((96, 64), "RGB", device_id="X" * 32)
    px = pixels(image)
    assert not px[:, 0].any() and not px[:, -1].any()


def test_identity_replaces_everything_else() -> None:
    busy = OverlayState(recording=True, elapsed_s=5, battery_low=True, marker_flash=True,
                        fault="storage",
                        identity=IdentityCard("BC-0001", FINGERPRINT))
    with_all = DisplayRenderer((128, 128)).render(frame(gradient()), busy)
    assert np.array_equal(pixels(with_all), pixels(identity((128, 128), "RGB")))

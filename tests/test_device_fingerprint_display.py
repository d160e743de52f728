"""The device key fingerprint on the camera's own front display (audit L10).

Enrolment used to rest on BODYCAM-IDENTITY.txt alone, a file on a removable FAT
partition that anyone holding the card could rewrite with their own key. Held in the
dock, DISPLAY shows the fingerprint of the key the camera program actually signs with,
so the technician can compare it on a second channel. Never on duty, never recording.
"""

from __future__ import annotations

import numpy as np
import pytest
from device_rig import MakeDevice, RunningSimDevice
from PIL import Image

from bodycam.firmware.device import controller as controller_module
from bodycam.firmware.device.renderer import DisplayRenderer, IdentityCard, OverlayState
from bodycam.firmware.evidence.verify import verify_log


def identity_image(rig: RunningSimDevice) -> Image.Image:
    """What the panel must show: the renderer's identity screen for this device's key,
    converted to the panel's mode like every shown frame."""
    display = rig.hardware.display
    card = IdentityCard(rig.config.device.id, rig.device.identity.fingerprint)
    image = DisplayRenderer(display.size, display.mode).render(None,
                                                               OverlayState(identity=card))
    return image.convert(display.mode)


def showing(rig: RunningSimDevice, expected: Image.Image) -> bool:
    panel = rig.hardware.display.panel_image()
    return bool(np.array_equal(np.asarray(panel), np.asarray(expected)))


def dark(rig: RunningSimDevice) -> bool:
    return not rig.hardware.display.is_on


def hold_display(rig: RunningSimDevice) -> None:
    rig.hold("display", rig.config.buttons.hold_seconds + 0.3)


@pytest.mark.parametrize("panel", [(), ("display.driver=\"ssd1306\"", "display.width=128",
                                        "display.height=64")], ids=["128x128-rgb", "128x64"])
def test_display_held_in_the_dock_shows_the_signing_key_fingerprint(
        panel: tuple[str, ...], make_sim_device: MakeDevice,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_module, "IDENTITY_SECONDS", 6.0)  # 60 s on a camera
    rig = make_sim_device(*panel)
    rig.hardware.power.set_docked(True)
    rig.wait_state("docked")
    assert dark(rig)
    expected = identity_image(rig)
    hold_display(rig)
    shown = rig.wait_audit(lambda r: r["event"] == "identity_shown")
    rig.wait_until(lambda: showing(rig, expected))
    rig.wait_until(lambda: dark(rig))  # by itself after IDENTITY_SECONDS
    rig.stop()

    record = rig.audit()[shown]
    assert record["fingerprint"] == rig.device.identity.fingerprint
    assert record["cause"] == "display hold" and record["shown"] is True
    assert not rig.recordings()  # it records nothing
    assert verify_log(rig.device.audit.path).status == "verified"


def test_leaving_the_dock_ends_it(make_sim_device: MakeDevice) -> None:
    rig = make_sim_device("evidence.prerecord_seconds=0")
    rig.hardware.power.set_docked(True)
    rig.wait_state("docked")
    expected = identity_image(rig)
    hold_display(rig)
    rig.wait_until(lambda: showing(rig, expected))
    rig.hardware.power.set_docked(False)
    rig.wait_state("idle")
    rig.tap("display")  # the wearer's mirror image, not the fingerprint
    rig.wait_state("display_on")
    rig.sleep(1.0)
    assert rig.hardware.display.is_on and not showing(rig, expected)
    rig.stop()


@pytest.mark.parametrize("state", ["idle", "recording"])
def test_display_held_on_duty_shows_nothing_new(state: str, make_sim_device: MakeDevice
                                               ) -> None:
    """In idle DISPLAY's press turns the mirror image on (its hold is swallowed); while
    recording DISPLAY does nothing at all: the REC mark must stay visible."""
    rig = make_sim_device()
    if state == "recording":
        rig.tap("record")
        rig.wait_state("recording")
    expected = identity_image(rig)
    hold_display(rig)
    rig.sleep(1.0)
    assert not showing(rig, expected)
    rig.stop()
    assert not [r for r in rig.audit() if r["event"] == "identity_shown"]

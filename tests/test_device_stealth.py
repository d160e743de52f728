"""Stealth mode end to end: a POWER short press on the mock GPIO pin, observed on the LED,
buzzer and vibration pins, the simulated front display and the audit log.

Allowed by the configuration, stealth darkens the LEDs, silences the buzzer and keeps the
front display off, also while recording, and never changes the recording. Not allowed, the
press is refused with the long buzz and an audit record, and nothing else changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from device_rig import MakeDevice, RunningSimDevice

from bodycam.firmware.evidence.verify import verify_log, verify_recording

LEDS = ("led_green", "led_red", "led_amber")
RED = (255, 0, 0)  # the renderer's recording dot


def stealth_records(rig: RunningSimDevice) -> list[dict[str, Any]]:
    return [r for r in rig.audit() if r["event"] == "stealth"]


def shows_recording_mark(rig: RunningSimDevice) -> bool:
    image = rig.hardware.display.last_image
    if image is None or not rig.hardware.display.is_on:
        return False
    pixels = np.asarray(image.convert("RGB"))
    return bool((pixels == RED).all(axis=-1).any())


def wait_quiet(rig: RunningSimDevice) -> int:
    """Wait until the buzzer and motor are still (their patterns run in real time on
    gpiozero's threads), so a later pulse shows as a change; the pin log's length."""
    rig.wait_until(lambda: not rig.pin_high("buzzer") and not rig.pin_high("vibration"))
    return len(rig.pins.changes)


def felt(rig: RunningSimDevice, after: int) -> None:
    """Wait for the vibration motor to start after pin change `after`."""
    rig.wait_until(lambda: ("vibration", True) in rig.output_changes(after))


def toggle(rig: RunningSimDevice) -> dict[str, Any]:
    """POWER short press; the `stealth` audit record it produced."""
    mark = len(rig.audit())
    rig.tap("power")
    found = rig.wait_audit(lambda r: r["event"] == "stealth", after=mark)
    return rig.audit()[found]


def record_and_wait_for_the_mark(rig: RunningSimDevice) -> None:
    rig.tap("record")
    rig.wait_state("recording")
    rig.wait_until(lambda: shows_recording_mark(rig))
    assert rig.pin_high("led_red")


def test_stealth_darkens_leds_and_display_while_recording_continues(
        make_sim_device: MakeDevice) -> None:
    rig = make_sim_device("privacy.stealth_allowed=true")
    record_and_wait_for_the_mark(rig)

    switched_on = toggle(rig)
    assert switched_on["on"] is True and "refused" not in switched_on
    display = rig.hardware.display
    rig.wait_until(lambda: not display.is_on)
    pins_before_marker = wait_quiet(rig)
    rig.tap("record")  # a marker in stealth: felt (vibration), neither seen nor heard
    rig.wait_audit(lambda r: r["event"] == "marker_added")
    felt(rig, pins_before_marker)
    rig.sleep(1.0)
    assert not display.is_on
    assert display.last_image is not None and display.last_image.getbbox() is None  # black
    assert not any(rig.pin_high(led) for led in LEDS)
    assert {name for name, _ in rig.output_changes(pins_before_marker)} == {"vibration"}
    assert rig.state == "recording"

    assert toggle(rig)["on"] is False
    rig.wait_until(lambda: shows_recording_mark(rig))  # restored: the REC mark is back
    assert rig.pin_high("led_red")
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("display_on")
    rig.stop()

    records = rig.audit()
    assert [(r["on"], "refused" in r) for r in stealth_records(rig)] == [(True, False),
                                                                        (False, False)]
    assert [(r["from"], r["to"]) for r in records if r["event"] == "state"] == [
        ("booting", "idle"), ("idle", "recording"), ("recording", "display_on"),
        ("display_on", "shutting_down"), ("shutting_down", "off")]
    [recording] = rig.recordings()
    report = verify_recording(recording)
    assert report.status == "verified" and report.sealed
    assert report.seal_reason is not None and report.seal_reason.startswith("stopped by wearer")
    assert verify_log(rig.device.audit.path).status == "verified"


def test_stealth_off_in_display_on_brings_the_mirror_image_back(
        make_sim_device: MakeDevice) -> None:
    rig = make_sim_device("privacy.stealth_allowed=true")
    rig.tap("display")
    rig.wait_state("display_on")
    display = rig.hardware.display
    rig.wait_until(lambda: display.is_on)
    assert toggle(rig)["on"] is True
    rig.wait_until(lambda: not display.is_on and not rig.pin_high("led_green"))
    rig.tap("display")  # state changes in stealth keep the display and LEDs dark
    rig.wait_state("idle")
    rig.tap("display")
    rig.wait_state("display_on")
    rig.sleep(0.5)
    assert not display.is_on and not rig.pin_high("led_green")
    assert toggle(rig)["on"] is False
    rig.wait_until(lambda: display.is_on and rig.pin_high("led_green"))
    rig.stop()


def test_stealth_not_allowed_is_refused_and_changes_nothing(
        sim_device: RunningSimDevice) -> None:
    rig = sim_device
    assert rig.config.privacy.stealth_allowed is False  # the shipped default
    record_and_wait_for_the_mark(rig)
    pins_before = wait_quiet(rig)

    refusal = toggle(rig)
    felt(rig, pins_before)  # the refusal is felt ...
    rig.sleep(1.0)
    assert {k: refusal[k] for k in ("on", "refused", "reason")} == {
        "on": False, "refused": True, "reason": "not allowed by configuration"}
    assert rig.state == "recording"
    assert shows_recording_mark(rig) and rig.pin_high("led_red")
    assert not {name for name, _ in rig.output_changes(pins_before)} & set(LEDS)  # no LED
    rig.stop()

    records = rig.audit()
    assert [(r["gesture"], r["action"]) for r in records
            if r["event"] == "gesture" and r["button"] == "power"] == [
        ("down", None), ("short", "stealth_toggle")]
    assert [(r["from"], r["to"]) for r in records if r["event"] == "state"][:2] == [
        ("booting", "idle"), ("idle", "recording")]
    assert len(stealth_records(rig)) == 1

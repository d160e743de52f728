"""Button gestures end to end: contact chatter and a stuck button on the simulated pins.

Chatter is a burst of edges shorter than the debounce time (bounce() on the mock GPIO
pin), around both the press and the release, exactly what a worn contact does. The edges
are stamped with the sped-up simulated clock when gpiozero delivers them, so real
scheduling delays stretch a burst by the clock's speed: the chatter test runs slower and
with a longer debounce than shipped to keep the burst clearly inside the lock-out on a
busy machine (the recognizer itself is tested with exact times in test_gestures.py).
"""

from __future__ import annotations

from typing import Any

from device_rig import MakeDevice, RunningSimDevice

from bodycam.firmware.evidence.verify import verify_log, verify_recording
from bodycam.hal.interfaces import Blink, ButtonName

CHATTER_EDGES = 5  # odd: a burst that starts and ends with a press
CHATTER_INTERVAL_S = 0.005  # a 20 ms burst ...
CHATTER_DEBOUNCE = "buttons.debounce_ms=150"  # ... inside the lock-out with room for jitter
CHATTER_SPEED = 3.0


def chattering_press(rig: RunningSimDevice, button: ButtonName, seconds: float) -> None:
    """Press with chatter, keep pressed, release with chatter (ends released)."""
    panel = rig.hardware.panel
    panel.bounce(button, CHATTER_EDGES, CHATTER_INTERVAL_S)  # ends pressed
    rig.sleep(seconds)
    panel.release(button)
    panel.bounce(button, CHATTER_EDGES - 1, CHATTER_INTERVAL_S)  # press, release, ...
    panel.release(button)


def events(records: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] == name]


def test_chattering_presses_start_mark_and_stop_exactly_once(
        make_sim_device: MakeDevice) -> None:
    rig = make_sim_device(CHATTER_DEBOUNCE, speed=CHATTER_SPEED)
    assert rig.config.buttons.debounce_ms / 1000 > (CHATTER_EDGES - 1) * CHATTER_INTERVAL_S
    chattering_press(rig, "record", 0.3)  # start on the first edge; no marker
    rig.wait_state("recording")
    rig.sleep(1.5)
    chattering_press(rig, "record", 0.3)  # marker
    rig.wait_audit(lambda r: r["event"] == "marker_added")
    rig.sleep(1.0)
    chattering_press(rig, "record", rig.config.buttons.hold_seconds + 0.3)  # stop
    rig.wait_state("display_on")
    rig.stop()

    records = rig.audit()
    gestures = [(r["gesture"], r["action"]) for r in events(records, "gesture")
                if r["button"] == "record"]
    assert gestures == [("down", "record_down"),
                        ("down", None), ("short", "record_short"),
                        ("down", None), ("hold", "record_hold")]
    assert len(events(records, "recording_started")) == 1
    assert len(events(records, "marker")) == 1
    assert [(r["from"], r["to"]) for r in events(records, "state")][1:3] == [
        ("idle", "recording"), ("recording", "display_on")]
    [recording] = rig.recordings()
    report = verify_recording(recording)
    assert report.status == "verified" and report.sealed
    assert report.seal_reason is not None and report.seal_reason.startswith("stopped by wearer")
    manifest = (recording / "manifest.jsonl").read_text().splitlines()
    assert sum('"event":"marker"' in line for line in manifest) == 1
    assert verify_log(rig.device.audit.path).status == "verified"


def test_stuck_record_button_keeps_recording_and_alarms_once(
        sim_device: RunningSimDevice) -> None:
    """Pressed and never released (a jammed button under a strap): the recording it
    started on the down edge continues; the hold and stuck times pass without a stop."""
    rig = sim_device
    pressed_at = rig.clock.monotonic()
    rig.hardware.panel.press("record")
    rig.wait_state("recording")
    stuck = rig.wait_audit(lambda r: r["event"] == "alarm" and r["alarm"] == "button_stuck")
    assert isinstance(rig.hardware.indicators.led_state("amber"), Blink)
    rig.sleep(pressed_at + 15.0 - rig.clock.monotonic())
    assert rig.state == "recording"
    rig.hardware.panel.release("record")
    rig.wait_until(lambda: rig.hardware.indicators.led_state("amber") is False)  # alarm over
    assert rig.state == "recording"
    rig.stop()

    records = rig.audit()
    assert [r["alarm"] for r in events(records, "alarm")] == ["button_stuck"]
    assert events(records, "alarm")[0] is records[stuck]
    assert [(r["gesture"], r["action"]) for r in events(records, "gesture")] == [
        ("down", "record_down"), ("stuck", "button_stuck")]
    assert [(r["from"], r["to"]) for r in events(records, "state")] == [
        ("booting", "idle"), ("idle", "recording"), ("recording", "shutting_down"),
        ("shutting_down", "off")]
    [recording] = rig.recordings()
    report = verify_recording(recording)
    assert report.status == "verified" and report.sealed

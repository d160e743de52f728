"""What the wearer feels and sees on a RECORD press, in the order the pins change.

The red LED is the wearer's confirmation that recording started; it must be switched
before the start cue (whose buzzer and vibration patterns start gpiozero threads) and
before the camera is started, so it is never delayed by them (press_to_recording latency,
tools/bench/press.py). Observed on the mock GPIO pins' shared change log.
"""

from __future__ import annotations

from device_rig import RunningSimDevice


def test_record_press_lights_red_before_any_cue(sim_device: RunningSimDevice) -> None:
    rig = sim_device
    rig.wait_state("idle")
    rig.wait_until(lambda: not rig.pin_high("buzzer") and not rig.pin_high("vibration"))
    mark = len(rig.pins.changes)
    rig.tap("record")
    rig.wait_state("recording")
    rig.wait_until(lambda: {("buzzer", True), ("vibration", True)}
                   <= set(rig.output_changes(mark)))
    rig.stop()

    changes = rig.output_changes(mark)
    red = changes.index(("led_red", True))
    assert changes.index(("led_green", False)) < red
    assert red < changes.index(("buzzer", True))
    assert red < changes.index(("vibration", True))

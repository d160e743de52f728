"""The installer's board power settings in config.txt (configtxt.save_power): Bluetooth,
the activity LED and HDMI off for every model, idempotently, nothing else touched."""

from __future__ import annotations

from bodycam.tools.install.configtxt import save_power

# The relevant lines of Raspberry Pi OS Bookworm's shipped config.txt.
BOOKWORM = """dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1
# Enable DRM VC4 V3D driver
dtoverlay=vc4-kms-v3d
max_framebuffers=2
[cm4]
otg_mode=1
[all]
"""


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_bookworm_gets_bluetooth_led_and_hdmi_off_once() -> None:
    new, changes = save_power(BOOKWORM)
    assert "dtoverlay=vc4-kms-v3d,nohdmi" in lines(new)
    assert lines(new)[-3:] == ["dtoverlay=disable-bt", "# bodycam: board activity LED off "
                               "(power, and no light that betrays a camera in stealth mode)",
                               "dtparam=act_led_trigger=none"]
    assert len(changes) == 3
    assert save_power(new) == (new, [])
    untouched = [line for line in lines(BOOKWORM) if "vc4-kms-v3d" not in line]
    assert all(line in lines(new) for line in untouched)


def test_a_setting_for_one_model_only_does_not_count() -> None:
    new, changes = save_power("[pi4]\ndtoverlay=disable-bt\n")
    assert lines(new)[2:4] == ["[all]", "# bodycam: Bluetooth off (power): nothing on the "
                               "camera uses it"]
    assert "config.txt: dtoverlay=disable-bt (added)" in changes


def test_hdmi_is_switched_off_keeping_the_overlays_other_parameters() -> None:
    new, _ = save_power("dtoverlay=vc4-kms-v3d-pi4,cma-256  # graphics\n"
                        "dtoverlay=disable-bt\ndtparam=act_led_trigger=none\n")
    assert lines(new)[0] == "dtoverlay=vc4-kms-v3d-pi4,cma-256,nohdmi"
    already = "dtoverlay=vc4-kms-v3d,nohdmi\ndtoverlay=disable-bt\ndtparam=act_led_trigger=none\n"
    assert save_power(already) == (already, [])


def test_without_the_kms_overlay_there_is_no_hdmi_to_switch_off() -> None:
    new, changes = save_power("dtoverlay=disable-bt\ndtparam=act_led_trigger=none\n")
    assert changes == [] and "nohdmi" not in new

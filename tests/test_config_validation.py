"""Every bad value gets a precise problem: file, key, value given, what is allowed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bodycam.firmware.config.loader import ConfigError, ConfigProblem, load_config
from bodycam.firmware.evidence.age.keys import generate_identity

SECRET, RECIPIENT = generate_identity()
_, OTHER_RECIPIENT = generate_identity()


def _problems(tmp_path: Path, text: str) -> tuple[Path, list[ConfigProblem]]:
    path = tmp_path / "bodycam.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return path, caught.value.problems


# (TOML text, key blamed, value reported as given)
BAD = [
    ("[video]\nfps = true", "video.fps", True),
    ("[video]\nfps = 0", "video.fps", 0),
    ("[video]\nfps = 61", "video.fps", 61),
    ("[video]\nfps = 30.0", "video.fps", 30.0),
    ('[video]\nwidth = "1280"', "video.width", "1280"),
    ("[video]\nwidth = 1281", "video.width", 1281),
    ("[video]\nheight = 2000", "video.height", 2000),
    ("[video]\nbitrate_kbps = 100", "video.bitrate_kbps", 100),
    ("[video]\nkeyframe_interval = 0", "video.keyframe_interval", 0),
    ("[video]\nwidth = 1920\nheight = 1080\nfps = 60", "video.fps", 60),
    ("[evidence]\nsegment_seconds = 2\n[video]\nkeyframe_interval = 90",
     "video.keyframe_interval", 90),
    ("[evidence]\nprerecord_seconds = 121", "evidence.prerecord_seconds", 121),
    ("[evidence]\nprerecord_seconds = -1", "evidence.prerecord_seconds", -1),
    ("[evidence]\nsegment_seconds = 1", "evidence.segment_seconds", 1),
    ("[evidence]\nsegment_seconds = 301", "evidence.segment_seconds", 301),
    ('[evidence]\nprerecord_audio = "yes"', "evidence.prerecord_audio", "yes"),
    ("[evidence]\nsync_interval_seconds = 2", "evidence.sync_interval_seconds", 2),
    ("[evidence]\nstall_seconds = inf", "evidence.stall_seconds", math.inf),
    (f'[evidence]\nrecipients = "{RECIPIENT}"', "evidence.recipients", RECIPIENT),
    ('[evidence]\nrecipients = ["age1xyz"]', "evidence.recipients", "age1xyz"),
    ("[evidence]\nrecipients = [7]", "evidence.recipients", 7),
    (f'[evidence]\nrecipients = ["{RECIPIENT}", "{OTHER_RECIPIENT}", "{RECIPIENT}"]',
     "evidence.recipients", RECIPIENT),
    ("[audio]\nsample_rate = 44000", "audio.sample_rate", 44000),
    ("[audio]\nchannels = 3", "audio.channels", 3),
    ("[audio]\nenabled = 1", "audio.enabled", 1),
    ('[display]\ndriver = "st7735"', "display.driver", "st7735"),
    ("[display]\nrotation = 45", "display.rotation", 45),
    ("[display]\nspi_speed_hz = 10000000", "display.spi_speed_hz", 10_000_000),
    ("[display]\nwidth = 96\nheight = 64", "display.height", 64),
    ('[display]\ndriver = "ssd1331"', "display.driver", "ssd1331"),
    ("[display]\nspi_port = 2", "display.spi_port", 2),
    ("[display]\nspi_device = 2", "display.spi_device", 2),
    ("[pins]\nled_red = 28", "pins.led_red", 28),
    ("[pins]\nled_red = -1", "pins.led_red", -1),
    ("[pins]\nbuzzer = 10", "pins.buzzer", 10),
    ("[pins]\nbuzzer = 2", "pins.buzzer", 2),
    ("[display]\nspi_port = 1\n[pins]\nvibration = 21", "pins.vibration", 21),
    ('[power]\nbattery_source = "ina219"', "power.battery_source", "ina219"),
    ("[power]\nbattery_critical_percent = 25", "power.battery_critical_percent", 25.0),
    ("[power]\ni2c_address = 0x80", "power.i2c_address", 0x80),
    ("[storage]\nnearly_full_mb = 100", "storage.nearly_full_mb", 100),
    ('[storage]\ndata_dir = "data"', "storage.data_dir", "data"),
    ("[storage]\nstate_dir = 5", "storage.state_dir", 5),
    ('[device]\nid = "BC 0001"', "device.id", "BC 0001"),
    ('[device]\nid = ""', "device.id", ""),
    (f'[device]\nid = "{"X" * 33}"', "device.id", "X" * 33),
    ('[device]\nunit = "a\\tb"', "device.unit", "a\tb"),
    ("[alarms]\nreminder_interval_seconds = 10", "alarms.reminder_interval_seconds", 10),
    ("[buttons]\ndebounce_ms = 0", "buttons.debounce_ms", 0),
    ("[buttons]\nhold_seconds = 0.1", "buttons.hold_seconds", 0.1),
    ('[privacy]\nstealth_allowed = "false"', "privacy.stealth_allowed", "false"),
    ("video = 3", "video", 3),
    ("[vidoe]\nfps = 30", "vidoe", {"fps": 30}),
    ("[video]\nframerate = 30", "video.framerate", 30),
]


# The generated key is named, not printed, in the test ids: every pytest-xdist worker
# collects this module with a key of its own, and the workers' lists must be the same.
@pytest.mark.parametrize(("text", "key", "given"), BAD, ids=[
    f"{k}={'RECIPIENT' if g == RECIPIENT else repr(g)}" for _, k, g in BAD])
def test_bad_value_is_reported_precisely(tmp_path: Path, text: str, key: str,
                                         given: object) -> None:
    path, problems = _problems(tmp_path, text)
    assert [p.key for p in problems] == [key]
    problem = problems[0]
    assert problem.source == str(path)
    assert problem.given == given
    assert problem.allowed
    assert str(problem).startswith(f"{path}: {key}: got {given!r}; allowed: {problem.allowed}")


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    _, problems = _problems(tmp_path, "[video]\nfps = 0\nwidth = 3\n[device]\nid = '?'\n")
    assert {p.key for p in problems} == {"video.fps", "video.width", "device.id"}


def test_error_message_has_one_line_per_problem(tmp_path: Path) -> None:
    path = tmp_path / "bodycam.toml"
    path.write_text("[video]\nfps = 0\nwidth = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert lines == [str(p) for p in caught.value.problems]
    assert lines[0] == f"{path}: video.fps: got 0; allowed: integer 1-60 frames/s"


def test_boolean_is_not_accepted_as_number(tmp_path: Path) -> None:
    _, problems = _problems(tmp_path, "[buttons]\ndebounce_ms = true\n")
    assert "boolean" in problems[0].hint


def test_quoted_number_hint_says_remove_quotes(tmp_path: Path) -> None:
    _, problems = _problems(tmp_path, '[video]\nfps = "25"\n')
    assert "remove the quotes" in problems[0].hint


def test_spi_speed_hint_names_nearest_luma_speed(tmp_path: Path) -> None:
    _, problems = _problems(tmp_path, "[display]\nspi_speed_hz = 19000000\n")
    assert problems[0].hint == "nearest allowed: 20000000"


@pytest.mark.parametrize(("text", "suggestion"), [
    ("[video]\nheigth = 720", "did you mean video.height?"),
    ("[vidoe]\nfps = 30", "did you mean video?"),
    ("[video]\nprerecord_seconds = 5", "did you mean evidence.prerecord_seconds?"),
    ("fps = 30", "did you mean video.fps or display.fps?"),
    ('[display]\ndriver = "SSD1351"', "did you mean 'ssd1351'?"),
])
def test_did_you_mean(tmp_path: Path, text: str, suggestion: str) -> None:
    _, problems = _problems(tmp_path, text)
    assert suggestion in problems[0].hint


def test_unknown_key_without_near_match_points_to_reference(tmp_path: Path) -> None:
    _, problems = _problems(tmp_path, "[video]\nzzzz = 1\n")
    assert "bodycam.firmware.config.reference" in problems[0].hint
    assert "width, height, fps" in problems[0].allowed


def test_duplicate_pin_names_both_keys(tmp_path: Path) -> None:
    _, problems = _problems(tmp_path, "[pins]\nled_red = 5\n")
    (problem,) = problems
    assert problem.key == "pins.led_red"
    assert "pins.button_record" in str(problem)
    assert "pins.led_red" in str(problem)


def test_duplicate_pin_across_sections_blames_the_later_layer(tmp_path: Path) -> None:
    _, problems = _problems(tmp_path, "[display]\ngpio_dc = 27\n")
    (problem,) = problems
    assert problem.key == "display.gpio_dc"
    assert "pins.dock_detect" in problem.hint


def test_duplicate_pin_within_one_file(tmp_path: Path) -> None:
    _, problems = _problems(tmp_path, "[pins]\nled_red = 20\nled_green = 20\n")
    (problem,) = problems
    assert problem.key in {"pins.led_red", "pins.led_green"}
    assert "pins.led_red" in str(problem)
    assert "pins.led_green" in str(problem)


def test_i2c_pins_are_free_without_a_gauge(tmp_path: Path) -> None:
    path = tmp_path / "bodycam.toml"
    path.write_text('[power]\nbattery_source = "none"\n[pins]\nbuzzer = 2\n', encoding="utf-8")
    assert load_config(path).pins.buzzer == 2


def test_secret_key_given_as_recipient_is_never_echoed(tmp_path: Path) -> None:
    path = tmp_path / "bodycam.toml"
    path.write_text(f'[evidence]\nrecipients = ["{SECRET}"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert problem.key == "evidence.recipients"
    assert SECRET not in str(caught.value)
    assert SECRET[20:] not in repr(problem)
    assert "secret" in str(caught.value)


def test_valid_recipients_are_kept_in_order(tmp_path: Path) -> None:
    path = tmp_path / "bodycam.toml"
    path.write_text(f'[evidence]\nrecipients = ["{OTHER_RECIPIENT}", " {RECIPIENT} "]\n',
                    encoding="utf-8")
    assert load_config(path).evidence.recipients == (OTHER_RECIPIENT, RECIPIENT)


def test_reminder_zero_means_off(tmp_path: Path) -> None:
    path = tmp_path / "bodycam.toml"
    path.write_text("[alarms]\nreminder_interval_seconds = 0\n", encoding="utf-8")
    assert load_config(path).alarms.reminder_interval_seconds == 0.0

"""`bodycam-provision check`: the same validation the camera runs at boot.

INVALID_FILES is also used by the first-boot and write tests, so every refusal is
checked on the laptop and on the device alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bodycam.firmware.evidence.age.keys import generate_identity
from bodycam.tools.provision.cli import main

SECRET, RECIPIENT = generate_identity()
OTHER = generate_identity()[1]  # a second authority key, for recipients files

VALID = f"""\
[device]
id = "BC-0042"
unit = "Ordnungsamt Mitte"

[evidence]
recipients = ["{RECIPIENT}"]
prerecord_seconds = 20
"""


def _with(section: str, line: str) -> str:
    """VALID with one line added to (or a new) section."""
    header = f"[{section}]\n"
    if header in VALID:
        return VALID.replace(header, f"{header}{line}\n", 1)
    return f"{VALID}\n{header}{line}\n"


# (case id, file content, text the error must contain: usually the offending key)
INVALID_FILES: list[tuple[str, str | bytes, str]] = [
    ("toml-syntax", VALID.replace('"BC-0042"', '"BC-0042'), "line 2"),
    ("unknown-section", VALID + "\n[camera]\nfps = 30\n", "camera"),
    ("misspelt-key", _with("video", "fsp = 25"), "video.fsp"),
    ("wrong-type", _with("video", 'fps = "thirty"'), "video.fps"),
    ("out-of-range", _with("video", "fps = 500"), "video.fps"),
    ("no-recipients", VALID.replace(f'"{RECIPIENT}"', ""), "evidence.recipients"),
    ("bad-recipient", VALID.replace(RECIPIENT, "age1notakey"), "evidence.recipients"),
    ("secret-key-as-recipient", VALID.replace(RECIPIENT, SECRET), "evidence.recipients"),
    ("device-id-unset", VALID.replace('id = "BC-0042"\n', ""), "device.id"),
    ("device-id-chars", VALID.replace("BC-0042", "BC 0042/!"), "device.id"),
    ("pin-used-twice", _with("pins", "led_red = 5"), "pins.led_red"),
    ("display-size", _with("display", "width = 96\nheight = 64"), "96x64"),
    ("spi-speed", _with("display", "spi_speed_hz = 15000000"), "display.spi_speed_hz"),
    ("battery-thresholds", _with("power", "battery_critical_percent = 30"),
     "power.battery_critical_percent"),
    ("relative-data-dir", _with("storage", 'data_dir = "evidence"'), "storage.data_dir"),
    ("data-dir-outside-sandbox", _with("storage", 'data_dir = "/home/pi/evidence"'),
     "storage.data_dir"),
    ("nearly-full-below-reserve", _with("storage", "nearly_full_mb = 100"), "nearly_full"),
    ("not-utf8", VALID.replace("Mitte", "M\xfcnchen").encode("latin-1"), "UTF-8"),
    ("binary-file", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "UTF-8"),
    ("empty-file", "", "evidence.recipients"),
    ("key-outside-section", 'id = "BC-0042"\n' + VALID, "did you mean device.id"),
    ("too-large", VALID + "#" * (300 * 1024) + "\n", "bytes"),
    # audit L2: nesting that makes the TOML parser recurse until RecursionError
    ("toml-bomb", "a = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    # audit L7: a secret key pasted as a key or table name is not repeated either
    ("secret-key-as-key-name", VALID + f"{SECRET} = 1\n",
     "evidence.<AGE-SECRET-KEY-1... secret key, not repeated>"),
    ("secret-key-as-section", VALID + f"\n[{SECRET}]\nx = 1\n",
     "<AGE-SECRET-KEY-1... secret key, not repeated>: got {'x': 1}"),
    ("secret-key-section-twice", VALID + f"\n[{SECRET}]\n[{SECRET}]\n",
     "Cannot declare ('<AGE-SECRET-KEY-1... secret key, not repeated>',) twice"),
    ("secret-key-in-unknown-table", VALID + f"\n[camera]\n{SECRET} = 1\n",
     "camera: got {'<AGE-SECRET-KEY-1... secret key, not repeated>': 1}"),
    # audit H4: '..' leaves /var/lib/bodycam; L9: the key inside the evidence tree
    ("data-dir-dotdot", _with("storage", 'data_dir = "/var/lib/bodycam/../../../run/bodycam/data"'),
     "this path means '/run/bodycam/data'"),
    ("state-dir-in-evidence", _with("storage",
                                    'state_dir = "/var/lib/bodycam/data/evidence/keys"'),
     "storage.state_dir is inside storage.data_dir"),
    # audit L8: every recipient reads every recording
    ("nine-recipients", VALID.replace(f'"{RECIPIENT}"', ", ".join(
        f'"{generate_identity()[1]}"' for _ in range(9))), "at most 8 are allowed"),
]


def write_case(directory: Path, content: str | bytes) -> Path:
    path = directory / "bodycam.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_valid_file_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_case(tmp_path, VALID)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK:" in out and "BC-0042" in out and "1 recipient" in out


def test_there_are_at_least_15_invalid_cases() -> None:
    assert len(INVALID_FILES) >= 15


@pytest.mark.parametrize(("content", "expected"), [(c, e) for _, c, e in INVALID_FILES],
                         ids=[case for case, _, _ in INVALID_FILES])
def test_invalid_file_is_refused_with_the_precise_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes,
        expected: str) -> None:
    path = write_case(tmp_path, content)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert expected in err
    assert "INVALID" in err and "nothing was written" in err
    assert SECRET not in err  # a misplaced secret key is never echoed


def test_missing_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope.toml")]) == 1
    assert "nope.toml" in capsys.readouterr().err


def test_recipients_file_is_checked_as_the_camera_merges_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_case(tmp_path, VALID.replace(f'"{RECIPIENT}"', ""))
    recipients = tmp_path / "keys.txt"
    recipients.write_text(f"# authority\n{RECIPIENT}\n\n{OTHER}\n")
    assert main(["check", str(path), "--recipients", str(recipients)]) == 0
    assert "2 recipient(s)" in capsys.readouterr().out


def test_bad_recipients_line_is_refused_by_number(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_case(tmp_path, VALID)
    recipients = tmp_path / "keys.txt"
    recipients.write_text(f"{OTHER}\n{SECRET}\n")
    assert main(["check", str(path), "--recipients", str(recipients)]) == 1
    err = capsys.readouterr().err
    assert f"{recipients}: line 2" in err and SECRET not in err

"""`bodycam check-config` through the real command-line entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodycam.firmware.cli import main
from bodycam.firmware.config.loader import shipped_file
from bodycam.firmware.evidence.age.keys import generate_identity


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bodycam.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_file_prints_ok_and_summary(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _, recipient = generate_identity()
    path = _write(tmp_path, f'[device]\nid = "BC-0042"\n[evidence]\nrecipients = ["{recipient}"]\n'
                  "[power]\nsleep_after_idle_min = 10\n")  # lasts the shift: no warning
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"OK: {path}"
    assert "BC-0042" in out
    assert "recipients: 1" in out
    assert err == ""


def test_invalid_file_lists_every_problem_on_stderr(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "[video]\nfps = 0\n[pins]\nled_red = 5\n")
    assert main(["check-config", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{path}: video.fps: got 0;" in err
    assert f"{path}: pins.led_red: got 5;" in err
    assert err.splitlines()[-1] == f"INVALID: {path} (2 problems)"


def test_missing_file_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(tmp_path / "nope.toml")]) == 1
    assert "No such file" in capsys.readouterr().err


def test_empty_recipients_warn_by_default(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, '[device]\nid = "BC-1"\n')
    assert main(["check-config", str(path)]) == 0
    assert "WARNING: evidence.recipients is empty" in capsys.readouterr().err


def test_empty_recipients_fail_when_required(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, '[device]\nid = "BC-1"\n')
    assert main(["check-config", str(path), "--require-recipients"]) == 1
    out, err = capsys.readouterr()
    assert f"{path}: evidence.recipients: got []; allowed: at least one age1" in err
    assert out == ""


def test_unset_device_id_warns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(shipped_file("sim.toml"))]) == 0
    assert main(["check-config", str(shipped_file("defaults.toml"))]) == 0
    assert 'device.id is "UNSET"' in capsys.readouterr().err

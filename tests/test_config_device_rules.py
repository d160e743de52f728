"""Storage paths: normal form everywhere, data and state apart everywhere, and below
/var/lib/bodycam on the camera, checked by the camera program itself (audit H4, L9).

Also the loader's own reading of files: a FIFO, a directory or a TOML bomb given to
`bodycam check-config` (or the camera program) is a clear error (audit L2, L3), and the
camera's capacity rule in plain numbers.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from bodycam.firmware.cli import main as bodycam_main
from bodycam.firmware.config.device_rules import (
    StorageNeeds,
    capacity_problems,
    load_device_config,
)
from bodycam.firmware.config.loader import ConfigError, ConfigText, load_config
from bodycam.firmware.evidence.age.keys import generate_identity
from bodycam.tools.provision.cli import main as provision_main

RECIPIENT = generate_identity()[1]
DEVICE = f'[device]\nid = "BC-0001"\n[evidence]\nrecipients = ["{RECIPIENT}"]\n'


def storage(**paths: str) -> ConfigText:
    lines = "".join(f'{key} = "{value}"\n' for key, value in paths.items())
    return ConfigText("bodycam.toml", f"{DEVICE}[storage]\n{lines}".encode())


def problems(text: ConfigText, *, device: bool = False) -> str:
    with pytest.raises(ConfigError) as caught:
        (load_device_config if device else load_config)(text)
    return str(caught.value)


@pytest.mark.parametrize(("path", "means"), [
    ("/var/lib/bodycam/../../../run/bodycam/data", "'..' parts are refused: this path means "
                                                   "'/run/bodycam/data'"),
    ("/var/lib/bodycam/./data", "'.' parts are refused: this path means "
                                "'/var/lib/bodycam/data'"),
    ("/var/lib//bodycam/data", "doubled or trailing '/' are refused"),
    ("/var/lib/bodycam/data/", "this path means '/var/lib/bodycam/data'"),
    ("//var/lib/bodycam/data", "this path means '/var/lib/bodycam/data'"),
])
def test_paths_must_be_written_in_normal_form(path: str, means: str) -> None:
    assert means in problems(storage(data_dir=path))


@pytest.mark.parametrize("target", ["run/bodycam/data", "tmp/ev", "var/tmp/ev", "dev/shm/ev"])
def test_audit_dotdot_cases_fail_provision_check(tmp_path: Path, target: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """H4 repro: each of these passed `bodycam-provision check` as OK."""
    path = tmp_path / "dot.toml"
    path.write_bytes(storage(data_dir=f"/var/lib/bodycam/../../../{target}").data)
    assert provision_main(["check", str(path)]) == 1
    assert f"this path means '/{target}'" in capsys.readouterr().err


@pytest.mark.parametrize(("paths", "expected"), [
    ({"state_dir": "/var/lib/bodycam/data/evidence/keys"},  # the audit's L9 case
     "storage.state_dir is inside storage.data_dir"),
    ({"data_dir": "/var/lib/bodycam/state/data"}, "storage.data_dir is inside storage.state_dir"),
    ({"data_dir": "/var/lib/bodycam", "state_dir": "/var/lib/bodycam/state"},
     "storage.state_dir is inside storage.data_dir"),
    ({"state_dir": "/var/lib/bodycam/data"}, "storage.state_dir is the same directory as"),
])
def test_data_and_state_must_be_apart(paths: dict[str, str], expected: str) -> None:
    assert expected in problems(storage(**paths))


def test_the_later_layer_is_blamed_for_paths_that_overlap(tmp_path: Path) -> None:
    device = tmp_path / "device.toml"
    device.write_bytes(storage(data_dir="/srv/cam").data)
    with pytest.raises(ConfigError) as caught:
        load_config(device, overrides=['storage.state_dir="/srv/cam/state"'])
    [problem] = caught.value.problems
    assert (problem.source, problem.key) == ("command line", "storage.state_dir")
    assert 'storage.data_dir = "/srv/cam"' in problem.hint


def test_the_simulator_may_use_any_folder_but_the_camera_may_not() -> None:
    """The sandbox rule is the device's: `bodycam sim` runs in temporary folders."""
    text = storage(data_dir="/tmp/sim/data", state_dir="/tmp/sim/data-state")
    assert load_config(text).storage.data_dir == Path("/tmp/sim/data")
    assert "a directory below /var/lib/bodycam" in problems(text, device=True)


@pytest.mark.parametrize("case", [
    ({"data_dir": "/var/lib/bodycam/../../../run/bodycam/data"}, "'/run/bodycam/data'"),
    ({"data_dir": "/tmp/ev"}, "a directory below /var/lib/bodycam"),
    ({"state_dir": "/var/lib/bodycam/data/evidence/keys"}, "inside storage.data_dir"),
], ids=["dotdot", "outside", "state-in-evidence"])
@pytest.mark.parametrize("command", [["run", "--config"], ["check-config"]])
def test_the_camera_program_applies_the_rules_itself(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
        command: list[str], case: tuple[dict[str, str], str]) -> None:
    """`bodycam run` does not rely on the import: an installed file that breaks the
    rules (an older import, a hand edit) stops the program before it records anywhere."""
    paths, expected = case
    path = tmp_path / "bodycam.toml"
    path.write_bytes(storage(**paths).data)
    assert bodycam_main([*command, str(path)]) == 1
    assert expected in caplog.text + capsys.readouterr().err


def test_toml_bomb_is_reported_by_check_config(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """L2 repro: `bodycam check-config bomb.toml` crashed with RecursionError."""
    path = tmp_path / "bomb.toml"
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    assert bodycam_main(["check-config", str(path)]) == 1
    assert "nested too deeply" in capsys.readouterr().err


def test_fifo_given_to_check_config_is_refused_without_hanging(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The bound only keeps a regression from hanging the run."""
    fifo = tmp_path / "bodycam.toml"
    os.mkfifo(fifo)
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(
        bodycam_main(["check-config", str(fifo)])), daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert results == [1]
    assert "got 'a FIFO (named pipe)'" in capsys.readouterr().err


@pytest.mark.parametrize(("size_mb", "reserve", "nearly_full", "keys"), [
    (30_000, 512, 2048, []),
    (30_000, 999_999, 1_000_000, ["storage.reserve_mb", "storage.nearly_full_mb"]),
    (1000, 512, 900, []),  # 512 + 36 MiB (10 minutes at 500 kbit/s) fit
    (540, 512, 530, ["storage.reserve_mb"]),  # 548 MiB do not
    (1000, 16, 1000, ["storage.nearly_full_mb"]),
])
def test_capacity_rule(size_mb: int, reserve: int, nearly_full: int,
                       keys: list[str]) -> None:
    needs = StorageNeeds(reserve, nearly_full, recording_kbps=500)
    found = capacity_problems(needs, size_mb * 2**20, "bodycam.toml")
    assert [p.key for p in found] == keys

"""`body_idle_seconds` in server.toml: how long an upload body may bring nothing before
it counts as cut off (the behaviour itself: test_offload_link_faults.py, a real cable cut).
A value that would make the server hang on for ever or cut healthy uploads off is refused
with the fix, before `serve` starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodycam.server.settings import DEFAULT_BODY_IDLE_S, ServerSettings, SettingsError


def written(tmp_path: Path) -> Path:
    settings = ServerSettings(data_dir=tmp_path, url="https://127.0.0.1:8443",
                              database="sqlite:///x.db", blobs="folder")
    settings.write()
    return tmp_path / "server.toml"


def test_init_writes_the_default_and_it_is_read_back(tmp_path: Path) -> None:
    path = written(tmp_path)
    assert f"body_idle_seconds = {DEFAULT_BODY_IDLE_S:g}" in path.read_text()
    assert ServerSettings.load(tmp_path).body_idle_seconds == DEFAULT_BODY_IDLE_S


def test_an_older_data_directory_without_it_gets_the_default(tmp_path: Path) -> None:
    path = written(tmp_path)
    path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                            if not line.startswith("body_idle_seconds")))
    assert ServerSettings.load(tmp_path).body_idle_seconds == DEFAULT_BODY_IDLE_S


@pytest.mark.parametrize("value", ["0", "0.5", "3601", "nan", "inf", "-5"])
def test_a_value_out_of_range_is_refused_naming_it_and_the_fix(
        tmp_path: Path, value: str) -> None:
    path = written(tmp_path)
    path.write_text(path.read_text().replace(f"body_idle_seconds = {DEFAULT_BODY_IDLE_S:g}",
                                             f"body_idle_seconds = {value}"))
    with pytest.raises(SettingsError) as refused:
        ServerSettings.load(tmp_path)
    message = str(refused.value)
    assert "body_idle_seconds" in message and "1 to 3600 s" in message
    assert "Fix:" in message and str(path) in message

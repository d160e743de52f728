"""Where export writes (audit L5): OUT and OUT.report.json in a folder others can write.

A symbolic link planted at the report's name must not be followed, a file made at OUT
while the export runs must not be replaced (the report's mode 0600 is checked with the
MP4's in test_export.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from export_support import export, report_of
from test_evidence_support import AgeIdentity

from bodycam.tools.custody.export import command as export_cmd
from bodycam.tools.custody.export import output as export_output
from bodycam.tools.custody.export.output import move_no_replace

pytest_plugins = ("export_fixtures",)


def test_a_dangling_link_at_the_report_name_is_not_followed(
        tmp_path: Path, recording: Path, identity: AgeIdentity,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The audit's reproduction: a link in a shared case folder."""
    shared = tmp_path / "shared"
    shared.mkdir()
    victim = tmp_path / "victim-created.txt"
    (shared / "case.report.json").symlink_to(victim)
    out = shared / "case.mp4"
    assert export(recording, identity, out) == 2
    assert not victim.exists() and not out.exists()
    err = capsys.readouterr().err
    assert "case.report.json already exists (a symbolic link, which export never follows)" \
        in err


def test_a_dangling_link_at_out_is_not_replaced(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    out = tmp_path / "case.mp4"
    out.symlink_to(tmp_path / "elsewhere.mp4")
    assert export(recording, identity, out) == 2
    assert out.is_symlink() and not (tmp_path / "elsewhere.mp4").exists()


def during_the_join(monkeypatch: pytest.MonkeyPatch, act: Callable[[], None]) -> None:
    """Run `act` (someone else writing to the output folder) while the last segment is
    joined: after every check on OUT, before the report and the MP4 get their names."""
    real = export_cmd._progress

    def progress(message: str) -> None:
        real(message)
        if message.startswith("segment 3/3"):
            act()

    monkeypatch.setattr(export_cmd, "_progress", progress)


def test_a_link_planted_at_the_report_name_during_the_export_is_not_followed(
        tmp_path: Path, recording: Path, identity: AgeIdentity,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "case.mp4"
    report = out.with_suffix(".report.json")
    victim = tmp_path / "victim-created.txt"
    during_the_join(monkeypatch, lambda: report.symlink_to(victim))
    assert export(recording, identity, out) == 1
    assert not victim.exists()
    assert report.is_symlink()  # left as it was found
    assert not out.exists() and not Path(f"{out}.partial").exists()  # no plaintext left
    assert "appeared while the export ran" in capsys.readouterr().err


@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "link+unlink"])
def test_a_file_made_at_out_during_the_export_is_not_replaced(
        tmp_path: Path, recording: Path, identity: AgeIdentity, *, renameat2: bool,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Also where the kernel or file system lacks RENAME_NOREPLACE (link + unlink)."""
    if not renameat2:
        monkeypatch.setattr(export_output, "_renameat2_noreplace", lambda _s, _t: False)
    out = tmp_path / "case.mp4"
    during_the_join(monkeypatch, lambda: out.write_bytes(b"someone else's file"))
    assert export(recording, identity, out) == 1
    assert out.read_bytes() == b"someone else's file"
    assert not out.with_suffix(".report.json").exists()  # no report without its MP4
    assert not Path(f"{out}.partial").exists()
    err = capsys.readouterr().err
    assert "appeared while the export ran" in err and "Fix:" in err


def test_a_successful_export_publishes_both_files(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    out = tmp_path / "case.mp4"
    assert export(recording, identity, out) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("case")) == \
        ["case.mp4", "case.report.json"]
    assert report_of(out)["output"]["size"] == out.stat().st_size  # type: ignore[index]


@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "link+unlink"])
def test_move_no_replace(tmp_path: Path, *, renameat2: bool,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    if not renameat2:
        monkeypatch.setattr(export_output, "_renameat2_noreplace", lambda _s, _t: False)
    source, target = tmp_path / "a.partial", tmp_path / "a"
    source.write_bytes(b"new")
    move_no_replace(source, target)
    assert target.read_bytes() == b"new" and not source.exists()

    source.write_bytes(b"newer")
    for taken in (target, tmp_path / "dangling"):
        if taken.name == "dangling":
            taken.symlink_to(tmp_path / "nowhere")
        with pytest.raises(FileExistsError):
            move_no_replace(source, taken)
        assert source.read_bytes() == b"newer"
    assert target.read_bytes() == b"new" and not (tmp_path / "nowhere").exists()

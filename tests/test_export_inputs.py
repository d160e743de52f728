"""What export reads: only camera-named segment files inside the recording, each once.

The attacks are the audit's (M3, L6): a manifest naming a file outside the recording,
a segment replaced by a symbolic link, a writer changing files while the export runs,
and a manifest line nested too deep to parse.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from export_support import export, recorded, report_of, sha256
from media_fixtures import FPS, clip, decode_all
from test_evidence_support import AgeIdentity

from bodycam.firmware.evidence.store import FileEvidenceStore
from bodycam.firmware.evidence.verify import verify_recording
from bodycam.firmware.evidence.verify_chain import MAX_LINE_BYTES
from bodycam.hal.clocks import ManualClock
from bodycam.tools.custody.export import command as export_cmd
from bodycam.tools.custody.export import inputs as export_inputs
from bodycam.tools.custody.export.inputs import name_refusal
from bodycam.tools.custody.export.salvage import unaccounted_files

pytest_plugins = ("export_fixtures",)
SECRET = "secret-segment.age"

# Runs the export in a child process that reports every file it opens whose path names
# the other case's file or a segment of the recording (the latter proves the hook works).
_WATCHED_EXPORT = f"""
import json, sys
seen = []
def hook(event, args):
    if event == "open" and args and any(w in str(args[0]) for w in ("{SECRET}", "00001.age")):
        seen.append(str(args[0]))
sys.addaudithook(hook)
from bodycam.tools.custody.cli import main
code = main(sys.argv[1:])
print(json.dumps({{"code": code, "opened": seen}}))
"""


def watched_export(recording: Path, identity: AgeIdentity, out: Path,
                   *extra: str) -> tuple[int, list[str], str]:
    """(exit code, paths opened that the hook watches, stderr) of a real export."""
    result = subprocess.run(
        [sys.executable, "-c", _WATCHED_EXPORT, "export", str(recording), "-i",
         str(identity.identity_file), "-o", str(out), *extra],
        capture_output=True, text=True, check=False)
    answer = json.loads(result.stdout.splitlines()[-1])
    return answer["code"], answer["opened"], result.stderr


def rewrite_manifest(directory: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply `change` to every record, as the audit did (the signatures then fail)."""
    manifest = directory / "manifest.jsonl"
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    for record in records:
        change(record)
    manifest.write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n"
                                for r in records))


def case_with_foreign_segment(tmp_path: Path, recording: Path, absolute: bool) -> Path:
    """The audit's layout: trav/case/REC whose manifest names segment 0 as a file of
    another case (trav/othercase/secret-segment.age, a real segment the custodian's
    identity decrypts); segments 1 and 2 are in place."""
    rec = tmp_path / "trav" / "case" / "REC"
    other = tmp_path / "trav" / "othercase"
    rec.mkdir(parents=True)
    other.mkdir()
    for name in ("manifest.jsonl", "00001.age", "00002.age"):
        shutil.copyfile(recording / name, rec / name)
    shutil.copyfile(recording / "00000.age", other / SECRET)
    foreign = str(other / SECRET) if absolute else f"../../othercase/{SECRET}"

    def point_away(record: dict[str, Any]) -> None:
        if record.get("file") == "00000.age":
            record["file"] = foreign

    rewrite_manifest(rec, point_away)
    return rec


@pytest.mark.parametrize("absolute", [False, True], ids=["../ path", "absolute path"])
def test_a_manifest_naming_a_file_outside_the_recording_is_refused_unread(
        tmp_path: Path, recording: Path, identity: AgeIdentity, absolute: bool) -> None:
    rec = case_with_foreign_segment(tmp_path, recording, absolute)
    out = tmp_path / "o2.mp4"
    code, opened, err = watched_export(rec, identity, out)
    assert code == 1 and not out.exists()  # verification fails: never without --force

    code, opened, err = watched_export(rec, identity, out, "--force")
    assert code == 0, err
    assert not [p for p in opened if SECRET in p]  # never opened, not even to hash it
    assert any("00001.age" in p for p in opened)  # the hook does see the export's opens
    report = report_of(out)
    (refused,) = report["refused"]  # type: ignore[misc]
    assert refused["index"] == 0 and refused["file"].endswith(f"othercase/{SECRET}")
    notes = " ".join(report["notes"])  # type: ignore[arg-type]
    assert f"refused: the manifest names {refused['file']!r} for segment 0" in notes
    assert [s["file"] for s in report["segments"]] == ["00001.age", "00002.age"]  # type: ignore[attr-defined]
    assert decode_all(out)["video"] == 4 * FPS  # segments 1 and 2 only


def test_the_audit_reproduction_exports_nothing_and_says_why(
        tmp_path: Path, store: FileEvidenceStore, clock: ManualClock,
        identity: AgeIdentity) -> None:
    """Exactly the audit's case: a one-segment recording whose only file is elsewhere."""
    one = recorded(store, clock, clip(1.5), 2.0)  # type: ignore[arg-type]
    assert sorted(p.name for p in one.glob("*.age")) == ["00000.age"]
    rec = tmp_path / "trav" / "case" / "REC"
    rec.mkdir(parents=True)
    (tmp_path / "trav" / "othercase").mkdir()
    shutil.copyfile(one / "manifest.jsonl", rec / "manifest.jsonl")
    shutil.copyfile(one / "00000.age", tmp_path / "trav" / "othercase" / SECRET)
    rewrite_manifest(rec, lambda r: r.update(file=f"../../othercase/{SECRET}")
                     if r.get("file") == "00000.age" else None)
    out = tmp_path / "o2.mp4"
    code, opened, err = watched_export(rec, identity, out, "--force")
    assert code == 1 and not out.exists()
    assert opened == []
    assert "holds no segments: nothing to export" in err
    assert f"refused: the manifest names '../../othercase/{SECRET}' for segment 0" in err


def test_a_segment_replaced_by_a_symbolic_link_is_refused(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    elsewhere = tmp_path / "elsewhere.age"
    shutil.copyfile(recording / "00001.age", elsewhere)  # the very same bytes
    (recording / "00001.age").unlink()
    (recording / "00001.age").symlink_to(elsewhere)
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out) == 1 and not out.exists()

    assert export(recording, identity, out, "--force") == 0
    report = report_of(out)
    (refused,) = report["refused"]  # type: ignore[misc]
    assert refused["file"] == "00001.age" and "symbolic link" in refused["why"]
    assert [s["file"] for s in report["segments"]] == ["00000.age", "00002.age"]  # type: ignore[attr-defined]
    assert decode_all(out)["video"] == 4 * FPS


@pytest.mark.parametrize(("index", "name", "refused"), [
    (0, "00000.age", None),
    (3, "00003-2.truncated.age", None),
    (1, "00000.age", "file name of segment 0, not of segment 1"),
    (0, "../00000.age", "is a path"),
    (0, "/tmp/00000.age", "is a path"),
    (0, "..", "is a path"),
    (0, "manifest.jsonl", "not a segment file name"),
    (0, "00000.age.partial", "not a segment file name"),
    (0, "0000.age", "not a segment file name"),
    (0, "00000.age\n", "not a segment file name"),
])
def test_only_names_the_camera_writes_are_accepted(index: int, name: str,
                                                   refused: str | None) -> None:
    why = name_refusal(index, name)
    assert why is None if refused is None else (why is not None and refused in why)


def test_a_linked_or_refused_segment_file_is_never_included(tmp_path: Path) -> None:
    (tmp_path / "00000.age").write_bytes(b"x")
    (tmp_path / "00001.age").symlink_to(tmp_path / "00000.age")
    opened = [{"event": "segment_open", "index": i, "file": f"{i:05d}.age"} for i in (0, 1)]
    found = unaccounted_files(tmp_path, opened, {}, force=True, refused={0: "../x.age"})
    assert [(f.file, f.include) for f in found] == [("00000.age", False), ("00001.age", False)]
    assert "names '../x.age' instead, which was refused" in found[0].why
    assert "symbolic link" in found[1].why


# ------------------------------------------------------------------ read once (L6)


def replace_after(monkeypatch: pytest.MonkeyPatch, name: str, step: Callable[[], None]
                  ) -> None:
    """Run `step` (a writer changing the store) right after export's call to `name`."""
    real = getattr(export_cmd, name)

    def then_change(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        step()
        return result

    monkeypatch.setattr(export_cmd, name, then_change)


def test_a_segment_changed_after_verification_is_not_exported_as_verified(
        tmp_path: Path, recording: Path, identity: AgeIdentity,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer swaps segment 1 for segment 0's bytes (which decrypt fine) once verify
    has hashed it: the MP4 must not silently carry other media than the manifest signed."""
    swapped = (recording / "00000.age").read_bytes()
    replace_after(monkeypatch, "verify_recording",
                  lambda: (recording / "00001.age").write_bytes(swapped))
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out) == 1 and not out.exists()


def test_a_forced_export_reports_the_bytes_it_used(
        tmp_path: Path, recording: Path, identity: AgeIdentity,
        monkeypatch: pytest.MonkeyPatch) -> None:
    swapped = (recording / "00000.age").read_bytes()
    signed = (recording / "00001.age").stat().st_size
    replace_after(monkeypatch, "verify_recording",
                  lambda: (recording / "00001.age").write_bytes(swapped))
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out, "--force") == 0
    report = report_of(out)
    entry = report["segments"][1]  # type: ignore[index]
    used = swapped[:signed]  # never more than the manifest signed
    assert entry["file"] == "00001.age" and entry["size"] == len(used)
    assert entry["sha256"] == hashlib.sha256(used).hexdigest()
    differs = entry["differs_from_manifest"]
    assert "the manifest signed" in differs
    notes = " ".join(report["notes"])  # type: ignore[arg-type]
    assert f"segment 1 (00001.age): {differs} (altered, or written to during the export)" \
        in notes


def test_a_segment_changed_between_two_reads_of_one_export_fails_even_forced(
        tmp_path: Path, recording: Path, identity: AgeIdentity,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The look-ahead for codec parameters reads segment 0 before the join does: the
    join must use the very same bytes."""
    other = (recording / "00002.age").read_bytes()
    replace_after(monkeypatch, "salvage_chunks",
                  lambda: (recording / "00000.age").write_bytes(other))
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out, "--force") == 1
    assert not out.exists() and not Path(f"{out}.partial").exists()
    err = capsys.readouterr().err
    assert "00000.age changed while it was being exported" in err and "Fix:" in err


def forge_but_show_verify_the_genuine(monkeypatch: pytest.MonkeyPatch,
                                      recording: Path) -> Path:
    """Forge the manifest's seal reason (same size), but put the genuine bytes back for
    as long as export's call of verify_recording runs; the manifest's path."""
    manifest = recording / "manifest.jsonl"
    genuine = manifest.read_bytes()
    forged = genuine.replace(b'"stopped by wearer"', b'"STOPPED BY WEARER"')
    manifest.write_bytes(forged)
    real = export_cmd.verify_recording

    def shown_the_genuine_one(*args: Any, **kwargs: Any) -> Any:
        manifest.write_bytes(genuine)
        try:
            return real(*args, **kwargs)
        finally:
            manifest.write_bytes(forged)

    monkeypatch.setattr(export_cmd, "verify_recording", shown_the_genuine_one)
    return manifest


@pytest.mark.parametrize("force", [False, True], ids=["plain", "forced"])
def test_a_manifest_changed_while_verify_reads_it_stops_the_export(
        tmp_path: Path, recording: Path, identity: AgeIdentity, *, force: bool,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A writer shows verify the genuine manifest and export a forged one (swapped in
    before and back after verify reads): the report would call the forgery verified."""
    manifest = forge_but_show_verify_the_genuine(monkeypatch, recording)
    os.utime(manifest, (1_600_000_000, 1_600_000_000))
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out, *(["--force"] if force else [])) == 1
    assert not out.exists() and not out.with_suffix(".report.json").exists()
    err = capsys.readouterr().err
    assert "manifest.jsonl changed while the recording was being verified" in err


def test_a_manifest_line_nested_too_deep_is_damage_not_a_crash(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    manifest = recording / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    deep = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    manifest.write_bytes(b"".join([*lines[:2], deep, *lines[2:]]))
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out) == 1  # verification fails: line 3
    assert export(recording, identity, out, "--force") == 0
    report = report_of(out)
    problems = report["verification"]["problems"]  # type: ignore[index]
    assert any(p["line"] == 3 for p in problems)
    assert decode_all(out)["video"] == 6 * FPS  # every segment: the line is skipped


def test_a_line_longer_than_any_record_is_never_parsed(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    """Like verify, export skips a line over MAX_LINE_BYTES unread (memory): here one
    that would otherwise name a segment 5."""
    manifest = recording / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    giant = json.dumps({"event": "segment", "index": 5, "file": "00005.age", "seq": 99,
                        "sig": "x", "pad": "a" * (MAX_LINE_BYTES + 1)}).encode() + b"\n"
    manifest.write_bytes(b"".join([*lines[:-1], giant, lines[-1]]))
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out, "--force") == 0
    assert "00005.age" not in " ".join(report_of(out)["notes"])  # type: ignore[arg-type]
    assert decode_all(out)["video"] == 6 * FPS


def test_a_giant_manifest_is_refused_before_it_fills_memory(
        tmp_path: Path, recording: Path, identity: AgeIdentity,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The cap (64 MiB, days of recording) lowered below this manifest's size."""
    monkeypatch.setattr(export_inputs, "MAX_MANIFEST_BYTES", 1000)
    out = tmp_path / "out.mp4"
    assert export(recording, identity, out) == 1 and not out.exists()
    assert "manifest.jsonl is larger than" in capsys.readouterr().err
    assert export(recording, identity, out, "--force") == 0
    notes = " ".join(report_of(out)["notes"])  # type: ignore[arg-type]
    assert "FORCED past: refused: manifest.jsonl is larger than" in notes
    assert report_of(out)["manifest"] is None
    assert decode_all(out)["video"] == 6 * FPS  # every segment file, named in the notes


# ------------------------------------------------ the directory verified is the one read


def forge_manifest(directory: Path) -> None:
    """Rewrite the seal reason: the line's signature fails."""
    manifest = directory / "manifest.jsonl"
    manifest.write_bytes(manifest.read_bytes().replace(b'"stopped by wearer"',
                                                       b'"STOPPED BY WEARER"'))


def plant_segment(directory: Path) -> None:
    """A segment file the manifest never opened (it would be exported with --force)."""
    shutil.copyfile(directory / "00000.age", directory / "00003.age")


def swap_after_open(monkeypatch: pytest.MonkeyPatch, directory: Path, other: Path) -> None:
    """Right after export opens `directory`, move it away and put `other` in its place
    (someone with write access to the case folder, racing the export)."""
    real = export_cmd.open_recording

    @contextmanager
    def open_then_swap(path: Path) -> Iterator[export_inputs.RecordingFiles]:
        with real(path) as files:
            directory.rename(directory.with_name("moved-away"))
            other.rename(directory)
            yield files

    monkeypatch.setattr(export_cmd, "open_recording", open_then_swap)


@pytest.mark.parametrize("force", [False, True], ids=["plain", "forced"])
@pytest.mark.parametrize("tamper", [forge_manifest, plant_segment],
                         ids=["forged manifest", "planted segment file"])
def test_a_directory_swapped_after_the_open_does_not_lend_its_verification(
        tmp_path: Path, recording: Path, identity: AgeIdentity, *, force: bool,
        tamper: Callable[[Path], None], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Export holds a tampered copy open and reads it; the genuine recording is swapped
    in at the path before verification. Verifying by path would call the copy VERIFIED:
    its manifest, or a file the manifest does not account for, would go unchecked."""
    case = tmp_path / "case" / recording.name
    shutil.copytree(recording, case)
    tamper(case)
    swap_after_open(monkeypatch, case, recording)
    out = tmp_path / "out.mp4"
    code = export(case, identity, out, *(["--force"] if force else []))
    held = tmp_path / "case" / "moved-away"  # where the tampered copy is now
    assert held.is_dir() and not recording.exists()  # the swap did happen
    if not force:
        assert code == 1 and not out.exists()
        assert "verification failed (" in capsys.readouterr().err
        return
    assert code == 0
    report = report_of(out)
    verification = report["verification"]
    assert verification["status"] == "failed"  # type: ignore[index]
    assert verification["path"] == str(case)  # as the custodian named it  # type: ignore[index]
    assert report["manifest"]["sha256"] == sha256(held / "manifest.jsonl")  # type: ignore[index]
    if tamper is plant_segment:  # the held directory's files are the ones accounted for
        assert "not included: 00003.age" in " ".join(report["notes"])  # type: ignore[arg-type]


def test_verify_through_the_held_directory_opens_files_as_by_path(
        tmp_path: Path, recording: Path) -> None:
    """/proc/self/fd/N is followed (it is not the final component), a link inside the
    directory is not, and the recording id is checked against the real name."""
    with export_inputs.open_recording(recording) as files:
        report = verify_recording(files.held, name=recording.name)
    assert report.status == "verified", report.summary()
    assert report.notes == []  # no "directory name ... is not the recording id"

    elsewhere = tmp_path / "elsewhere.age"
    shutil.copyfile(recording / "00001.age", elsewhere)  # the very same bytes
    (recording / "00001.age").unlink()
    (recording / "00001.age").symlink_to(elsewhere)
    with export_inputs.open_recording(recording) as files:
        report = verify_recording(files.held, name="BC-0001-20990101T000000Z-0000")
    problems = [str(p) for p in report.problems]
    assert any("00001.age is a symbolic link" in p for p in problems), problems
    assert any("but the directory is BC-0001-20990101T000000Z-0000" in p for p in problems)


@pytest.mark.parametrize("force", [False, True], ids=["plain", "forced"])
def test_verify_checks_the_manifest_bytes_export_read_not_a_second_read(
        tmp_path: Path, recording: Path, identity: AgeIdentity, *, force: bool,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A writer shows export a forged manifest and verify the genuine one, on a file
    system whose times cannot tell the rewrites apart (FAT and exFAT, as SD cards use,
    keep coarse modification times and no change time; simulated: a same-size rewrite
    keeps the identity export compares). Only verifying the very bytes export read
    catches it."""
    monkeypatch.setattr(export_inputs, "_identity",
                        lambda st: (st.st_dev, st.st_ino, st.st_size))
    manifest = forge_but_show_verify_the_genuine(monkeypatch, recording)
    out = tmp_path / "out.mp4"
    code = export(recording, identity, out, *(["--force"] if force else []))
    if not force:
        assert code == 1 and not out.exists()
        assert "verification failed (manifest.jsonl line 8" in capsys.readouterr().err
        return
    assert code == 0
    assert report_of(out)["verification"]["status"] == "failed"  # type: ignore[index]
    assert report_of(out)["manifest"]["sha256"] == sha256(manifest)  # type: ignore[index]


# ------------------------------------------------------------ bounded reads of segments

GIANT = 50 << 30  # bytes: a sparse file costs no disk, but its size in memory if read
# Runs the export in a child process that may not map more than 8 GiB (so reading the
# giant file fails at once instead of filling the machine), and reports its peak RSS.
_BOUNDED_EXPORT = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
from bodycam.tools.custody.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10}))
"""


def bounded_export(recording: Path, identity: AgeIdentity, out: Path,
                   *extra: str) -> tuple[int, str]:
    """(exit code, stderr) of a real export that must not have held 1 GiB at any time."""
    result = subprocess.run(
        [sys.executable, "-c", _BOUNDED_EXPORT, "export", str(recording), "-i",
         str(identity.identity_file), "-o", str(out), *extra],
        capture_output=True, text=True, check=False)
    assert result.stdout, result.stderr  # no answer: killed, or a traceback
    answer = json.loads(result.stdout.splitlines()[-1])
    assert answer["peak_rss"] < 1 << 30, answer
    return answer["code"], result.stderr


def test_a_segment_grown_huge_is_read_only_up_to_its_signed_size(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    """A sparse 50 GB 00001.age whose first bytes are the genuine segment: the forced
    export uses the signed bytes and says the file is larger, without reading the rest."""
    segment = recording / "00001.age"
    signed = segment.stat().st_size
    genuine = sha256(segment)
    os.truncate(segment, GIANT)
    out = tmp_path / "out.mp4"
    code, err = bounded_export(recording, identity, out)
    assert code == 1 and not out.exists()
    assert f"00001.age: {GIANT} bytes, but {signed} are listed" in err  # verify: fstat

    code, err = bounded_export(recording, identity, out, "--force")
    assert code == 0, err
    entry = report_of(out)["segments"][1]  # type: ignore[index]
    assert entry["size"] == signed and entry["sha256"] == genuine
    assert entry["differs_from_manifest"] == (
        f"the file is larger than the {signed} bytes the manifest signed; only its first "
        f"{signed} bytes were read, and they are the bytes it signed (bytes were added "
        "after them)")
    assert decode_all(out)["video"] == 6 * FPS  # every segment, whole


def drop_last_records(directory: Path, count: int) -> None:
    """Cut the manifest's last records, as a power cut before they were written does."""
    manifest = directory / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(b"".join(lines[:-count]))


def test_a_huge_file_without_a_signed_size_is_refused_unread(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    """A recording cut by power loss before segment 2's record: a forced export includes
    00002.age although the manifest gives no size for it; a sparse 50 GB one is refused."""
    drop_last_records(recording, 2)  # segment 2's record and the seal
    os.truncate(recording / "00002.age", GIANT)
    out = tmp_path / "out.mp4"
    code, err = bounded_export(recording, identity, out, "--force")
    assert code == 0, err
    report = report_of(out)
    (refused,) = report["refused"]  # type: ignore[misc]
    assert refused["file"] == "00002.age"
    assert refused["why"] == (
        f"00002.age holds {GIANT} bytes, more than the {export_inputs.MAX_SEGMENT_BYTES} "
        "of the largest segment the camera can write (a planted or sparse file); it was "
        "not read")
    assert [s["file"] for s in report["segments"]] == ["00000.age", "00001.age"]  # type: ignore[attr-defined]
    assert decode_all(out)["video"] == 4 * FPS


def test_a_hostile_signed_size_does_not_lift_the_limit(
        tmp_path: Path, recording: Path, identity: AgeIdentity) -> None:
    """A forced export of a manifest rewritten to sign 1 TB for segment 2 (its signature
    fails, but --force goes on): the limit is the largest real segment, not that size."""
    rewrite_manifest(recording, lambda r: r.update(size=1 << 40)
                     if r.get("file") == "00002.age" and "size" in r else None)
    os.truncate(recording / "00002.age", GIANT)
    out = tmp_path / "out.mp4"
    code, err = bounded_export(recording, identity, out, "--force")
    assert code == 0, err
    (refused,) = report_of(out)["refused"]  # type: ignore[misc]
    assert refused["file"] == "00002.age" and "it was not read" in refused["why"]
    assert decode_all(out)["video"] == 4 * FPS


def test_the_segment_limit_is_that_of_the_largest_segment_the_camera_can_write() -> None:
    """600 s (a cut waits up to one more segment length for a keyframe) at 25 Mbit/s
    video and 320 kbit/s audio, twice over: a few GB, far above any real segment, far
    below a planted giant."""
    assert export_inputs.MAX_SEGMENT_BYTES == 2 * 600 * (25_000 + 320) * 1000 // 8

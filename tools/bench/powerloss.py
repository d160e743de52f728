"""Power-loss harness: cut the simulated camera off mid-recording and measure what survived.

One trial runs the real device program (`bodycam sim`) as a subprocess, presses RECORD,
SIGKILLs the whole process group at a chosen moment, starts the program again (recovery
runs at start exactly as in the field), then acts as the custodian: `bodycam-evidence
verify`, decryption of every segment (truncation-tolerant), `bodycam-evidence export`,
and a look at the exported MP4 to find the last decodable video frame.

Loss = media time of the kill - media time of the last decodable frame, both on the
simulator's media clock (SimClock monotonic time, which the camera stamps frames with):

* the kill: the sim prints ``[   m s] a -> b`` on every state change; the earliest
  arrival of such a line minus m/speed gives the real instant of media time zero (late
  by the pipe latency only, which makes the measured loss err on the small side by
  that latency x speed, typically well under 10 ms);
* the last frame: export timestamps start at zero; the camera shows a full-white frame at
  every whole second of media time, so each flash pins the export timeline to media time
  exactly. Which whole second a flash is comes from the manifest (segment 0's
  ``wall_start``) and the audit log (wall time of the press), good to about 0.1 s.

SIGKILL is not a power cut for the page cache: the kernel keeps everything the process
wrote. What SIGKILL measures is the media the program had not yet handed to the kernel
(pipeline queue, muxer, the encryptor's unsealed chunk). A real power cut can also lose
what was written but not yet fsync'd, at most `sync_interval_seconds` + one 0.1 s tick
(docs/formats.md, "Loss window"). `cut_and_salvage` checks the other half of that claim:
a segment cut at ANY byte length still salvages and decrypts up to its last whole chunk.

Run: ``python -m bodycam.tools.bench.powerloss --trials 5`` prints a JSON summary.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

import av

from bodycam.firmware.device.resume import FILE_NAME as RESUME_FLAG
from bodycam.firmware.device.resume import RESUME_CAUSE
from bodycam.firmware.evidence.age import HeaderError, decrypt
from bodycam.firmware.evidence.age.keys import (
    format_identity_file,
    generate_identity,
    read_identity_file,
)
from bodycam.firmware.evidence.recovery import RECOVERED_REASON
from bodycam.firmware.evidence.salvage import salvage_file
from bodycam.firmware.evidence.segment_file import PARTIAL_SUFFIX
from bodycam.firmware.evidence.signed_log import read_records
from bodycam.firmware.evidence.store import EVIDENCE_DIR, MANIFEST_NAME
from bodycam.tools.bench.avsync import WHITE_LEVEL

__all__ = [
    "FAST_VIDEO",
    "LOSS_BOUND_S",
    "CutSalvage",
    "FileState",
    "LossSummary",
    "SegmentDecrypt",
    "SimProcess",
    "TrialError",
    "TrialResult",
    "cut_and_salvage",
    "make_identity",
    "measure_loss_window",
    "nothing_deleted",
    "run_kill_trial",
    "snapshot",
]

LOSS_BOUND_S: Final = 2.0  # what the product promises (DESIGN.md property 4)
# Small, cheap video so trials stay fast on a loaded machine; 1 s GOP.
FAST_VIDEO: Final = ("video.width=320", "video.height=180", "video.fps=15",
                     "video.keyframe_interval=15")
_STATE_LINE = re.compile(r"^\[\s*(?P<m>[0-9.]+) s\] (?P<src>\S+) -> (?P<dst>\S+)")
_START_TIMEOUT_S: Final = 60.0  # real seconds for the sim to boot and reach RECORDING
_RUN_TIMEOUT_S: Final = 60.0  # real seconds for the recovery start and custodian tools
_POLL_S: Final = 0.002


class TrialError(RuntimeError):
    """The trial could not be run (the sim did not start, exited early, ...)."""


@dataclass(frozen=True)
class FileState:
    size: int
    sha256: str


@dataclass(frozen=True)
class SegmentDecrypt:
    """A segment as the custodian decrypts it (whole chunks only when cut short)."""

    file: str
    state: str  # "closed" (segment record), or the recovery record's state
    size: int
    chunks: int  # chunks that authenticated
    plaintext_bytes: int
    truncated: bool
    device_whole_chunks: int | None  # what recovery counted without the key
    error: str | None = None  # why nothing decrypted (cut inside the age header)


@dataclass
class TrialResult:
    kill_after_s: float
    at_segment_open: int | None
    press_media_s: float  # media time of the RECORD press (state change printed)
    kill_media_s: float  # media time of the SIGKILL
    recording_dir: Path | None
    files_before: dict[str, FileState] = field(default_factory=dict)
    deletion_problems: list[str] = field(default_factory=list)  # empty: nothing deleted
    recovery_records: list[dict[str, Any]] = field(default_factory=list)
    seal_reason: str | None = None
    verify_exit: int | None = None
    audit_verify_exit: int | None = None
    segments: list[SegmentDecrypt] = field(default_factory=list)
    export_exit: int | None = None
    export_notes: list[str] = field(default_factory=list)
    last_frame_media_s: float | None = None  # None: no decodable frame survived
    # kill - last frame; when no frame survived, kill - the recording's first media
    flash_aligned: bool = False  # the media timeline was pinned by a white flash
    loss_s: float | None = None
    loss_source: str = ""  # "export", or the in-memory segments when the export failed
    export_error: list[str] = field(default_factory=list)  # last stderr line of a failure

    def summary(self) -> dict[str, Any]:
        """The figures a report needs (JSON-serialisable)."""
        return {
            "kill_after_s": self.kill_after_s, "at_segment_open": self.at_segment_open,
            "kill_media_s": round(self.kill_media_s, 3),
            "last_frame_media_s": (None if self.last_frame_media_s is None
                                   else round(self.last_frame_media_s, 3)),
            "loss_s": None if self.loss_s is None else round(self.loss_s, 3),
            "loss_source": self.loss_source,
            "flash_aligned": self.flash_aligned, "verify_exit": self.verify_exit,
            "audit_verify_exit": self.audit_verify_exit, "export_exit": self.export_exit,
            "seal_reason": self.seal_reason, "nothing_deleted": not self.deletion_problems,
            "segments": [asdict(s) for s in self.segments],
            "export_error": self.export_error, "export_notes": self.export_notes,
        }


def make_identity(directory: Path) -> tuple[str, Path]:
    """A fresh evidence-authority key pair: (age1... recipient, identity file 0600)."""
    secret, recipient = generate_identity()
    path = directory / "authority-identity.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(format_identity_file(secret))
    return recipient, path


def write_scenario(path: Path, *, press_at_s: float | None, end_at_s: float | None) -> Path:
    """A scenario pressing RECORD once and/or ending; without `end` it runs until killed.

    A scenario ends after its last event, so "never ends" is a harmless battery reading
    a day of simulated time away.
    """
    events = []
    if press_at_s is not None:
        events.append(f'[[event]]\nat = {press_at_s}\npress = "record"\n')
    events.append(f"[[event]]\nat = {end_at_s}\nend = true\n" if end_at_s is not None
                  else "[[event]]\nat = 86400\nbattery = 90\n")
    path.write_text("\n".join(events), encoding="utf-8")
    return path


class SimProcess:
    """`bodycam sim` in its own process group, with its state changes timed on arrival.

    stdout is read by a thread (so the child never blocks on a full pipe); stderr (the
    INFO log) goes to `log_path`.
    """

    def __init__(self, *, data_dir: Path, recipient: str, scenario: Path, speed: float,
                 settings: Sequence[str], log_path: Path, umask: int = -1) -> None:
        """`umask` -1 inherits ours; 0 shows the modes the firmware sets itself."""
        self.speed = speed
        command = [sys.executable, "-m", "bodycam.firmware.cli", "sim",
                   "--data-dir", str(data_dir), "--recipient", recipient,
                   "--scenario", str(scenario), "--speed", str(speed)]
        for setting in settings:
            command += ["--set", setting]
        self._log = log_path.open("wb")
        self._states: list[tuple[float, float, str]] = []  # (arrival, media s, dest state)
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log,
                                     text=True, start_new_session=True, umask=umask)
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,),
                                        name="sim-stdout", daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            arrival = time.monotonic()
            match = _STATE_LINE.match(line)
            if match:
                with self._cond:
                    self._states.append((arrival, float(match["m"]), match["dst"]))
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_state(self, state: str, timeout: float) -> float:
        """Media time (s) at which the device entered `state`; TrialError on timeout/exit."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for _arrival, media_s, dest in self._states:
                    if dest == state:
                        return media_s
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise TrialError(f"bodycam sim exited ({self.proc.returncode}) before "
                                     f"reaching {state}; see {self._log.name}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TrialError(f"bodycam sim did not reach {state} within {timeout} s; "
                                     f"see {self._log.name}")
                self._cond.wait(min(left, 0.1))

    def real_at(self, media_s: float) -> float:
        """The time.monotonic() instant at which the sim's media clock reads `media_s`."""
        with self._cond:
            zero = min(arrival - m / self.speed for arrival, m, _ in self._states)
        return zero + media_s / self.speed

    def media_at(self, real: float) -> float:
        return (real - self.real_at(0.0)) * self.speed

    def kill(self) -> float:
        """SIGKILL the whole process group (a power cut for the program); returns when."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        self.proc.wait()
        return killed

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise TrialError(f"bodycam sim did not finish within {timeout} s; see "
                             f"{self._log.name}") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._reader.join(timeout=5)
        self._log.close()


def snapshot(data_dir: Path) -> dict[str, FileState]:
    """Size and SHA-256 of every file below `data_dir`, by relative path."""
    return {str(p.relative_to(data_dir)): FileState(p.stat().st_size, _sha256(p.read_bytes()))
            for p in sorted(data_dir.rglob("*")) if p.is_file()}


def nothing_deleted(before: dict[str, FileState], data_dir: Path) -> list[str]:
    """Problems if any byte present in `before` is gone from `data_dir` now.

    Allowed changes are exactly what recovery may do: append to a file, rename
    ``NNNNN.age.partial`` to ``NNNNN[-n].truncated.age`` with identical content, and move
    a torn log line into a ``<log>.torn-<seq>`` side file.
    """
    problems: list[str] = []
    for rel, old in before.items():
        path = data_dir / rel
        if path.is_file():
            data = path.read_bytes()
            if _sha256(data[:old.size]) == old.sha256 or _torn_kept(path, data, old):
                continue
            problems.append(f"{rel}: its first {old.size} bytes changed")
        elif Path(rel).name == RESUME_FLAG:
            continue  # "was recording": removed once the restart's resumed recording ends
        elif rel.endswith(PARTIAL_SUFFIX):
            index = path.name[:5]
            renamed = [p for p in path.parent.glob(f"{index}*.truncated.age")
                       if FileState(p.stat().st_size, _sha256(p.read_bytes())) == old]
            if not renamed:
                problems.append(f"{rel}: gone, and no {index}*.truncated.age holds its bytes")
        else:
            problems.append(f"{rel}: deleted")
    return problems


def _torn_kept(path: Path, data: bytes, old: FileState) -> bool:
    """A torn last line was cut off `path` but kept verbatim in a side file."""
    for side in path.parent.glob(path.name + ".torn-*"):
        torn = side.read_bytes()
        kept = old.size - len(torn)
        if kept >= 0 and _sha256(data[:kept] + torn) == old.sha256:
            return True
    return False


def run_kill_trial(workdir: Path, kill_after_s: float, *, speed: float, recipient: str,
                   identity_path: Path, settings: Sequence[str] = FAST_VIDEO,
                   press_at_s: float = 1.0, at_segment_open: int | None = None) -> TrialResult:
    """Record, SIGKILL, restart (recovery), verify, decrypt, export; measure the loss.

    The kill comes `kill_after_s` of media time after the RECORD press, or, with
    `at_segment_open=N`, that long after segment N's open record reached the manifest.
    `workdir` must be empty or absent; the data directory is `workdir/data`.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    record = write_scenario(workdir / "record.toml", press_at_s=press_at_s, end_at_s=None)
    sim = SimProcess(data_dir=data_dir, recipient=recipient, scenario=record, speed=speed,
                     settings=settings, log_path=workdir / "sim-record.log")
    try:
        press = sim.wait_for_state("recording", _START_TIMEOUT_S)
        if at_segment_open is None:
            _sleep_until(sim.real_at(press + kill_after_s), sim)
        else:
            opened = _wait_for_segment_open(data_dir, at_segment_open, sim)
            _sleep_until(opened + kill_after_s / speed, sim)
        kill_media = sim.media_at(sim.kill())
    finally:
        sim.close()
    result = TrialResult(kill_after_s, at_segment_open, press, kill_media,
                         _recording_dir(data_dir), snapshot(data_dir))
    recover = write_scenario(workdir / "recover.toml", press_at_s=None, end_at_s=0.3)
    restart = SimProcess(data_dir=data_dir, recipient=recipient, scenario=recover,
                         speed=speed, settings=settings, log_path=workdir / "sim-recover.log")
    try:
        if restart.wait(_RUN_TIMEOUT_S) != 0:
            raise TrialError(f"the restart (recovery) failed; see {workdir / 'sim-recover.log'}")
    finally:
        restart.close()
    result.deletion_problems = nothing_deleted(result.files_before, data_dir)
    result.audit_verify_exit = _evidence_cli("verify", str(data_dir / "audit")).returncode
    if result.recording_dir is not None:
        _custodian_checks(result, result.recording_dir, identity_path, workdir)
    return result


def _sleep_until(real: float, sim: SimProcess) -> None:
    while (left := real - time.monotonic()) > 0:
        if sim.proc.poll() is not None:
            raise TrialError("bodycam sim exited before the kill; see its log")
        time.sleep(min(left, 0.05))


def _wait_for_segment_open(data_dir: Path, index: int, sim: SimProcess) -> float:
    """time.monotonic() at which the manifest was seen to hold segment `index`'s open."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        directory = _recording_dir(data_dir)
        if directory is not None and any(
                r.get("event") == "segment_open" and r.get("index") == index
                for r in read_records(directory / MANIFEST_NAME)):
            return time.monotonic()
        if sim.proc.poll() is not None:
            raise TrialError("bodycam sim exited before the awaited segment opened")
        time.sleep(_POLL_S)
    raise TrialError(f"segment {index} did not open within {_START_TIMEOUT_S} s")


def _recording_dir(data_dir: Path) -> Path | None:
    """The trial's recording directory (one per trial), once its manifest exists."""
    parent = data_dir / EVIDENCE_DIR
    found = [p for p in parent.iterdir()  # not a hidden .<id>.creating staging directory
             if not p.name.startswith(".") and (p / MANIFEST_NAME).is_file()] \
        if parent.is_dir() else []
    if len(found) > 1:
        raise TrialError(f"{parent} holds {len(found)} recordings; use an empty workdir")
    return found[0] if found else None


def _custodian_checks(result: TrialResult, directory: Path, identity_path: Path,
                      workdir: Path) -> None:
    records = read_records(directory / MANIFEST_NAME)
    result.recovery_records = [r for r in records if r.get("event") == "recovery"]
    seals = [r for r in records if r.get("event") == "seal"]
    result.seal_reason = str(seals[-1].get("reason")) if seals else None
    result.verify_exit = _evidence_cli("verify", str(directory)).returncode
    decrypted = decrypt_segments(directory, records, identity_path)
    result.segments = [segment for segment, _ in decrypted]
    out = workdir / "export" / "recording.mp4"
    out.parent.mkdir(exist_ok=True)
    export = _evidence_cli("export", str(directory), "-i", str(identity_path), "-o", str(out))
    result.export_exit = export.returncode
    if export.returncode != 0:
        result.export_error = export.stderr.strip().splitlines()[-1:] or [""]
    report = out.with_suffix(".report.json")
    if report.is_file():
        result.export_notes = list(json.loads(report.read_text("utf-8")).get("notes", []))
    if export.returncode == 0 and out.is_file():
        frames, result.loss_source = media_frames(out), "export"
    else:  # measure anyway, on the segments decrypted in memory
        frames = [f for _, plaintext in decrypted for f in ts_frames(plaintext)]
        result.loss_source = "decrypted segments (export failed)"
    origin = _origin_media_s(records, workdir, result.press_media_s)
    if origin is None:
        return  # killed before the first segment opened: nothing of it was ever written
    if frames:
        last, result.flash_aligned = _media_time_of_last_frame(frames, origin)
        result.last_frame_media_s = last
        result.loss_s = result.kill_media_s - last
    else:  # not one frame survived: everything since the recording's origin is lost
        result.loss_s = result.kill_media_s - origin


def decrypt_segments(directory: Path, records: list[dict[str, Any]],
                     identity_path: Path) -> list[tuple[SegmentDecrypt, bytes]]:
    """Every segment the manifest names, decrypted in memory (no plaintext on disk)."""
    identities = read_identity_file(identity_path)
    decrypted: list[tuple[SegmentDecrypt, bytes]] = []
    for r in records:
        name = r.get("file")
        if r.get("event") not in ("segment", "recovery") or not name:
            continue
        path = directory / str(name)
        buffer = io.BytesIO()
        recovered = r.get("event") == "recovery"
        chunks, truncated, error = 0, True, None
        with path.open("rb") as src:
            try:
                outcome = decrypt(identities, src, buffer, allow_truncated=True)
                chunks, truncated = outcome.chunks, outcome.truncated
            except HeaderError as exc:
                if not recovered:
                    raise  # a closed segment must always decrypt
                error = str(exc)  # cut before its header or nonce was complete
        decrypted.append((SegmentDecrypt(
            file=str(name), state=str(r.get("state")) if recovered else "closed",
            size=path.stat().st_size, chunks=chunks, plaintext_bytes=buffer.tell(),
            truncated=truncated,
            device_whole_chunks=int(r["whole_chunks"]) if recovered else None,
            error=error), buffer.getvalue()))
    return decrypted


def media_frames(path: Path) -> list[tuple[float, bool]]:
    """(time s, is a white flash frame) of every video frame of a media file that decodes."""
    return _decode_frames(str(path), None)


def ts_frames(plaintext: bytes) -> list[tuple[float, bool]]:
    """The same for one decrypted MPEG-TS segment held in memory."""
    return _decode_frames(io.BytesIO(plaintext), "mpegts") if plaintext else []


def _decode_frames(source: str | io.BytesIO, fmt: str | None) -> list[tuple[float, bool]]:
    frames: list[tuple[float, bool]] = []
    try:
        with av.open(source, "r", format=fmt) as container:
            for frame in container.decode(video=0):
                if frame.time is not None:
                    white = float(frame.to_ndarray(format="gray").mean()) >= WHITE_LEVEL
                    frames.append((float(frame.time), white))
    except av.error.FFmpegError:
        pass  # a damaged tail: the frames decoded before it are what survived
    return frames


def _origin_media_s(records: list[dict[str, Any]], workdir: Path,
                    press_media_s: float) -> float | None:
    """Media time of the recording's first packet, good to about 0.1 s.

    Segment 0's wall_start is the origin's wall time; wall minus media time is constant
    on the sim clock and is known from the audited press. None: segment 0 never opened.
    """
    opened = [r for r in records if r.get("event") == "segment_open" and r.get("index") == 0]
    if not opened:
        return None
    return _wall_of(str(opened[0]["wall_start"])) - _press_wall(workdir) + press_media_s


def _media_time_of_last_frame(frames: list[tuple[float, bool]],
                              origin_media_s: float) -> tuple[float, bool]:
    """Media time of the last frame; True when a white flash pinned the timeline."""
    offset = origin_media_s - frames[0][0]  # the first frame is the origin keyframe
    flashes = [t for i, (t, white) in enumerate(frames)
               if white and (i == 0 or not frames[i - 1][1])]
    if flashes:
        # Each flash is exactly a whole second of media time: snap the offset to it.
        offset = statistics.median(round(t + offset) - t for t in flashes)
    return frames[-1][0] + offset, bool(flashes)


def _press_wall(workdir: Path) -> float:
    """Device wall time (POSIX s) of the last RECORD press, from the signed audit log
    (not the restart's own resumed recording, which no one pressed for)."""
    audit = workdir / "data" / "audit" / "audit.jsonl"
    presses = [r for r in read_records(audit)
               if r.get("event") == "state" and r.get("to") == "recording"
               and r.get("cause") != RESUME_CAUSE]
    if not presses:
        raise TrialError(f"{audit} has no state change to recording")
    return _wall_of(str(presses[-1]["time"]))


def _wall_of(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _evidence_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bodycam.tools.custody.cli", *args],
                          capture_output=True, text=True, timeout=_RUN_TIMEOUT_S, check=False)


@dataclass(frozen=True)
class CutSalvage:
    """A finished segment cut at `cut` bytes, salvaged and decrypted like after a cut."""

    cut: int
    whole_chunks: int  # what salvage counted without the key
    chunks: int  # what decrypted
    plaintext: bytes  # the decrypted prefix (in memory only)


def cut_and_salvage(segment: Path, cut: int, scratch: Path,
                    identity_path: Path) -> CutSalvage:
    """Leave what a power cut after `cut` bytes leaves, then salvage and decrypt it.

    The copy is written as ``NNNNN.age.partial`` in `scratch` and salvaged with the
    device's own code (renamed to ``.truncated.age``, whole chunks counted).
    """
    scratch.mkdir(parents=True, exist_ok=True)
    partial = scratch / ("00000.age" + PARTIAL_SUFFIX)
    with segment.open("rb") as src:
        partial.write_bytes(src.read(cut))
    salvaged = salvage_file(scratch, 0, partial.name)
    path = scratch / salvaged.file
    buffer = io.BytesIO()
    chunks = 0
    if salvaged.layout.header_bytes:
        with path.open("rb") as src:
            try:
                chunks = decrypt(read_identity_file(identity_path), src, buffer,
                                 allow_truncated=True).chunks
            except HeaderError:
                chunks = 0  # header whole but the nonce is cut: nothing was sealed yet
    path.unlink()  # scratch copy only; the evidence itself is never touched
    return CutSalvage(cut, salvaged.layout.whole_chunks, chunks, buffer.getvalue())


@dataclass(frozen=True)
class LossSummary:
    trials: list[dict[str, Any]]
    median_loss_s: float | None
    max_loss_s: float | None
    bound_s: float
    ok: bool  # every trial: verified, nothing deleted, exported, loss within the bound

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def measure_loss_window(workdir: Path, kill_points: Sequence[float], *, speed: float = 3.0,
                        settings: Sequence[str] = FAST_VIDEO) -> LossSummary:
    """One kill trial per point (media seconds after the press); for the benchmark."""
    workdir.mkdir(parents=True, exist_ok=True)
    recipient, identity = make_identity(workdir)
    results = [run_kill_trial(workdir / f"trial-{n}", point, speed=speed, recipient=recipient,
                              identity_path=identity, settings=settings)
               for n, point in enumerate(kill_points)]
    losses = [r.loss_s for r in results if r.loss_s is not None]
    ok = all(r.loss_s is not None and r.loss_s <= LOSS_BOUND_S and r.verify_exit == 0
             and r.seal_reason == RECOVERED_REASON and r.export_exit == 0
             and not r.deletion_problems for r in results)
    return LossSummary([r.summary() for r in results],
                       round(statistics.median(losses), 3) if losses else None,
                       round(max(losses), 3) if losses else None, LOSS_BOUND_S, ok)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bodycam.tools.bench.powerloss",
        description="SIGKILL the simulated camera mid-recording, recover, verify, export, "
                    "and print the measured loss window as JSON.")
    parser.add_argument("--trials", type=int, default=5, help="number of kills (default 5)")
    parser.add_argument("--speed", type=float, default=3.0,
                        help="simulation speed (default 3)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed for the kill points, uniform in 0.5-6 s after the press")
    parser.add_argument("--segment-seconds", type=float, default=2.0,
                        help="segment length, so kills also land near segment switches")
    parser.add_argument("--workdir", type=Path,
                        help="keep the trials here (must be empty); default: a temporary "
                             "directory that is removed")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error("--trials must be at least 1")
    rng = random.Random(args.seed)
    points = [round(rng.uniform(0.5, 6.0), 2) for _ in range(args.trials)]
    settings = (*FAST_VIDEO, f"evidence.segment_seconds={args.segment_seconds}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="powerloss-"))
    try:
        summary = measure_loss_window(workdir, points, speed=args.speed, settings=settings)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary.to_json(), indent=2))
    return 0 if summary.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Figures from the simulated device as a user runs it: `bodycam sim` in a subprocess.

* A/V sync: the simulated camera flashes white and the microphone beeps at every whole
  second of media time on the same clock, so a recording made by the complete program
  (camera thread, microphone thread, recorder, muxer, encryption), exported by the
  custodian tool exactly as for court, carries its own sync marks; tools/avsync finds
  them in the exported MP4.
* Startup: wall time from spawning `python -m bodycam.firmware.cli sim` to the line that
  reports the transition booting -> idle (the device is ready and the pre-record buffer
  running). The bare interpreter and the import of the device program are timed the
  same way, to show how much of it is Python itself.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bodycam.firmware.evidence.age.keys import format_identity_file, generate_identity
from bodycam.tools.bench.avsync import measure_av_sync

READY_LINE = "booting -> idle"
SIM_TIMEOUT_S = 120.0
SIM_MODULE = [sys.executable, "-m", "bodycam.firmware.cli", "sim"]
IMPORT_DEVICE = "import bodycam.firmware.device.sim_cmd"
RECORD_AT = 1.5  # seconds of simulated time (see av_sync_scenario)


def write_identity(directory: Path) -> tuple[Path, str]:
    """A throwaway authority identity for the benchmark: (identity file, recipient)."""
    secret, recipient = generate_identity()
    path = directory / "bench-authority-identity.txt"
    path.write_text("# benchmark only, throwaway\n" + format_identity_file(secret),
                    encoding="utf-8")
    path.chmod(0o600)
    return path, recipient


def av_sync_scenario(record_seconds: float, hold_seconds: float) -> str:
    """Record from t=RECORD_AT, stop with a hold after `record_seconds`, end soon after.

    RECORD_AT is half-way between two flashes on purpose: audio is not kept in the
    pre-record buffer by default, so it starts at the press; a press on a whole second
    would start the audio a chunk into that second's beep, and the first "offset" would
    measure where the audio starts rather than A/V sync.
    """
    stop = RECORD_AT + record_seconds
    hold = hold_seconds + 0.5
    return (f"[[event]]\nat = {RECORD_AT}\npress = \"record\"\n\n"
            f"[[event]]\nat = {stop}\nhold = \"record\"\nfor = {hold}\n\n"
            f"[[event]]\nat = {stop + hold + 0.5}\nend = true\n")


def _run(command: list[str], what: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            timeout=SIM_TIMEOUT_S)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {result.returncode}): "
                           f"{result.stderr.strip()[-2000:]}")
    return result


def measure_sim_av_sync(workdir: Path, *, speed: float, record_seconds: float,
                        hold_seconds: float = 2.0) -> dict[str, Any]:
    """Record with `bodycam sim`, export with `bodycam-evidence export`, measure sync."""
    identity, recipient = write_identity(workdir)
    scenario = workdir / "avsync-scenario.toml"
    scenario.write_text(av_sync_scenario(record_seconds, hold_seconds), encoding="utf-8")
    data = workdir / "avsync-device"
    started = time.perf_counter()
    _run([*SIM_MODULE, "--data-dir", str(data), "--recipient", recipient,
          "--scenario", str(scenario), "--speed", str(speed), "--quiet",
          "--set", f"buttons.hold_seconds={hold_seconds}"], "bodycam sim")
    sim_wall = time.perf_counter() - started
    recordings = sorted(p for p in (data / "evidence").iterdir() if p.is_dir())
    if len(recordings) != 1:
        raise RuntimeError(f"expected one recording from the sync scenario, found "
                           f"{len(recordings)} in {data / 'evidence'}")
    mp4 = workdir / "avsync.mp4"
    _run([sys.executable, "-m", "bodycam.tools.custody.cli", "export", str(recordings[0]),
          "-i", str(identity), "-o", str(mp4)], "bodycam-evidence export")
    sync = measure_av_sync(mp4)
    if not sync["count"]:
        raise RuntimeError(f"no flash/beep pair found in {mp4} (flashes {sync['flashes']}, "
                           f"beeps {sync['beeps']}); the simulated camera may be dropping "
                           "frames: lower the speed")
    return {
        "median_ms": sync["median_ms"],
        "max_abs_ms": sync["max_abs_ms"],
        "pairs": sync["count"],
        "flashes": sync["flashes"],
        "beeps": sync["beeps"],
        "offsets_ms": sync["offsets_ms"],
        "speed": speed,
        "sim_wall_s": sim_wall,
    }


def _time_until_line(command: list[str], marker: str) -> float:
    """Seconds from spawning `command` until it prints a line containing `marker`."""
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True) as process:
        assert process.stdout is not None
        elapsed: float | None = None
        for line in process.stdout:
            if marker in line:
                elapsed = time.perf_counter() - started
                break
        process.stdout.read()  # let it finish the scenario and exit
        code = process.wait(timeout=SIM_TIMEOUT_S)
    if elapsed is None:
        raise RuntimeError(f"`{' '.join(command)}` exited ({code}) without printing "
                           f"{marker!r}")
    return elapsed


def _time_process(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=SIM_TIMEOUT_S)
    return time.perf_counter() - started


def measure_startup(workdir: Path, runs: int) -> dict[str, Any]:
    """Median spawn-to-ready time over `runs`, after one unmeasured first boot (which
    creates the device key, as a real camera does once at provisioning)."""
    _identity, recipient = write_identity(workdir)
    scenario = workdir / "startup-scenario.toml"
    scenario.write_text("[[event]]\nat = 0.0\nend = true\n", encoding="utf-8")
    command = [*SIM_MODULE, "--data-dir", str(workdir / "startup-device"),
               "--recipient", recipient, "--scenario", str(scenario)]
    first = _time_until_line(command, READY_LINE)
    samples = [_time_until_line(command, READY_LINE) for _ in range(runs)]
    interpreter = [_time_process([sys.executable, "-c", "pass"]) for _ in range(3)]
    imports = [_time_process([sys.executable, "-c", IMPORT_DEVICE]) for _ in range(3)]
    return {
        "median_ms": 1000 * statistics.median(samples),
        "samples_ms": [round(1000 * s, 1) for s in samples],
        "first_boot_ms": 1000 * first,
        "python_interpreter_ms": 1000 * statistics.median(interpreter),
        "python_plus_imports_ms": 1000 * statistics.median(imports),
    }

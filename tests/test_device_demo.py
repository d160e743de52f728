"""`bodycam sim` end to end: the demo scenario, its evidence and its front display.

Runs the real command (in-process through the CLI entry point) on the shipped demo
scenario, then checks what a custodian and a bystander would see: a verified audit log
with every state change and its cause, a sealed and verified recording whose segments
the standard `age` tool decrypts into H.264 + AAC, and display frames that are black
while idle, a mirror image in display_on and carry the red recording mark while
recording. Also: SIGINT/SIGTERM seal and exit, and a controller crash ends the command.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from device_rig import FAST_MEDIA, AuthorityIdentity
from PIL import Image

from bodycam.firmware.cli import main
from bodycam.firmware.device.renderer import DisplayRenderer, OverlayState
from bodycam.firmware.evidence.age.keys import format_identity_file, generate_identity
from bodycam.firmware.evidence.verify import verify_log, verify_recording
from bodycam.hal.clocks import DEFAULT_SIM_WALL
from bodycam.hal.interfaces import PowerStatus, PreviewFrame
from bodycam.hal.sim.camera import preview_size
from bodycam.hal.sim.power import SimPower
from bodycam.hal.sim.scene import Scene

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "config" / "demo-scenario.toml"
SPEED = "4"
STATE_LINE = re.compile(r"^\[\s*([\d.]+) s\] (\w+) -> (\w+)  \((.*)\)$")
SETTLE_S = 0.4  # display frames this close to a state change may show either state
RED = (255, 0, 0)  # the renderer's recording dot (drawn without anti-aliasing)

Rgb = npt.NDArray[np.uint8]


def sim_args(data_dir: Path, authority: AuthorityIdentity, *extra: str) -> list[str]:
    sets = [arg for setting in FAST_MEDIA for arg in ("--set", setting)]
    return ["sim", "--data-dir", str(data_dir), "--recipient", authority.recipient,
            *sets, *extra]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Run the demo once for all checks of this module (it takes a few seconds)."""
    base = tmp_path_factory.mktemp("demo")
    secret, recipient = generate_identity()
    identity = base / "identity.txt"
    identity.write_text(format_identity_file(secret))
    authority = AuthorityIdentity(secret, recipient, identity)
    frames = base / "frames"
    capture = base / "stdout.txt"
    with capture.open("w") as out:
        saved, sys.stdout = sys.stdout, out
        try:
            code = main(sim_args(base / "data", authority, "--scenario", str(DEMO),
                                 "--speed", SPEED, "--display-out", str(frames)))
        finally:
            sys.stdout = saved
    yield {"code": code, "data": base / "data", "frames": frames, "authority": authority,
           "stdout": capture.read_text()}


def state_lines(stdout: str) -> list[tuple[float, str, str, str]]:
    found = [STATE_LINE.match(line) for line in stdout.splitlines()]
    return [(float(m[1]), m[2], m[3], m[4]) for m in found if m]


def audit_records(data: Path) -> list[dict[str, object]]:
    lines = (data / "audit" / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_demo_audit_log_tells_the_whole_story(demo_run: dict[str, object]) -> None:
    assert demo_run["code"] == 0
    data = demo_run["data"]
    assert isinstance(data, Path)
    assert verify_log(data / "audit" / "audit.jsonl").status == "verified"
    records = audit_records(data)
    states = [(r["from"], r["to"], r["cause"]) for r in records if r["event"] == "state"]
    assert [(a, b) for a, b, _ in states] == [
        ("booting", "idle"), ("idle", "display_on"), ("display_on", "recording"),
        ("recording", "display_on"), ("display_on", "idle"), ("idle", "shutting_down"),
        ("shutting_down", "off")]
    assert [c for _, _, c in states] == [
        "boot checks", "display down", "record down", "record hold", "display down",
        "shutdown requested (scenario end)", "everything sealed"]
    assert sum(r["event"] == "marker" for r in records) == 1
    assert any(r["event"] == "alarm" and r["alarm"] == "battery_low" for r in records)
    assert any(r["event"] == "recording_sealed" for r in records)


def test_demo_recording_verifies_and_decrypts_to_h264_and_aac(
        demo_run: dict[str, object], tmp_path: Path) -> None:
    data, authority = demo_run["data"], demo_run["authority"]
    assert isinstance(data, Path) and isinstance(authority, AuthorityIdentity)
    [recording] = sorted((data / "evidence").iterdir())
    report = verify_recording(recording)
    assert report.status == "verified", report.summary()
    assert report.sealed and report.seal_reason == "stopped by wearer (record hold)"
    assert report.segments >= 2  # 16 s of recording plus pre-record, 10 s segments
    manifest = [json.loads(line) for line in (recording / "manifest.jsonl").open()]
    assert sum(r["event"] == "marker" for r in manifest) == 1
    for segment in sorted(recording.glob("*.age")):
        plain = tmp_path / (segment.stem + ".ts")
        subprocess.run(["age", "-d", "-i", str(authority.path), "-o", str(plain),
                        str(segment)], check=True, timeout=60)
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name",
             "-of", "json", str(plain)], check=True, capture_output=True, text=True,
            timeout=60)
        streams = {s["codec_type"]: s["codec_name"] for s in json.loads(probe.stdout)["streams"]}
        assert streams == {"video": "h264", "audio": "aac"}, segment.name


# ------------------------------------------------------------------------ display frames


def frames_between(frames: Path, start: float, end: float) -> list[tuple[float, Rgb]]:
    """Display frames written in (start + SETTLE_S, end - SETTLE_S) simulated seconds."""
    chosen = []
    for png in sorted(frames.glob("*.png")):
        t = int(png.stem) / 1000
        if start + SETTLE_S < t < end - SETTLE_S:
            chosen.append((t, np.asarray(Image.open(png).convert("RGB"))))
    return chosen


def scene_on_display(index: int, fps: int, mirror: bool) -> Rgb:
    """What the display shows for camera frame `index`: the simulated camera's preview
    path (scene -> preview size) and the firmware renderer, without overlays."""
    width, height = int(FAST_MEDIA[0].split("=")[1]), int(FAST_MEDIA[1].split("=")[1])
    rgb = Scene(width, height).render(index, fps, DEFAULT_SIM_WALL)
    small = Image.fromarray(rgb).resize(preview_size(width, height), Image.Resampling.BILINEAR)
    image = DisplayRenderer((128, 128), "RGB", mirror=mirror).render(
        PreviewFrame(np.asarray(small), 0), OverlayState())
    return np.asarray(image)


TEXT_ROWS = 12  # the scene's burned-in clock line (its time differs): not compared
MATCH_ERROR = 3.0  # mean |difference| per channel of the same picture (0-255 scale)
MISMATCH_ERROR = 20.0  # ... of the picture flipped the wrong way


def mirror_errors(shown: Rgb, t: float, fps: int) -> tuple[float, float]:
    """Mean pixel error of the best-matching camera frame of the last 1.5 s, as shown
    mirrored and as it would look unmirrored."""
    best: tuple[float, float] | None = None
    for index in range(max(1, int((t - 1.5) * fps)), int(t * fps) + 1):
        if index % fps == 0:
            continue  # the white sync flash looks the same mirrored
        mirrored = scene_on_display(index, fps, mirror=True)
        error = float(np.abs(shown[TEXT_ROWS:].astype(int)
                             - mirrored[TEXT_ROWS:].astype(int)).mean())
        if best is None or error < best[0]:
            plain = scene_on_display(index, fps, mirror=False)
            best = (error, float(np.abs(shown[TEXT_ROWS:].astype(int)
                                        - plain[TEXT_ROWS:].astype(int)).mean()))
    assert best is not None
    return best


def red_mark_pixels(image: Rgb) -> int:
    corner = image[:24, :48]  # the overlay's top-left box
    return int(np.all(corner == RED, axis=-1).sum())


def test_demo_display_black_then_mirror_then_recording_mark(
        demo_run: dict[str, object]) -> None:
    frames = demo_run["frames"]
    assert isinstance(frames, Path)
    stdout = demo_run["stdout"]
    assert isinstance(stdout, str)
    times = {(a, b): t for t, a, b, _ in state_lines(stdout)}
    shown_at = times[("idle", "display_on")]
    recording_at = times[("display_on", "recording")]
    stopped_at = times[("recording", "display_on")]
    off_at = times[("display_on", "idle")]
    fps = 15

    idle = frames_between(frames, -SETTLE_S, shown_at)
    assert idle and all(not image.any() for _, image in idle), "display lit while idle"
    live = frames_between(frames, shown_at, recording_at)
    assert all(red_mark_pixels(image) == 0 for _, image in live)
    pictures = [(t, image) for t, image in live if not (image[TEXT_ROWS:] == 255).all()]
    assert len(pictures) >= 3  # besides the once-a-second white sync flash
    for t, image in pictures:
        mirrored_error, plain_error = mirror_errors(image, t, fps)
        assert mirrored_error < MATCH_ERROR < MISMATCH_ERROR < plain_error, (
            t, mirrored_error, plain_error)
    recording = frames_between(frames, recording_at, stopped_at)
    assert len(recording) >= 10
    assert all(red_mark_pixels(image) >= 10 for _, image in recording)
    last = max(frames.glob("*.png"))
    assert int(last.stem) / 1000 > off_at - SETTLE_S
    assert not np.asarray(Image.open(last)).any(), "display still lit after switching off"


# ------------------------------------------------------------------------ signals, crash


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_seals_the_recording_and_exits(signum: signal.Signals, tmp_path: Path,
                                              authority_identity: AuthorityIdentity) -> None:
    scenario = tmp_path / "record.toml"
    scenario.write_text('[[event]]\nat = 0.5\npress = "record"\n\n'
                        "[[event]]\nat = 3600\nend = true\n")
    command = [sys.executable, "-m", "bodycam.firmware.cli",
               *sim_args(tmp_path / "data", authority_identity, "--scenario", str(scenario),
                         "--speed", "2")]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          stdin=subprocess.DEVNULL, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "-> recording" in line:
                break
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"shutdown requested ({signum.name})" in out
    [recording] = sorted((tmp_path / "data" / "evidence").iterdir())
    report = verify_recording(recording)
    assert report.status == "verified" and report.sealed
    assert report.seal_reason == f"shutdown requested ({signum.name})"


def test_controller_crash_seals_and_ends_the_command(
        tmp_path: Path, authority_identity: AuthorityIdentity,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A fuel gauge read that raises something unexpected crashes the controller thread:
    the command must seal the recording, audit the failure and exit 1, not hang."""
    scenario = tmp_path / "record.toml"
    scenario.write_text('[[event]]\nat = 0.5\npress = "record"\n\n'
                        "[[event]]\nat = 3\nbattery = 50\n\n"
                        "[[event]]\nat = 3600\nend = true\n")
    real_read = SimPower.read

    def failing_read(self: SimPower) -> PowerStatus:
        status = real_read(self)
        if status.battery_percent is not None and status.battery_percent <= 50:
            raise RuntimeError("simulated driver bug")
        return status

    monkeypatch.setattr(SimPower, "read", failing_read)
    code = main(sim_args(tmp_path / "data", authority_identity, "--scenario", str(scenario),
                         "--speed", "4"))
    assert code == 1
    assert "simulated driver bug" in capsys.readouterr().err
    [recording] = sorted((tmp_path / "data" / "evidence").iterdir())
    report = verify_recording(recording)
    assert report.status == "verified" and report.sealed
    assert report.seal_reason == "controller failure: RuntimeError"
    audit = tmp_path / "data" / "audit" / "audit.jsonl"
    assert verify_log(audit).status == "verified"
    assert any(r["event"] == "fault" and "simulated driver bug" in str(r["reason"])
               for r in audit_records(tmp_path / "data"))

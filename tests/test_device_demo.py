"""`make demo` end to end, and `bodycam sim` on the shipped demo scenario.

Runs the demo (in-process through its entry point, with a small picture and at speed 4)
and checks what the administrator, the custodian and a bystander would see: an evidence
server it started itself holds the recording `complete`; the camera docked after its
shift, offloaded, and its card holds no segment, only the manifest and the server's
signed receipt; the audit log tells the whole story and verifies; the recording fetched
from the server verifies, its segments decrypt into H.264 + AAC, and the MP4 exported
from it plays; the display frames are black while idle, a mirror image in display_on
and carry the red recording mark while recording. Also: SIGINT/SIGTERM seal and exit,
and a controller crash ends the command.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from device_rig import FAST_MEDIA, AuthorityIdentity
from PIL import Image

from bodycam.firmware.cli import main
from bodycam.firmware.device.renderer import DisplayRenderer, OverlayState
from bodycam.firmware.evidence.offloaded import RECEIPT_NAME
from bodycam.firmware.evidence.verify import verify_log, verify_recording
from bodycam.hal.clocks import DEFAULT_SIM_WALL
from bodycam.hal.interfaces import PowerStatus, PreviewFrame
from bodycam.hal.sim.camera import preview_size
from bodycam.hal.sim.power import SimPower
from bodycam.hal.sim.scene import Scene
from bodycam.server.cli import main as server_main
from bodycam.tools.custody.cli import main as evidence_main
from bodycam.tools.dev import demo
from bodycam.tools.dev.demo_custody import card_check
from bodycam.tools.dev.demo_people import DEMO_PEOPLE, SIGN_INS_NAME
from bodycam.tools.dev.embedded_server import EmbeddedServer, ServerError

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "config" / "demo-scenario.toml"
SPEED = "4"
STATE_LINE = re.compile(r"^\[\s*([\d.]+) s\] (\w+) -> (\w+)  \((.*)\)$")
SETTLE_S = 0.4  # display frames this close to a state change may show either state
RED = (255, 0, 0)  # the renderer's recording dot (drawn without anti-aliasing)

Rgb = npt.NDArray[np.uint8]

# The demo's camera runs on its own SimClock (speed 2-4): run with the realtime tests.
pytestmark = pytest.mark.realtime


def sim_args(data_dir: Path, authority: AuthorityIdentity, *extra: str) -> list[str]:
    sets = [arg for setting in FAST_MEDIA for arg in ("--set", setting)]
    return ["sim", "--data-dir", str(data_dir), "--recipient", authority.recipient,
            *sets, *extra]


def run_demo(out: Path, *extra: str) -> tuple[int, str]:
    """`make demo` in this process with a small picture; its exit code and output."""
    sets = [arg for setting in FAST_MEDIA for arg in ("--set", setting)]
    capture = io.StringIO()
    with contextlib.redirect_stdout(capture):
        code = demo.main(["--out", str(out), "--speed", SPEED, "--linger", "0.2", *sets,
                          *extra])
    return code, capture.getvalue()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Run the demo once for all checks of this module (it takes some seconds)."""
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    code, stdout = run_demo(out)
    yield {"code": code, "out": out, "data": out / "device", "frames": out / "display",
           "identity": out / demo.DEMO_KEY_NAME, "stdout": stdout}


def state_lines(stdout: str) -> list[tuple[float, str, str, str]]:
    found = [STATE_LINE.match(line) for line in stdout.splitlines()]
    return [(float(m[1]), m[2], m[3], m[4]) for m in found if m]


def audit_records(data: Path) -> list[dict[str, Any]]:
    lines = (data / "audit" / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def server_recordings(server_dir: Path) -> list[dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert server_main(["recordings", "--data-dir", str(server_dir), "--json"]) == 0
    items: list[dict[str, Any]] = json.loads(out.getvalue())
    return items


def test_demo_audit_log_tells_the_whole_story(demo_run: dict[str, Any]) -> None:
    assert demo_run["code"] == 0, demo_run["stdout"]
    data = demo_run["data"]
    assert verify_log(data / "audit" / "audit.jsonl").status == "verified"
    records = audit_records(data)
    states = [(r["from"], r["to"], r["cause"]) for r in records if r["event"] == "state"]
    assert [(a, b) for a, b, _ in states] == [
        ("booting", "idle"), ("idle", "display_on"), ("display_on", "recording"),
        ("recording", "display_on"), ("display_on", "idle"), ("idle", "docked"),
        ("docked", "shutting_down"), ("shutting_down", "off")]
    assert [c for _, _, c in states] == [
        "boot checks", "display down", "record down", "record hold", "display down",
        "dock contact", "shutdown requested (scenario end)", "everything sealed"]
    assert sum(r["event"] == "marker" for r in records) == 1
    assert any(r["event"] == "alarm" and r["alarm"] == "battery_low" for r in records)
    assert any(r["event"] == "recording_sealed" for r in records)
    offload = [r["event"] for r in records if r["event"].startswith(("offload", "time_sync"))]
    assert offload == ["time_sync", "offload_started", "offload_receipt", "offload_removed",
                       "offload_audit", "offload_finished"]


def test_demo_offloads_to_its_own_server_and_the_card_keeps_no_segment(
        demo_run: dict[str, Any]) -> None:
    out, data, stdout = demo_run["out"], demo_run["data"], demo_run["stdout"]
    [recording] = sorted((data / "evidence").iterdir())
    assert sorted(p.name for p in recording.iterdir()) == ["manifest.jsonl", RECEIPT_NAME]
    assert ("ok: 1 recording(s) on the card: 0 segment file(s) left, 1 signed receipt(s) "
            "kept") in stdout
    [held] = server_recordings(out / "server")
    assert held["id"] == recording.name and held["state"] == "complete"
    assert held["device"] == "SIM-0001"
    # the administrator's commands, as typed
    for command in ("init --data-dir", "device enrol --data-dir", "serve --data-dir",
                    "recordings --data-dir", f"fetch --data-dir {out / 'server'} "
                    f"{recording.name} --out"):
        assert f"$ bodycam-server {command}" in stdout, command
    # the card's manifest is what the server gave back: the same recording
    fetched = out / "fetched" / recording.name
    assert (fetched / "manifest.jsonl").read_bytes() == (recording / "manifest.jsonl").read_bytes()
    assert "note: offloaded: the evidence server's receipt (the pinned server key" in stdout
    # serve ran as under systemd: told READY=1, and STOPPING=1 reached the socket too
    log = (out / "server.log").read_text()
    assert "cannot notify systemd" not in log and "Traceback" not in log, log
    assert stdout.rstrip().endswith("demo finished")


def test_demo_ends_with_the_server_up_and_a_sign_in_for_each_role(
        demo_run: dict[str, Any]) -> None:
    """The newcomer's minute: the URL, the password, each role's account and its code
    (the codes themselves are checked in tests/server/test_demo_people.py)."""
    stdout, out = demo_run["stdout"], demo_run["out"]
    sign_ins = (out / SIGN_INS_NAME).read_text()
    password = sign_ins.splitlines()[1].split(": ", 1)[1]
    ending = stdout[stdout.index("--- the evidence server stays up for 0.2 s: https://"):]
    assert f"password for every demo account: {password}" in ending
    for username, _, role in DEMO_PEOPLE:
        assert re.search(rf"{re.escape(username)} +{role} +[0-9]{{6}}\n", ending), username
    accounts = io.StringIO()
    with contextlib.redirect_stdout(accounts):
        assert server_main(["user", "list", "--data-dir", str(out / "server")]) == 0
    for username, _, role in DEMO_PEOPLE:
        assert re.search(rf"{re.escape(username)} +active +TOTP +{role}", accounts.getvalue())
    # the demo camera was checked out to the demo wearer before the shift: the
    # recording has its wearer, so the wearer rules show in the pages
    assert "$ bodycam-server assignment check-out --data-dir" in stdout
    assert "SIM-0001 wearer.demo" in stdout
    worn = io.StringIO()
    with contextlib.redirect_stdout(worn):
        assert server_main(["assignment", "list", "--data-dir", str(out / "server")]) == 0
    assert re.search(r"SIM-0001.*wearer\.demo", worn.getvalue()), worn.getvalue()


def test_demo_recording_from_the_server_verifies_decrypts_and_exports(
        demo_run: dict[str, Any], tmp_path: Path) -> None:
    out, identity = demo_run["out"], demo_run["identity"]
    [recording] = sorted((out / "fetched").iterdir())
    report = verify_recording(recording)
    assert report.status == "verified", report.summary()
    assert report.sealed and report.seal_reason == "stopped by wearer (record hold)"
    assert report.segments >= 2  # 16 s of recording plus pre-record, 10 s segments
    manifest = [json.loads(line) for line in (recording / "manifest.jsonl").open()]
    assert sum(r["event"] == "marker" for r in manifest) == 1
    for segment in sorted(recording.glob("*.age")):
        plain = tmp_path / (segment.stem + ".ts")
        # the demo key is post-quantum (age1pq1), which Debian's age 1.1 cannot read:
        # the custodian's own tool (tests/test_age_typage.py checks it against typage)
        assert evidence_main(["decrypt", "-i", str(identity), "-o", str(plain),
                              str(segment)]) == 0
        assert probe(plain)[0] == {"video": "h264", "audio": "aac"}, segment.name
    streams, duration = probe(out / "recording-1.mp4")
    assert streams == {"video": "h264", "audio": "aac"}
    assert duration > 16  # 17 s recorded plus the pre-record buffer


def probe(media: Path) -> tuple[dict[str, str], float]:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries",
         "stream=codec_type,codec_name:format=duration", "-of", "json", str(media)],
        check=True, capture_output=True, text=True, timeout=60)
    info = json.loads(done.stdout)
    return ({s["codec_type"]: s["codec_name"] for s in info["streams"]},
            float(info["format"]["duration"]))


def test_a_demo_whose_camera_never_docks_says_the_card_still_holds_segments(
        tmp_path: Path) -> None:
    """The card check is a real check: without the dock nothing leaves the camera."""
    scenario = tmp_path / "no-dock.toml"
    scenario.write_text('[[event]]\nat = 0.5\npress = "record"\n\n'
                        '[[event]]\nat = 3\nhold = "record"\nfor = 3.5\n\n'
                        "[[event]]\nat = 8\nend = true\n")
    code, stdout = run_demo(tmp_path / "out", "--scenario", str(scenario))
    assert code == 1
    assert re.search(r"PROBLEM: 1 recording\(s\) on the card: [1-9]\d* segment file\(s\) "
                     r"left, 0 signed receipt\(s\) kept", stdout), stdout
    [recording] = sorted((tmp_path / "out" / "device" / "evidence").iterdir())
    assert f"PROBLEM: recording {recording.name} on the server: missing" in stdout
    assert f"  still on the card: {recording.name}/00000.age" in stdout
    assert stdout.rstrip().endswith("demo finished WITH PROBLEMS (see above)")


def test_the_card_check_counts_what_no_sealed_manifest_names(tmp_path: Path) -> None:
    """An unsealed or quarantined recording is also something the dock did not take."""
    for name in ("quarantine/SIM-0001-x/00000.age", ".creating-y/00000.age.partial",
                 "SIM-0001-z/manifest.jsonl"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"age")
    check = card_check(tmp_path)
    assert check.left == [".creating-y/00000.age.partial", "quarantine/SIM-0001-x/00000.age"]
    assert not check.empty and check.recordings == []


def test_a_server_that_cannot_start_is_named_and_nothing_is_left_running(
        tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "never-initialised", tmp_path / "serve.log")
    with pytest.raises(ServerError, match=r"serve exited with 1; see .*serve\.log"):
        server.start()
    assert "is not a server data directory" in (tmp_path / "serve.log").read_text()
    assert server.stop() is None


def test_an_existing_folder_that_is_no_demo_output_is_never_deleted(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    capture = io.StringIO()
    with contextlib.redirect_stderr(capture):
        assert demo.main(["--out", str(tmp_path)]) == 2
    assert "refusing to delete it. Fix: choose another --out" in capture.getvalue()
    assert (tmp_path / "precious.txt").read_text() == "keep me"


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
        demo_run: dict[str, Any]) -> None:
    frames, stdout = demo_run["frames"], demo_run["stdout"]
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

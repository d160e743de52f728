"""The hardware self test: each part of the camera either works or names its problem.

For the technician at the bench: run the camera and microphone for a few seconds while
the display shows a test pattern and the indicators are exercised, then check the
battery gauge, clock, storage, evidence recipients and device key. Every part is tested
even when another fails, and a failure says what is wrong and how to fix it.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageDraw

from bodycam.firmware.config.model import (
    AudioConfig,
    ButtonsConfig,
    Config,
    EvidenceConfig,
    PowerConfig,
    StorageConfig,
    VideoConfig,
)
from bodycam.firmware.config.problems import ConfigError
from bodycam.firmware.device.card_speed import (
    RecordingLoad,
    SyncedWriteProbe,
    judge_card,
    synced_write_bytes_per_s,
)
from bodycam.firmware.device.identity import key_store_choice
from bodycam.firmware.device.selftest_power import gauge_against_model
from bodycam.firmware.evidence.age.keys import parse_recipient, recipient_fingerprint
from bodycam.firmware.evidence.key_stores import open_key_store, resolve_kind
from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.storage_space import FREE_SPACE_FIX, statvfs_free_bytes
from bodycam.firmware.power.table import load_power_table
from bodycam.hal.interfaces import (
    BUTTON_NAMES,
    LED_NAMES,
    AudioChunk,
    Blink,
    ButtonName,
    Buttons,
    Camera,
    Clock,
    FrontDisplay,
    Hardware,
    HardwareError,
    Indicators,
    Microphone,
    Power,
    PreviewFrame,
    VideoPacket,
)
from bodycam.hal.keystore import KeyMissingError, KeyStoreError

log = logging.getLogger(__name__)

PARTS = ("camera", "microphone", "display", "buttons", "indicators", "battery", "clock",
         "storage", "recipients", "device-key")

MIN_FPS_RATIO = 0.8  # slower than 80 % of [video] fps counts as a failing camera
MIN_AUDIO_COVERAGE = 0.5  # less audio than half the test time: the microphone stalls
MAX_ITEMS = 20_000  # bound of each collection queue: > 60 s of 5 ms audio chunks
MAX_INDICATOR_STEP_S = 0.3
US_PER_S = 1_000_000
MB = 1024 * 1024

BUG_FIX = "this is a firmware bug: report it with the log (journalctl -u bodycam)"
CAMERA_FIX = ("check the ribbon cable at both ends and that `rpicam-hello --list-cameras` "
              "lists the camera; stop the camera service first (systemctl stop bodycam)")
MIC_FIX = ("check that `arecord -l` lists the microphone, its wiring and the dtoverlay "
           "in /boot/firmware/config.txt")


@dataclass(frozen=True)
class PartResult:
    part: str
    ok: bool
    detail: str  # what was measured, or the problem
    fix: str = ""  # how to fix a failure; empty when ok


def _ok(part: str, detail: str) -> PartResult:
    return PartResult(part, True, detail)


def _fail(part: str, problem: str, fix: str) -> PartResult:
    return PartResult(part, False, problem, fix)


T = TypeVar("T")


def _guarded(part: str, action: Callable[[], T]) -> T | PartResult:
    """Run one step of a part's test; any error becomes that part's failure.

    Catches every Exception on purpose: one broken driver must not hide the state of
    the other parts from the technician. HardwareError already names problem and fix.
    """
    try:
        return action()
    except HardwareError as exc:
        return _fail(part, f"{exc.device} ({exc.where}): {exc.problem}", exc.fix)
    except Exception as exc:
        log.exception("self test of the %s failed unexpectedly", part)
        return _fail(part, f"unexpected {type(exc).__name__}: {exc}", BUG_FIX)


# ------------------------------------------------------------------ parts that run a while


class _LiveCheck(ABC):
    """A part that is started, left running for the test time, then judged."""

    part: str

    @abstractmethod
    def begin(self) -> None: ...

    @abstractmethod
    def finish(self, seconds: float) -> PartResult:
        """Stop the part and judge what it delivered in `seconds` of running."""


class _CameraCheck(_LiveCheck):
    part = "camera"

    def __init__(self, camera: Camera, video: VideoConfig) -> None:
        self._camera = camera
        self._video = video
        # Filled on the camera thread: deque.append is atomic and never blocks.
        self._packets: deque[tuple[int, bool]] = deque(maxlen=MAX_ITEMS)
        self._previews: deque[tuple[int, int]] = deque(maxlen=MAX_ITEMS)

    def _on_video(self, packet: VideoPacket) -> None:
        self._packets.append((packet.pts_us, packet.keyframe))

    def _on_preview(self, frame: PreviewFrame) -> None:
        height, width = frame.rgb.shape[:2]
        self._previews.append((width, height))

    def begin(self) -> None:
        self._camera.start(self._on_video, self._on_preview)

    def finish(self, seconds: float) -> PartResult:
        self._camera.stop()
        packets = sorted(self._packets)
        if not packets:
            return _fail(self.part, f"camera delivered no H.264 packets in {seconds:.1f} s",
                         CAMERA_FIX)
        keyframes = [pts for pts, key in packets if key]
        if not keyframes:
            return _fail(self.part, f"camera delivered {len(packets)} packets but no "
                         f"keyframe in {seconds:.1f} s",
                         "the encoder must start with a keyframe and repeat one every "
                         f"[video] keyframe_interval = {self._video.keyframe_interval} "
                         "frames; restart the camera and update the firmware")
        fps = _rate(packets[0][0], packets[-1][0], len(packets))
        if fps < MIN_FPS_RATIO * self._video.fps:
            return _fail(self.part, f"camera delivers {fps:.1f} fps, configured "
                         f"{self._video.fps} fps",
                         "lower [video] width/height/bitrate_kbps or fps, and check the "
                         "Pi is not overheating or under-powered (`vcgencmd get_throttled`)")
        if not self._previews:
            return _fail(self.part, f"camera delivered video but no preview frames in "
                         f"{seconds:.1f} s", "the preview (lores) stream does not run: "
                         "restart the camera and update the firmware")
        width, height = self._previews[-1]
        if len(keyframes) > 1:
            interval = (keyframes[-1] - keyframes[0]) / (len(keyframes) - 1) / US_PER_S
            keys = f"keyframes every {interval:.1f} s"
        else:
            keys = f"1 keyframe in {seconds:.1f} s"
        return _ok(self.part, f"{fps:.1f} fps, {keys}, preview {width}x{height}")


def _rate(first_us: int, last_us: int, count: int) -> float:
    """Items per second for `count` items evenly spread from first_us to last_us."""
    if count < 2 or last_us <= first_us:
        return 0.0
    return (count - 1) * US_PER_S / (last_us - first_us)


class _MicrophoneCheck(_LiveCheck):
    part = "microphone"

    def __init__(self, microphone: Microphone, audio: AudioConfig) -> None:
        self._microphone = microphone
        self._audio = audio
        self._chunks: deque[AudioChunk] = deque(maxlen=MAX_ITEMS)  # filled on the audio thread

    def begin(self) -> None:
        if self._audio.enabled:
            self._microphone.start(self._chunks.append)

    def finish(self, seconds: float) -> PartResult:
        if not self._audio.enabled:
            return _ok(self.part, "not used ([audio] enabled = false)")
        self._microphone.stop()
        return judge_audio(list(self._chunks), seconds)


def judge_audio(chunks: list[AudioChunk], seconds: float) -> PartResult:
    """Verdict on the audio a microphone delivered while listening for `seconds`."""
    part = "microphone"
    if not chunks:
        return _fail(part, f"microphone delivered no audio in {seconds:.1f} s", MIC_FIX)
    covered = sum(chunk.duration_us for chunk in chunks) / US_PER_S
    if covered < MIN_AUDIO_COVERAGE * seconds:
        return _fail(part, f"microphone delivered only {covered:.2f} s of audio in "
                     f"{seconds:.1f} s: it stalls or stopped", MIC_FIX)
    peak = max(int(np.abs(np.frombuffer(c.pcm, dtype="<i2").astype(np.int32)).max(initial=0))
               for c in chunks)
    if peak == 0:
        return _fail(part, "microphone delivers only silence",
                     "check the wiring/dtoverlay: a microphone that is not connected or "
                     "not enabled in /boot/firmware/config.txt reads as all-zero samples")
    dbfs = 20 * math.log10(peak / 32768)
    first = chunks[0]
    return _ok(part, f"{first.sample_rate} Hz x{first.channels}, {covered:.1f} s of audio, "
                     f"peak {dbfs:.0f} dBFS")


class _DisplayCheck(_LiveCheck):
    part = "display"

    def __init__(self, display: FrontDisplay) -> None:
        self._display = display

    def begin(self) -> None:
        self._display.show(colour_bars(self._display.size))

    def finish(self, seconds: float) -> PartResult:
        shown = self._display.is_on
        self._display.off()
        if not shown:
            return _fail(self.part, "display reports off after showing the test pattern",
                         "check the panel's power and reset wiring ([display] gpio_reset)")
        if self._display.is_on:
            return _fail(self.part, "display stays on after being switched off",
                         "check the panel driver matches [display] driver")
        width, height = self._display.size
        return _ok(self.part, f"{width}x{height} {self._display.mode}: showed the test "
                              "pattern (colour bars), then switched off")


def colour_bars(size: tuple[int, int]) -> Image.Image:
    """Eight vertical colour bars with a white frame: shows colour order and panel edges."""
    bars = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0),
            (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0)]
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for i, colour in enumerate(bars):
        draw.rectangle((i * width // 8, 0, (i + 1) * width // 8 - 1, height - 1), fill=colour)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(255, 255, 255))
    return image


class _ButtonsCheck(_LiveCheck):
    part = "buttons"

    def __init__(self, buttons: Buttons, config: ButtonsConfig) -> None:
        self._buttons = buttons
        self._config = config
        self._pressed_at_start: list[ButtonName] = []
        self._edges: deque[ButtonName] = deque(maxlen=MAX_ITEMS)  # filled on the GPIO thread

    def _on_edge(self, name: ButtonName, pressed: bool, _t: float) -> None:
        if pressed:
            self._edges.append(name)

    def begin(self) -> None:
        self._pressed_at_start = [n for n in BUTTON_NAMES if self._buttons.is_pressed(n)]
        self._buttons.start(self._on_edge)

    def finish(self, seconds: float) -> PartResult:
        if self._pressed_at_start:
            names = " and ".join(self._pressed_at_start)
            wiring, pin = ("active-high", "low") if self._config.active_low else ("active-low",
                                                                                "high")
            return _fail(self.part, f"{names} button reads pressed at start: stuck or "
                         f"wired {wiring}",
                         f"check [buttons] active_low (now "
                         f"{str(self._config.active_low).lower()}: a press pulls the pin "
                         f"{pin}) and that the button is not jammed")
        states = ", ".join(f"{n} {'pressed' if self._buttons.is_pressed(n) else 'released'}"
                           for n in BUTTON_NAMES)
        presses = [f"{n} x{self._edges.count(n)}" for n in BUTTON_NAMES if n in self._edges]
        during = f"; presses during the test: {', '.join(presses)}" if presses else ""
        return _ok(self.part, states + during)


# ------------------------------------------------------------------ parts checked at once


def exercise_indicators(indicators: Indicators, clock: Clock, step: float) -> PartResult:
    """Blink each LED in turn, then beep, then vibrate, `step` seconds apart."""
    pulse = Blink(on_s=step, off_s=step, n=1)
    for name in LED_NAMES:
        indicators.set_led(name, pulse)
        clock.sleep(step)
    indicators.beep(pulse)
    clock.sleep(step)
    indicators.vibrate(pulse)
    clock.sleep(step)
    return _ok("indicators", f"blinked the {', '.join(LED_NAMES)} LEDs in turn, beeped, "
                             "vibrated: confirm each by eye, ear and touch")


def check_battery(power: Power, config: PowerConfig, table_path: Path | None) -> PartResult:
    """The gauge's charge, and its measured rate next to the power model's (the table at
    `table_path`, else [power] model_file, else the shipped one)."""
    part = "battery"
    if config.battery_source == "none":
        return _ok(part, 'no fuel gauge fitted ([power] battery_source = "none")')
    try:
        table = load_power_table(table_path or config.model_file)
    except ConfigError as exc:
        return _fail(part, f"the power table is refused: {exc}",
                     "fix the keys named (each problem says what is allowed) or "
                     "restore the shipped power-model.toml")
    status = power.read()
    if status.battery_percent is None:
        return _fail(part, "battery fuel gauge not readable",
                     f"check the gauge's I2C wiring (`i2cdetect -y {config.i2c_bus}` must "
                     f"show 0x{config.i2c_address:02x}) and [power] i2c_bus/i2c_address")
    flags = [name for name, on in (("charging", status.charging),
                                   ("docked", status.docked)) if on]
    return _ok(part, f"{status.battery_percent:.0f} %" + "".join(f", {f}" for f in flags)
               + "; " + gauge_against_model(status, table))


def check_clock(clock: Clock) -> PartResult:
    wall = clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
    if not clock.synchronised():
        return _fail("clock", f"wall clock not synchronised (reads {wall})",
                     "connect the camera to a network with NTP or dock it so the time is "
                     "set; until then recordings are marked as having an unset clock")
    return _ok("clock", f"synchronised, {wall}")


def check_storage(storage: StorageConfig, load: RecordingLoad,
                  probe: SyncedWriteProbe = synced_write_bytes_per_s) -> PartResult:
    """Writable, free space above the reserve, and fast enough for `load` (card_speed)."""
    part, data = "storage", storage.data_dir
    if not data.is_dir():
        return _fail(part, f"data directory {data} does not exist",
                     "create it for the camera's service user (the unit's StateDirectory= "
                     "does this) or correct [storage] data_dir")
    free_mb = statvfs_free_bytes(data) // MB
    if free_mb < storage.reserve_mb:
        return _fail(part, f"only {free_mb} MB free in {data}, below the "
                     f"{storage.reserve_mb} MB reserve: recording is refused",
                     FREE_SPACE_FIX)
    try:  # probe files, never evidence: written, synced and removed again
        card = judge_card(data, load, probe)
    except OSError as exc:
        return _fail(part, f"cannot write to {data} ({exc.strerror or exc})",
                     "make it writable for the camera's service user; a read-only or "
                     "failing SD card must be replaced")
    if not card.ok:
        return _fail(part, card.detail, card.fix)
    nearly = " (nearly full)" if free_mb < storage.nearly_full_mb else ""
    return _ok(part, f"{data} writable, {free_mb} MB free{nearly}, "
                     f"reserve {storage.reserve_mb} MB; {card.detail}")


def check_recipients(evidence: EvidenceConfig) -> PartResult:
    part = "recipients"
    if not evidence.recipients:
        return _fail(part, "no evidence recipient configured: the camera refuses to record",
                     "add the evidence authority's public age1... key to "
                     "[evidence] recipients")
    for recipient in evidence.recipients:
        try:
            parse_recipient(recipient)
        except ValueError as exc:
            return _fail(part, str(exc), "replace it in [evidence] recipients with the "
                         "authority's public age1... key")
    prints = ", ".join(recipient_fingerprint(r) for r in evidence.recipients)
    return _ok(part, f"{len(evidence.recipients)} configured ({prints})")


def check_device_key(config: Config) -> PartResult:
    """Open the device key the way the camera program does (never creating one) and say
    which key store holds it: a key file on the card can be copied, a TPM's cannot."""
    part = "device-key"
    choice = key_store_choice(config)
    try:
        key = open_key_store(choice, resolve_kind(choice))
    except KeyMissingError as exc:
        return _fail(part, str(exc).partition(". Fix: ")[0],
                     "start the camera service once (first boot makes the key), then "
                     "register it with the evidence custodian (`bodycam identity`)")
    except KeyStoreError as exc:
        problem, _, fix = str(exc).partition(". Fix: ")
        return _fail(part, problem, fix or "see docs/threat-model.md")
    except OSError as exc:
        return _fail(part, f"cannot read the device key in {choice.state_dir} "
                     f"({exc.strerror or exc})", "run the self test as the camera's service "
                     "user (sudo -u bodycam bodycam selftest)")
    try:
        public = DevicePublicKey(key.algorithm, key.public_key_bytes())
        kind = key.kind
    finally:
        key.close()
    where = "TPM, cannot be copied" if kind == "tpm" else \
        "key file on the card: whoever copies the card can copy it"
    return _ok(part, f"fingerprint {public.fingerprint} ({where})")


# ------------------------------------------------------------------ the whole test


def run_selftest(hardware: Hardware, config: Config, seconds: float,
                 power_table: Path | None = None) -> list[PartResult]:
    """Test every part; camera and microphone run for `seconds` of hardware.clock time.

    The battery's measured rate is compared with the power table at `power_table` (the
    shipped one if None).
    Returns one result per name in PARTS, in that order. Does not close the hardware.
    """
    if not seconds > 0:
        raise ValueError(f"the self test needs a positive duration, got {seconds} s")
    clock = hardware.clock
    live: list[_LiveCheck] = [
        _DisplayCheck(hardware.display),
        _CameraCheck(hardware.camera, config.video),
        _MicrophoneCheck(hardware.microphone, config.audio),
        _ButtonsCheck(hardware.buttons, config.buttons),
    ]
    results: dict[str, PartResult] = {}
    for check in live:
        started = _guarded(check.part, check.begin)
        if isinstance(started, PartResult):
            results[check.part] = started
    start = clock.monotonic()
    step = min(MAX_INDICATOR_STEP_S, seconds / 10)
    results["indicators"] = _guarded(
        "indicators", partial(exercise_indicators, hardware.indicators, clock, step))
    clock.sleep(max(0.0, start + seconds - clock.monotonic()))
    elapsed = clock.monotonic() - start
    for check in live:
        if check.part not in results:
            results[check.part] = _guarded(check.part, partial(check.finish, elapsed))
    results["battery"] = _guarded("battery",
                                  partial(check_battery, hardware.power, config.power,
                                          power_table))
    results["clock"] = _guarded("clock", partial(check_clock, clock))
    load = RecordingLoad.of(config.video, config.audio, config.evidence)
    results["storage"] = _guarded("storage", partial(check_storage, config.storage, load))
    results["recipients"] = _guarded("recipients",
                                     partial(check_recipients, config.evidence))
    results["device-key"] = _guarded("device-key",
                                     partial(check_device_key, config))
    return [results[part] for part in PARTS]

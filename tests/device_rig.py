"""Shared test helpers (conftest.py re-exports the fixtures): the whole device program
running on the simulated hardware.

- `authority_identity`: a fresh age key pair of the evidence authority, with the identity
  file that `age -d -i` and the custodian tools read.
- `sim_config`: config/sim.toml with storage under tmp_path, the authority as the only
  recipient and small, fast video (320x180 @ 15 fps), so a test runs at several times
  real time on one core.
- `sim_device`: that configuration booted as a complete device (controller, recorder,
  evidence store, audit log) on a SimClock. Tests drive it only through its simulated
  hardware: mock GPIO pins (`tap`, `hold`, `hardware.panel`), battery and dock
  (`hardware.power`), camera/microphone stalls and the scripted free space (`free_space`).
  Every change of an output pin (LEDs, buzzer, vibration motor) is kept in order across
  pins (`output_changes`), and the device's root for the provisioning fault marker is a
  directory of its own (`layout`), never the machine's /etc.
- `make_sim_config` / `make_sim_device`: the same with extra `section.key=value`
  overrides, another clock speed, or no recipient at all.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin

from bodycam.firmware.config.loader import load_config, shipped_file
from bodycam.firmware.config.model import Config, PinsConfig
from bodycam.firmware.device.firstboot import DeviceLayout
from bodycam.firmware.device.health import Media
from bodycam.firmware.device.program import Device, assemble
from bodycam.firmware.device.sdnotify import SystemdNotifier
from bodycam.firmware.device.states import State
from bodycam.firmware.evidence.age.keys import format_identity_file, generate_identity
from bodycam.firmware.offload.timesync import ClockCorrector
from bodycam.hal.clocks import SimClock
from bodycam.hal.interfaces import ButtonName, HardwareError
from bodycam.hal.sim.hardware import SimHardware, build_sim_hardware

MIB = 1024 * 1024
GIB = 1024 * MIB
# Small, quick video: the simulated camera encodes real H.264 and must keep up with the
# sped-up clock on a shared two-core machine.
FAST_MEDIA = (
    "video.width=320", "video.height=180", "video.fps=15", "video.keyframe_interval=15",
    "video.bitrate_kbps=300", "audio.sample_rate=16000", "display.fps=10",
)
DEFAULT_SPEED = 5.0  # simulated seconds per real second
WAIT_S = 30.0  # real seconds any single wait may take before the test fails
TAP_S = 0.15  # simulated seconds a short press stays down (as in scenario files)


@dataclass(frozen=True)
class AuthorityIdentity:
    """The evidence authority's age key pair; `path` is its identity file."""

    secret: str
    recipient: str
    path: Path


@pytest.fixture
def authority_identity(tmp_path: Path) -> AuthorityIdentity:
    secret, recipient = generate_identity()
    path = tmp_path / "authority-identity.txt"
    path.write_text(format_identity_file(secret), encoding="utf-8")
    return AuthorityIdentity(secret, recipient, path)


MakeConfig = Callable[..., Config]


@pytest.fixture
def make_sim_config(tmp_path: Path, authority_identity: AuthorityIdentity) -> MakeConfig:
    """`make(*overrides, recipients=None, name="device")`: a fresh simulator Config.

    `recipients=None` means the authority; `()` configures none. Each `name` gets its own
    data and state directories below tmp_path.
    """

    def make(*overrides: str, recipients: Sequence[str] | None = None,
             name: str = "device") -> Config:
        chosen = (authority_identity.recipient,) if recipients is None else tuple(recipients)
        data_dir = tmp_path / name / "data"
        listed = ", ".join(f'"{r}"' for r in chosen)
        layers = [f'storage.data_dir="{data_dir}"',
                  f'storage.state_dir="{tmp_path / name / "state"}"',
                  f"evidence.recipients=[{listed}]", *FAST_MEDIA, *overrides]
        return load_config(shipped_file("sim.toml"), overrides=layers)

    return make


@pytest.fixture
def sim_config(make_sim_config: MakeConfig) -> Config:
    return make_sim_config()


class FreeSpaceDial:
    """Scripted free space of the data partition (what statvfs would report)."""

    def __init__(self, free_bytes: int = 64 * GIB) -> None:
        self._free = free_bytes

    def set(self, free_bytes: int) -> None:
        self._free = free_bytes

    def __call__(self, _path: Path) -> int:
        return self._free


class LoggedPin(MockPWMPin):
    """A mock pin (PWM-capable: dimmed LEDs) that also appends its output changes to its
    factory's shared log, as lit or not."""

    def _change_state(self, value: float) -> bool:
        changed = bool(super()._change_state(value))
        if changed and self.function == "output":
            cast(PinLog, self.factory).changes.append((self, bool(value)))
        return changed


class PinLog(MockFactory):
    """MockFactory keeping every output pin change in order across all pins (MockPin's
    own history is per pin, with relative times only)."""

    def __init__(self) -> None:
        super().__init__(pin_class=LoggedPin)
        self.changes: list[tuple[MockPin, bool]] = []


class RunningSimDevice:
    """A booted simulated device plus what a test needs to drive and observe it."""

    def __init__(self, config: Config, *, speed: float,
                 notifier: SystemdNotifier | None = None,
                 layout: DeviceLayout | None = None,
                 prepare: Callable[[SimHardware], None] | None = None,
                 missing_sources: Mapping[Media, HardwareError] | None = None,
                 clock_corrector: ClockCorrector | None = None) -> None:
        self.config = config
        self.clock = SimClock(speed=speed)
        self.pins = PinLog()
        self.hardware: SimHardware = build_sim_hardware(config, self.clock,
                                                        pin_factory=self.pins)
        if prepare is not None:  # e.g. a microphone that is dead before the device boots
            prepare(self.hardware)
        self.free_space = FreeSpaceDial()
        self.layout = layout or DeviceLayout(root=config.storage.data_dir.parent / "root")
        self._changed = threading.Condition()
        self.transitions: list[tuple[State, State, str]] = []
        self.device: Device = assemble(config, self.hardware, on_state=self._note_state,
                                       free_space=self.free_space, notifier=notifier,
                                       device_layout=self.layout,
                                       missing_sources=missing_sources,
                                       clock_corrector=clock_corrector)
        self._thread = self.device.start_in_thread()
        if not self.device.controller.ready.wait(WAIT_S):
            raise AssertionError(f"simulated device did not boot: {self.device.failure!r}")

    # ------------------------------------------------------------------ driving

    def tap(self, button: ButtonName) -> None:
        """A short press through the button's mock GPIO pin."""
        self.hardware.panel.hold(button, TAP_S)

    def hold(self, button: ButtonName, seconds: float) -> None:
        self.hardware.panel.hold(button, seconds)

    def sleep(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass."""
        self.clock.sleep(seconds)

    def stop(self, cause: str = "test end") -> None:
        """Ask for a clean power-off (like SIGTERM) and wait until everything is released."""
        self.device.controller.request_shutdown(cause)
        self._thread.join(WAIT_S)
        if self._thread.is_alive():
            raise AssertionError("simulated device did not stop within "
                                 f"{WAIT_S:g} s of a shutdown request")

    # ------------------------------------------------------------------ observing

    @property
    def state(self) -> State:
        return self.device.controller.state

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    def wait_state(self, *states: State, timeout: float = WAIT_S) -> State:
        """Wait until the controller is in one of `states` and has audited getting there
        (the machine changes state first, the audit record and observers follow)."""

        def arrived() -> bool:
            return self.state in states and bool(self.transitions) and \
                self.transitions[-1][1] == self.state

        if not self._wait(arrived, timeout):
            raise AssertionError(f"device stayed in {self.state!r}, expected one of "
                                 f"{states}; transitions: {self.transitions}")
        return self.state

    def audit(self) -> list[dict[str, Any]]:
        """Every complete record of the device's audit log, in order."""
        path = self.device.audit.path
        if not path.exists():
            return []
        lines = path.read_bytes().split(b"\n")[:-1]  # the last piece may be half-written
        return [cast(dict[str, Any], json.loads(line)) for line in lines]

    def wait_until(self, done: Callable[[], bool], timeout: float = WAIT_S) -> None:
        """Wait for a condition on the simulated hardware (LEDs, files, ...)."""
        if not self._wait(done, timeout):
            raise AssertionError(f"condition not met within {timeout:g} s")

    def wait_audit(self, match: Callable[[dict[str, Any]], bool], *, after: int = 0,
                   timeout: float = WAIT_S) -> int:
        """Index of the first audit record from `after` on that matches; waits for it."""
        found: int | None = None

        def seen() -> bool:
            nonlocal found
            records = self.audit()
            found = next((i for i in range(after, len(records)) if match(records[i])), None)
            return found is not None

        if not self._wait(seen, timeout) or found is None:
            raise AssertionError(f"no matching audit record after #{after}; log tail: "
                                 f"{[r['event'] for r in self.audit()[after:]]}")
        return found

    def pin_high(self, name: str) -> bool:
        """Level of the output pin `name` ([pins] key, e.g. "led_red") right now."""
        return bool(self.pins.pin(getattr(self.config.pins, name)).state)

    def output_changes(self, after: int = 0) -> list[tuple[str, bool]]:
        """Output pin changes from index `after` on, as ([pins] key, level), in order."""
        names = {id(self.pins.pin(getattr(self.config.pins, key))): key
                 for key in PinsConfig.__dataclass_fields__}
        return [(names.get(id(pin), str(pin)), level)
                for pin, level in self.pins.changes[after:]]

    def recordings(self) -> list[Path]:
        """Recording directories (staging directories are hidden and not listed)."""
        evidence = self.device.store.evidence_dir
        if not evidence.is_dir():
            return []
        return sorted(p for p in evidence.iterdir() if p.is_dir() and
                      not p.name.startswith("."))

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        """Re-check `done` on every transition and at least every 20 ms (real time)."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline or self.finished:  # nothing changes any more
                return done()
            with self._changed:
                self._changed.wait(0.02)
        return True

    def _note_state(self, source: State, dest: State, cause: str) -> None:
        with self._changed:
            self.transitions.append((source, dest, cause))
            self._changed.notify_all()


MakeDevice = Callable[..., RunningSimDevice]


@pytest.fixture
def make_sim_device(make_sim_config: MakeConfig) -> Iterator[MakeDevice]:
    """`make(*overrides, recipients=None, name="device", speed=DEFAULT_SPEED,
    notifier=None, layout=None, prepare=None, missing_sources=None)`: boot one; every
    device made is powered off at teardown. `prepare(hardware)` runs before the device
    is assembled; `missing_sources` is what the Pi's hardware could not open at boot."""
    made: list[RunningSimDevice] = []

    def make(*overrides: str, recipients: Sequence[str] | None = None,
             name: str = "device", speed: float = DEFAULT_SPEED,
             notifier: SystemdNotifier | None = None,
             layout: DeviceLayout | None = None,
             prepare: Callable[[SimHardware], None] | None = None,
             missing_sources: Mapping[Media, HardwareError] | None = None,
             clock_corrector: ClockCorrector | None = None) -> RunningSimDevice:
        config = make_sim_config(*overrides, recipients=recipients, name=name)
        rig = RunningSimDevice(config, speed=speed, notifier=notifier, layout=layout,
                               prepare=prepare, missing_sources=missing_sources,
                               clock_corrector=clock_corrector)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        if not rig.finished:
            rig.stop("test teardown")


@pytest.fixture
def sim_device(make_sim_device: MakeDevice) -> RunningSimDevice:
    return make_sim_device()

"""The hardware abstraction layer's contracts.

Everything above the HAL (controller, media pipeline, display renderer) talks only to these
types, so the simulated devices (hal/sim) and the Raspberry Pi drivers (hal/pi) are
interchangeable. Callbacks handed to a device run on the device's own thread (picamera2's
encoder thread, the PortAudio thread, gpiozero's pin thread): they must never block, so
they only push into bounded queues or post events.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image


class HardwareError(RuntimeError):
    """A device could not be opened or stopped working.

    The message always names the device, the configured pin/bus/port and the likely fix.
    """

    def __init__(self, device: str, where: str, problem: str, fix: str) -> None:
        self.device = device
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(f"{device} ({where}): {problem}. Fix: {fix}")


# --------------------------------------------------------------------------- media types


@dataclass(frozen=True, slots=True)
class VideoPacket:
    """One encoded H.264 access unit (Annex B byte stream)."""

    data: bytes
    pts_us: int  # presentation time, microseconds on the camera's monotonic media clock
    keyframe: bool


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Signed 16-bit little-endian interleaved PCM."""

    pcm: bytes
    pts_us: int  # time of the first sample, same clock as VideoPacket.pts_us
    sample_rate: int
    channels: int

    @property
    def frames(self) -> int:
        return len(self.pcm) // (2 * self.channels)

    @property
    def duration_us(self) -> int:
        return self.frames * 1_000_000 // self.sample_rate


@dataclass(frozen=True, slots=True)
class PreviewFrame:
    """A small RGB frame for the front display (height x width x 3, uint8, R,G,B order)."""

    rgb: npt.NDArray[np.uint8]
    pts_us: int


VideoCallback = Callable[[VideoPacket], None]
AudioCallback = Callable[[AudioChunk], None]
PreviewCallback = Callable[[PreviewFrame], None]


class Camera(ABC):
    """Camera module: H.264 packets from the main stream, RGB previews from a small stream."""

    @abstractmethod
    def start(self, on_video: VideoCallback, on_preview: PreviewCallback) -> None:
        """Start capturing; callbacks run on the camera's thread and must not block."""

    @abstractmethod
    def stop(self) -> None:
        """Stop capturing (idempotent). After return no callback runs any more."""

    @property
    @abstractmethod
    def running(self) -> bool: ...


class Microphone(ABC):
    """PCM chunks stamped on the camera's media clock, so the muxer can line them up."""

    @abstractmethod
    def start(self, on_audio: AudioCallback) -> None:
        """Start capturing; the callback runs on the audio thread and must not block."""

    @abstractmethod
    def stop(self) -> None:
        """Stop capturing (idempotent)."""

    @property
    @abstractmethod
    def running(self) -> bool: ...


# --------------------------------------------------------------------------- display


PanelMode = Literal["RGB", "1"]  # colour panels, monochrome panels (images are dithered)


class FrontDisplay(ABC):
    """The outward-facing panel. Takes full-size RGB images; converts to the panel's mode."""

    @property
    @abstractmethod
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""

    @property
    @abstractmethod
    def mode(self) -> PanelMode:
        """The panel's colour mode; the renderer keeps the recording mark legible in it."""

    @abstractmethod
    def show(self, image: Image.Image) -> None:
        """Show an RGB image of exactly `size`; raises ValueError for any other size."""

    @abstractmethod
    def off(self) -> None:
        """Blank the panel and switch it off to save power."""

    @property
    @abstractmethod
    def is_on(self) -> bool: ...

    @property
    def brightness(self) -> float:
        """The panel's drive as a fraction of full (what its power follows)."""
        return 1.0

    def close(self) -> None:  # noqa: B027 - optional hook, default does nothing
        """Release the bus/pins."""


# --------------------------------------------------------------------------- buttons

ButtonName = Literal["record", "display", "power"]
BUTTON_NAMES: tuple[ButtonName, ...] = ("record", "display", "power")

# (button, pressed, monotonic seconds of the edge)
ButtonEdgeCallback = Callable[[ButtonName, bool, float], None]


class Buttons(ABC):
    """Raw edges of the three buttons. Debounce and gestures live in the firmware."""

    @abstractmethod
    def start(self, on_edge: ButtonEdgeCallback) -> None:
        """Deliver every edge; the callback runs on the GPIO thread and must not block."""

    @abstractmethod
    def is_pressed(self, name: ButtonName) -> bool: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the pins."""


# --------------------------------------------------------------------------- indicators

LedName = Literal["green", "red", "amber"]
LED_NAMES: tuple[LedName, ...] = ("green", "red", "amber")


@dataclass(frozen=True, slots=True)
class Blink:
    """A repeating on/off pattern; n=None repeats until changed."""

    on_s: float
    off_s: float
    n: int | None = None


LedState = bool | Blink


class Indicators(ABC):
    """Wearer feedback: status LEDs, buzzer, vibration motor. All calls return at once."""

    @abstractmethod
    def set_led(self, name: LedName, state: LedState) -> None: ...

    @abstractmethod
    def led_state(self, name: LedName) -> LedState: ...

    @property
    def led_brightness(self) -> float:
        """A lit LED's duty as a fraction of full (what its power follows)."""
        return 1.0

    @abstractmethod
    def beep(self, pattern: Blink) -> None:
        """Sound the buzzer in the background (pattern.n must be set)."""

    @abstractmethod
    def vibrate(self, pattern: Blink) -> None:
        """Run the vibration motor in the background (pattern.n must be set)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the pins."""


# --------------------------------------------------------------------------- power & clock


@dataclass(frozen=True, slots=True)
class PowerStatus:
    battery_percent: float | None  # None: fuel gauge not readable
    charging: bool
    docked: bool
    # The gauge's own charge/discharge rate (MAX17048 CRATE), percent per hour, negative
    # while discharging; None: the gauge has no rate or it could not be read.
    rate_percent_per_hour: float | None = None
    cell_volts: float | None = None  # None: not measured (no gauge, or a failed read)


class Power(ABC):
    """Battery and dock levels, polled by the controller: they change slowly, and a poll
    needs no callback thread."""

    @abstractmethod
    def read(self) -> PowerStatus:
        """Read the fuel gauge and dock pins; fast (a few short I2C transactions at most)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the bus."""


class Clock(ABC):
    """Injected time source, so simulator and tests can run faster than real time."""

    @abstractmethod
    def monotonic(self) -> float:
        """Seconds on a monotonic clock (simulated time for the simulator)."""

    @abstractmethod
    def wall(self) -> datetime:
        """Current UTC wall-clock time (timezone-aware)."""

    @abstractmethod
    def synchronised(self) -> bool:
        """True once the wall clock has been set from a trusted source (NTP, dock, RTC)."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` of this clock's time."""


class Radios(ABC):
    """Wi-Fi and Bluetooth, switched off out of the dock to save power. The camera program
    is unprivileged: on the Pi it only asks a helper (bodycam-radio.service) to switch."""

    @abstractmethod
    def switch(self, enabled: bool, cause: str) -> str:
        """Ask for the radios on or off; returns what was done, for the audit log. Returns
        at once and never raises for a request that could not be made (the text says)."""

    @property
    @abstractmethod
    def enabled(self) -> bool | None:
        """What was last asked; None: never asked (as the system set them)."""


class UnmanagedRadios(Radios):
    """Radios nobody switches (a bench setup, tests that do not care)."""

    def switch(self, enabled: bool, cause: str) -> str:
        return "not switched: this hardware has no radio switch"

    @property
    def enabled(self) -> bool | None:
        return None


@dataclass
class Hardware:
    """The set of devices one program instance runs on."""

    camera: Camera
    microphone: Microphone
    display: FrontDisplay
    buttons: Buttons
    indicators: Indicators
    power: Power
    clock: Clock
    radios: Radios = field(default_factory=UnmanagedRadios, kw_only=True)

    def close(self) -> None:
        for part in (self.camera, self.microphone):
            part.stop()
        for closable in (self.display, self.buttons, self.indicators, self.power):
            closable.close()

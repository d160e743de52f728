"""Two questions about liveness, asked on the controller thread, kept apart on purpose.

1. **Is the program alive?** This alone gates the systemd watchdog. The pings come from
   the controller loop, so they stop when that loop hangs; they also stop when the
   recorder's worker has made no progress for `hang_seconds`, because then no evidence
   is being written and a restart (recovery seals what is open, resume.py starts
   recording again) is the fix. The main loop does, each iteration:

       if health.alive(now).ok and health.due_for_ping(now):
           notifier.watchdog()

2. **Which media source has gone quiet?** A camera or microphone that stalls is not a
   hung program: the recording goes on with a gap, the wearer is alarmed and the source
   is reopened in-process (sources.py). It never stops the pings. It used to: a pulled
   USB microphone got the camera program killed mid-recording, and a dead one disabled
   the unit after five restarts (security audit H5).

The note_*() methods are one dict item store each: they run on the camera and audio
threads for every frame/chunk, so they take no lock and never block (storing to an
existing key is atomic in CPython; the readers see whatever the last store left).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from bodycam.hal.interfaces import Clock

Media = Literal["camera", "microphone"]
MEDIA: tuple[Media, ...] = ("camera", "microphone")
# Longer than any storage call a working card makes (an fsync, a segment close): a
# recorder that stands still this long has hung, or its card has.
RECORDER_HANG_SECONDS = 30.0


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    problems: list[str] = field(default_factory=list)  # one line per problem

    def __str__(self) -> str:
        return "healthy" if self.ok else "; ".join(self.problems)


class HealthMonitor:
    """When each media source last delivered, and whether the program is alive.

    A media source is watched from `watch()` (the controller started it) to `unwatch()`;
    after `watch()` it has `stall_seconds` to deliver before it counts as stalled.
    `recorder_progress` reads the monotonic time of the recorder worker's last step
    (Recorder.progress); None watches no recorder. `ping_interval` is
    SystemdNotifier.watchdog_interval() (already half of WatchdogSec=); None means there
    is no watchdog to ping.
    """

    def __init__(self, clock: Clock, stall_seconds: float, *,
                 ping_interval: float | None = None,
                 recorder_progress: Callable[[], float] | None = None,
                 hang_seconds: float = RECORDER_HANG_SECONDS) -> None:
        if not stall_seconds > 0:
            raise ValueError(f"stall_seconds must be positive, got {stall_seconds}")
        if not hang_seconds > 0:
            raise ValueError(f"hang_seconds must be positive, got {hang_seconds}")
        self._clock = clock
        self._stall = stall_seconds
        self._hang = hang_seconds
        self._ping_interval = ping_interval
        self._recorder_progress = recorder_progress
        self._last_ping = -math.inf
        self._delivered: dict[Media, float] = dict.fromkeys(MEDIA, -math.inf)
        self._watched_since: dict[Media, float] = {}

    # ---- called from the device threads: one store each, no lock

    def note_video(self, t: float) -> None:
        """A video packet arrived at time `t` of the monitor's clock (camera thread).

        Pass the arrival time (clock.monotonic()), not the packet's pts: stalls are about
        when data arrives, and the media clock need not be the monitor's clock.
        """
        self._delivered["camera"] = t

    def note_audio(self, t: float) -> None:
        """An audio chunk arrived at time `t` of the monitor's clock (audio thread)."""
        self._delivered["microphone"] = t

    # ---- media sources (controller thread)

    def watch(self, source: Media, now: float | None = None) -> None:
        """Watch a (re)started source, granting it `stall_seconds` to deliver."""
        self._watched_since[source] = self._clock.monotonic() if now is None else now

    def unwatch(self, source: Media) -> None:
        """Stop watching a source the controller stopped on purpose."""
        self._watched_since.pop(source, None)

    def silent_for(self, source: Media, now: float | None = None) -> float | None:
        """Seconds since `source` last delivered or was (re)started; None if unwatched."""
        since = self._watched_since.get(source)
        if since is None:
            return None
        now = self._clock.monotonic() if now is None else now
        return now - max(since, self._delivered[source])

    def stalled(self, now: float | None = None) -> list[Media]:
        """Watched sources that delivered nothing for longer than `stall_seconds`."""
        now = self._clock.monotonic() if now is None else now
        return [source for source in MEDIA
                if (silent := self.silent_for(source, now)) is not None
                and silent > self._stall]

    def delivered_after(self, source: Media, t: float) -> bool:
        """Whether `source` delivered anything after time `t` (e.g. after a restart)."""
        return self._delivered[source] > t

    # ---- the program (controller thread)

    def alive(self, now: float | None = None) -> HealthReport:
        """Whether a watchdog ping is deserved: the recorder made progress recently.

        The controller loop that calls this is alive whenever it does; media sources are
        deliberately not part of the answer (see the module docstring).
        """
        if self._recorder_progress is None:
            return HealthReport(True)
        now = self._clock.monotonic() if now is None else now
        idle = now - self._recorder_progress()
        if idle > self._hang:
            return HealthReport(False, [f"recorder stalled: no progress for {idle:.1f} s "
                                        f"(limit {self._hang:g} s)"])
        return HealthReport(True)

    def due_for_ping(self, now: float | None = None) -> bool:
        """True at most once per ping interval (and never without a watchdog).

        Returning True records the ping, so call it only when about to ping.
        """
        if self._ping_interval is None:
            return False
        now = self._clock.monotonic() if now is None else now
        if now - self._last_ping < self._ping_interval:
            return False
        self._last_ping = now
        return True

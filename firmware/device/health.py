"""Liveness of the media sources and the controller loop, gating the systemd watchdog.

A hung camera or microphone does not crash the process: callbacks just stop. So the main
loop pings the watchdog only while every watched source delivered recently; when one
stalls the pings stop and systemd restarts the service (WatchdogSec=), which reopens the
devices. The main loop does, each iteration:

    if health.check(now).ok and health.due_for_ping(now):
        notifier.watchdog()

The note_*() methods are one dict item store each: they run on the camera and audio
threads for every frame/chunk, so they take no lock and never block (storing to an
existing key is atomic in CPython; check() reads whatever the last store left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from bodycam.hal.interfaces import Clock

Source = Literal["camera", "microphone", "controller"]
SOURCES: tuple[Source, ...] = ("camera", "microphone", "controller")

_WHAT: dict[Source, str] = {
    "camera": "no video packets",
    "microphone": "no audio chunks",
    "controller": "controller loop has not run",
}


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    problems: list[str] = field(default_factory=list)  # one line per stale source

    def __str__(self) -> str:
        return "healthy" if self.ok else "; ".join(self.problems)


class HealthMonitor:
    """Tracks when each watched source last delivered; stale after `stall_seconds`.

    The camera is watched from the start, the microphone with `audio_enabled`; each gets
    `stall_seconds` from construction (or resume()) to deliver its first item.
    `ping_interval` is SystemdNotifier.watchdog_interval() (already half of WatchdogSec=);
    None means there is no watchdog to ping. The controller loop that calls check() is
    alive whenever it does, so it needs no heartbeat; `watch_loop=True` is for a check()
    made on another thread, and then the loop calls note_loop() every iteration.
    """

    def __init__(self, clock: Clock, stall_seconds: float, *, audio_enabled: bool = True,
                 ping_interval: float | None = None, watch_loop: bool = False) -> None:
        if not stall_seconds > 0:
            raise ValueError(f"stall_seconds must be positive, got {stall_seconds}")
        self._clock = clock
        self._stall = stall_seconds
        self._ping_interval = ping_interval
        self._last_ping = -math.inf
        self._last: dict[Source, float] = dict.fromkeys(SOURCES, clock.monotonic())
        self._watched: set[Source] = {"camera"}
        if audio_enabled:
            self._watched.add("microphone")
        if watch_loop:
            self._watched.add("controller")

    # ---- called from the device threads: one store each, no lock

    def note_video(self, t: float) -> None:
        """A video packet arrived at time `t` of the monitor's clock (camera thread).

        Pass the arrival time (clock.monotonic()), not the packet's pts: stalls are about
        when data arrives, and the media clock need not be the monitor's clock.
        """
        self._last["camera"] = t

    def note_audio(self, t: float) -> None:
        """An audio chunk arrived at time `t` of the monitor's clock (audio thread)."""
        self._last["microphone"] = t

    def note_loop(self, t: float) -> None:
        """The watched loop completed an iteration at `t` (only with watch_loop=True)."""
        self._last["controller"] = t

    # ---- called from the main loop

    def pause(self, source: Source) -> None:
        """Stop watching a source the controller stopped on purpose."""
        self._watched.discard(source)

    def resume(self, source: Source, now: float | None = None) -> None:
        """Watch a (re)started source again, granting it `stall_seconds` to deliver."""
        self._last[source] = self._clock.monotonic() if now is None else now
        self._watched.add(source)

    def check(self, now: float | None = None) -> HealthReport:
        """Which watched sources delivered nothing for longer than `stall_seconds`."""
        now = self._clock.monotonic() if now is None else now
        problems = []
        for source in SOURCES:
            if source not in self._watched:
                continue
            silent = now - self._last[source]
            if silent > self._stall:
                problems.append(f"{source} stalled: {_WHAT[source]} for {silent:.1f} s "
                                f"(limit {self._stall:g} s)")
        return HealthReport(not problems, problems)

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

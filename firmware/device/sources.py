"""Camera and microphone for the controller: start, stop, and reopen what went quiet.

A source that stalls or fails never ends a recording and never stops the watchdog
(health.py): the recorder records the gap, the wearer gets an alarm, and this class
reopens the source in-process, stop() then start(), the same close-and-open a program
restart would do, without cutting the recording. Attempts back off (BACKOFF_SECONDS)
so a source that stays dead costs a restart a minute, not a busy loop; each attempt is
audited. After FAILED_AFTER attempts without a single delivery (or at once when start()
itself fails: a microphone missing at boot) the source counts as failed: a lasting
alarm (`camera_failed` / `microphone_failed`), cleared when it delivers again.

A camera that stays dead is not a reason to restart the program either: the microphone
goes on recording (sound is evidence too), a restart would cut that recording, and what
a restart would redo for the camera (close, open, configure) is what the reopen does.
A driver wedged in the kernel needs a power cycle, which the `camera_failed` alarm asks
the wearer for. A reopen that hangs inside the driver hangs the controller loop, and then
the watchdog does restart the program, which resumes the recording (resume.py).

Everything runs on the controller thread; what happened comes back as conditions.py
effects for the controller to audit and act on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bodycam.firmware.device.conditions import ClearAlarm, Effect, RaiseAlarm, Report
from bodycam.firmware.device.health import HealthMonitor, Media
from bodycam.hal.interfaces import (
    AudioCallback,
    Hardware,
    HardwareError,
    PreviewCallback,
    VideoCallback,
)

log = logging.getLogger(__name__)

# Seconds to wait after attempt n (n = 1, 2, ...) before the next; the last value repeats.
# A stalled source is also given evidence.stall_seconds after each attempt to deliver.
BACKOFF_SECONDS: tuple[float, ...] = (2.0, 5.0, 10.0, 30.0, 60.0)
FAILED_AFTER = 2  # reopen attempts without a delivery before the source counts as failed


@dataclass(slots=True)
class _Track:
    """One source's bookkeeping (controller thread only)."""

    up: bool = False  # start() returned and stop() was not called since
    attempts: int = 0  # reopen/start attempts since the source last delivered
    attempt_at: float = 0.0  # when the last attempt was made
    next_try: float = 0.0  # no new attempt before this time
    failed: bool = False  # the lasting alarm is raised


class MediaSources:
    """Runs the camera (and the microphone when audio is enabled) for the controller."""

    def __init__(self, hardware: Hardware, health: HealthMonitor, *, audio_enabled: bool,
                 on_video: VideoCallback, on_audio: AudioCallback,
                 on_preview: PreviewCallback) -> None:
        self._hw = hardware
        self._health = health
        self._names: tuple[Media, ...] = ("camera", "microphone") if audio_enabled \
            else ("camera",)
        self._on_video = on_video
        self._on_audio = on_audio
        self._on_preview = on_preview
        self._tracks: dict[Media, _Track] = {name: _Track() for name in self._names}
        self.on = False  # the controller wants the sources running

    @property
    def failed(self) -> frozenset[Media]:
        """Sources with a lasting failure alarm (the wearer must hear about them)."""
        return frozenset(name for name, track in self._tracks.items() if track.failed)

    def start(self, now: float) -> list[Effect]:
        """Start every source; one that fails is alarmed and retried by `tick`. A source
        still waiting out its backoff is left to `tick`: opening a missing sound card
        again on every state change would only hold up the controller."""
        self.on = True
        effects: list[Effect] = []
        for name, track in self._tracks.items():
            if not (track.attempts and now < track.next_try):
                effects += self._start(name, now, cause=None)
        return effects

    def stop(self) -> list[Effect]:
        """Stop every source (attempt counts and failure alarms stay until it delivers)."""
        self.on = False
        effects: list[Effect] = []
        for name in self._names:
            effects += self._stop(name)
        return effects

    def opened_failed(self, name: Media, error: HardwareError, now: float) -> list[Effect]:
        """A source the hardware could not even open at boot: failed from the start."""
        track = self._tracks.get(name)
        if track is None:  # e.g. the microphone with audio disabled: nothing expected
            return []
        track.attempt_at, track.next_try = now, now + BACKOFF_SECONDS[0]
        return self._fail(name, f"cannot open the {name}: {error}")

    def tick(self, now: float) -> list[Effect]:
        """Clear what delivers again; reopen what stalled or never started, when due."""
        effects: list[Effect] = []
        if not self.on:
            return effects
        stalled = self._health.stalled(now)
        for name, track in self._tracks.items():
            if track.attempts and track.up and self._health.delivered_after(
                    name, track.attempt_at):
                effects += self._recovered(name, track)
            if now < track.next_try:
                continue
            if not track.up:
                effects += self._start(name, now, cause="not running after a failed start")
            elif name in stalled:
                silent = self._health.silent_for(name, now) or 0.0
                effects += self._stop(name)
                effects += self._start(name, now, cause=f"delivered nothing for {silent:.1f} s")
        return effects

    # ------------------------------------------------------------------ internals

    def _start(self, name: Media, now: float, cause: str | None) -> list[Effect]:
        """One start; `cause` None is a plain start, otherwise a counted, audited reopen."""
        track = self._tracks[name]
        error: str | None = None
        try:
            if name == "camera":
                self._hw.camera.start(self._on_video, self._on_preview)
            else:
                self._hw.microphone.start(self._on_audio)
        except Exception as exc:  # a driver bug must not end the controller either
            if not isinstance(exc, HardwareError):
                log.exception("starting the %s failed", name)
            error = str(exc)
        track.up = error is None
        if track.up:
            self._health.watch(name, now)
        effects: list[Effect] = []
        if cause is not None or error is not None:
            track.attempts += 1
            track.attempt_at = now
            track.next_try = now + BACKOFF_SECONDS[min(track.attempts, len(BACKOFF_SECONDS)) - 1]
        if cause is not None:
            effects.append(Report("source_restart", {
                "source": name, "attempt": track.attempts, "cause": cause,
                "ok": error is None, "error": error}))
        if error is not None and cause is None:
            effects += self._fail(name, f"cannot start the {name}: {error}")
        elif track.attempts >= FAILED_AFTER:
            effects += self._fail(name, f"the {name} delivered nothing after "
                                        f"{track.attempts} restarts")
        return effects

    def _stop(self, name: Media) -> list[Effect]:
        track = self._tracks[name]
        self._health.unwatch(name)
        if not track.up:
            return []
        track.up = False
        try:
            if name == "camera":
                self._hw.camera.stop()
            else:
                self._hw.microphone.stop()
        except Exception as exc:  # the source is gone either way; the next start reopens
            log.warning("stopping the %s failed: %s", name, exc)
            return [Report("fault", {"reason": f"stopping the {name} failed: {exc}"})]
        return []

    def _fail(self, name: Media, detail: str) -> list[Effect]:
        track = self._tracks[name]
        if track.failed:
            return []
        track.failed = True
        consequence = ("video is NOT recorded (sound is, if the microphone works)"
                       if name == "camera" else "recordings go on without sound")
        return [RaiseAlarm(f"{name}_failed", f"{detail}; {consequence}; reopened in the "
                           "background until it works")]

    def _recovered(self, name: Media, track: _Track) -> list[Effect]:
        attempts, was_failed = track.attempts, track.failed
        track.attempts, track.failed, track.next_try = 0, False, 0.0
        if not was_failed:
            return []
        return [ClearAlarm(f"{name}_failed",
                           detail=f"the {name} delivers again after {attempts} attempt(s)")]

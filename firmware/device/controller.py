"""The controller: one thread that owns the state machine and turns events into actions.

Hardware callbacks (GPIO edges, recorder events) only post into the inbox; this thread
feeds edges to the gesture recognizer, applies the resulting events to the state machine
(states.py) and then reconciles the world with the new state: recorder mode, camera on or
asleep, what the front display shows, LEDs, buzzer and vibration. Every gesture, state
change, alarm and fault is written to the audit log *after* the action, so auditing
(an fsync per record) never delays the start of a recording.

Media never passes through here: the camera and microphone feed the recorder directly;
the controller only switches the recorder's mode.

Conditions polled from the hardware (dock contact, free storage) are latched in
conditions.py, the battery is judged by firmware/power/watch.py (warnings by time left,
a faulty gauge, the shift forecast at boot and undock, battery health in the dock); both
say what happened and this thread only acts on it. With pre-record on, sleep mode
(firmware/power/sleep.py) gives up the buffer after a configured time in idle: the
camera is then stopped as without pre-record, and any press wakes it.

Stealth mode (POWER short press, only if the configuration allows it) darkens the LEDs,
silences the buzzer and keeps the front display off in every state, also while
recording; it never touches the recording itself.

In the dock the offload worker (firmware/offload/) empties the card on a thread of its
own: this thread only tells it docked/undocked on entering and leaving the docked state
and that a recording was sealed (so a recording still running when docked goes up once
it is sealed and the state is docked again) and shows what it reports (OffloadStatus)
as the docked pattern and the offload_failing alarm.

The camera and microphone are started, stopped and reopened by sources.py; a stalled
or missing one is a gap and an alarm, never the end of a recording. The systemd
watchdog follows this loop and the recorder's progress only (health.py). A restart
while recording records again at once (resume.py).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal, Protocol

from bodycam.firmware import __version__
from bodycam.firmware.config.model import Config
from bodycam.firmware.device import config_memory
from bodycam.firmware.device.audit import AuditLog
from bodycam.firmware.device.conditions import (
    Apply,
    ClearAlarm,
    ClockChanged,
    ClockWatch,
    Conditions,
    Effect,
    RaiseAlarm,
    Report,
)
from bodycam.firmware.device.display_worker import DisplayWorker, FrameObserver
from bodycam.firmware.device.feedback import Alarm, Feedback
from bodycam.firmware.device.gestures import Gesture, GestureRecognizer, event_for
from bodycam.firmware.device.health import HealthMonitor, Media
from bodycam.firmware.device.recorder_events import recorder_audit_record, refusal_event
from bodycam.firmware.device.renderer import DisplayRenderer, IdentityCard, OverlayState
from bodycam.firmware.device.resume import (
    HEALTHY_SECONDS,
    MAX_AUTO_RESUMES,
    RESUME_CAUSE,
    ResumeFlag,
)
from bodycam.firmware.device.sdnotify import SystemdNotifier
from bodycam.firmware.device.sources import MediaSources
from bodycam.firmware.device.states import (
    STATE_INFO,
    DeviceStateMachine,
    DisplayContent,
    Event,
    Outcome,
    State,
    outcome,
)
from bodycam.firmware.evidence.api import EvidenceError, StorageFullError
from bodycam.firmware.media.events import (
    RecorderEvent,
    RecordingRefused,
    RecordingSealed,
    StallEnded,
    StallStarted,
    StorageFull,
)
from bodycam.firmware.media.recorder import Recorder
from bodycam.firmware.media.segmenter import ClockStep
from bodycam.firmware.offload.status import Activity, OffloadStatus
from bodycam.firmware.power.draw import DrawSettings, Mode
from bodycam.firmware.power.sleep import SleepTimer
from bodycam.firmware.power.table import PowerTable, load_power_table
from bodycam.firmware.power.watch import BatteryWatch
from bodycam.hal.interfaces import (
    AudioChunk,
    ButtonName,
    Hardware,
    HardwareError,
    PreviewFrame,
    VideoPacket,
)

log = logging.getLogger(__name__)

TICK_SECONDS = 0.02  # gesture holds, alarms and the watchdog are checked this often
POWER_POLL_SECONDS = 1.0
INBOX_SIZE = 1024
MARKER_FLASH_SECONDS = 1.0
IDENTITY_SECONDS = 60.0  # how long the device key fingerprint stays on the front display
IDENTITY_STATES: frozenset[State] = frozenset({"idle", "docked"})  # it may show in these
SEAL_FAILED = "the seal record could not be written; recovery seals it at the next start"
FaultCause = Literal["storage", "other"]


@dataclass(frozen=True, slots=True)
class ButtonEdge:
    """A raw edge as the GPIO thread saw it; debounce and gestures run on this thread."""

    button: ButtonName
    pressed: bool
    t: float


@dataclass(frozen=True, slots=True)
class ShutdownRequest:
    """Seal and power off, asked from outside the controller (a signal, the simulator)."""

    cause: str  # e.g. the signal's name; becomes the seal reason and the audit cause


Message = ButtonEdge | ShutdownRequest | RecorderEvent | OffloadStatus


class DockLink(Protocol):
    """What the controller may ask of the offload worker: never blocks."""

    def set_docked(self, docked: bool) -> None: ...

    def card_changed(self) -> None: ...


class StateObserver(Protocol):
    """Told of every transition after it was audited (systemd status, simulator, tests)."""

    def __call__(self, source: State, dest: State, cause: str) -> None: ...


class Controller:
    """Wire up with `Controller(...)`, then `run()` on the thread that should own it."""

    def __init__(self, config: Config, hardware: Hardware, recorder: Recorder,
                 audit: AuditLog, *, free_bytes: Callable[[], int],
                 can_begin: Callable[[], EvidenceError | None],
                 provisioning_fault: str | None = None,
                 notifier: SystemdNotifier | None = None,
                 on_display_frame: FrameObserver | None = None,
                 on_state: StateObserver | None = None,
                 integrity_alarms: Sequence[str] = (),
                 device_key_fingerprint: str | None = None,
                 missing_sources: Mapping[Media, HardwareError] | None = None,
                 offload: DockLink | None = None,
                 power_table: PowerTable | None = None) -> None:
        """`can_begin`: why the evidence store would refuse a new recording now (None: it
        would not); `provisioning_fault`: the last rejected provisioning file's problems,
        alarmed at boot while the device runs on its previous configuration;
        `integrity_alarms`: what assembling the device found on the card (quarantined
        recordings, a re-key, a damaged audit log), alarmed at boot;
        `device_key_fingerprint`: audited at boot and shown on the front display for the
        enrolment check (None: nothing to show); `missing_sources`: media sources the
        hardware could not open (alarmed at boot, recorded without, opened again later);
        `offload`: the offload worker, told when the device enters and leaves docked
        (None: no server configured, the dock only charges); `power_table`: the power
        model the battery prediction runs on (None: the shipped one)."""
        self._offload = offload
        self._integrity_alarms = tuple(integrity_alarms)
        self._device_key_fingerprint = device_key_fingerprint
        self._config = config
        self._hw = hardware
        self._clock = hardware.clock
        self._recorder = recorder
        self._audit = audit
        self._free_bytes = free_bytes
        self._can_begin = can_begin
        self._provisioning_fault = provisioning_fault
        self._notifier = notifier or SystemdNotifier()
        self._on_state = on_state
        self._inbox: queue.Queue[Message] = queue.Queue(maxsize=INBOX_SIZE)
        self._machine = DeviceStateMachine()
        self._gestures = GestureRecognizer(self._clock, config.buttons.debounce_ms,
                                           config.buttons.hold_seconds, self._on_gesture)
        self._feedback = Feedback(hardware.indicators, self._clock,
                                  stealth_allowed=config.privacy.stealth_allowed,
                                  reminder_interval=config.alarms.reminder_interval_seconds)
        self._health = HealthMonitor(self._clock, config.evidence.stall_seconds,
                                     ping_interval=self._notifier.watchdog_interval(),
                                     recorder_progress=lambda: recorder.progress)
        self._sources = MediaSources(hardware, self._health,
                                     audio_enabled=config.audio.enabled,
                                     on_video=self._on_video, on_audio=self._on_audio,
                                     on_preview=self._on_preview)
        self._missing_sources = dict(missing_sources or {})
        self._resume = ResumeFlag(config.storage.state_dir)
        self._auto_resumes = 0  # written with the flag when a recording starts
        self._resumed = False  # the open recording was started by a resume
        self._identity = None if device_key_fingerprint is None else \
            IdentityCard(config.device.id, device_key_fingerprint)
        self._identity_until = -math.inf
        self._hang_reported = False
        renderer = DisplayRenderer(hardware.display.size, hardware.display.mode,
                                   config.display.mirror, rotation=0)  # the HAL display rotates
        self._display = DisplayWorker(hardware.display, renderer, self._clock,
                                      fps=config.display.fps, overlay=self._overlay,
                                      on_frame=on_display_frame)
        self._recording_started_at: float | None = None
        self._marker_until = 0.0
        self._conditions = Conditions(config.storage)
        prerecord = config.evidence.prerecord_seconds > 0
        self._battery = BatteryWatch(config.power, power_table or load_power_table(
                                         config.power.model_file),
                                     prerecord=prerecord,
                                     gauge_fitted=config.power.battery_source != "none",
                                     settings=DrawSettings.of(config))
        self._sleep = SleepTimer(config.power.sleep_after_idle_min, prerecord=prerecord)
        self._clock_watch = ClockWatch(False, self._clock.wall(), 0.0)  # set at boot
        self._stalled: set[str] = set()  # sources the recorder reports as stalled
        self._fault_cause: FaultCause | None = None
        self._next_power_poll = 0.0
        self._dropped_messages = 0
        self._reported_drops = 0
        self.ready = threading.Event()
        self.finished = threading.Event()

    # ------------------------------------------------------------------ posting (any thread)

    def post(self, message: Message) -> None:
        """Thread-safe and non-blocking; a full inbox drops the message and counts it."""
        try:
            self._inbox.put_nowait(message)
        except queue.Full:
            self._dropped_messages += 1  # reported from the controller thread (_tick)

    def on_button_edge(self, button: ButtonName, pressed: bool, t: float) -> None:
        """HAL callback (GPIO thread)."""
        self.post(ButtonEdge(button, pressed, t))

    def request_shutdown(self, cause: str) -> None:
        """From a signal handler or another thread: seal and stop."""
        self.post(ShutdownRequest(cause))

    @property
    def state(self) -> State:
        return self._machine.state

    @property
    def dock_activity(self) -> Activity:
        """What the docked pattern says about the offload (read from any thread)."""
        return self._feedback.dock_activity

    # ------------------------------------------------------------------ main loop

    def run(self) -> None:
        """Boot, then process events until the device is off."""
        try:
            self._boot()
            while not self._powered_off():
                try:
                    message = self._inbox.get(timeout=TICK_SECONDS)
                except queue.Empty:
                    message = None
                if message is not None:
                    self._dispatch(message)
                self._tick(self._clock.monotonic())
        except Exception as exc:
            # Last resort: keep the evidence. Seal what is open, leave a record, and let
            # the service manager restart the program (the caller re-raises).
            log.exception("controller failed")
            self._recorder.stop_recording(f"controller failure: {type(exc).__name__}")
            try:
                self._audit.record("fault", reason=f"controller failure: {exc!r}")
            except Exception:
                log.exception("could not audit the controller failure")
            raise
        finally:
            self._display.stop()
            self.finished.set()

    def _boot(self) -> None:
        config = self._config
        synced = self._clock.synchronised()
        self._clock_watch = ClockWatch(synced, self._clock.wall(), self._clock.monotonic())
        previous = self._previous_config()
        self._audit.record("boot", firmware_version=__version__, device_id=config.device.id,
                           config_digest=config.digest,
                           recipients=config_memory.recipient_fingerprints(
                               config.evidence.recipients),
                           clock_synchronised=synced,
                           device_key_fingerprint=self._device_key_fingerprint)
        self._note_config_change(previous)
        self._display.start()
        self._hw.buttons.start(self.on_button_edge)
        for source, error in self._missing_sources.items():
            self._audit.record("fault", reason=str(error))
            self._act(self._sources.opened_failed(source, error, self._clock.monotonic()))
        self._refresh_media_alarms()
        problem = self._boot_problem()
        self._apply("boot_failed" if problem else "boot_ok", cause=problem or "boot checks")
        self._resume_after_restart()
        if not synced and config.alarms.clock_unset_alarm:
            self._alarm("clock_unset", "wall clock not synchronised: times are unreliable",
                        "clock_unset")
        for detail in self._integrity_alarms:
            self._alarm("integrity", detail, "integrity")
        if self._provisioning_fault is not None:
            problems = "; ".join(line.strip() for line in
                                 self._provisioning_fault.splitlines() if line.strip())
            self._alarm("provisioning_rejected", "the provisioning file on the boot "
                        "partition was rejected, the camera runs on its previous "
                        f"configuration (details in BODYCAM-ERROR.txt): {problems}",
                        "provisioning_rejected")
        self._poll_power()
        if not self._conditions.docked:  # docked, the dock transition switched them on
            self._switch_radios(docked=False, cause="boot out of the dock")
        if self._machine.state != "docked":
            self._act(self._battery.forecast("boot"))
        self._notifier.ready(f"state={self._machine.state}")
        self.ready.set()

    def _previous_config(self) -> config_memory.PreviousConfig:
        """What the last boot this camera signed ran with (read before this boot's record
        joins the log). An unreadable log counts as unknown: the change is then audited."""
        try:
            return config_memory.previous_config(self._audit)
        except OSError as exc:
            self._audit.record("fault", reason=f"cannot read the last boot record from the "
                               f"audit log ({exc}); the configuration counts as changed")
            return config_memory.UNKNOWN

    def _note_config_change(self, previous: config_memory.PreviousConfig) -> None:
        """Audit `config_changed` at the first start with a new configuration, naming the
        recipients before and after (a swapped recipient must show in the signed log)."""
        config = self._config
        if previous.digest == config.digest:
            return
        self._audit.record(
            "config_changed", previous_digest=previous.digest, config_digest=config.digest,
            sources=list(config.sources),
            previous_recipients=None if previous.recipients is None
            else list(previous.recipients),
            recipients=config_memory.recipient_fingerprints(config.evidence.recipients))

    def _resume_after_restart(self) -> None:
        """Record again at once if the program ended while recording (resume.py)."""
        pending = self._resume.pending()
        if pending is None:
            return
        if pending.auto_resumes >= MAX_AUTO_RESUMES:
            self._forget_recording()
            self._feedback.cue("refused")  # "NOT recording": the wearer must press RECORD
            self._audit.record("recording_not_resumed", reason=(
                f"the program restarted {pending.auto_resumes + 1} times in a row while "
                "recording; not resumed, so that a recording that crashes the camera "
                "cannot keep it restarting: press RECORD to record"))
            return
        self._auto_resumes = pending.auto_resumes + 1
        self._apply("resume_recording", cause=RESUME_CAUSE)
        self._auto_resumes = 0
        if self._machine.state != "recording":  # refused: the refusal is audited
            self._forget_recording()
            self._audit.record("recording_not_resumed", reason="restarted while recording, "
                               "but recording is refused now (see the refused record)")
            return
        fields: dict[str, object] = {"auto_resumes": pending.auto_resumes + 1}
        if pending.damaged is not None:
            fields["note"] = f"recording flag {pending.damaged}"
        self._audit.record("recording_resumed", reason=RESUME_CAUSE,
                           **fields)

    def _boot_problem(self) -> str | None:
        if not self._config.evidence.recipients:
            return "no evidence recipient configured: recording is impossible"
        return None

    def _dispatch(self, message: Message) -> None:
        if isinstance(message, ButtonEdge):
            self._gestures.feed(message.button, message.pressed, message.t)
        elif isinstance(message, ShutdownRequest):
            self._apply("power_hold", cause=f"shutdown requested ({message.cause})")
        elif isinstance(message, OffloadStatus):
            self._on_offload(message)
        else:
            self._on_recorder_event(message)

    def _tick(self, now: float) -> None:
        """Time-driven work; stops as soon as a step powered the device off, so nothing
        is polled, acted on or audited after the final record."""
        polls: tuple[Callable[[], None], ...] = ()
        if now >= self._next_power_poll:
            self._next_power_poll = now + POWER_POLL_SECONDS
            polls = (self._poll_power, self._poll_storage, self._poll_clock,
                     partial(self._poll_sources, now), partial(self._poll_resume, now),
                     partial(self._poll_sleep, now))
        steps: tuple[Callable[[], None], ...] = (
            partial(self._gestures.tick, now), *polls, partial(self._feedback.tick, now),
            self._report_dropped, partial(self._end_identity, now),
            partial(self._ping_watchdog, now))
        for step in steps:
            if self._powered_off():
                return
            step()

    def _powered_off(self) -> bool:
        return self._machine.state == "off"

    def _report_dropped(self) -> None:
        if self._dropped_messages != self._reported_drops:
            self._reported_drops = self._dropped_messages
            self._audit.record("fault", reason=f"controller inbox full: {self._reported_drops}"
                               " button edges or recorder events dropped so far")

    def _ping_watchdog(self, now: float) -> None:
        """While this loop runs and the recorder makes progress; never gated on media
        (health.py). A hung recorder is audited once before the watchdog restarts us."""
        report = self._health.alive(now)
        if not report.ok:
            if not self._hang_reported:
                self._hang_reported = True
                log.error("%s: no watchdog pings, systemd restarts the program", report)
                self._audit.record("fault", reason=f"{report}: the watchdog restarts the "
                                   "program (a recording resumes after the restart)")
            return
        self._hang_reported = False
        if self._health.due_for_ping(now):
            self._notifier.watchdog()

    # ------------------------------------------------------------------ events

    def _on_gesture(self, gesture: Gesture) -> bool:
        event = event_for(gesture)
        acted = False
        if event is not None:
            acted = self._apply(event, cause=f"{gesture.button} {gesture.kind}").acted
        if self._machine.state == "idle" and gesture.kind == "down":
            self._sleep.idle(gesture.t)  # a press in idle restarts the wait for sleep
            if self._sleep.wake():
                self._set_media("idle")
                self._woke(f"{gesture.button} pressed")
        if gesture.kind == "up" and "button_stuck" in self._feedback.active_alarms:
            self._feedback.set_alarm("button_stuck", False)
        if gesture.kind != "up":
            self._audit.record("gesture", button=gesture.button, gesture=gesture.kind,
                               action=event if acted else None)
        return acted

    def _apply(self, event: Event, cause: str) -> Outcome:
        """Apply one event (after refusal checks) and reconcile the world with the result."""
        source = self._machine.state
        refusal = self._refusal() if self._would_start_recording(event) else None
        if refusal is not None:
            event, cause = refusal
            self._feedback.cue("refused")
        result = self._machine.handle(event)
        if result.changed:
            self._reconcile(source, result.dest, cause)
        elif result.action == "add_marker":
            self._marker()
        elif result.action == "stuck_alarm":
            self._alarm("button_stuck", cause, "button_stuck")
        elif result.action == "toggle_stealth":
            self._toggle_stealth()
        elif result.action == "show_identity":
            self._show_identity(cause)
        if refusal is not None:  # after acting, like every record
            self._audit.record("refused", reason=cause, state=self._machine.state)
        return result

    def _would_start_recording(self, event: Event) -> bool:
        return outcome(self._machine.state, event).dest == "recording" and \
            self._machine.state != "recording"

    def _refusal(self) -> tuple[Event, str] | None:
        """Why recording must not start now (checked before the state changes).

        The evidence store answers with the same checks `begin_recording` makes, so the
        device never enters recording only to be refused by the store a moment later; a
        full store latches storage full here exactly as a refused write would."""
        if not self._config.evidence.recipients:
            return "no_recipient", "record refused: no evidence recipient configured"
        error = self._can_begin()
        if error is not None:
            if isinstance(error, StorageFullError):
                self._act(self._conditions.storage_became_full(str(error)))
            return refusal_event(error), str(error)
        if self._battery.battery_critical:
            return "battery_critical", "battery critical: record refused"
        return None

    def _on_recorder_event(self, event: RecorderEvent) -> None:
        name, fields = recorder_audit_record(event)
        self._audit.record(name, **fields)
        match event:
            case RecordingRefused(error=error):
                self._feedback.cue("refused")
                self._recording_started_at = None
                if isinstance(error, StorageFullError):
                    self._act(self._conditions.storage_became_full(event.reason))
                self._apply(refusal_event(error), cause=f"recorder refused: {event.reason}")
            case StorageFull():
                self._act(self._conditions.storage_became_full(
                    "a write would have gone below the reserve"))
                self._apply("storage_full", cause="storage full while recording")
            case RecordingSealed(reason=reason, sealed=sealed):
                if self._offload is not None:
                    self._offload.card_changed()  # sealed after docking: goes up now
                if not sealed:
                    self._alarm("storage_fault", f"recording {event.recording_id}: "
                                f"{SEAL_FAILED}", "storage_fault")
                if self._machine.state == "recording":
                    self._apply("recording_sealed", cause=f"recording ended: {reason}")
            case StallStarted(source=source):
                self._stalled.add(source)
                self._alarm(f"{source}_stall", f"no data from the {source}")
                self._refresh_media_alarms()
            case StallEnded(source=source):
                self._stalled.discard(source)
                self._refresh_media_alarms()
                self._audit.record("alarm_cleared", alarm=f"{source}_stall",
                                   detail=f"the {source} delivers again")
            case _:
                pass

    # ------------------------------------------------------------------ reconciliation

    def _reconcile(self, source: State, dest: State, cause: str) -> None:
        """Recorder command first, then the state LEDs (the wearer's confirmation must not
        wait for cues, which start background threads, or for the camera), then the rest;
        the audit record comes after acting."""
        was, now = STATE_INFO[source], STATE_INFO[dest]
        started = now.recording and not was.recording
        stopped = was.recording and not now.recording
        if started:
            self._recorder.start_recording()
            self._recording_started_at = self._clock.monotonic()
        elif stopped:
            # The seal reason is the cause, so the manifest says why the recording ended.
            self._recorder.stop_recording(f"stopped by wearer ({cause})"
                                          if dest == "display_on" else cause)
        self._feedback.show_state(dest)
        if started:
            self._feedback.cue("recording_started")
        elif stopped and self._recording_started_at is not None:  # not after a refused start
            self._feedback.cue("recording_stopped")
        if started:  # after the wearer's confirmation: a file write waits for the card
            self._remember_recording(self._auto_resumes)
        elif stopped:
            self._recording_started_at = None
            self._forget_recording()
        if dest not in IDENTITY_STATES:
            self._identity_until = -math.inf
        if (dest == "docked") != (source == "docked"):
            self._dock_changed(docked=dest == "docked")
        if dest == "fault":
            self._fault_cause = "storage" if self._conditions.storage_full else "other"
        elif source == "fault":
            self._fault_cause = None
        woke = source == "idle" and self._sleep.wake()  # before the camera is needed
        if dest == "idle":
            self._sleep.idle(self._clock.monotonic())
        else:
            self._sleep.busy()
        self._set_media(dest)
        self._display.set_content(self._display_content(dest))
        self._state_changed(source, dest, cause)
        if woke:
            self._woke(f"left idle: {cause}")
        if dest == "shutting_down":
            self._shutdown(cause)

    def _display_content(self, state: State) -> DisplayContent:
        """What the front display shows in `state`: nothing at all in stealth mode."""
        if self._feedback.stealth:
            return "off"
        if state in IDENTITY_STATES and self._clock.monotonic() < self._identity_until:
            return "identity"
        return STATE_INFO[state].display

    def _set_media(self, state: State) -> None:
        """Camera on when something needs it; pre-record buffering in the ready states,
        unless the camera sleeps (the camera is then in standby, as without pre-record)."""
        buffering = self._config.evidence.prerecord_seconds > 0 and not self._sleep.asleep
        info = STATE_INFO[state]
        needs_camera = info.recording or info.display == "preview" or (
            buffering and state in ("idle", "display_on"))
        if needs_camera and not self._sources.on:
            self._act(self._sources.start(self._clock.monotonic()))
            self._refresh_media_alarms()
        if buffering and state in ("idle", "display_on"):
            self._recorder.start_buffering()
        elif not info.recording:
            self._recorder.stop_buffering()
        if not needs_camera and self._sources.on:
            self._act(self._sources.stop())

    def _poll_sources(self, now: float) -> None:
        """Reopen a stalled or failed source when due (sources.py); alarm what lasts."""
        self._act(self._sources.tick(now))
        self._refresh_media_alarms()

    def _refresh_media_alarms(self) -> None:
        """The wearer's patterns follow what is wrong now: a stall the recorder reports
        or a microphone that failed is `media_stall`, a camera that failed `camera_failed`."""
        failed = self._sources.failed
        self._feedback.set_alarm("media_stall", bool(self._stalled) or "microphone" in failed)
        self._feedback.set_alarm("camera_failed", "camera" in failed)

    # media callbacks: camera/mic threads, never block
    def _on_video(self, packet: VideoPacket) -> None:
        self._health.note_video(self._clock.monotonic())
        self._recorder.on_video(packet)

    def _on_audio(self, chunk: AudioChunk) -> None:
        self._health.note_audio(self._clock.monotonic())
        self._recorder.on_audio(chunk)

    def _on_preview(self, frame: PreviewFrame) -> None:
        self._display.offer_preview(frame)

    # ------------------------------------------------------------------ markers, alarms, power

    def _marker(self) -> None:
        self._recorder.add_marker()
        self._marker_until = self._clock.monotonic() + MARKER_FLASH_SECONDS
        self._feedback.cue("marker")
        self._audit.record("marker")

    # ------------------------------------------------------------------ recording flag

    def _remember_recording(self, auto_resumes: int) -> None:
        """A restart from here on records again (resume.py); a failure is only audited."""
        self._resumed = auto_resumes > 0
        error = self._resume.recording_started(auto_resumes)
        if error is not None:
            self._audit.record("fault", reason=error)

    def _forget_recording(self) -> None:
        error = self._resume.recording_ended()
        if error is not None:
            self._audit.record("fault", reason=error)

    def _poll_resume(self, now: float) -> None:
        """A resumed recording that keeps running ends the row of automatic resumes."""
        started = self._recording_started_at
        if self._resumed and started is not None and now - started >= HEALTHY_SECONDS:
            self._resumed = False
            self._remember_recording(0)

    # ------------------------------------------------------------------ identity screen

    def _show_identity(self, cause: str) -> None:
        """Show the device key fingerprint for IDENTITY_SECONDS (enrolment check, L10)."""
        if self._identity is None or self._machine.state not in IDENTITY_STATES:
            return
        self._identity_until = self._clock.monotonic() + IDENTITY_SECONDS
        self._display.set_content(self._display_content(self._machine.state))
        self._audit.record("identity_shown", fingerprint=self._identity.fingerprint,
                           seconds=IDENTITY_SECONDS, cause=cause,
                           shown=not self._feedback.stealth)

    def _end_identity(self, now: float) -> None:
        if self._identity_until != -math.inf and now >= self._identity_until:
            self._identity_until = -math.inf
            self._display.set_content(self._display_content(self._machine.state))

    def _toggle_stealth(self) -> None:
        """Flip stealth if the configuration allows it; audited either way. Only what the
        wearer and bystanders see and hear changes, never the recording."""
        on = not self._feedback.stealth
        if not self._feedback.set_stealth(on):
            # not the "refused" cue: its long buzz means "NOT recording", which would be
            # false (and alarming) when the wearer presses POWER during a recording
            self._feedback.cue("not_allowed")
            self._audit.record("stealth", on=False, refused=True,
                               reason="not allowed by configuration")
            return
        self._display.set_content(self._display_content(self._machine.state))
        self._audit.record("stealth", on=on)

    def _alarm(self, kind: str, detail: str, wearer_alarm: Alarm | None = None) -> None:
        """Audit an alarm; `wearer_alarm` also starts the matching LED/buzzer pattern."""
        if wearer_alarm is not None:
            self._feedback.set_alarm(wearer_alarm, True)
        self._audit.record("alarm", alarm=kind, detail=detail)

    def _act(self, effects: Iterable[Effect]) -> None:
        """Carry out what conditions.py decided, in order; nothing after powering off."""
        for effect in effects:
            if self._powered_off():
                return
            match effect:
                case Apply(event=event, cause=cause):
                    self._apply(event, cause=cause)
                case RaiseAlarm(kind=kind, detail=detail, wearer=wearer):
                    self._alarm(kind, detail, wearer)
                case ClearAlarm(kind=kind, wearer=wearer, detail=detail):
                    if wearer is not None:
                        self._feedback.set_alarm(wearer, False)
                    if detail is not None:
                        self._audit.record("alarm_cleared", alarm=kind, detail=detail)
                case Report(event=name, fields=fields):
                    self._audit.record(name, **fields)
                case ClockChanged():
                    self._clock_changed(effect)

    def _poll_power(self) -> None:
        """Dock edges and the battery, both judged on the same reading before acting, so
        an undock's shift forecast uses this reading's level."""
        status = self._hw.power.read()
        state = self._machine.state
        effects = self._conditions.poll_power(status, state)
        effects += self._battery.poll(status, self._power_mode(), self._clock.monotonic())
        self._act(effects)

    def _power_mode(self) -> Mode:
        """What the camera draws now, in the power model's terms (firmware/power/draw.py)."""
        state = self._machine.state
        if state in ("docked", "recording", "display_on"):
            return state
        if self._sources.on:
            return "buffering"
        return "sleeping" if self._sleep.asleep else "standby"

    def _poll_sleep(self, now: float) -> None:
        """Idle long enough with pre-record on: give up the buffer (sleep.py)."""
        if self._machine.state != "idle" or not self._sleep.due(now):
            return
        self._set_media("idle")
        self._feedback.set_asleep(True)
        self._audit.record("sleep", after_minutes=self._sleep.after_minutes,
                           prerecord_seconds=self._config.evidence.prerecord_seconds,
                           detail="pre-record buffer given up and camera in standby until "
                                  "a press")

    def _woke(self, cause: str) -> None:
        """Out of sleep (the caller restarted what the new state needs)."""
        self._feedback.set_asleep(False)
        self._audit.record("wake", cause=cause)

    def _poll_clock(self) -> None:
        self._act(self._clock_watch.poll(self._clock.synchronised(), self._clock.wall(),
                                         self._clock.monotonic()))

    def _clock_changed(self, change: ClockChanged) -> None:
        """Audited always; an open recording's manifest also says where its wall times
        jump (the recorder ignores it when nothing is recorded)."""
        self._recorder.note_clock_step(ClockStep(change.step_seconds, change.wall_before,
                                                 change.wall_after, change.synchronised))
        self._audit.record("clock", synchronised=change.synchronised,
                           was_synchronised=change.was_synchronised,
                           step_seconds=change.step_seconds)

    def _poll_storage(self) -> None:
        self._act(self._conditions.poll_storage(
            self._free_bytes(), in_storage_fault=self._fault_cause == "storage"))

    def _overlay(self) -> OverlayState:
        """Read by the display thread: plain attribute reads, no locking needed."""
        started = self._recording_started_at
        now = self._clock.monotonic()
        fault = "FAULT" if self._machine.state == "fault" else None
        identity = self._identity if now < self._identity_until else None
        return OverlayState(recording=started is not None,
                            elapsed_s=now - started if started is not None else 0.0,
                            marker_flash=now < self._marker_until,
                            battery_low=self._battery.battery_low, fault=fault,
                            identity=identity)

    # ------------------------------------------------------------------ offload

    def _dock_changed(self, *, docked: bool) -> None:
        """Tell the worker; leaving the dock ends its pattern and its alarm (the wearer
        on duty needs neither; the next dock tries again)."""
        if self._offload is not None:
            self._offload.set_docked(docked)
        self._switch_radios(docked=docked, cause="docked" if docked else
                            "recording in the dock" if self._conditions.docked
                            else "left the dock")
        if docked:
            self._act(self._battery.docked())
        elif not self._conditions.docked:  # out of the dock, not recording in it
            self._act(self._battery.forecast("undock"))
        if not docked:
            self._feedback.set_dock_activity("waiting")
            if "offload_failing" in self._feedback.active_alarms:
                self._feedback.set_alarm("offload_failing", False)
                self._audit.record("alarm_cleared", alarm="offload_failing",
                                   detail="left the dock; the next dock tries again")

    def _switch_radios(self, *, docked: bool, cause: str) -> None:
        """Radios off out of the dock, on in it (the dock room's Wi-Fi may be the link),
        unless [power] radios_undocked keeps them on; audited with what was done."""
        if self._config.power.radios_undocked:
            return
        done = self._hw.radios.switch(docked, cause)
        self._audit.record("radios", enabled=docked, cause=cause, result=done)

    def _on_offload(self, status: OffloadStatus) -> None:
        """The worker's news: the docked pattern, and the alarm while it fails. A status
        that arrives after the camera left the dock only belongs to the audit log."""
        if self._machine.state != "docked":
            return
        self._feedback.set_dock_activity(status.activity)
        failing = status.activity == "failing"
        if failing and "offload_failing" not in self._feedback.active_alarms:
            self._alarm("offload_failing", status.detail, "offload_failing")
        elif status.activity == "offloaded" and \
                "offload_failing" in self._feedback.active_alarms:  # a retry got through
            self._feedback.set_alarm("offload_failing", False)
            self._audit.record("alarm_cleared", alarm="offload_failing", detail=status.detail)

    # ------------------------------------------------------------------ shutdown

    def _shutdown(self, cause: str) -> None:
        """Entered shutting_down: _reconcile asked the recorder to seal; wait for it and
        audit what it reported (the seal) before the final record."""
        self._notifier.stopping()
        if not self._recorder.shutdown():
            self._audit.record("fault", reason="recorder did not stop within its timeout")
        self._act(self._sources.stop())
        self._display.set_content("off")
        self._drain_recorder_events()
        self._audit.record("shutdown", reason=cause)
        self._machine.handle("shutdown_done")
        self._state_changed("shutting_down", "off", "everything sealed")

    def _state_changed(self, source: State, dest: State, cause: str) -> None:
        """Audit a transition, then tell the observer (systemd status, simulator, tests)."""
        self._audit.state_change(source, dest, cause)
        if self._on_state is not None:
            self._on_state(source, dest, cause)

    def _drain_recorder_events(self) -> None:
        """Audit what the recorder reported while stopping; button edges no longer count."""
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(message, RecorderEvent):
                self._on_recorder_event(message)


"""Assembles the device program from a configuration and a set of hardware.

`bodycam run` (Raspberry Pi hardware) and `bodycam sim` (simulated hardware) differ only
in the `Hardware` they pass in; everything from the device key to the controller is the
same code, so the simulator exercises exactly what ships.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from bodycam.firmware import __version__
from bodycam.firmware.config.model import Config
from bodycam.firmware.device.audit import AuditLog
from bodycam.firmware.device.controller import Controller, StateObserver
from bodycam.firmware.device.display_worker import FrameObserver
from bodycam.firmware.device.firstboot import DeviceLayout, pending_fault
from bodycam.firmware.device.health import Media
from bodycam.firmware.device.sdnotify import SystemdNotifier
from bodycam.firmware.evidence.device_key import DeviceKey
from bodycam.firmware.evidence.recovery import recover_unfinished
from bodycam.firmware.evidence.storage_space import FreeSpace, statvfs_free_bytes
from bodycam.firmware.evidence.store import FileEvidenceStore
from bodycam.firmware.media.events import RecorderEvent
from bodycam.firmware.media.recorder import Recorder
from bodycam.hal.interfaces import Hardware, HardwareError

log = logging.getLogger(__name__)


@dataclass
class Device:
    """One assembled camera: `run`, `sim` and the tests hold it to run and to release it."""

    config: Config
    hardware: Hardware
    key: DeviceKey
    store: FileEvidenceStore
    recorder: Recorder
    audit: AuditLog
    controller: Controller
    failure: BaseException | None = field(default=None, init=False)
    """Why `run` ended abnormally; read it after the run thread has been joined."""

    def run(self) -> None:
        """Run on the calling thread until the device is off; always releases hardware.

        A controller failure is re-raised after the recording is sealed and the hardware
        released, so the service manager sees the failure and restarts the program.
        """
        try:
            self.recorder.start()
            self.controller.run()
        except BaseException as exc:
            self.failure = exc
            raise
        finally:
            self._release()

    def start_in_thread(self) -> threading.Thread:
        """Run on a daemon thread; a failure is kept in `failure` (and logged), so the
        caller decides the exit status instead of a traceback from the thread hook."""
        thread = threading.Thread(target=self._run_quietly, name="controller", daemon=True)
        thread.start()
        return thread

    def _run_quietly(self) -> None:
        try:
            self.run()
        except Exception:
            log.error("the device program stopped after a failure; see the log above")

    def _release(self) -> None:
        """Seal and stop everything; each step runs even if an earlier one failed."""
        steps = (("recorder", self.recorder.shutdown), ("hardware", self.hardware.close),
                 ("audit log", self.audit.close))
        for name, step in steps:
            try:
                step()
            except Exception:
                log.exception("releasing the %s failed", name)
        # The controller sets `finished` when its loop ends; set it again here so that
        # waiters also wake when the recorder failed to start before the loop ran.
        self.controller.finished.set()


def assemble(config: Config, hardware: Hardware, *,
             notifier: SystemdNotifier | None = None,
             on_display_frame: FrameObserver | None = None,
             on_state: StateObserver | None = None,
             free_space: FreeSpace = statvfs_free_bytes,
             device_layout: DeviceLayout | None = None,
             missing_sources: Mapping[Media, HardwareError] | None = None) -> Device:
    """Open key, audit log and evidence store; recover what a power cut left unfinished.

    `free_space` measures the data partition (the simulator and tests inject a
    scripted one to reach "storage full" without filling a disk). `device_layout` says
    where the provisioning fault marker is (default: the real root, /etc/bodycam).
    `missing_sources`: camera/microphone the hardware could not open; the device records
    without them, alarms, and keeps trying to open them.
    """
    clock = hardware.clock
    data_dir = config.storage.data_dir
    data_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
    key = DeviceKey.load_or_create(config.storage.state_dir)
    audit = AuditLog.open(data_dir, key, clock)
    for report in recover_unfinished(data_dir, key, clock):
        audit.record("recovery", recording_id=report.recording_id,
                     segments_salvaged=len(report.salvaged))
    store = FileEvidenceStore(
        data_dir=data_dir, recipients=config.evidence.recipients, device_key=key,
        device_id=config.device.id, firmware_version=__version__,
        config_digest=config.digest, clock=clock,
        reserve_bytes=config.storage.reserve_bytes,
        sync_interval=config.evidence.sync_interval_seconds, free_space=free_space)
    controller: Controller | None = None

    def to_controller(event: RecorderEvent) -> None:
        if controller is not None:
            controller.post(event)

    recorder = Recorder(clock, store, video=config.video, audio=config.audio,
                        evidence=config.evidence, on_event=to_controller)
    controller = Controller(config, hardware, recorder, audit, free_bytes=store.free_bytes,
                            can_begin=store.can_begin,
                            provisioning_fault=provisioning_fault(device_layout or
                                                                  DeviceLayout()),
                            notifier=notifier, on_display_frame=on_display_frame,
                            on_state=on_state, device_fingerprint=key.fingerprint,
                            missing_sources=missing_sources)
    return Device(config, hardware, key, store, recorder, audit, controller)


def provisioning_fault(layout: DeviceLayout) -> str | None:
    """The rejected provisioning file's problems, if firstboot left its fault marker.

    An unreadable marker is itself reported as the fault: the camera must boot (and
    record) whatever state that file is in, and the technician must still be told.
    """
    try:
        return pending_fault(layout)
    except (OSError, UnicodeDecodeError) as exc:
        return (f"the provisioning fault marker in {layout.etc_dir} could not be read "
                f"({exc}); fix: make it readable by the service group (root:bodycam 0640) "
                "or provision a valid file, which removes it")

"""Assembles the device program from a configuration and a set of hardware.

`bodycam run` (Raspberry Pi hardware) and `bodycam sim` (simulated hardware) differ only
in the `Hardware` they pass in; everything from the device key to the controller is the
same code, so the simulator exercises exactly what ships.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from bodycam.firmware import __version__
from bodycam.firmware.config.model import Config
from bodycam.firmware.device.audit import AuditLog
from bodycam.firmware.device.controller import Controller, StateObserver
from bodycam.firmware.device.display_worker import FrameObserver
from bodycam.firmware.device.sdnotify import SystemdNotifier
from bodycam.firmware.evidence.device_key import DeviceKey
from bodycam.firmware.evidence.recovery import recover_unfinished
from bodycam.firmware.evidence.store import FileEvidenceStore
from bodycam.firmware.media.events import RecorderEvent
from bodycam.firmware.media.recorder import Recorder
from bodycam.hal.interfaces import Hardware

log = logging.getLogger(__name__)
MIB = 1024 * 1024


@dataclass
class Device:
    config: Config
    hardware: Hardware
    key: DeviceKey
    store: FileEvidenceStore
    recorder: Recorder
    audit: AuditLog
    controller: Controller

    def run(self) -> None:
        """Run on the calling thread until the device is off; always releases hardware."""
        try:
            self.recorder.start()
            self.controller.run()
        finally:
            self.recorder.shutdown()
            self.hardware.close()
            self.audit.close()

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="controller", daemon=True)
        thread.start()
        return thread


def assemble(config: Config, hardware: Hardware, *,
             notifier: SystemdNotifier | None = None,
             on_display_frame: FrameObserver | None = None,
             on_state: StateObserver | None = None) -> Device:
    """Open key, audit log and evidence store; recover what a power cut left unfinished."""
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
        reserve_bytes=config.storage.reserve_mb * MIB,
        sync_interval=config.evidence.sync_interval_seconds)
    controller: Controller | None = None

    def to_controller(event: RecorderEvent) -> None:
        if controller is not None:
            controller.post(event)

    recorder = Recorder(clock, store, video=config.video, audio=config.audio,
                        evidence=config.evidence, on_event=to_controller)
    controller = Controller(config, hardware, recorder, audit, free_bytes=store.free_bytes,
                            notifier=notifier, on_display_frame=on_display_frame,
                            on_state=on_state)
    return Device(config, hardware, key, store, recorder, audit, controller)

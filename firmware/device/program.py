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
from bodycam.firmware.device.audit import AuditLog, audit_path
from bodycam.firmware.device.controller import Controller, StateObserver
from bodycam.firmware.device.display_worker import FrameObserver
from bodycam.firmware.device.firstboot import DeviceLayout, pending_fault
from bodycam.firmware.device.health import Media
from bodycam.firmware.device.identity import (
    BootIdentity,
    open_boot_identity,
    previous_identity,
    rekey_of,
    write_identity_snapshot,
)
from bodycam.firmware.device.sdnotify import SystemdNotifier
from bodycam.firmware.evidence.durable import ensure_real_directory
from bodycam.firmware.evidence.public_keys import DevicePublicKey, parse_public_key
from bodycam.firmware.evidence.recovery import (
    QUARANTINE_DIR,
    RecoveryReport,
    recover_unfinished,
    sealed_in_audit_log,
)
from bodycam.firmware.evidence.signed_log import last_device_key
from bodycam.firmware.evidence.storage_space import FreeSpace, statvfs_free_bytes
from bodycam.firmware.evidence.store import DIR_MODE, EVIDENCE_DIR, FileEvidenceStore
from bodycam.firmware.media.events import RecorderEvent
from bodycam.firmware.media.recorder import Recorder
from bodycam.firmware.offload.status import OffloadStatus
from bodycam.firmware.offload.timesync import ClockCorrector
from bodycam.firmware.offload.worker import OffloadWorker
from bodycam.firmware.power.table import PowerTable
from bodycam.hal.interfaces import Hardware, HardwareError

log = logging.getLogger(__name__)


@dataclass
class Device:
    """One assembled camera: `run`, `sim` and the tests hold it to run and to release it."""

    config: Config
    hardware: Hardware
    identity: BootIdentity
    store: FileEvidenceStore
    recorder: Recorder
    audit: AuditLog
    controller: Controller
    offload: OffloadWorker | None = None  # None: no evidence server configured
    failure: BaseException | None = field(default=None, init=False)
    """Why `run` ended abnormally; read it after the run thread has been joined."""

    def run(self) -> None:
        """Run on the calling thread until the device is off; always releases hardware.

        A controller failure is re-raised after the recording is sealed and the hardware
        released, so the service manager sees the failure and restarts the program.
        """
        try:
            self.recorder.start()
            if self.offload is not None:
                self.offload.start()
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
        offload = self.offload.stop if self.offload is not None else (lambda: None)
        steps = (("offload", offload), ("recorder", self.recorder.shutdown),
                 ("hardware", self.hardware.close),
                 ("audit log", self.audit.close), ("key store", self.identity.store.close))
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
             missing_sources: Mapping[Media, HardwareError] | None = None,
             clock_corrector: ClockCorrector | None = None,
             power_table: PowerTable | None = None) -> Device:
    """Open key, audit log and evidence store; recover what a power cut left unfinished.

    Nothing found on the card stops the camera from reaching a state that can record:
    a damaged audit log is set aside, a missing or untrusted key is replaced, a recording
    recovery cannot vouch for is quarantined; each is audited and raises the integrity
    alarm at boot (see identity.py, audit.py, recovery.py).

    `free_space` measures the data partition (the simulator and tests inject a
    scripted one to reach "storage full" without filling a disk). `device_layout` says
    where the provisioning fault marker is (default: the real root, /etc/bodycam).
    `missing_sources`: camera/microphone the hardware could not open; the device records
    without them, alarms, and keeps trying to open them. `clock_corrector`: how the
    dock's signed time sets the clock (the Pi: a request to bodycam-clock.service; the
    simulator: its clock; None: measured and audited only). `power_table`: the checked
    power model (None: load [power] model_file, or the shipped one).
    """
    clock = hardware.clock
    data_dir = config.storage.data_dir
    moved = _real_directories(config)
    before = previous_identity(config.storage.state_dir)
    signed_so_far = last_device_key(audit_path(data_dir)) or before
    identity = open_boot_identity(config, clock, signed_so_far)
    _keep_identity_snapshot(config, identity)
    session = identity.session
    audit = AuditLog.open(data_dir, session, clock)
    alarms = _integrity_findings(identity, audit, before, moved)
    reports = recover_unfinished(data_dir, session, clock,
                                 lambda: sealed_in_audit_log(audit.path),
                                 trusted=_earlier_keys(audit, identity))
    alarms += [alarm for report in reports if (alarm := _audit_recovery(audit, report))]
    store = FileEvidenceStore(
        data_dir=data_dir, recipients=config.evidence.recipients, signer=session,
        device_id=config.device.id, firmware_version=__version__,
        config_digest=config.digest, clock=clock,
        reserve_bytes=config.storage.reserve_bytes,
        sync_interval=config.evidence.sync_interval_seconds, free_space=free_space,
        audit_head=audit.head)
    controller: Controller | None = None

    def to_controller(event: RecorderEvent | OffloadStatus) -> None:
        if controller is not None:
            controller.post(event)

    recorder = Recorder(clock, store, video=config.video, audio=config.audio,
                        evidence=config.evidence, on_event=to_controller)
    offload = None
    if config.offload.enabled:
        offload = OffloadWorker(config.offload, device_id=config.device.id, signer=session,
                                audit=audit, audit_path=audit.path,
                                evidence_dir=store.evidence_dir, clock=clock,
                                report=to_controller, corrector=clock_corrector)
    controller = Controller(config, hardware, recorder, audit, free_bytes=store.free_bytes,
                            can_begin=store.can_begin,
                            provisioning_fault=provisioning_fault(device_layout or
                                                                  DeviceLayout()),
                            notifier=notifier, on_display_frame=on_display_frame,
                            on_state=on_state, integrity_alarms=alarms,
                            device_key_fingerprint=identity.fingerprint,
                            missing_sources=missing_sources, offload=offload,
                            power_table=power_table)
    return Device(config, hardware, identity, store, recorder, audit, controller, offload)


def _real_directories(config: Config) -> list[str]:
    """The storage directories made real directories: a file or a link found in their
    place (a link could send evidence to RAM, lost at the next restart) is set aside,
    never followed. What was moved, for the audit log."""
    data = config.storage.data_dir
    wanted = ((config.storage.state_dir, 0o700), (data, 0o750),
              (data / EVIDENCE_DIR, DIR_MODE))
    return [f"{path} was not a directory (a file or a link); set aside as {aside.name}"
            for path, mode in wanted if (aside := ensure_real_directory(path, mode))]


def _earlier_keys(audit: AuditLog, identity: BootIdentity) -> list[DevicePublicKey]:
    """The device key the audit log was signed with before a re-key this boot: recovery
    may still finish that key's unsealed recordings."""
    try:
        earlier = parse_public_key(audit.previous_device_key or "")
    except ValueError:
        return []
    return [earlier] if earlier != identity.session.device_key else []


def _keep_identity_snapshot(config: Config, identity: BootIdentity) -> None:
    """The technician's BODYCAM-IDENTITY.txt comes from it; a failure to write it must
    never keep the camera from recording. A key held only in RAM (a TPM camera whose TPM
    did not answer) is never written there: nobody may register it."""
    if identity.store.kind == "ephemeral":
        return
    try:
        write_identity_snapshot(config.storage.state_dir, config.device.id, identity)
    except OSError:
        log.exception("could not write the identity snapshot in %s", config.storage.state_dir)


def _integrity_findings(identity: BootIdentity, audit: AuditLog, before: str | None,
                        moved: list[str]) -> list[str]:
    """Audit what the start found wrong (a damaged or missing audit log, directories set
    aside, a re-key); the alarm texts for the wearer's boot. `before`: the device key of
    the camera's previous start, if it left its identity."""
    alarms: list[str] = []
    for what in moved:
        audit.record("fault", reason=what)
        alarms.append(what)
    if audit.created and audit.damaged is None and before is not None:
        audit.record("fault", reason="the audit log is missing although the camera has run "
                     "before (its identity was recorded); a new chain begins")
        alarms.append("the audit log was missing: a new chain begins")
    if audit.damaged is not None:
        aside, why = audit.damaged
        audit.record("fault", reason=f"audit log damaged ({why}); set aside as {aside.name}, "
                     "this is a new chain")
        alarms.append(f"the audit log was damaged and set aside as {aside.name}")
    rekey = rekey_of(identity, audit.previous_device_key or before)
    if rekey is not None:
        audit.record("rekey", **rekey.fields())
        alarms.append(f"the device key changed from {rekey.old_fingerprint} to "
                      f"{rekey.new_fingerprint}: {rekey.reason}; register the new key "
                      "(`bodycam identity`) with the custodian")
    return alarms


def _audit_recovery(audit: AuditLog, report: RecoveryReport) -> str | None:
    """One audit record per recovery outcome; the alarm text when it was refused."""
    if report.refused:
        where = ("quarantined_to" if report.directory.parent.name == QUARANTINE_DIR
                 else "left_in_place")
        audit.record("recovery_refused", recording_id=report.recording_id,
                     reasons=list(report.refused), **{where: str(report.directory)})
        return (f"recording {report.recording_id} could not be vouched for and was "
                f"quarantined: {report.refused[0]}")
    if report.abandoned_start:
        audit.record("recording_abandoned", recording_id=report.recording_id)
        return None
    seal = report.seal
    audit.record("recovery", recording_id=report.recording_id,
                 segments_salvaged=len(report.salvaged),
                 manifest_seq=seal.manifest_seq if seal else None,
                 manifest_hash=seal.manifest_hash if seal else None,
                 counter=seal.counter if seal else None)
    return None


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

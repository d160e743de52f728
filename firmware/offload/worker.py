"""The offload worker: a thread of its own that empties the card while the camera is docked.

The controller only tells it `set_docked(True/False)` (never waiting) and receives an
`OffloadStatus` whenever what the docked LEDs should say changes. Everything slow (the
network, hashing, fsync of removals, audit records) happens on this thread, so the
controller, the recorder and the display never wait for it.

While docked and the server answers, one pass: take the server's signed time (audited,
the clock corrected if it is unset or off), then every sealed recording oldest first
(upload.py), each receipt checked against the pinned key and the manifest on the card
before anything is removed (removal.py), then the audit log's new lines. A recording
the server or the camera refuses (damaged, fork, a receipt that does not match) keeps
every byte and is not tried again until the next dock; the pattern says "offload
failing" at once, and so do a wrong server and a full server store. Network failures
and server errors are retried with a doubling wait, and say "failing" after
`offload.failures_before_alarm` attempts in a row.

Audit records: `offload_started`, `time_sync`, `offload_receipt`, `offload_removed`,
`offload_audit`, `offload_refused` (by the server or the camera, with the code and why),
`offload_failed` (a transient failure, once per distinct reason) and `offload_finished`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Final, NoReturn

from bodycam.firmware.config.model import OffloadConfig
from bodycam.firmware.evidence.offloaded import ReceiptError, check_receipt, read_receipt
from bodycam.firmware.evidence.signed_log import Signer
from bodycam.firmware.offload.audit_upload import AuditForkedError, upload_audit_log
from bodycam.firmware.offload.bandwidth import TokenBucket
from bodycam.firmware.offload.card import CardRecording, sealed_recordings
from bodycam.firmware.offload.connection import (
    Connection,
    OffloadError,
    RefusedError,
    UnreachableError,
    WrongServerError,
)
from bodycam.firmware.offload.protocol import OffloadClient
from bodycam.firmware.offload.removal import Audit, keep_receipt, remove_segments
from bodycam.firmware.offload.status import Activity, OffloadStatus
from bodycam.firmware.offload.timesync import (
    CORRECT_ABOVE_S,
    ClockCorrector,
    TimeSync,
    take_server_time,
)
from bodycam.firmware.offload.upload import DamagedOnCardError, Uploaded, upload_recording
from bodycam.hal.clocks import SystemClock
from bodycam.hal.interfaces import Clock

__all__ = ["OffloadWorker"]

FIRST_RETRY_S: Final = 5.0
STOP_WAIT_S: Final = 5.0
# Refusals that concern one recording: it keeps every byte and waits for the next dock.
_RECORDING_REFUSALS: Final = frozenset({"damaged", "fork", "invalid", "unsealed",
                                        "incomplete"})
log = logging.getLogger(__name__)


class UndockedError(Exception):
    """The camera left the dock (or the program stops): drop what is in flight."""


class _GivenUpError(Exception):
    """One recording is refused for this dock; the reason is already audited."""


class OffloadWorker:
    """Start with `start()`; `set_docked` from the controller; `stop()` at shutdown."""

    def __init__(self, config: OffloadConfig, *, device_id: str, signer: Signer,
                 audit: Audit, audit_path: Path, evidence_dir: Path, clock: Clock,
                 report: Callable[[OffloadStatus], None],
                 corrector: ClockCorrector | None = None,
                 connect: Callable[[OffloadConfig], Connection] = Connection) -> None:
        """`clock`: the camera's (its wall clock is what time sync measures and corrects);
        `corrector`: how the clock gets set (None: it is only measured and audited)."""
        self._config = config
        self._device_id = device_id
        self._signer = signer
        self._audit = audit
        self._audit_path = audit_path
        self._evidence_dir = evidence_dir
        self._clock = clock
        self._report_to = report
        self._corrector = corrector
        self._connect = connect
        self._wake = threading.Condition()
        self._docked = False
        self._card_changed = False
        self._stopping = False
        self._status: OffloadStatus | None = None
        self._last_failure = ""
        self._thread = threading.Thread(target=self._run, name="offload", daemon=True)

    # ------------------------------------------------------------------ controller side

    def start(self) -> None:
        self._thread.start()

    def set_docked(self, docked: bool) -> None:
        """Never blocks: the worker notices between pieces of what it sends."""
        with self._wake:
            self._docked = docked
            self._wake.notify_all()

    def card_changed(self) -> None:
        """A recording was sealed: while docked, look at the card again. The wearer's stop
        in the dock returns to `docked` before the seal is written, so the pass that
        docking starts may not see that recording yet."""
        with self._wake:
            self._card_changed = True
            self._wake.notify_all()

    def stop(self) -> None:
        """Stop at the next piece; wait a little (the thread is a daemon either way)."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join(STOP_WAIT_S)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while self._wait_for(lambda: self._docked):
            try:
                self._dock_session()
            except Exception as exc:  # never let the thread die: the next dock tries again
                log.exception("offload failed unexpectedly")
                self._record("offload_failed", code="internal", reason=repr(exc))
                self._report("failing", f"offload failed unexpectedly: {exc!r}")
                self._wait_for(lambda: not self._docked)

    def _wait_for(self, ready: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait until `ready()` or stop; False when stopping."""
        with self._wake:
            self._wake.wait_for(lambda: self._stopping or ready(), timeout)
            return not self._stopping

    def _present(self) -> None:
        """Raise UndockedError unless still docked and running."""
        if self._stopping or not self._docked:
            raise UndockedError

    def _dock_session(self) -> None:
        failures = 0
        wait = FIRST_RETRY_S
        given_up: set[str] = set()
        self._last_failure = ""
        self._report("waiting", f"docked: reaching {self._config.server_url}")
        while self._docked and not self._stopping:
            try:
                complete = self._one_pass(given_up)
            except UndockedError:
                break
            except OffloadError as exc:
                failures += 1
                self._failed(exc, failures)
                self._wait_for(lambda: not self._docked, wait)
                wait = min(wait * 2, self._config.retry_max_seconds)
                continue
            if complete:
                self._report("offloaded", "every sealed recording is on the server")
            self._wait_for(lambda: not self._docked or self._card_changed)
        if not self._stopping:
            self._report("waiting", "not docked")

    def _failed(self, exc: OffloadError, failures: int) -> None:
        """Audit a failed pass (a transient one once per distinct reason) and say
        "failing" when it needs someone or has lasted."""
        transient = isinstance(exc, UnreachableError) or (isinstance(exc, RefusedError) and
                                                     exc.transient)
        if transient:
            if str(exc) != self._last_failure:
                self._record("offload_failed", code=exc.code, reason=str(exc),
                             attempts=failures)
            self._last_failure = str(exc)
            if failures >= self._config.failures_before_alarm:
                self._report("failing", f"the evidence server does not answer "
                             f"({failures} attempts): {exc}")
            return
        self._record("offload_refused", recording_id=None, code=exc.code, reason=str(exc),
                     by="camera" if isinstance(exc, WrongServerError) else "server")
        self._report("failing", str(exc))

    # ------------------------------------------------------------------ one pass

    def _one_pass(self, given_up: set[str]) -> bool:
        """Everything the card holds that is not on the server yet; True when nothing
        was refused."""
        self._present()
        with self._wake:
            self._card_changed = False  # a seal from now on asks for another pass
        connection = self._connect(self._config)
        try:
            sync: list[TimeSync] = []
            client = OffloadClient(connection, self._signer, self._device_id,
                                   lambda: sync[0].server_now(self._clock))
            sync.append(take_server_time(client, self._config.server_key, self._clock))
            self._time_synced(sync[0])
            todo = [r for r in sealed_recordings(self._evidence_dir)
                    if r.recording_id not in given_up and _needs_work(r)]
            self._record("offload_started", server=self._config.server_url,
                         recordings=len(todo))
            self._report("offloading", f"{len(todo)} recording(s) to offload")
            bucket = TokenBucket(self._config.bandwidth_kbps, SystemClock())

            def pace(count: int) -> None:
                self._present()
                bucket.take(count)

            done, refused = 0, 0
            for recording in todo:
                self._present()
                try:
                    self._offload(client, recording, pace)
                    done += 1
                except _GivenUpError:
                    given_up.add(recording.recording_id)
                    refused += 1
                    self._report("failing", f"recording {recording.recording_id} was not "
                                 "offloaded (see offload_refused in the audit log)")
            audit_lines = self._audit_log(client)
            self._record("offload_finished", offloaded=done, refused=refused,
                         audit_lines=audit_lines, left=len(given_up))
            return not given_up and audit_lines is not None
        finally:
            connection.close()

    def _time_synced(self, sync: TimeSync) -> None:
        synchronised = self._clock.synchronised()
        correction = "not needed"
        if not synchronised or abs(sync.offset) > CORRECT_ABOVE_S:
            correction = ("not possible here" if self._corrector is None
                          else self._corrector.correct(sync, self._clock))
        self._record("time_sync", server_time=sync.statement.get("time"),
                     offset_seconds=round(sync.offset, 3),
                     round_trip_seconds=round(sync.round_trip, 3),
                     clock_synchronised=synchronised, correction=correction)

    def _offload(self, client: OffloadClient, recording: CardRecording,
                 pace: Callable[[int], None]) -> None:
        """Upload (unless a receipt is already kept), check the receipt, remove."""
        rid = recording.recording_id
        kept = recording.receipt_path.exists()
        uploaded = Uploaded()
        try:
            if kept:
                receipt = read_receipt(recording.receipt_path)
            else:
                uploaded = upload_recording(client, recording, pace)
                receipt = uploaded.receipt
            check_receipt(receipt, recording.manifest, self._config.server_key)
        except ReceiptError as exc:
            where = "receipt.json on the card" if kept else "the server's receipt"
            self._refuse(rid, "receipt", f"{where} was refused, nothing removed: {exc}",
                         "camera")
        except DamagedOnCardError as exc:
            self._refuse(rid, exc.code, str(exc), "camera")
        except RefusedError as refusal:
            if refusal.code not in _RECORDING_REFUSALS:
                raise
            self._refuse(rid, refusal.code, refusal.message, "server")
        if not kept:
            keep_receipt(recording, receipt, self._audit, sent=uploaded.sent,
                         held=uploaded.held)
        remove_segments(recording, receipt, self._audit)

    def _refuse(self, recording_id: str, code: str, reason: str, by: str) -> NoReturn:
        self._record("offload_refused", recording_id=recording_id, code=code, reason=reason,
                     by=by)
        raise _GivenUpError

    def _audit_log(self, client: OffloadClient) -> int | None:
        """Lines sent, or None when the server's copy and the card's disagree."""
        try:
            return upload_audit_log(client, self._audit_path, self._config.server_key,
                                    self._audit).lines
        except AuditForkedError as exc:
            self._record("offload_refused", recording_id=None, code=exc.code,
                         reason=str(exc), by="camera")
            self._report("failing", str(exc))
            return None
        except RefusedError as refusal:
            if refusal.code not in ("fork", "rollback"):
                raise
            self._record("offload_refused", recording_id=None, code=refusal.code,
                         reason=refusal.message, by="server")
            self._report("failing", f"the server refused the audit log: {refusal}")
            return None

    # ------------------------------------------------------------------ reporting

    def _record(self, event: str, **fields: object) -> None:
        try:
            self._audit.record(event, **fields)
        except OSError:
            log.exception("could not audit %s", event)

    def _report(self, activity: Activity, detail: str) -> None:
        status = OffloadStatus(activity, detail)
        if self._status is not None and self._status.activity == activity:
            return
        self._status = status
        self._report_to(status)


def _needs_work(recording: CardRecording) -> bool:
    """Not offloaded yet, or a receipt kept but segments left (a cut during removal)."""
    return not recording.receipt_path.exists() or bool(recording.present_media())



"""Remembers across restarts that the camera was recording, so that a crash, a watchdog
restart or a power cut does not end the evidence: the next start records again at once.

`<state_dir>/recording.json` is written atomically when a recording starts and removed
when the controller ends one (the wearer's hold, POWER, a clean shutdown, a full card:
every end the program decides on). A program that dies while recording leaves the file
behind; the next start finds it after power-loss recovery has sealed the old recording
and starts a new one (audited `recording_resumed`, "restarted while recording"). The
pre-record setting plays no part: there is nothing in the ring at a start.

Loops: if recording itself is what crashes the program, resuming would crash it again.
The file counts automatic resumes in a row; a resumed recording that runs for
HEALTHY_SECONDS resets the count. From MAX_AUTO_RESUMES on, a start does not resume: it
removes the file, audits `recording_not_resumed` and tells the wearer they are NOT
recording. The wearer can always stop: the stop removes the file, and a start by the
wearer begins a fresh count.

The file holds no personal data and nothing secret: a format name and the count.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bodycam.firmware.evidence.durable import fsync_directory, make_dirs, replace_file

log = logging.getLogger(__name__)

FILE_NAME: Final = "recording.json"
FORMAT: Final = "bodycam-resume/1"
MAX_AUTO_RESUMES: Final = 3  # automatic resumes in a row before the camera stops trying
HEALTHY_SECONDS: Final = 300.0  # a resumed recording this old ends the row
MODE: Final = 0o600
RESUME_CAUSE: Final = "restarted while recording"  # the state change's cause in the audit log


@dataclass(frozen=True)
class Pending:
    """The camera was recording when the program last ended."""

    auto_resumes: int  # automatic resumes in a row that came before this start
    damaged: str | None = None  # why the file could not be read (it counts as 0)


class ResumeFlag:
    """The recording flag in the state directory; every method reports, never raises,
    a storage failure (the caller audits it): the flag must not stop a recording."""

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / FILE_NAME

    @property
    def path(self) -> Path:
        return self._path

    def pending(self) -> Pending | None:
        """What the last program left: None when it was not recording."""
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return Pending(0, f"unreadable ({exc})")
        try:
            record = json.loads(raw)
            count = record["auto_resumes"] if record.get("format") == FORMAT else None
        except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
            count = None
        if type(count) is not int or count < 0:
            return Pending(0, "not a recording flag written by this firmware")
        return Pending(count)

    def recording_started(self, auto_resumes: int = 0) -> str | None:
        """Remember that a recording runs; None, or what went wrong."""
        data = json.dumps({"format": FORMAT, "auto_resumes": auto_resumes},
                          sort_keys=True).encode("ascii") + b"\n"
        try:
            make_dirs(self._path.parent, 0o700)
            replace_file(self._path, data, MODE)
        except OSError as exc:
            log.error("cannot write %s: %s", self._path, exc)
            return f"cannot remember the recording in {self._path} ({exc}): a restart " \
                   "would not resume it"
        return None

    def recording_ended(self) -> str | None:
        """Forget the recording (ended by the program's own decision); None, or the error."""
        try:
            self._path.unlink(missing_ok=True)
            fsync_directory(self._path.parent)
        except FileNotFoundError:
            return None  # no state directory: nothing was remembered
        except OSError as exc:
            log.error("cannot remove %s: %s", self._path, exc)
            return f"cannot remove {self._path} ({exc}): the next start may record again"
        return None

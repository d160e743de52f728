"""What the recorder's reports mean to the rest of the device, as pure functions.

The controller acts on recorder events (alarms, state changes); what each event is called
in the audit log and which state-machine event a refused start becomes do not depend on
the controller's state, so they live here where they can be read and tested on their own.
"""

from __future__ import annotations

import dataclasses

from bodycam.firmware.device.states import Event
from bodycam.firmware.evidence.api import NoRecipientError, StorageFullError
from bodycam.firmware.media.events import RecorderEvent


def refusal_event(error: Exception) -> Event:
    """The state machine's event for an error that keeps a recording from starting."""
    if isinstance(error, StorageFullError):
        return "storage_full"
    if isinstance(error, NoRecipientError):
        return "no_recipient"
    return "record_refused"


def recorder_audit_record(event: RecorderEvent) -> tuple[str, dict[str, object]]:
    """The audit event name and JSON-safe fields of a recorder event (no media, no keys).

    The name is the event class in snake_case (RecordingSealed -> recording_sealed), so a
    new recorder event is audited without touching this function.
    """
    name = "".join(f"_{c.lower()}" if c.isupper() else c
                   for c in type(event).__name__).lstrip("_")
    fields: dict[str, object] = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, Exception):
            value = f"{type(value).__name__}: {value}"
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                     for k, v in dataclasses.asdict(value).items()}
        fields[f.name] = value
    return name, fields

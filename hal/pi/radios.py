"""The camera program's side of the radio switch: a request to bodycam-radio.service.

The program runs without privileges and cannot block a radio itself; it writes what it
wants where `bodycam-radio.path` watches, and the helper (firmware/power/radio_switch.py)
runs `rfkill`. Like the clock request: written atomically, and what happened is only
"requested" (the helper's own result is in its journal).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from bodycam.firmware.evidence.durable import replace_file
from bodycam.firmware.power.radio_switch import DEFAULT_REQUEST_FILE, RADIO_REQUEST_FORMAT
from bodycam.hal.interfaces import Radios


class RadioRequestFile(Radios):
    """Writes /run/bodycam/radio-request.json (the path unit starts the helper)."""

    def __init__(self, path: Path = DEFAULT_REQUEST_FILE) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._enabled: bool | None = None

    def switch(self, enabled: bool, cause: str) -> str:
        request = {"format": RADIO_REQUEST_FORMAT, "enabled": enabled, "cause": cause[:200]}
        with self._lock:
            try:
                replace_file(self._path, json.dumps(request, sort_keys=True).encode(), 0o640)
            except OSError as exc:
                return (f"not requested: {self._path} cannot be written "
                        f"({exc.strerror or exc})")
            self._enabled = enabled
        return f"requested from bodycam-radio.service ({self._path})"

    @property
    def enabled(self) -> bool | None:
        with self._lock:
            return self._enabled

"""Sleep mode: after a while in idle, give up the pre-record buffer to save the battery.

The pre-record buffer keeps the camera, the encoder and the microphone running all
shift, which is most of the camera's draw (config/power-model.toml). With
`power.sleep_after_idle_min` set and pre-record on, the camera stops them after that
many minutes in idle without a press: the agency's choice between the buffer and the
battery, as the market leaders offer it. Asleep, the camera is exactly as with pre-record
off: one RECORD press still records at once (without the seconds before the press), any
other press wakes it and the buffer fills again. Entering and leaving sleep is audited;
the green LED blinks slowly while asleep (feedback.py).

No wearer gesture enters sleep: every gesture in idle already has a meaning (RECORD
down records, DISPLAY down shows the mirror, POWER short toggles stealth, POWER hold
powers off), and a press the wearer may mistake for another is worse than none.
"""

from __future__ import annotations

import math


class SleepTimer:
    """When idle has lasted long enough to sleep (controller thread only)."""

    def __init__(self, after_minutes: float, *, prerecord: bool) -> None:
        """`after_minutes` 0 never sleeps; without pre-record there is nothing to give up."""
        self._after = after_minutes * 60.0 if after_minutes > 0 and prerecord else math.inf
        self._idle_since: float | None = None
        self.asleep = False

    @property
    def enabled(self) -> bool:
        return self._after != math.inf

    def idle(self, now: float) -> None:
        """The camera entered idle, or the wearer pressed something: the wait restarts."""
        self._idle_since = now

    def busy(self) -> None:
        """The camera left idle: no sleep until it is back."""
        self._idle_since = None

    def due(self, now: float) -> bool:
        """True once, when idle has lasted `after_minutes`; `asleep` is then set."""
        since = self._idle_since
        if self.asleep or since is None or now - since < self._after:
            return False
        self.asleep = True
        return True

    def wake(self) -> bool:
        """Leave sleep; True if it was asleep (so the caller audits the wake-up)."""
        was, self.asleep = self.asleep, False
        return was

    @property
    def after_minutes(self) -> float:
        return self._after / 60.0

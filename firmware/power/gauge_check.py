"""Is the fuel gauge telling the truth? Nonsense readings detected, so the model takes over.

A fuel gauge can fail in ways that look like numbers: a loose connector reads as a bus
error, a glitching chip jumps up while nothing charges it, a reset one reads 0 % on the
charger, a wedged one repeats the same value for hours. Each would make the runtime
prediction wrong in the dangerous direction (a camera that believes it has hours left),
so such a reading is flagged and the prediction runs on the power model from the last
reading that made sense (watch.py).

What this never does is hide a LOW reading: a lithium cell's voltage does collapse near
empty, so a sudden drop is believed and acted on (watch.py seals early). Only readings
more optimistic than the battery can be are distrusted.

Each fault is reported when it starts (for the audit log) and when readings make sense
again; the checker keeps no clock of its own: the caller passes monotonic seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

GaugeFault = Literal["bus_error", "jump_up", "zero_while_charging", "stuck"]
GAUGE_FAULTS: tuple[GaugeFault, ...] = get_args(GaugeFault)

JUMP_UP_PERCENT = 5.0  # more than a gauge relaxes after the charger stops
STUCK_SECONDS = 3600.0  # the "stuck for an hour"
STUCK_MIN_EXPECTED_DROP = 2.0  # percent the model says must have gone in that time
SAME_READING = 0.01  # percent: a MAX17048 resolves 1/256 %, so "equal" means frozen


@dataclass(frozen=True, slots=True)
class GaugeVerdict:
    """One reading judged: `fault` None means it may be used for the prediction."""

    fault: GaugeFault | None
    detail: str = ""
    started: bool = False  # this fault begins now (audit it once)
    ended: GaugeFault | None = None  # this earlier fault is over now (audit it once)

    @property
    def trusted(self) -> bool:
        return self.fault is None


class GaugeCheck:
    """Judges each reading against the last sensible one (controller thread only)."""

    def __init__(self) -> None:
        self._fault: GaugeFault | None = None
        self._last_good: float | None = None  # percent of the last trusted reading
        self._same_since: float | None = None  # when the current repeated value began
        self._same_value: float | None = None
        self._expected_drop = 0.0  # percent the model expected to go since _same_since

    @property
    def fault(self) -> GaugeFault | None:
        return self._fault

    def check(self, percent: float | None, *, charging: bool, now: float,
              model_drop_percent: float, reference: float | None = None) -> GaugeVerdict:
        """Judge one reading. `model_drop_percent`: what the power model says the battery
        lost since the previous call; `reference`: the level the model believes now
        (used after a fault, when the last good reading is stale)."""
        fault, detail = self._judge(percent, charging, now, model_drop_percent, reference)
        previous = self._fault
        self._fault = fault
        if fault is None and percent is not None:
            self._last_good = percent
        return GaugeVerdict(fault, detail, started=fault is not None and fault != previous,
                            ended=previous if previous is not None and fault != previous
                            else None)

    def _judge(self, percent: float | None, charging: bool, now: float,
               model_drop: float, reference: float | None) -> tuple[GaugeFault | None, str]:
        if percent is None:
            self._same_since = None
            return "bus_error", "the fuel gauge does not answer on its bus"
        if charging:
            self._same_since = None  # a full battery on the charger legitimately holds
            if percent <= 0.0:
                return "zero_while_charging", ("the gauge reads 0 % while the battery "
                                               "charges: a reset or broken gauge")
            return None, ""
        stuck = self._stuck(percent, now, model_drop)
        if stuck is not None:
            return "stuck", stuck
        base = reference if self._fault is not None and reference is not None \
            else self._last_good
        if base is not None and percent > base + JUMP_UP_PERCENT:
            return "jump_up", (f"the gauge reads {percent:.1f} % but the battery was at "
                               f"{base:.1f} % and is not charging")
        return None, ""

    def _stuck(self, percent: float, now: float, model_drop: float) -> str | None:
        """A value that does not move for an hour while the model says it must have."""
        if self._same_value is None or self._same_since is None or \
                abs(percent - self._same_value) > SAME_READING:
            self._same_value, self._same_since, self._expected_drop = percent, now, 0.0
            return None
        self._expected_drop += model_drop
        held = now - self._same_since
        if held >= STUCK_SECONDS and self._expected_drop >= STUCK_MIN_EXPECTED_DROP:
            return (f"the gauge has read {percent:.2f} % for {held / 60:.0f} min while the "
                    f"power model expects {self._expected_drop:.1f} % used")
        return None

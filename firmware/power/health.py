"""Battery health: the capacity a discharge shows, against the pack's design capacity.

A worn pack fails a shift long before it reads 0 % at the start of one; the dock room
must swap it before. The MAX17048 has no coulomb counter, so the capacity is estimated
the only way this hardware allows: the energy the power model says the camera used over
a discharge, divided by the share of the battery the (trusted) gauge says it lost. A
worn pack loses percent faster for the same work and so shows less capacity. The figure
rests on the model: a measured power table makes it better (config/power-model.toml).

Only a discharge of at least MIN_DROP_PERCENT with a trusted gauge throughout counts; the
estimate is reported when the camera is docked, into the audit log, which the dock
offloads to the evidence server: the server keeps the history over time.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_DROP_PERCENT = 20.0  # less is dominated by the gauge's own error (about 1-3 %)
WORN_BELOW = 0.8  # share of design capacity: the usual end-of-life rule for Li-ion packs


@dataclass(frozen=True, slots=True)
class HealthReport:
    """One discharge's capacity estimate (audited as `battery_health`)."""

    capacity_mwh: float
    design_capacity_mwh: float
    percent_used: float
    energy_mwh: float

    @property
    def health(self) -> float:
        return self.capacity_mwh / self.design_capacity_mwh

    @property
    def worn(self) -> bool:
        return self.health < WORN_BELOW

    def fields(self) -> dict[str, object]:
        return {"capacity_mwh": round(self.capacity_mwh),
                "design_capacity_mwh": round(self.design_capacity_mwh),
                "health_percent": round(100 * self.health, 1), "worn": self.worn,
                "percent_used": round(self.percent_used, 1),
                "energy_mwh": round(self.energy_mwh),
                "basis": "power-model energy over the gauge's percent drop"}


class HealthTracker:
    """Follows one discharge at a time (controller thread only)."""

    def __init__(self, design_capacity_mwh: float) -> None:
        self._design = design_capacity_mwh
        self._start: float | None = None  # percent when the discharge began
        self._last: float | None = None
        self._energy = 0.0  # mWh the model says was used since _start

    def discharging(self, percent: float | None, trusted: bool, energy_mwh: float) -> None:
        """One poll while off the charger; `energy_mwh` used since the previous poll. An
        untrusted reading voids this discharge (its percent drop would be wrong)."""
        if not trusted or percent is None:
            self._start = None
            return
        if self._start is None:
            self._start, self._energy = percent, 0.0
        else:
            self._energy += energy_mwh
        self._last = percent

    def charging(self) -> HealthReport | None:
        """The discharge ended (docked, charging): its estimate if it was long enough."""
        start, last, energy = self._start, self._last, self._energy
        self._start = None
        if start is None or last is None or start - last < MIN_DROP_PERCENT:
            return None
        used = start - last
        return HealthReport(energy / (used / 100.0), self._design, used, energy)

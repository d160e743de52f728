"""Battery health per camera, so the dock room swaps a worn pack before it fails a shift.

The camera estimates its pack's capacity over each long discharge and writes a
`battery_health` record into its signed audit log when it is docked
(firmware/power/health.py); the dock offload carries the log here, where its chain and
signatures were checked on arrival (device_audit/service.py). This reads those records
back, per camera and in order, so the history over time (capacity against design
capacity) is one command away: `bodycam-server device battery`. Nothing is stored twice:
the audit log is the record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Final

from sqlalchemy import select

from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.context import ServerContext
from bodycam.server.device_audit.service import stored_log
from bodycam.server.devices.models import Device

__all__ = ["BatteryHistory", "HealthReading", "battery_devices", "battery_history",
           "format_table"]

EVENT: Final = "battery_health"


class UnknownDeviceError(ValueError):
    """No camera of that id is enrolled."""


@dataclass(frozen=True)
class HealthReading:
    """One discharge's estimate, as the camera audited it."""

    time: str
    health_percent: float
    capacity_mwh: float
    design_capacity_mwh: float
    worn: bool


@dataclass(frozen=True)
class BatteryHistory:
    device: str
    readings: tuple[HealthReading, ...]

    @property
    def latest(self) -> HealthReading | None:
        return self.readings[-1] if self.readings else None

    def to_json(self) -> dict[str, Any]:
        latest = self.latest
        return {"device": self.device, "worn": latest.worn if latest else None,
                "health_percent": latest.health_percent if latest else None,
                "readings": [asdict(r) for r in self.readings]}


def battery_devices(work: Work, device_id: str | None = None) -> list[str]:
    """The cameras to report on (device.manage: the dock room's administrators)."""
    work.authorise(Permission.DEVICES)
    if device_id is not None:
        if work.session.get(Device, device_id) is None:
            raise UnknownDeviceError(f"no camera {device_id!r} is enrolled. Fix: check the "
                                     "id (`bodycam-server recordings` lists the devices)")
        return [device_id]
    return list(work.session.scalars(select(Device.id).order_by(Device.id)))


def _reading(record: dict[str, Any]) -> HealthReading | None:
    """A `battery_health` record as a reading; None for one this version cannot read."""
    try:
        return HealthReading(str(record["time"]), float(record["health_percent"]),
                             float(record["capacity_mwh"]),
                             float(record["design_capacity_mwh"]), bool(record["worn"]))
    except (KeyError, TypeError, ValueError):
        return None


def battery_history(context: ServerContext, device_id: str) -> BatteryHistory:
    """Every battery_health reading in the camera's stored audit log, oldest first."""
    readings = []
    for line in stored_log(context, device_id).splitlines():
        if f'"event":"{EVENT}"'.encode() not in line:  # canonical JSON: cheap pre-filter
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == EVENT \
                and (reading := _reading(record)) is not None:
            readings.append(reading)
    return BatteryHistory(device_id, tuple(readings))


def format_table(histories: list[BatteryHistory]) -> str:
    """One line per camera: the latest health, the trend since the first reading."""
    lines = [f"{'DEVICE':<16} {'HEALTH':>7} {'CAPACITY / DESIGN':>20} {'READINGS':>8}  "
             "TREND / LAST"]
    for history in histories:
        latest = history.latest
        if latest is None:
            lines.append(f"{history.device:<16} {'-':>7} {'-':>20} {0:>8}  no battery_health "
                         "record offloaded yet (needs a discharge of 20 points or more)")
            continue
        first = history.readings[0]
        capacity = f"{latest.capacity_mwh:.0f} / {latest.design_capacity_mwh:.0f} mWh"
        trend = f"{first.health_percent:.1f} -> {latest.health_percent:.1f} %, {latest.time}"
        worn = "  WORN: swap the pack" if latest.worn else ""
        lines.append(f"{history.device:<16} {latest.health_percent:>6.1f}% {capacity:>20} "
                     f"{len(history.readings):>8}  {trend}{worn}")
    return "\n".join(lines)


def as_json(histories: list[BatteryHistory]) -> str:
    return json.dumps([h.to_json() for h in histories], indent=2)

"""Dock and storage: polled levels turned into the edges the controller acts on.

The hardware reports levels (dock contact, free bytes); the state machine and the wearer
need edges (docked, storage full) and each alarm only once.
This class owns that latching and returns what happened as a list of effects, in the
order they must take effect; it never touches the state machine, the indicators or the
audit log, so the controller stays the only thing that acts and the rules can be read
in one place.

- The dock contact posts `dock`/`undock` on its edge and is audited once; while docked it
  re-posts `dock` from idle/display_on, because `dock` is only acknowledged while
  recording and must take effect once the recording has ended.
- The battery itself (warnings by time left, a faulty gauge, the shift forecast) is
  firmware/power/watch.py's business; this class only follows the dock contact.
- Storage full latches, whoever noticed it first (this poll or the recorder), until the
  free space is back above the nearly-full level (an offload happened), so a device
  hovering at the reserve does not flicker between fault and idle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bodycam.firmware.config.model import MIB, StorageConfig
from bodycam.firmware.device.feedback import Alarm
from bodycam.firmware.device.states import Event, State
from bodycam.hal.interfaces import PowerStatus

_DOCK_REPOSTED_IN: frozenset[State] = frozenset({"idle", "display_on"})


@dataclass(frozen=True, slots=True)
class Apply:
    """Feed `event` to the state machine (after the controller's refusal checks)."""

    event: Event
    cause: str


@dataclass(frozen=True, slots=True)
class RaiseAlarm:
    """Audit an `alarm` record; `wearer` also starts that LED/buzzer pattern."""

    kind: str
    detail: str
    wearer: Alarm | None = None


@dataclass(frozen=True, slots=True)
class ClearAlarm:
    """Stop the `wearer` pattern; a `detail` is also audited as `alarm_cleared`."""

    kind: str
    wearer: Alarm | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """An audit record that changes nothing by itself (the dock contact)."""

    event: str
    fields: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClockChanged:
    """The wall clock stepped or its synchronisation changed: audited as `clock`, and an
    open recording's manifest records it (L12: its wall times jump from here)."""

    step_seconds: float  # new minus old wall clock
    wall_before: datetime  # the old clock's reading when the change was noticed
    wall_after: datetime  # the new clock's reading at the same moment
    synchronised: bool
    was_synchronised: bool


Effect = Apply | RaiseAlarm | ClearAlarm | Report | ClockChanged


class Conditions:
    """Latches of the polled conditions. Only the controller thread calls it."""

    def __init__(self, storage: StorageConfig) -> None:
        self._storage = storage
        self._docked = False
        self._nearly_full = False
        self._storage_full = False

    @property
    def docked(self) -> bool:
        """The dock contact's level at the last poll."""
        return self._docked

    @property
    def storage_full(self) -> bool:
        """Latched: set by the reserve or a refused write, cleared only by an offload."""
        return self._storage_full

    def poll_power(self, status: PowerStatus, state: State) -> list[Effect]:
        """What the dock pin means, given the state the device is in."""
        effects: list[Effect] = []
        if status.docked != self._docked:
            self._docked = status.docked
            effects += [Apply("dock" if status.docked else "undock", "dock contact"),
                        Report("dock", {"docked": status.docked,
                                        "charging": status.charging})]
        elif self._docked and state in _DOCK_REPOSTED_IN:
            effects.append(Apply("dock", "dock contact (after recording)"))
        return effects

    def poll_storage(self, free_bytes: int, *, in_storage_fault: bool) -> list[Effect]:
        """What the free space means; `in_storage_fault`: the device is in fault because
        storage was full, so freeing space clears that fault (and no other)."""
        effects: list[Effect] = []
        storage = self._storage
        nearly_full = free_bytes < storage.nearly_full_bytes
        if nearly_full != self._nearly_full:
            self._nearly_full = nearly_full
            effects.append(
                RaiseAlarm("storage_nearly_full", f"{free_bytes / MIB:.0f} MB free",
                           "storage_nearly_full") if nearly_full
                else ClearAlarm("storage_nearly_full", "storage_nearly_full"))
        if free_bytes <= storage.reserve_bytes and not self._storage_full:
            effects += self.storage_became_full(
                f"{free_bytes / MIB:.0f} MB free, {storage.reserve_mb} MB reserved")
            effects.append(Apply("storage_full", "storage full (reserve reached)"))
        elif self._storage_full and not nearly_full:
            self._storage_full = False
            if in_storage_fault:
                effects.append(Apply("fault_cleared", "storage space freed"))
            effects.append(ClearAlarm("storage_full",
                                      detail=f"{free_bytes / MIB:.0f} MB free"))
        return effects

    def storage_became_full(self, detail: str) -> list[Effect]:
        """Latch storage full and alarm once, whoever noticed it first."""
        if self._storage_full:
            return []
        self._storage_full = True
        return [RaiseAlarm("storage_full", f"{detail}: recording stops and is refused until "
                           "recordings are copied off and the card cleared")]


CLOCK_JUMP_SECONDS = 2.0  # a wall-clock step larger than this is a clock change


class ClockWatch:
    """Notices wall-clock changes: becoming synchronised (or losing it) and steps.

    The wall clock is only trustworthy once set (NTP, the dock); evidence times depend on
    it, so every change is audited with the step size, and the clock-never-set alarm ends
    when the clock is synchronised.
    """

    def __init__(self, synchronised: bool, wall: datetime, monotonic: float) -> None:
        self._synchronised = synchronised
        self._offset = wall.timestamp() - monotonic  # wall seconds minus monotonic seconds

    def poll(self, synchronised: bool, wall: datetime, monotonic: float) -> list[Effect]:
        """`wall` and `monotonic`: both clocks read together, now."""
        effects: list[Effect] = []
        offset = wall.timestamp() - monotonic
        step = round(offset - self._offset, 3)
        if abs(step) > CLOCK_JUMP_SECONDS or synchronised != self._synchronised:
            effects.append(ClockChanged(step, wall - timedelta(seconds=step), wall,
                                        synchronised, self._synchronised))
        if synchronised and not self._synchronised:
            effects.append(ClearAlarm("clock_unset", "clock_unset",
                                      "wall clock synchronised"))
        self._synchronised, self._offset = synchronised, offset
        return effects

"""What the offload worker tells the controller: what the docked LEDs should say.

Its own module so the device side (controller, feedback) can name it without importing
the worker and its network code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["ACTIVITIES", "Activity", "OffloadStatus"]

# waiting: docked, not (yet) talking to the server, or no offload configured (charging);
# offloading: a pass is running; offloaded: everything sealed is on the server;
# failing: the server refuses, is the wrong one, is full, or has not answered for a while.
Activity = Literal["waiting", "offloading", "offloaded", "failing"]
ACTIVITIES: tuple[Activity, ...] = get_args(Activity)


@dataclass(frozen=True)
class OffloadStatus:
    """The docked pattern to show, and why (the detail goes into the alarm record)."""

    activity: Activity
    detail: str

"""The administrator's devices page: every enrolled camera with its pinned keys, its
last offload and what the server flagged about it, and enrolment by pasting what the
camera prints about itself (the same parse and service as `bodycam-server device
enrol`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.custody.assignments import list_assignments
from bodycam.server.devices.models import Device, DeviceKey
from bodycam.server.devices.service import enrol, parse_identity
from bodycam.server.people.models import User
from bodycam.server.recordings.models import Recording
from bodycam.server.web.frame import Visitor, poster, visitor

__all__ = ["router"]

router = APIRouter(prefix="/admin/devices", include_in_schema=False)
_ASSIGNMENTS: Final = 100  # the newest shown; `bodycam-server assignment list` has all


def _assignable(session: Session) -> list[str]:
    """Usernames of active accounts: who can be assigned a camera."""
    return list(session.scalars(select(User.username).where(User.disabled.is_(False))
                                .order_by(User.username)))


@dataclass(frozen=True)
class Camera:
    id: str
    enrolled_at: datetime
    keys: list[str]
    flag: str | None
    recordings: int
    last_offload: datetime | None


def _cameras(session: Session) -> list[Camera]:
    keys: dict[str, list[str]] = {}
    for device, fingerprint, algorithm in session.execute(select(
            DeviceKey.device_id, DeviceKey.fingerprint, DeviceKey.algorithm)
            .order_by(DeviceKey.enrolled_at)):
        keys.setdefault(device, []).append(f"{fingerprint} ({algorithm})")
    counts = {device: (count, last) for device, count, last in session.execute(
        select(Recording.device_id, func.count(), func.max(Recording.received_at))
        .group_by(Recording.device_id))}
    return [Camera(d.id, d.enrolled_at, keys.get(d.id, []), d.flag,
                   *counts.get(d.id, (0, None)))
            for d in session.scalars(select(Device).order_by(Device.id))]


def _read(work: Work) -> dict[str, Any]:
    assigning = Permission.ASSIGN in work.actor.permissions
    return {"cameras": _cameras(work.session),
            "assignments": list_assignments(work)[:_ASSIGNMENTS] if assigning else None,
            "people": _assignable(work.session) if assigning else []}


def listing(person: Visitor, **outcome: Any) -> HTMLResponse:
    """The devices page (with the assignments, for whoever may set them)."""
    return person.listing(Permission.DEVICES, "devices.html", _read, **outcome)


@router.get("")
def devices(person: Annotated[Visitor, Depends(visitor)]) -> HTMLResponse:
    return listing(person)


@router.post("")
def enrol_camera(person: Annotated[Visitor, Depends(poster)],
                 identity: Annotated[str, Form(max_length=4000)],
                 device_id: Annotated[str, Form(max_length=64)] = "") -> HTMLResponse:
    """Pin a camera's key from its BODYCAM-IDENTITY.txt (or `bodycam identity`) text."""
    def pin(work: Work) -> dict[str, Any]:
        done = enrol(work, *parse_identity(identity, device_id.strip() or None))
        what = ("enrolled" if done.new_device else
                "has a new key" if done.new_key else "was enrolled with this key already")
        return {"notice": f"Camera {done.device_id} {what} (key {done.key.fingerprint})."}
    return person.attempt("device.enrol", pin, lambda **outcome: listing(
        person, **outcome, identity="" if "notice" in outcome else identity))

"""/api/v1/devices: enrolled cameras (device.manage): list them, enrol one by what it
prints about itself (the same check of its fingerprint as `bodycam-server device enrol`)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.api.auth import CallerDep
from bodycam.server.api.work import ERRORS, perform
from bodycam.server.devices.models import Device, DeviceKey
from bodycam.server.devices.service import enrol, parse_identity
from bodycam.server.recordings.models import Recording

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], responses=ERRORS)


class KeyOut(BaseModel):
    fingerprint: str
    algorithm: str
    enrolled_at: datetime


class DeviceOut(BaseModel):
    id: str
    enrolled_at: datetime
    flag: str | None = Field(description="why an administrator should look (a fork, a "
                             "rollback of its audit log), or null")
    keys: list[KeyOut]
    recordings: int
    last_received: datetime | None = Field(description="when its newest recording arrived")


class EnrolIn(BaseModel):
    identity: str = Field(min_length=1, max_length=4096, description="BODYCAM-IDENTITY.txt "
                          "or `bodycam identity` output, or a bare base64 key")
    device_id: str | None = Field(default=None, max_length=32,
                                  description="only with a bare key")


def _utc(moment: datetime) -> datetime:
    """SQLite hands times back without their zone; they were written in UTC (the
    description promises RFC 3339 date-times, which carry one)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _device(work: Work, device: Device) -> DeviceOut:
    keys = work.session.scalars(select(DeviceKey).where(DeviceKey.device_id == device.id)
                                .order_by(DeviceKey.enrolled_at, DeviceKey.fingerprint))
    count, last = work.session.execute(select(
        func.count(Recording.id), func.max(Recording.received_at)).where(
            Recording.device_id == device.id)).one()
    return DeviceOut(id=device.id, enrolled_at=_utc(device.enrolled_at), flag=device.flag,
                     keys=[KeyOut(fingerprint=k.fingerprint, algorithm=k.algorithm,
                                  enrolled_at=_utc(k.enrolled_at)) for k in keys],
                     recordings=count, last_received=None if last is None else _utc(last))


@router.get("")
def every_device(request: Request, caller: CallerDep) -> list[DeviceOut]:
    def job(work: Work) -> list[DeviceOut]:
        work.authorise(Permission.DEVICES)
        return [_device(work, d) for d in work.session.scalars(select(Device).order_by(
            Device.id))]
    return perform(request, caller, "device.list", job)


@router.post("", status_code=201)
def enrol_device(body: EnrolIn, request: Request, caller: CallerDep) -> DeviceOut:
    """Pin a camera's key (compare the fingerprint answered with the camera's display)."""
    def job(work: Work) -> DeviceOut:
        work.authorise(Permission.DEVICES)
        device_id, key = parse_identity(body.identity, body.device_id)
        done = enrol(work, device_id, key)
        device = work.session.get(Device, done.device_id)
        assert device is not None
        work.session.flush()
        return _device(work, device)
    return perform(request, caller, "device.enrol", job)

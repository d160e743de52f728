"""Which person wore which camera when: assignments set by an administrator
(device.assign) or at check-out, and ended at check-in.

An assignment only ever gains an end; none is edited or removed, because every
recording's wearers are read from them (wearers.py) and the deletion rules depend on
who the wearer was. One camera's assignments never overlap: the camera's row is locked
while the overlap is checked, so two administrators at once cannot both succeed.
Ending an assignment never takes the wearer from a recording already received, and
never ends it at a time still to come.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import Target
from bodycam.server.access.service import Work
from bodycam.server.custody.errors import CustodyError
from bodycam.server.custody.instants import CANONICAL_LIKE, instant, now_instant
from bodycam.server.custody.models import DeviceAssignment
from bodycam.server.devices.models import Device
from bodycam.server.people.accounts import find_user
from bodycam.server.people.models import User
from bodycam.server.recordings.models import Recording

__all__ = ["AssignmentView", "add_assignment", "check_in", "check_out", "end_assignment",
           "list_assignments"]


@dataclass(frozen=True)
class AssignmentView:
    id: int
    device_id: str
    username: str
    starts: str
    ends: str | None
    assigned_by: str
    ended_by: str | None


def _lock_device(session: Session, device_id: str) -> Device:
    device = session.scalars(select(Device).where(Device.id == device_id[:64])
                             .with_for_update()).first()
    if device is None:
        raise CustodyError(f"there is no camera {device_id[:64]!r} on this server. Fix: "
                           "enrol it first (`bodycam-server device enrol`)")
    return device


def _overlapping(session: Session, device_id: str, starts: str, ends: str | None
                 ) -> DeviceAssignment | None:
    query = select(DeviceAssignment).where(
        DeviceAssignment.device_id == device_id,
        or_(DeviceAssignment.ends.is_(None), DeviceAssignment.ends > starts))
    if ends is not None:
        query = query.where(DeviceAssignment.starts < ends)
    return session.scalars(query.order_by(DeviceAssignment.starts)).first()


def _username(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    return user.username if user is not None else f"user {user_id}"


def _view(session: Session, row: DeviceAssignment) -> AssignmentView:
    return AssignmentView(row.id, row.device_id, _username(session, row.user_id), row.starts,
                          row.ends, row.assigned_by, row.ended_by)


def _record(work: Work, kind: str, row: DeviceAssignment) -> AssignmentView:
    view = _view(work.session, row)
    work.record(kind, assignment=row.id, device=row.device_id, user=view.username,
                starts=row.starts, ends=row.ends)
    return view


def add_assignment(work: Work, device_id: str, username: str, starts: str,
                   ends: str | None = None) -> AssignmentView:
    """`username` wore `device_id` from `starts` to `ends` (None: still wears it); the
    times are ISO 8601 with a zone. Refused if it overlaps another of the camera's."""
    session = work.session
    work.authorise(Permission.ASSIGN)  # before saying who exists
    user = find_user(session, username)
    work.authorise(Permission.ASSIGN, Target(user_id=user.id))
    start = instant(starts, "start")
    end = instant(ends, "end") if ends is not None else None
    if end is not None and end <= start:
        raise CustodyError(f"the assignment would end ({end}) before it starts ({start}). "
                           "Fix: give an end after the start, or none (still out)")
    device = _lock_device(session, device_id)
    clash = _overlapping(session, device.id, start, end)
    if clash is not None:
        raise CustodyError(
            f"camera {device.id} is assigned to {_username(session, clash.user_id)} from "
            f"{clash.starts} until {clash.ends or 'now (checked out)'}, which overlaps "
            f"{start} .. {end or 'open'}: one camera is worn by one person at a time. "
            "Fix: end that assignment first, or choose times outside it")
    row = DeviceAssignment(device_id=device.id, user_id=user.id, starts=start, ends=end,
                           assigned_by=work.actor.name, assigned_at=work.now)
    session.add(row)
    session.flush()
    return _record(work, "device_assigned", row)


def check_out(work: Work, device_id: str, username: str) -> AssignmentView:
    """The camera leaves the rack with `username` now (an open assignment)."""
    return add_assignment(work, device_id, username, now_instant(work.now))


def _received_since(session: Session, row: DeviceAssignment, ends: str) -> Recording | None:
    """The latest-ending recording this assignment covers that would lose (part of) its
    wearer if the assignment ended at `ends`."""
    return session.scalars(select(Recording).where(
        Recording.device_id == row.device_id, Recording.end.like(CANONICAL_LIKE),
        Recording.end > ends, Recording.end >= row.starts).order_by(Recording.end.desc())).first()


def end_assignment(work: Work, assignment_id: int, ends: str) -> AssignmentView:
    """End an open assignment at `ends` (ISO 8601 with a zone): after its start and
    not after now, since an end is a record of when the camera came back."""
    session = work.session
    work.authorise(Permission.ASSIGN)
    row = session.get(DeviceAssignment, assignment_id)
    if row is None:
        raise CustodyError(f"there is no assignment {assignment_id}. Fix: see "
                           "`bodycam-server assignment list`")
    work.authorise(Permission.ASSIGN, Target(user_id=row.user_id))
    _lock_device(session, row.device_id)
    session.refresh(row)  # as it is now that nobody else can change it
    end = instant(ends, "end")
    if row.ends is not None:
        raise CustodyError(f"assignment {row.id} already ended at {row.ends}; an end is "
                           "never changed (recordings' wearers depend on it). Fix: add "
                           "a new assignment for a later stretch")
    if end <= row.starts:
        raise CustodyError(f"assignment {row.id} started at {row.starts}; it cannot end at "
                           f"{end}. Fix: give a later end")
    now = now_instant(work.now)
    if end > now:  # an end is never changed: a guess at a future one would stay
        raise CustodyError(f"assignment {row.id} cannot end at {end}, a time still to "
                           f"come (it is {now} now). Fix: give the time the camera came "
                           "back, or check it in when it does")
    kept = _received_since(session, row, end)
    if kept is not None:
        raise CustodyError(
            f"recording {kept.id} ({kept.start} .. {kept.end}) was made while "
            f"{_username(session, row.user_id)} wore camera {row.device_id}; ending the "
            f"assignment at {end} would leave it without its wearer. Fix: end it at or "
            f"after {kept.end}")
    row.ends = end
    row.ended_by = work.actor.name
    return _record(work, "device_assignment_ended", row)


def check_in(work: Work, device_id: str) -> AssignmentView:
    """The camera is back in the rack now: its open assignment ends."""
    session = work.session
    work.authorise(Permission.ASSIGN)
    row = session.scalars(select(DeviceAssignment).where(
        DeviceAssignment.device_id == device_id[:64], DeviceAssignment.ends.is_(None))).first()
    if row is None:
        _lock_device(session, device_id)  # names an unknown camera as such
        raise CustodyError(f"camera {device_id} is not checked out to anyone. Fix: see "
                           "`bodycam-server assignment list --device`")
    return end_assignment(work, row.id, now_instant(work.now))


def list_assignments(work: Work, device_id: str | None = None,
                     username: str | None = None) -> list[AssignmentView]:
    """Newest first (device.assign; a listing is not recorded: it changes nothing and
    shows no evidence)."""
    session = work.session
    work.authorise(Permission.ASSIGN)
    query = select(DeviceAssignment)
    if device_id is not None:
        query = query.where(DeviceAssignment.device_id == device_id)
    if username is not None:
        query = query.where(DeviceAssignment.user_id == find_user(session, username).id)
    rows = session.scalars(query.order_by(DeviceAssignment.starts.desc(),
                                          DeviceAssignment.id.desc()))
    return [_view(session, row) for row in rows]

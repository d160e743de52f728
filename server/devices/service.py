"""Enrolling cameras and looking up their pinned keys; the shared nonce store.

A camera is enrolled by what it prints about itself (`bodycam identity`, or the
BODYCAM-IDENTITY.txt it writes at first boot): device id and public key, either
algorithm. A re-keyed camera (a new TPM) is enrolled again and keeps its old key too, so
its older recordings still verify; a key already pinned for another device is refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bodycam.firmware.evidence.public_keys import DevicePublicKey, parse_public_key
from bodycam.firmware.offload.signature import NONCE_WINDOW_S
from bodycam.server.access.permissions import Permission
from bodycam.server.access.service import Work
from bodycam.server.database.engine import Database
from bodycam.server.devices.models import Device, DeviceKey, SeenNonce

__all__ = ["DatabaseNonceStore", "EnrolError", "Enrolment", "enrol", "enrolled_keys",
           "parse_identity"]

_DEVICE_ID: Final = re.compile(r"[A-Za-z0-9-]{1,32}")


class EnrolError(ValueError):
    """The identity cannot be enrolled; the message names the fix."""


@dataclass(frozen=True)
class Enrolment:
    device_id: str
    key: DevicePublicKey
    new_device: bool
    new_key: bool


def _labelled(text: str, label: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.strip().lower().startswith(f"{label}:")]


def parse_identity(text: str, device_id: str | None = None) -> tuple[str, DevicePublicKey]:
    """(device id, key) from `bodycam identity` output or BODYCAM-IDENTITY.txt; a bare
    base64 key needs `device_id`. A "Fingerprint:" line must match the key (a typo, or
    a file edited on the way, is caught here and not at the first upload)."""
    try:
        key = parse_public_key(text)
    except ValueError as exc:
        raise EnrolError(str(exc)) from None
    named = _labelled(text, "device id")
    if device_id is None:
        if len(named) != 1:
            raise EnrolError("the file names no device id (one 'Device id:' line). Fix: "
                             "give the camera's BODYCAM-IDENTITY.txt or `bodycam identity` "
                             "output, or pass --device-id with a bare key")
        device_id = named[0]
    elif named and named != [device_id]:
        raise EnrolError(f"--device-id {device_id} differs from the file's {named[0]}")
    if not _DEVICE_ID.fullmatch(device_id):
        raise EnrolError(f"device id {device_id!r} is not 1 to 32 letters, digits or '-'")
    prints = _labelled(text, "fingerprint")
    if prints and prints != [key.fingerprint]:
        raise EnrolError(f"the file's fingerprint {prints[0]} is not that of its key "
                         f"({key.fingerprint}): the file was altered or mistyped. Fix: take "
                         "a fresh copy from the camera")
    return device_id, key


def enrol(work: Work, device_id: str, key: DevicePublicKey) -> Enrolment:
    """Pin `key` for `device_id` as `work`'s actor, who needs device.manage; audited in
    the same transaction (a key added to a camera is trusted for every upload after)."""
    work.authorise(Permission.DEVICES)
    now = datetime.now(UTC)
    session = work.session
    elsewhere = session.scalars(select(DeviceKey.device_id).where(
        DeviceKey.public_key == key.b64, DeviceKey.device_id != device_id)).first()
    if elsewhere is not None:
        raise EnrolError(f"key {key.fingerprint} is already enrolled for device "
                         f"{elsewhere}; one key belongs to one camera. Fix: check which "
                         "camera this file came from")
    device = session.get(Device, device_id)
    new_device = device is None
    if device is None:
        session.add(Device(id=device_id, enrolled_at=now, version=0))
        session.flush()
    known = session.get(DeviceKey, (device_id, key.b64))
    if known is None:
        session.add(DeviceKey(device_id=device_id, public_key=key.b64,
                              algorithm=key.algorithm, fingerprint=key.fingerprint,
                              enrolled_at=now))
    work.record("device_enrolled", device=device_id, key=key.fingerprint,
                algorithm=key.algorithm, new_device=new_device, new_key=known is None)
    return Enrolment(device_id, key, new_device, known is None)


def enrolled_keys(session: Session, device_id: str) -> Sequence[DevicePublicKey]:
    rows = session.scalars(select(DeviceKey.public_key).where(DeviceKey.device_id == device_id))
    return [parse_public_key(row) for row in rows]


class DatabaseNonceStore:
    """signature.NonceStore in the database, so every server process sees every nonce."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def remember(self, session_key: str, nonce: str, expires: float) -> bool:
        dialect = postgresql if not self._database.is_sqlite else sqlite
        statement = dialect.insert(SeenNonce).values(
            session_key=session_key, nonce=nonce, expires=expires).on_conflict_do_nothing(
        ).returning(SeenNonce.nonce)
        with self._database.transaction() as session:
            now = expires - NONCE_WINDOW_S  # what has expired by now can be forgotten
            session.execute(delete(SeenNonce).where(SeenNonce.expires < now))
            return session.execute(statement).first() is not None

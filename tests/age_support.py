"""Helpers shared by the age interoperability tests."""

from __future__ import annotations

import io

from bodycam.firmware.evidence.age import AgeEncryptor
from bodycam.firmware.evidence.age.keys import parse_recipient


def ours_encrypt(data: bytes, recipients: list[str]) -> bytes:
    """`data` as an age file to `recipients`, written by the camera's encryptor."""
    out = io.BytesIO()
    encryptor = AgeEncryptor([parse_recipient(r) for r in recipients], out.write)
    encryptor.write(data)
    encryptor.close()
    return out.getvalue()

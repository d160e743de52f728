"""Signed provisioning files for the tests: the agency key and signatures beside files.

The camera accepts only signed files, so every test that provisions signs with AGENCY
(one key for the whole run, as an agency has one). Serials come from a counter, so each
signature is newer than the one before, as real signing times are.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from bodycam.firmware.device.provisioning_signature import (
    FLEET,
    SIGNATURE_SUFFIX,
    public_key_file,
    sign,
)

AGENCY = Ed25519PrivateKey.generate()
_SERIALS = itertools.count(20250101000000)


def next_serial() -> int:
    return next(_SERIALS)


def signature_bytes(name: str, data: bytes, *, key: Ed25519PrivateKey = AGENCY,
                    serial: int | None = None, device: str = FLEET) -> bytes:
    """The .sig file content for `data` read by the camera as `name`."""
    return sign(key, name, data, next_serial() if serial is None else serial,
                device).render()


def sign_beside(path: Path, name: str | None = None, *, key: Ed25519PrivateKey = AGENCY,
                serial: int | None = None, device: str = FLEET) -> Path:
    """Write PATH.sig for the file at `path` (signed as `name`, default its own name)."""
    sig = path.with_name(path.name + SIGNATURE_SUFFIX)
    sig.write_bytes(signature_bytes(name or path.name, path.read_bytes(), key=key,
                                    serial=serial, device=device))
    return sig


def write_key_files(directory: Path, key: Ed25519PrivateKey = AGENCY) -> tuple[Path, Path]:
    """The private key file and its .pub, as `bodycam-provision keygen` makes them."""
    private = directory / "agency.key"
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    private.chmod(0o600)
    public = directory / "agency.key.pub"
    public.write_bytes(public_key_file(key.public_key()))
    return private, public

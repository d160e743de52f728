"""Detached signatures of provisioning files: the agency's Ed25519 key vouches for them.

Anyone who can write the FAT boot partition (any laptop, any OS) could otherwise change
where the evidence is encrypted to. A signature file `NAME.sig` beside each file says,
under the agency's provisioning key: this is the file called NAME, with this SHA-256,
signed as serial S (the camera refuses a serial older than the last it accepted, so an
old file cannot be replayed) for this camera or for the whole fleet (`*`).

The format is fixed, seven short ASCII lines (docs/formats.md, "Provisioning
signatures"), so root on the camera checks it without a parser and third parties can
produce it:

    bodycam-provisioning-signature v1
    file: bodycam.toml
    sha256: <64 lowercase hex digits: SHA-256 of the file's exact bytes>
    serial: <decimal, e.g. the UTC signing time 20250304050607>
    device: <the camera's device id, or * for any camera>
    key: <base64 of the 32-byte Ed25519 public key>
    signature: <base64 of the 64-byte Ed25519 signature of the first six lines>

The signed message is the first six lines exactly as shown, each ending in one LF.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from bodycam.firmware.evidence.public_keys import fingerprint_of

__all__ = [
    "FLEET",
    "FORMAT_LINE",
    "MAX_SIGNATURE_BYTES",
    "SIGNATURE_SUFFIX",
    "KeyFileError",
    "Signature",
    "SignatureFormatError",
    "create_key_file",
    "fingerprint",
    "load_private_key",
    "parse_public_key_file",
    "parse_signature",
    "public_key_file",
    "serial_at",
    "sign",
]

FORMAT_LINE = "bodycam-provisioning-signature v1"
SIGNATURE_SUFFIX = ".sig"
FLEET = "*"  # device line of a signature valid on every camera of the agency
MAX_SIGNATURE_BYTES = 1024  # the real file is about 330 bytes
_FIELDS = ("file", "sha256", "serial", "device", "key", "signature")
_FIELD_FORMS = {
    "file": (re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"), "a file name"),
    "sha256": (re.compile(r"[0-9a-f]{64}"), "64 lowercase hex digits"),
    "serial": (re.compile(r"0|[1-9][0-9]{0,18}"), "a decimal number"),
    "device": (re.compile(r"\*|[A-Za-z0-9-]{1,32}"), "* or a device id"),
    "key": (re.compile(r"[A-Za-z0-9+/]{43}="), "base64 of a 32-byte Ed25519 key"),
    "signature": (re.compile(r"[A-Za-z0-9+/]{86}=="), "base64 of a 64-byte signature"),
}
_KEY_MODE = 0o600


class SignatureFormatError(ValueError):
    """The signature file is not in the format above; the message names the line."""


class KeyFileError(ValueError):
    """A key file cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class Signature:
    """One parsed signature file. `valid_for` checks it against the file it signs."""

    file: str
    sha256: str
    serial: int
    device: str
    key: Ed25519PublicKey
    signature: bytes

    @property
    def signer(self) -> str:
        """The signing key's fingerprint (first 16 hex digits of SHA-256 of the raw key)."""
        return fingerprint(self.key)

    def message(self) -> bytes:
        """The exact bytes the Ed25519 signature covers."""
        return _message(self.file, self.sha256, self.serial, self.device, self.key)

    def render(self) -> bytes:
        sig = base64.b64encode(self.signature).decode("ascii")
        return self.message() + f"signature: {sig}\n".encode("ascii")

    def problem(self, name: str, data: bytes) -> str | None:
        """Why this signature does not vouch for `data` found as `name`, or None."""
        if self.file != name:
            return (f"the signature is for a file named {self.file}, not {name}: a signature "
                    "binds the name the camera reads; sign this file as "
                    f"{name} (bodycam-provision sign --as {name})")
        if hashlib.sha256(data).hexdigest() != self.sha256:
            return (f"{name} is not the file that was signed (its SHA-256 differs): it "
                    "was changed after signing, or the .sig belongs to another version; "
                    "sign it again")
        try:
            self.key.verify(self.signature, self.message())
        except InvalidSignature:
            return (f"the signature of {name} does not verify: the .sig file was altered "
                    "or made wrongly; sign the file again with bodycam-provision sign")
        return None


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 of the raw key, as for device keys."""
    return fingerprint_of(_raw(key))


def _message(name: str, sha256: str, serial: int, device: str, key: Ed25519PublicKey) -> bytes:
    key_b64 = base64.b64encode(_raw(key)).decode("ascii")
    lines = (FORMAT_LINE, f"file: {name}", f"sha256: {sha256}", f"serial: {serial}",
             f"device: {device}", f"key: {key_b64}")
    return "".join(f"{line}\n" for line in lines).encode("ascii")


def sign(private: Ed25519PrivateKey, name: str, data: bytes, serial: int,
         device: str = FLEET) -> Signature:
    """The signature of `data` under the boot-partition name `name`."""
    digest = hashlib.sha256(data).hexdigest()
    for field, value in (("file", name), ("serial", str(serial)), ("device", device)):
        pattern, form = _FIELD_FORMS[field]
        if not pattern.fullmatch(value):
            raise ValueError(f"{field} {value!r} is not {form}")
    key = private.public_key()
    return Signature(name, digest, serial, device, key,
                     private.sign(_message(name, digest, serial, device, key)))


def serial_at(when: datetime) -> int:
    """The serial a signature made at `when` (UTC) gets: YYYYMMDDHHMMSS as a number, so
    later signatures have larger serials and a person can read when it was signed."""
    return int(when.strftime("%Y%m%d%H%M%S"))


def parse_signature(data: bytes) -> Signature:
    """Parse a signature file (LF or CRLF line ends). Raises SignatureFormatError."""
    if len(data) > MAX_SIGNATURE_BYTES:
        raise SignatureFormatError(f"{len(data)} bytes; a signature file has about 330")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise SignatureFormatError("not ASCII text; it is not a signature file") from None
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != FORMAT_LINE:
        raise SignatureFormatError(f"line 1 must be {FORMAT_LINE!r}")
    if len(lines) != 1 + len(_FIELDS):
        raise SignatureFormatError(f"{len(lines)} lines; a signature file has "
                                   f"{1 + len(_FIELDS)}")
    values: dict[str, str] = {}
    for number, (field, line) in enumerate(zip(_FIELDS, lines[1:], strict=True), start=2):
        pattern, form = _FIELD_FORMS[field]
        prefix = f"{field}: "
        if not line.startswith(prefix) or not pattern.fullmatch(line[len(prefix):]):
            raise SignatureFormatError(f"line {number} must be '{field}: ' and {form}")
        values[field] = line[len(prefix):]
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(values["key"]))
    return Signature(values["file"], values["sha256"], int(values["serial"]),
                     values["device"], key, base64.b64decode(values["signature"]))


# ------------------------------------------------------------------------ key files


def create_key_file(path: Path) -> Ed25519PrivateKey:
    """A new provisioning key in `path` (PKCS#8 PEM, mode 0600); never overwrites."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 _KEY_MODE)
    with os.fdopen(fd, "wb") as stream:
        stream.write(pem)
    return private


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The provisioning key in `path` (as made by `bodycam-provision keygen`)."""
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise KeyFileError(f"{path} is not a provisioning key (an Ed25519 PEM private key "
                           "made by `bodycam-provision keygen`)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}, not an Ed25519 key; "
                           "make one with `bodycam-provision keygen`")
    return key


def public_key_file(key: Ed25519PublicKey) -> bytes:
    """The public half as the camera pins it (/etc/bodycam/provisioning-key.pub)."""
    return (f"# bodycam provisioning key (public), fingerprint {fingerprint(key)}\n"
            f"{base64.b64encode(_raw(key)).decode('ascii')}\n").encode("ascii")


def parse_public_key_file(data: bytes) -> Ed25519PublicKey:
    """The key in a public key file: one base64 line, `#` comment lines ignored."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = ""
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    try:
        raw = base64.b64decode(lines[0], validate=True) if len(lines) == 1 else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise KeyFileError("not a provisioning public key: expected one line with the "
                           "base64 of a 32-byte Ed25519 key (the .pub file made by "
                           "`bodycam-provision keygen`)")
    return Ed25519PublicKey.from_public_bytes(raw)

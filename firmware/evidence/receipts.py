"""Statements the evidence server signs for the camera: receipts and the time.

One form for all (docs/offload-protocol.md): a JSON object whose `format` names what it
is, `server_key` the signing key, and `sig` the Ed25519 signature over the format name,
a newline and the canonical JSON of every other field. Naming the format inside what is
signed keeps a receipt from being passed off as a time statement or the other way round.
The server signs (server/), the camera verifies against the key it pinned
(firmware/offload/), and a custodian can check a receipt the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from bodycam.firmware.evidence.signed_log import canonical_json

__all__ = [
    "AUDIT_RECEIPT_FORMAT",
    "RECEIPT_FORMAT",
    "TIME_FORMAT",
    "StatementError",
    "parse_statement",
    "sign_statement",
    "verify_statement",
]

RECEIPT_FORMAT: Final = "bodycam-receipt/1"
AUDIT_RECEIPT_FORMAT: Final = "bodycam-audit-receipt/1"
TIME_FORMAT: Final = "bodycam-time/1"
_MAX_STATEMENT: Final = 64 * 1024


class StatementError(ValueError):
    """A statement that is not what it claims, or not signed by the expected key."""


def _signed_part(statement: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in statement.items() if k != "sig"}
    return f"{statement['format']}\n".encode() + canonical_json(body)


def sign_statement(key: Ed25519PrivateKey, fmt: str, fields: Mapping[str, Any]
                   ) -> dict[str, Any]:
    """The statement `fields` as `fmt`, signed by `key` (the server's)."""
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode("ascii")
    statement: dict[str, Any] = {**fields, "format": fmt, "server_key": public}
    statement["sig"] = base64.b64encode(key.sign(_signed_part(statement))).decode("ascii")
    return statement


def parse_statement(data: bytes | bytearray) -> object:
    """A statement's JSON, unverified and of any shape (bounded: a card or a server may
    hand over anything); StatementError when it is not JSON."""
    if len(data) > _MAX_STATEMENT:
        raise StatementError(f"a statement of {len(data)} bytes is not a receipt")
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise StatementError("not a JSON statement") from None
    return parsed


def verify_statement(data: bytes | Mapping[str, Any], fmt: str, server_key: str
                     ) -> dict[str, Any]:
    """The statement, if it is a `fmt` signed by `server_key` (base64 raw Ed25519);
    StatementError says what is wrong otherwise. Never trusts the key it names itself."""
    parsed = parse_statement(data) if isinstance(data, bytes | bytearray) else dict(data)
    if not isinstance(parsed, dict) or parsed.get("format") != fmt:
        raise StatementError(f"not a {fmt} statement")
    if parsed.get("server_key") != server_key:
        raise StatementError("signed by another server than the one this camera pins "
                             "(offload.server_key)")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(server_key, validate=True))
        signature = base64.b64decode(str(parsed.get("sig", "")), validate=True)
        key.verify(signature, _signed_part(parsed))
    except (binascii.Error, ValueError, InvalidSignature, TypeError):
        raise StatementError("its signature does not verify under the pinned server key "
                             "(forged or altered)") from None
    return parsed

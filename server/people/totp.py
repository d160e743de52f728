"""The second factor: TOTP (RFC 6238; SHA-1, 6 digits, 30 s, as every authenticator
app reads it), with cryptography's implementation.

A code is accepted for the time step before and after the current one (clock drift of a
phone), and never twice: the step accepted last is stored, and a code for that step or
an earlier one is refused (RFC 6238, section 5.2), so a code read over a shoulder or
from a proxy log cannot be replayed.
"""

from __future__ import annotations

import base64
import secrets
from typing import Final
from urllib.parse import quote

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

__all__ = ["DIGITS", "STEP_S", "code_at", "matching_step", "new_secret", "provisioning_uri"]

DIGITS: Final = 6
STEP_S: Final = 30
_DRIFT_STEPS: Final = 1
_SECRET_BYTES: Final = 20  # 160 bits, RFC 4226's recommendation for SHA-1


def new_secret() -> str:
    """Base32 without padding: what authenticator apps take."""
    return base64.b32encode(secrets.token_bytes(_SECRET_BYTES)).decode().rstrip("=")


def _totp(secret: str) -> TOTP:
    padded = secret + "=" * (-len(secret) % 8)
    return TOTP(base64.b32decode(padded), DIGITS, SHA1(), STEP_S, enforce_key_length=False)


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    """otpauth:// URI for a QR code or for typing into an app."""
    return _totp(secret).get_provisioning_uri(quote(username, safe="@."), issuer)


def code_at(secret: str, at: float) -> str:
    """The code an authenticator app shows at time `at` (for the demo's sign-ins)."""
    return _totp(secret).generate(at).decode()


def matching_step(secret: str, code: str, now: float, last_step: int | None) -> int | None:
    """The time step `code` is valid for (near `now`), or None: wrong, malformed, or
    already used (a step not after `last_step`)."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = _totp(secret)
    current = int(now) // STEP_S
    for step in range(current - _DRIFT_STEPS, current + _DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate(step * STEP_S), code.encode()):
            return step
    return None

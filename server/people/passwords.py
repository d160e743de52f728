"""Passwords: argon2id hashes (argon2-cffi, RFC 9106's low-memory profile) and the
few rules a password must meet.

The rules follow NIST SP 800-63B: long enough, not absurdly long (hashing a megabyte is
a cheap way to burn a server's CPU), not the username; no composition rules.
"""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "PasswordError", "check_password", "hash_password",
           "needs_rehash", "verify_password"]

MIN_LENGTH: Final = 12
MAX_LENGTH: Final = 256
_HASHER: Final = PasswordHasher()  # argon2id, RFC 9106 low-memory parameters
# Verified against when the username is unknown, so an unknown name costs the same time.
_DUMMY: Final = _HASHER.hash("no such user: the same work as a real check")


class PasswordError(ValueError):
    """The password breaks a rule; the message says which and what would do."""


def check_password(password: str, username: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"the password has {len(password)} characters; give at least "
                            f"{MIN_LENGTH} (a phrase of several words is easiest)")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"the password is longer than {MAX_LENGTH} characters; give a "
                            "shorter one")
    if password.strip().casefold() == username.casefold():
        raise PasswordError("the password is the username; choose another")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True if `password` matches `stored`; with no stored hash the same work is done and
    False returned. Over-long input is refused before any hashing."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """After a successful sign-in: the hash was made with weaker parameters than now."""
    return _HASHER.check_needs_rehash(stored)

"""The custody services' refusal of bad input (not an access rule): what is wrong and
the fix, in one message. A ValueError, so every entry point already shows it."""

from __future__ import annotations

__all__ = ["CustodyError"]


class CustodyError(ValueError):
    """Bad input or a state that forbids the change; the message names the fix."""

"""The key holder's memory of grants it honoured: nonces (replay) and times (rate limit).

A SQLite file in the key holder's directory, so a restart forgets nothing: a grant used
before the restart is still refused after it. A nonce is kept until its grant expired
plus the clock skew the key holder allows; after that the grant is refused as expired
anyway. The same file serves the socket service and the offline `unwrap` command, so
the rate limit counts both.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bodycam.server.keyholder.errors import RefusedError

__all__ = ["GrantMemory", "RateLimits"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS used_grants (
    nonce TEXT PRIMARY KEY,
    requested_by TEXT NOT NULL,
    used_at REAL NOT NULL,
    forget_after REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS used_grants_time ON used_grants (used_at);
"""
_WINDOW = 60.0


@dataclass(frozen=True)
class RateLimits:
    """Grants per minute: per person who asked, and in all."""

    per_person: int = 30
    total: int = 300


class GrantMemory:
    def __init__(self, path: Path, limits: RateLimits) -> None:
        self._limits = limits
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
        self._db.executescript(_SCHEMA)

    def check_rate(self, requested_by: str, now: float) -> None:
        """RefusedError("rate_limited") when one more grant now would exceed a limit."""
        since = now - _WINDOW
        mine, everyone = self._db.execute(
            "SELECT COALESCE(SUM(requested_by = ?), 0), COUNT(*) FROM used_grants "
            "WHERE used_at > ?", (requested_by, since)).fetchone()
        if mine >= self._limits.per_person:
            raise RefusedError("rate_limited", f"{requested_by} had {mine} grants opened in "
                               f"the last minute, the most the key holder allows one person "
                               f"({self._limits.per_person}). Fix: wait a minute; if this is "
                               "normal work, raise rate_per_person in keyholder.toml")
        if everyone >= self._limits.total:
            raise RefusedError("rate_limited", f"{everyone} grants were opened in the last "
                               f"minute, the most the key holder allows ({self._limits.total}). "
                               "Fix: wait a minute; if this is normal work, raise rate_total "
                               "in keyholder.toml")

    def seen(self, nonce: str) -> bool:
        """The nonce was used (a cheap early answer; `use` is the atomic one)."""
        row = self._db.execute("SELECT 1 FROM used_grants WHERE nonce = ?", (nonce,))
        return row.fetchone() is not None

    def use(self, nonce: str, requested_by: str, now: float, forget_after: float) -> None:
        """Remember the nonce; RefusedError("replayed") if it was used before (atomic: of two
        processes presenting one grant at once, one wins)."""
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("DELETE FROM used_grants WHERE forget_after < ?", (now,))
                self._db.execute("INSERT INTO used_grants VALUES (?, ?, ?, ?)",
                                 (nonce, requested_by, now, forget_after))
        except sqlite3.IntegrityError:
            raise RefusedError("replayed", "this grant was used before (its nonce is on record); "
                               "each grant opens once. Fix: ask the evidence server for a new "
                               "grant") from None

    def close(self) -> None:
        self._db.close()

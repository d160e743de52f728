"""Failed sign-ins slow down and then lock out, per account and per client address.

Counted in the database with atomic increments, so several `serve` processes share one
count (an attacker gains nothing by spreading guesses over them). Per account: three
free mistakes, then a wait that doubles (1 s, 2 s, ... at most 60 s), and after ten in a
row a 15-minute lockout that any further failure renews; only a successful sign-in or an
administrator (`bodycam-server user unlock`) clears it. Per address (guessing across many
accounts): the same after more failures, and forgotten after a quiet day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bodycam.server.people.models import SignInThrottle

__all__ = ["ACCOUNT", "ADDRESS", "Policy", "Wait", "clear", "record_failure", "waiting"]


@dataclass(frozen=True)
class Policy:
    prefix: str
    free: int  # failures in a row that cost nothing
    lockout: int  # failures in a row that lock
    lock_s: float
    max_delay_s: float
    forget_s: float | None  # a quiet period after which the count starts again

    def key(self, name: str) -> str:
        return f"{self.prefix}:{name}"[:160]

    def delay(self, failures: int) -> float:
        if failures <= self.free:
            return 0.0
        return float(min(2 ** (failures - self.free - 1), self.max_delay_s))


ACCOUNT: Final = Policy("user", free=3, lockout=10, lock_s=900, max_delay_s=60,
                        forget_s=None)
ADDRESS: Final = Policy("address", free=10, lockout=50, lock_s=900, max_delay_s=60,
                        forget_s=86_400)


@dataclass(frozen=True)
class Wait:
    """Why no attempt is taken now, and for how long."""

    locked: bool
    seconds: float
    failures: int


def waiting(session: Session, keys: list[str], now: float) -> Wait | None:
    """The longest wait any of `keys` is under, or None if an attempt may be made."""
    worst: Wait | None = None
    for row in session.scalars(select(SignInThrottle).where(SignInThrottle.key.in_(keys))):
        locked = row.locked_until > now
        until = row.locked_until if locked else row.not_before
        if until > now and (worst is None or until - now > worst.seconds):
            worst = Wait(locked, until - now, row.failures)
    return worst


def record_failure(session: Session, policy: Policy, name: str, now: float) -> int:
    """Count one more failure; returns the count (== policy.lockout or more: locked)."""
    key = policy.key(name)
    dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
    session.execute(dialect.insert(SignInThrottle).values(
        key=key, failures=0, not_before=0.0, locked_until=0.0, last_failure=now
    ).on_conflict_do_nothing())
    count = SignInThrottle.failures + 1
    if policy.forget_s is not None:
        count = case((SignInThrottle.last_failure < now - policy.forget_s, 1), else_=count)
    failures: int = session.execute(
        update(SignInThrottle).where(SignInThrottle.key == key)
        .values(failures=count, last_failure=now).returning(SignInThrottle.failures)
    ).scalar_one()
    locked_until = now + policy.lock_s if failures >= policy.lockout else 0.0
    session.execute(update(SignInThrottle).where(SignInThrottle.key == key).values(
        not_before=now + policy.delay(failures), locked_until=locked_until))
    return failures


def clear(session: Session, policy: Policy, name: str) -> None:
    session.execute(delete(SignInThrottle).where(SignInThrottle.key == policy.key(name)))

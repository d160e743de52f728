"""The one gate every entry point passes through (web pages, JSON API, command line).

Work is done inside `Access.transaction(actor, action)`; in it, `authorise` decides by
the hard rules and the actor's roles as the database holds them now. A refusal rolls the
work back and is then put in the audit log with the rule that was hit, in a transaction
of its own (SQLite has one writer: the record waits until the refused work is gone).
What is done is recorded in the same transaction as the work (`audit.add`), so a change
and its record are committed together or not at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bodycam.server.access.models import RolePermission, UserRole
from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import AccessError, Actor, Target, decide
from bodycam.server.audit.trail import REFUSED, AuditTrail
from bodycam.server.context import ServerContext
from bodycam.server.database.engine import Database
from bodycam.server.people.models import User
from bodycam.server.people.secret_box import SecretBox, load_box

__all__ = ["Access", "Work", "permissions_of"]


def permissions_of(session: Session, user_id: int, without_role: str | None = None
                   ) -> frozenset[Permission]:
    """The union of the permission sets of the user's roles (unknown names ignored: a
    permission this version does not know grants nothing)."""
    query = select(RolePermission.permission).join(
        UserRole, UserRole.role == RolePermission.role).where(UserRole.user_id == user_id)
    if without_role is not None:
        query = query.where(UserRole.role != without_role)
    known = {p.value for p in Permission}
    return frozenset(Permission(row) for row in session.scalars(query) if row in known)


@dataclass(frozen=True)
class Work:
    """One piece of authorised work: the gate, the transaction, who, and when."""

    access: Access
    session: Session
    actor: Actor
    now: float

    def authorise(self, action: Permission, target: Target | None = None) -> None:
        self.access.authorise(self.actor, action, target)

    def record(self, kind: str, **details: Any) -> None:
        """Recorded with the work (committed together or not at all)."""
        self.access.audit.add(self.session, kind, self.actor.name, **details)


@dataclass(frozen=True)
class Access:
    database: Database
    audit: AuditTrail
    clock: Callable[[], float]
    identity_dir: Path

    def box(self) -> SecretBox:
        """What seals the TOTP keys (ValueError naming the fix if its key is missing)."""
        return load_box(self.identity_dir)

    def actor(self, session: Session, user_id: int) -> Actor:
        """The actor as the database says now (a role revoked a second ago counts)."""
        user = session.get(User, user_id)
        if user is None or user.disabled:
            raise AccessError("account_disabled", "this account is disabled or gone; ask an "
                          "administrator")
        return Actor(user.id, user.username, permissions_of(session, user.id))

    def authorise(self, actor: Actor, action: Permission, target: Target | None = None
                  ) -> None:
        """Inside transaction(): returns if allowed, raises AccessError otherwise."""
        decide(actor, action, target)

    @contextlib.contextmanager
    def transaction(self, actor: str, action: str) -> Iterator[Session]:
        """A database transaction whose AccessError is rolled back, then recorded."""
        try:
            with self.database.transaction() as session:
                yield session
        except AccessError as exc:
            target = exc.target or Target()
            self.audit.record("refused", actor, outcome=REFUSED, rule=exc.rule,
                              action=action, recording=target.recording_id,
                              user=target.user_id, message=exc.message)
            raise

    @contextlib.contextmanager
    def work(self, actor: Actor | int, action: str) -> Iterator[Work]:
        """transaction() for an actor, or a user id: their roles as the database holds
        them at the start of the work (refusals are recorded under their username)."""
        if not isinstance(actor, Actor):
            with self.database.transaction() as session:
                actor = self.actor(session, actor)
        with self.transaction(actor.name, action) as session:
            yield Work(self, session, actor, self.clock())

    @classmethod
    def of(cls, context: ServerContext) -> Access:
        return cls(context.database, AuditTrail.of(context), context.clock,
                   context.settings.identity_dir)

"""Changing roles: who holds which, and what a role permits; the agency's to adjust,
within the hard rules. Each change is authorised, checked against every person it
affects, and recorded with the change. Call these inside `Access.transaction`."""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bodycam.server.access.models import Role, RolePermission, UserRole
from bodycam.server.access.permissions import DEFAULT_ROLES, Permission
from bodycam.server.access.rules import AccessError, Target, mixes_administration
from bodycam.server.access.service import Work, permissions_of
from bodycam.server.people.models import User

__all__ = ["check_holder", "grant_role", "revoke_role", "role_names", "seed_default_roles",
           "set_role_permissions"]

_NAME: Final = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_MIXED: Final = ("administration and evidence permissions never go together: an "
                 "administrator has no access to evidence. Fix: give these to two roles "
                 "held by different people")


def role_names(session: Session) -> list[str]:
    return list(session.scalars(select(Role.name).order_by(Role.name)))


def seed_default_roles(session: Session) -> None:
    """SYSTEM.md's starting roles, where the database has no role of that name."""
    for name, (description, permissions) in DEFAULT_ROLES.items():
        if session.get(Role, name) is None:
            session.add(Role(name=name, description=description))
            session.flush()
            session.add_all(RolePermission(role=name, permission=p.value)
                            for p in permissions)
    session.flush()


def check_holder(user: User, permissions: frozenset[Permission]) -> None:
    """AccessError if a person holding `permissions` would break a hard rule."""
    target = Target(user_id=user.id)
    if mixes_administration(permissions):
        raise AccessError("administrator_no_evidence", f"{user.username} would hold both: "
                      + _MIXED, target)
    if permissions and user.totp_secret is None:
        raise AccessError("second_factor_required", f"{user.username} has no second factor, "
                      "and every account that touches evidence or settings needs one. Fix: "
                      "`bodycam-server user reset-second-factor` gives the account one", target)


def _role_permissions(session: Session, role: str) -> frozenset[Permission]:
    return frozenset(Permission(p) for p in session.scalars(
        select(RolePermission.permission).where(RolePermission.role == role)))


def grant_role(work: Work, user: User, role: str) -> None:
    session = work.session
    work.authorise(Permission.USERS, Target(user_id=user.id))
    if session.get(Role, role) is None:
        raise ValueError(f"no role {role!r}; the roles are: {', '.join(role_names(session))}")
    if session.get(UserRole, (user.id, role)) is not None:
        return
    check_holder(user, permissions_of(session, user.id) | _role_permissions(session, role))
    session.add(UserRole(user_id=user.id, role=role, granted_by=work.actor.name,
                         granted_at=work.now))
    work.record("role_granted", user=user.username, role=role)


def revoke_role(work: Work, user: User, role: str) -> None:
    """The person no longer holds `role` (from their next request on)."""
    work.authorise(Permission.USERS, Target(user_id=user.id))
    held = work.session.get(UserRole, (user.id, role))
    if held is None:
        raise ValueError(f"{user.username} does not hold role {role!r}")
    work.session.delete(held)
    work.record("role_revoked", user=user.username, role=role)


def set_role_permissions(work: Work, role: str, permissions: frozenset[Permission],
                         description: str = "") -> None:
    """Create a role or replace its permission set; refused if it, or any person holding
    it, would break a hard rule."""
    session, actor = work.session, work.actor
    work.authorise(Permission.ROLES)
    if not _NAME.fullmatch(role):
        raise ValueError(f"role name {role!r}: use 1 to 64 lower-case letters, digits, "
                         "'-' or '_', starting with a letter")
    if mixes_administration(permissions):
        raise AccessError("administrator_no_evidence", f"role {role}: " + _MIXED)
    holders = session.scalars(select(User).join(UserRole, UserRole.user_id == User.id)
                              .where(UserRole.role == role))
    for user in holders:
        if user.id == actor.user_id:
            raise AccessError("no_self_change", f"{actor.name} holds role {role} and cannot "
                          "change what it permits; another administrator must")
        check_holder(user, permissions_of(session, user.id, without_role=role) | permissions)
    existing = session.get(Role, role)
    if existing is None:
        session.add(Role(name=role, description=description))
        session.flush()
    elif description:
        existing.description = description
    session.execute(delete(RolePermission).where(RolePermission.role == role))
    session.add_all(RolePermission(role=role, permission=p.value) for p in permissions)
    work.record("role_changed", role=role, permissions=sorted(p.value for p in permissions))

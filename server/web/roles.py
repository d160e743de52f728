"""The administrator's roles page: what each role permits, changed as a whole set per
role (set_role_permissions checks every holder against the hard rules), and new roles.
Who holds a role is changed on the users page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bodycam.server.access.models import Role, RolePermission, UserRole
from bodycam.server.access.permissions import ADMINISTRATION, Permission, parse_permissions
from bodycam.server.access.roles import set_role_permissions
from bodycam.server.access.service import Work
from bodycam.server.web.frame import Visitor, poster, visitor

__all__ = ["router"]

router = APIRouter(prefix="/admin/roles", include_in_schema=False)


@dataclass(frozen=True)
class RoleRow:
    name: str
    description: str
    permissions: frozenset[str]
    holders: int


def _roles(session: Session) -> list[RoleRow]:
    granted: dict[str, set[str]] = {}
    for role, permission in session.execute(select(RolePermission.role,
                                                   RolePermission.permission)):
        granted.setdefault(role, set()).add(permission)
    holders = {role: count for role, count in session.execute(
        select(UserRole.role, func.count()).group_by(UserRole.role))}
    return [RoleRow(r.name, r.description, frozenset(granted.get(r.name, ())),
                    holders.get(r.name, 0))
            for r in session.scalars(select(Role).order_by(Role.name))]


def _read(work: Work) -> dict[str, Any]:
    return {"roles": _roles(work.session),
            "permissions": [(p.value, p in ADMINISTRATION) for p in Permission]}


def _listing(person: Visitor, **outcome: Any) -> HTMLResponse:
    return person.listing(Permission.ROLES, "roles.html", _read, **outcome)


@router.get("")
def roles(person: Annotated[Visitor, Depends(visitor)]) -> HTMLResponse:
    return _listing(person)


@router.post("")
def change(person: Annotated[Visitor, Depends(poster)],
           role: Annotated[str, Form(max_length=64)],
           permissions: Annotated[list[str] | None, Form()] = None,
           description: Annotated[str, Form(max_length=500)] = "") -> HTMLResponse:
    """Create a role, or replace what it permits (the whole set, as ticked)."""
    name, ticked = role.strip(), sorted(permissions or [])

    def save(work: Work) -> dict[str, Any]:
        set_role_permissions(work, name, parse_permissions(ticked), description.strip())
        return {"notice": f"Role {name} now permits: {', '.join(ticked) or 'nothing'}."}
    return person.attempt("role.change", save, lambda **outcome: _listing(person, **outcome))

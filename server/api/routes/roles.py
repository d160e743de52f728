"""/api/v1/roles: the agency's roles and what each permits (role.manage). A change is
refused if the role, or anyone holding it, would break a hard rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from bodycam.server.access.models import Role, RolePermission
from bodycam.server.access.permissions import Permission, parse_permissions
from bodycam.server.access.roles import set_role_permissions
from bodycam.server.access.service import Work
from bodycam.server.api.auth import CallerDep
from bodycam.server.api.work import ERRORS, perform

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/roles", tags=["roles"], responses=ERRORS)
RoleName = Annotated[str, Path(min_length=1, max_length=64)]


class RoleOut(BaseModel):
    name: str
    description: str
    permissions: list[str]


class RoleIn(BaseModel):
    permissions: list[Annotated[str, Field(max_length=64)]] = Field(max_length=40)
    description: str = Field(default="", max_length=500)


def _roles(work: Work, name: str | None = None) -> list[RoleOut]:
    work.authorise(Permission.ROLES)
    query = select(Role).order_by(Role.name)
    if name is not None:
        query = query.where(Role.name == name)
    return [RoleOut(name=role.name, description=role.description, permissions=sorted(
        work.session.scalars(select(RolePermission.permission).where(
            RolePermission.role == role.name))))
        for role in work.session.scalars(query)]


@router.get("")
def every_role(request: Request, caller: CallerDep) -> list[RoleOut]:
    return perform(request, caller, "role.list", _roles)


@router.put("/{name}")
def set_role(name: RoleName, body: RoleIn, request: Request, caller: CallerDep) -> RoleOut:
    """Create a role or replace what it permits (the permission names: GET
    /api/v1/roles, or the enum in this description)."""
    def job(work: Work) -> RoleOut:
        set_role_permissions(work, name, parse_permissions(body.permissions),
                             body.description)
        return _roles(work, name)[0]
    return perform(request, caller, "role.change", job)

"""The permissions an agency combines into roles, and the default roles it starts with.

Permissions fall into groups because the hard rules speak of groups: whoever administers
(users, roles, devices, retention) holds nothing of the evidence group, whatever the
agency configures. A permission is a stable string stored in the database.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

__all__ = ["ADMINISTRATION", "DEFAULT_ROLES", "EVIDENCE", "Permission", "parse_permissions"]


class Permission(StrEnum):
    VIEW = "recording.view"  # view with a reason (always audited)
    VIEW_OWN = "recording.view_own"  # a wearer's own recordings, for report writing
    SEARCH = "recording.search"  # list and search recordings (metadata, no picture)
    CATEGORISE = "recording.categorise"
    NOTE = "recording.note"
    EXPORT = "recording.export"  # export and share with the prosecutor
    CASES = "case.manage"
    HOLD = "hold.manage"
    REQUEST_DELETION = "deletion.request"
    APPROVE_DELETION = "deletion.approve"
    USERS = "user.manage"
    ROLES = "role.manage"
    DEVICES = "device.manage"
    ASSIGN = "device.assign"
    RETENTION = "retention.manage"
    AUDIT = "audit.read"


EVIDENCE: Final = frozenset({
    Permission.VIEW, Permission.VIEW_OWN, Permission.SEARCH, Permission.CATEGORISE,
    Permission.NOTE, Permission.EXPORT, Permission.CASES, Permission.HOLD,
    Permission.REQUEST_DELETION, Permission.APPROVE_DELETION})
ADMINISTRATION: Final = frozenset({
    Permission.USERS, Permission.ROLES, Permission.DEVICES, Permission.ASSIGN,
    Permission.RETENTION})

# SYSTEM.md's starting point; the agency may change every set but the hard rules.
DEFAULT_ROLES: Final[dict[str, tuple[str, frozenset[Permission]]]] = {
    "wearer": ("wears a camera; nothing on recordings by default", frozenset()),
    "reviewer": ("views with a reason, categorises, adds notes, requests deletion",
                 frozenset({Permission.VIEW, Permission.CATEGORISE, Permission.NOTE,
                            Permission.REQUEST_DELETION, Permission.SEARCH})),
    "custodian": ("cases, legal hold, export and share with the prosecutor",
                  frozenset({Permission.CASES, Permission.HOLD, Permission.EXPORT,
                             Permission.REQUEST_DELETION, Permission.SEARCH})),
    "approver": ("approves or rejects deletion requests (e.g. data-protection officer)",
                 frozenset({Permission.APPROVE_DELETION, Permission.SEARCH})),
    "administrator": ("users, roles, devices, retention categories; no access to evidence",
                      ADMINISTRATION),
    "auditor": ("reads the audit log and the reports, nothing else",
                frozenset({Permission.AUDIT})),
}


def parse_permissions(names: list[str] | tuple[str, ...]) -> frozenset[Permission]:
    """ValueError naming the unknown permission and the known ones."""
    known = {p.value for p in Permission}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown permission {unknown[0]!r}; the permissions are: "
                         f"{', '.join(sorted(known))}")
    return frozenset(Permission(n) for n in names)

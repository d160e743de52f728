"""The navigation: only the places the signed-in person's permissions open. (A link
left out is a courtesy; the gate behind each page is Access.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bodycam.server.access.permissions import Permission

__all__ = ["Link", "menu"]


@dataclass(frozen=True)
class Link:
    label: str
    path: str
    current: bool


_PLACES: Final[tuple[tuple[str, str, frozenset[Permission]], ...]] = (
    ("Dashboard", "/", frozenset()),
    ("Recordings", "/recordings", frozenset({Permission.SEARCH})),
    ("Cases", "/cases", frozenset({Permission.SEARCH, Permission.CASES})),
    ("Deletion requests", "/deletions",
     frozenset({Permission.REQUEST_DELETION, Permission.APPROVE_DELETION})),
    ("Users", "/admin/users", frozenset({Permission.USERS})),
    ("Roles", "/admin/roles", frozenset({Permission.ROLES})),
    ("Devices", "/admin/devices", frozenset({Permission.DEVICES, Permission.ASSIGN})),
    ("Retention", "/admin/retention", frozenset({Permission.RETENTION})),
    ("Audit log", "/audit", frozenset({Permission.AUDIT})),
)


def menu(permissions: frozenset[Permission], path: str) -> list[Link]:
    """The links for `permissions`; the one whose section `path` is in is current."""
    links = []
    for label, target, needs in _PLACES:
        if needs and not needs & permissions:
            continue
        here = path == target if target == "/" else (path == target
                                                      or path.startswith(target + "/"))
        links.append(Link(label, target, here))
    return links

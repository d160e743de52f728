"""The hard rules, as one pure decision: may this actor do this to this target?

The agency configures permission sets; these rules hold whatever it configures, and they
are checked on every call, not only when roles are edited (a role edited in the database
by hand changes nothing):

- administrator_no_evidence: whoever holds an administration permission holds no
  evidence permission, and is refused every evidence action;
- wearer_never_deletes: the person who wore the camera neither requests nor approves the
  deletion of the recording, and a request the wearer made cannot be approved;
- wearer_unknown: a recording whose wearer is not on record cannot be deleted by hand
  (nobody could show the rule above was kept);
- four_eyes: the requester of a deletion never approves it;
- own_recording: a wearer views their own recording only with recording.view_own;
- no_self_change: nobody changes their own account's roles or rights;
- permission: the actor's roles do not grant the action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bodycam.server.access.permissions import ADMINISTRATION, EVIDENCE, Permission

__all__ = ["CONSOLE", "AccessError", "Actor", "Target", "decide", "mixes_administration"]

_DELETION: Final = frozenset({Permission.REQUEST_DELETION, Permission.APPROVE_DELETION})
_ACCOUNTS: Final = frozenset({Permission.USERS, Permission.ROLES})


@dataclass(frozen=True)
class Actor:
    """Who asks: a signed-in person (user_id) or the console (user_id None)."""

    user_id: int | None
    name: str
    permissions: frozenset[Permission]


# The command line on the server: whoever runs it holds the data directory and its keys
# already; it administers (e.g. the first administrator) and never touches evidence.
CONSOLE: Final = Actor(None, "console", ADMINISTRATION)


@dataclass(frozen=True)
class Target:
    """What the action is on. `wearers` None means: not on record (no assignment);
    `wearers_complete` False: part of the recording is covered by no assignment."""

    recording_id: str | None = None
    wearers: frozenset[int] | None = None
    wearers_complete: bool = True
    requested_by: int | None = None
    user_id: int | None = None


class AccessError(Exception):
    """An action the rules forbid; `rule` is the stable name, the message says the fix."""

    def __init__(self, rule: str, message: str, target: Target | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.target = target


def mixes_administration(permissions: frozenset[Permission]) -> bool:
    return bool(permissions & ADMINISTRATION) and bool(permissions & EVIDENCE)


def _deletion(actor: Actor, action: Permission, target: Target) -> None:
    if target.wearers is None or not target.wearers_complete:
        what = "no wearer" if target.wearers is None else "a stretch without a wearer"
        raise AccessError("wearer_unknown", f"recording {target.recording_id} has {what} on "
                      "record, so nobody can show its wearer is not the one deleting it. "
                      "Fix: an administrator records who wore the camera at that time")
    if actor.user_id in target.wearers:
        raise AccessError("wearer_never_deletes", f"{actor.name} wore the camera of recording "
                      f"{target.recording_id}; the wearer never requests or approves its "
                      "deletion. Fix: another person with that role must")
    if action is Permission.APPROVE_DELETION:
        if target.requested_by is not None and target.requested_by in target.wearers:
            raise AccessError("wearer_never_deletes", "this deletion was requested by the "
                          "recording's wearer and can never be approved. Fix: reject it; "
                          "another person may make a new request")
        if target.requested_by == actor.user_id:
            raise AccessError("four_eyes", f"{actor.name} requested this deletion; a different "
                          "person with the approver role must approve or reject it")


def _has(actor: Actor, action: Permission, target: Target) -> bool:
    if action is Permission.VIEW and target.wearers and actor.user_id in target.wearers:
        if Permission.VIEW_OWN not in actor.permissions:
            raise AccessError("own_recording", f"{actor.name} wore the camera of recording "
                          f"{target.recording_id}; wearers do not view their own recordings "
                          "unless the agency grants recording.view_own")
        return True
    return action in actor.permissions


def decide(actor: Actor, action: Permission, target: Target | None = None) -> None:
    """Returns if allowed; raises AccessError naming the rule otherwise."""
    target = target or Target()
    try:
        _decide(actor, action, target)
    except AccessError as exc:
        exc.target = target
        raise


def _decide(actor: Actor, action: Permission, target: Target) -> None:
    if action in EVIDENCE and actor.permissions & ADMINISTRATION:
        raise AccessError("administrator_no_evidence", f"{actor.name} administers this server, "
                      "and administrators have no access to evidence. Fix: a person with "
                      "an evidence role (reviewer, custodian, approver) must do this")
    if action in _DELETION:
        _deletion(actor, action, target)
    if (action in _ACCOUNTS and actor.user_id is not None
            and target.user_id == actor.user_id):
        raise AccessError("no_self_change", f"{actor.name} cannot change their own roles or "
                      "account; another administrator must")
    if not _has(actor, action, target):
        raise AccessError("permission", f"{actor.name} lacks permission {action.value}. Fix: "
                      "an administrator grants a role that has it")

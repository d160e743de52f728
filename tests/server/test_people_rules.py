"""The hard rules as one pure decision (server/access/rules.py), whatever permissions an
agency's roles hand out: every rule, and a property over all permission sets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bodycam.server.access.permissions import (
    ADMINISTRATION,
    DEFAULT_ROLES,
    EVIDENCE,
    Permission,
    parse_permissions,
)
from bodycam.server.access.rules import CONSOLE, AccessError, Actor, Target, decide

EVERYTHING = frozenset(Permission)
WEARER, REQUESTER, APPROVER = 1, 2, 3
RECORDING = Target(recording_id="rec-1", wearers=frozenset({WEARER}), requested_by=REQUESTER)


def rule_of(actor: Actor, action: Permission, target: Target | None = None) -> str | None:
    try:
        decide(actor, action, target)
    except AccessError as exc:
        assert exc.message and exc.target is not None
        return exc.rule
    return None


def evidence_actor(user_id: int, *extra: Permission) -> Actor:
    return Actor(user_id, f"user{user_id}", (EVIDENCE - {Permission.VIEW_OWN}) | set(extra))


def test_the_wearer_never_requests_nor_approves_the_deletion_of_their_recording() -> None:
    wearer = evidence_actor(WEARER)
    for action in (Permission.REQUEST_DELETION, Permission.APPROVE_DELETION):
        assert rule_of(wearer, action, RECORDING) == "wearer_never_deletes"


def test_a_request_made_by_the_wearer_cannot_be_approved_by_anyone() -> None:
    by_wearer = Target("rec-1", frozenset({WEARER}), requested_by=WEARER)
    assert rule_of(evidence_actor(APPROVER), Permission.APPROVE_DELETION,
                   by_wearer) == "wearer_never_deletes"


def test_the_requester_never_approves_their_own_request() -> None:
    assert rule_of(evidence_actor(REQUESTER), Permission.APPROVE_DELETION,
                   RECORDING) == "four_eyes"
    assert rule_of(evidence_actor(APPROVER), Permission.APPROVE_DELETION, RECORDING) is None


def test_a_recording_without_a_wearer_on_record_is_not_deleted_by_hand() -> None:
    unknown = Target("rec-2", wearers=None, requested_by=REQUESTER)
    for action in (Permission.REQUEST_DELETION, Permission.APPROVE_DELETION):
        assert rule_of(evidence_actor(APPROVER), action, unknown) == "wearer_unknown"


def test_an_administrator_is_refused_every_evidence_action_even_if_granted_it() -> None:
    # a database edited by hand (or a bug elsewhere) must not open evidence to admins
    admin = Actor(5, "admin", EVERYTHING)
    for action in EVIDENCE:
        assert rule_of(admin, action, RECORDING) == "administrator_no_evidence"
    for action in EVIDENCE:
        assert rule_of(CONSOLE, action, RECORDING) == "administrator_no_evidence"


def test_a_wearer_views_their_own_recording_only_with_view_own() -> None:
    assert rule_of(evidence_actor(WEARER), Permission.VIEW, RECORDING) == "own_recording"
    allowed = Actor(WEARER, "wearer", frozenset({Permission.VIEW_OWN}))
    assert rule_of(allowed, Permission.VIEW, RECORDING) is None
    other = Target("rec-3", frozenset({9}))
    assert rule_of(allowed, Permission.VIEW, other) == "permission"


def test_a_wearer_never_exports_their_own_recording_whatever_their_roles() -> None:
    assert rule_of(evidence_actor(WEARER), Permission.EXPORT, RECORDING) == "own_recording"
    everything = evidence_actor(WEARER, Permission.VIEW_OWN)
    assert rule_of(everything, Permission.EXPORT, RECORDING) == "own_recording"
    assert rule_of(evidence_actor(APPROVER), Permission.EXPORT, RECORDING) is None


def test_nobody_changes_their_own_roles_or_account() -> None:
    admin = Actor(5, "admin", ADMINISTRATION)
    for action in (Permission.USERS, Permission.ROLES):
        assert rule_of(admin, action, Target(user_id=5)) == "no_self_change"
        assert rule_of(admin, action, Target(user_id=6)) is None


def test_without_the_permission_the_action_is_refused_naming_it() -> None:
    with pytest.raises(AccessError, match=r"lacks permission audit\.read") as caught:
        decide(Actor(7, "reviewer", DEFAULT_ROLES["reviewer"][1]), Permission.AUDIT)
    assert caught.value.rule == "permission"


def test_the_default_roles_keep_the_hard_rules() -> None:
    for _name, (_text, permissions) in DEFAULT_ROLES.items():
        assert not (permissions & ADMINISTRATION and permissions & EVIDENCE)
    assert DEFAULT_ROLES["administrator"][1].isdisjoint(EVIDENCE)


def test_unknown_permission_names_are_refused_with_the_list() -> None:
    with pytest.raises(ValueError, match=r"unknown permission 'recording\.delete'.*audit\.read"):
        parse_permissions(["recording.delete"])


@given(permissions=st.frozensets(st.sampled_from(list(Permission))),
       action=st.sampled_from(list(Permission)),
       wearers=st.one_of(st.none(), st.frozensets(st.integers(1, 4), max_size=3)),
       requested_by=st.one_of(st.none(), st.integers(1, 4)), actor_id=st.integers(1, 4))
def test_no_permission_set_lets_a_wearer_delete_or_an_administrator_touch_evidence(
        permissions: frozenset[Permission], action: Permission,
        wearers: frozenset[int] | None, requested_by: int | None, actor_id: int) -> None:
    actor = Actor(actor_id, "someone", permissions)
    target = Target("rec", wearers, requested_by)
    rule = rule_of(actor, action, target)
    if rule is None:
        assert action in permissions or (action is Permission.VIEW
                                         and Permission.VIEW_OWN in permissions)
        if action in EVIDENCE:
            assert not permissions & ADMINISTRATION
        if action in (Permission.REQUEST_DELETION, Permission.APPROVE_DELETION):
            assert wearers is not None and actor_id not in wearers
        if action is Permission.APPROVE_DELETION:
            assert requested_by != actor_id
            assert wearers is not None and requested_by not in wearers

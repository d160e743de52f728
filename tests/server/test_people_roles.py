"""Roles in the database: the migration's default roles, changing permission sets and
who holds them within the hard rules, and every refusal on record with its rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from people_rig import DATABASES, People, open_people
from sqlalchemy import select

from bodycam.server.access.models import RolePermission, UserRole
from bodycam.server.access.permissions import DEFAULT_ROLES, Permission
from bodycam.server.access.roles import grant_role, set_role_permissions
from bodycam.server.access.rules import CONSOLE, AccessError
from bodycam.server.people.accounts import AccountError, add_user, find_user, unlock_user
from bodycam.server.people.models import User
from bodycam.server.people.passwords import PasswordError


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def test_the_migration_ships_the_default_roles(people: People) -> None:
    with people.context.database.transaction() as session:
        rows = session.execute(select(RolePermission.role, RolePermission.permission)).all()
    shipped: dict[str, set[str]] = {}
    for role, permission in rows:
        shipped.setdefault(role, set()).add(permission)
    expected = {name: {p.value for p in perms} for name, (_, perms) in DEFAULT_ROLES.items()
                if perms}
    assert shipped == expected


def refused_rule(people: People, action: str, change: object) -> str:
    with pytest.raises(AccessError) as caught, people.access.work(CONSOLE, action) as work:
        change(work)  # type: ignore[operator]
    return caught.value.rule


def test_no_person_holds_administration_and_evidence(people: People) -> None:
    people.add("carol", "administrator")
    rule = refused_rule(people, "role.grant", lambda work: grant_role(
        work, find_user(work.session, "carol"), "reviewer"))
    assert rule == "administrator_no_evidence"
    rule = refused_rule(people, "user.add", lambda work: add_user(
        work, "dave", "Dave", "a long enough password", roles=["reviewer", "administrator"]))
    assert rule == "administrator_no_evidence"
    with people.context.database.transaction() as session:  # dave was not half-added
        assert session.scalars(select(User.username)).all() == ["carol"]
    assert ("refused", "console", "administrator_no_evidence") in people.events()


def test_a_role_cannot_mix_the_groups_nor_be_changed_so_a_holder_would(people: People
                                                                        ) -> None:
    rule = refused_rule(people, "role.change", lambda work: set_role_permissions(
        work, "superuser", frozenset({Permission.USERS, Permission.VIEW})))
    assert rule == "administrator_no_evidence"
    people.add("erin", "reviewer", "auditor")
    rule = refused_rule(people, "role.change", lambda work: set_role_permissions(
        work, "auditor", frozenset({Permission.AUDIT, Permission.DEVICES})))
    assert rule == "administrator_no_evidence"  # erin also reviews evidence


def test_the_agency_adjusts_a_permission_set_and_it_counts_at_once(people: People) -> None:
    walter = people.add("walter", "wearer")
    with people.access.work(CONSOLE, "role.change") as work:
        set_role_permissions(work, "wearer", frozenset({Permission.VIEW_OWN}))
    with people.context.database.transaction() as session:
        actor = people.access.actor(session, walter.user_id)
    assert actor.permissions == {Permission.VIEW_OWN}
    assert ("role_changed", "console", None) in people.events()


def test_an_account_without_second_factor_gets_no_permission(people: People) -> None:
    people.add("walter", "wearer", second_factor=False)
    rule = refused_rule(people, "role.grant", lambda work: grant_role(
        work, find_user(work.session, "walter"), "reviewer"))
    assert rule == "second_factor_required"
    rule = refused_rule(people, "role.change", lambda work: set_role_permissions(
        work, "wearer", frozenset({Permission.VIEW_OWN})))
    assert rule == "second_factor_required"


def test_an_administrator_cannot_change_their_own_account(people: People) -> None:
    carol = people.add("carol", "administrator")
    people.add("frank", "administrator")
    # by user id: the actor is loaded inside the work's transaction, as entry points do
    with pytest.raises(AccessError) as caught, \
            people.access.work(carol.user_id, "user.unlock") as work:
        unlock_user(work, "carol")
    assert caught.value.rule == "no_self_change"
    assert people.events("refused") == [("refused", "carol", "no_self_change")]
    with people.access.work(carol.user_id, "user.unlock") as work:
        unlock_user(work, "frank")
    with people.context.database.transaction() as session:
        actor = people.access.actor(session, carol.user_id)
    with pytest.raises(AccessError) as caught, people.access.work(actor, "role.change") as work:
        set_role_permissions(work, "administrator", frozenset({Permission.USERS}))
    assert caught.value.rule == "no_self_change"
    assert ("refused", "carol", "no_self_change") in people.events()


def test_a_reviewer_manages_no_one(people: People) -> None:
    erin = people.add("erin", "reviewer")
    with people.context.database.transaction() as session:
        actor = people.access.actor(session, erin.user_id)
    with pytest.raises(AccessError) as caught, people.access.work(actor, "user.add") as work:
        add_user(work, "mallory", "Mallory", "a long enough password", roles=["approver"])
    assert caught.value.rule == "permission"
    assert people.events("user_added") == [("user_added", "console", None)]


BAD_INPUT = [
    ("bad name", "X", "a long enough password", [], AccountError, "letters, digits"),
    ("ok", "", "a long enough password", [], AccountError, "--name"),
    ("ok", "Nul\x00", "a long enough password", [], AccountError, "printable"),
    ("ok", "X", "short", [], PasswordError, "at least 12"),
    ("ok", "X", "x" * 257, [], PasswordError, "shorter"),
    ("longusername", "X", "LongUserName", [], PasswordError, "is the username"),
    ("ok", "X", "a long enough password", ["root"], ValueError, "no role 'root'; the roles"),
]


@pytest.mark.parametrize("case", BAD_INPUT, ids=[c[-1] for c in BAD_INPUT])
def test_bad_account_input_names_the_problem_and_the_fix(
        people: People, case: tuple[str, str, str, list[str], type[Exception], str]) -> None:
    username, name, password, roles, error, says = case
    with pytest.raises(error, match=says), people.access.work(CONSOLE, "user.add") as work:
        add_user(work, username, name, password, roles=roles)
    with people.context.database.transaction() as session:
        assert session.scalars(select(UserRole)).all() == []


def test_usernames_are_unique_whatever_their_case(people: People) -> None:
    people.add("alice", "reviewer")
    with pytest.raises(AccountError, match="exists already"), \
            people.access.work(CONSOLE, "user.add") as work:
        add_user(work, "ALICE", "Alice 2", "a long enough password", roles=[])

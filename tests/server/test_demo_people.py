"""The demo's accounts: one per role, each signs in with the printed password and the
code the demo prints, and none can do more than its role (the demo shows the rules, it
does not bend them)."""

from __future__ import annotations

import contextlib
import io
import stat
from pathlib import Path

from fastapi.testclient import TestClient
from people_rig import START, Clock, code, make_context

from bodycam.server.access.permissions import DEFAULT_ROLES
from bodycam.server.access.service import Access
from bodycam.server.app import create_app
from bodycam.server.context import ServerContext
from bodycam.server.people.signin import sign_in
from bodycam.tools.dev.demo_people import (
    DEMO_PEOPLE,
    SIGN_INS_NAME,
    add_demo_people,
    linger,
    sign_in_lines,
)

ORIGIN = "https://127.0.0.1:8443"


def test_every_demo_account_signs_in_and_holds_only_its_role(tmp_path: Path) -> None:
    clock = Clock()
    context = make_context(tmp_path / "server", [], clock)
    context.close()
    password, people = add_demo_people(tmp_path / "server", tmp_path)
    assert {p.role for p in people} == set(DEFAULT_ROLES)
    sign_ins = tmp_path / SIGN_INS_NAME
    assert stat.S_IMODE(sign_ins.stat().st_mode) == 0o600
    assert password in sign_ins.read_text()
    context = ServerContext.open(tmp_path / "server")
    context.clock = clock
    try:
        for person in people:
            client = TestClient(create_app(context), base_url=ORIGIN)
            answer = client.post("/api/v1/session", json={
                "username": person.username, "password": password,
                "code": code(person.totp_secret, clock.now)})
            assert answer.status_code == 200, (person.username, answer.text)
            granted = set(answer.json()["permissions"])
            assert granted == {p.value for p in DEFAULT_ROLES[person.role][1]}, person
    finally:
        context.close()


def test_linger_prints_each_accounts_current_code_and_waits(tmp_path: Path) -> None:
    context = make_context(tmp_path / "server", [], Clock())
    context.close()
    password, people = add_demo_people(tmp_path / "server", tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        linger("https://127.0.0.1:1", tmp_path / "ca.pem", password, people, 0.2,
               clock=lambda: START + 7, stdin=io.StringIO())
    text = out.getvalue()
    assert "https://127.0.0.1:1/" in text and password in text
    for person in people:
        assert f"{person.username:16} {person.role:14} {code(person.totp_secret, START + 7)}" \
            in text
    assert "valid 23 s more" in text
    assert len(DEMO_PEOPLE) == len(people)


def test_linger_zero_returns_at_once_and_prints_nothing(tmp_path: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        linger("https://x", tmp_path, "pw", [], 0)
    assert out.getvalue() == ""


def test_the_demos_fetch_sign_in_leaves_the_printed_code_for_the_newcomer(
        tmp_path: Path) -> None:
    """`make demo` fetches as the demo custodian; the code linger() prints right after
    must still sign in (a code is accepted once only)."""
    clock = Clock()
    make_context(tmp_path / "server", [], clock).close()
    password, people = add_demo_people(tmp_path / "server", tmp_path)
    custodian = next(p for p in people if p.role == "custodian")
    context = ServerContext.open(tmp_path / "server")
    context.clock = clock
    try:
        given_password, given_code = sign_in_lines(password, custodian, clock).splitlines()
        access = Access.of(context)
        sign_in(access, custodian.username, given_password, given_code, "console")
        printed = code(custodian.totp_secret, clock.now)  # what linger() shows now
        sign_in(access, custodian.username, password, printed, "browser")
    finally:
        context.close()

"""Signing in against a real database (SQLite and PostgreSQL): argon2id, the TOTP second
factor (RFC 6238 vectors, drift, replay), slow-down and lockout, sessions that expire,
end with a password change or a disabled account, and are stored only as hashes."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from people_rig import DATABASES, PASSWORD, START, People, code, open_people, wrong_code
from sqlalchemy import select

from bodycam.server.access.rules import CONSOLE
from bodycam.server.database.engine import Database
from bodycam.server.people import throttle
from bodycam.server.people.accounts import disable_user, reset_second_factor, unlock_user
from bodycam.server.people.models import User, WebSession
from bodycam.server.people.secret_box import KEY_FILE, load_box
from bodycam.server.people.sessions import IDLE_S, LIFETIME_S, SessionError, find_session
from bodycam.server.people.signin import SignInError, sign_in
from bodycam.server.people.totp import matching_step


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def attempt(people: People, username: str, password: str = PASSWORD, totp: str = "",
            address: str = "192.0.2.1") -> tuple[str, str]:
    """(rule or 'ok', message)."""
    try:
        token, _ = sign_in(people.access, username, password, totp, address)
    except SignInError as exc:
        return exc.rule, exc.message
    return "ok", token


def lookup(people: People, token: str) -> str:
    try:
        return find_session(people.context.database, token, people.clock.now).username
    except SessionError as exc:
        return exc.rule


def test_rfc_6238_vectors_with_six_digits() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    for at, eight_digits in ((59, "94287082"), (1111111109, "07081804"),
                             (1234567890, "89005924"), (2000000000, "69279037")):
        assert matching_step(secret, eight_digits[-6:], at, None) == at // 30


def test_a_code_is_taken_one_step_either_side_and_never_twice() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    now = START
    assert matching_step(secret, code(secret, now - 30), now, None) is not None
    assert matching_step(secret, code(secret, now + 30), now, None) is not None
    assert matching_step(secret, code(secret, now - 60), now, None) is None
    step = int(now) // 30
    assert matching_step(secret, code(secret, now), now, step) is None  # replay
    assert matching_step(secret, "12345", now, None) is None
    assert matching_step(secret, "１２３４５６", now, None) is None  # not ASCII digits


def test_sign_in_needs_password_and_code_and_stores_argon2id(people: People) -> None:
    alice = people.add("alice", "reviewer")
    assert alice.totp_secret is not None
    rule, token = attempt(people, "Alice", totp=code(alice.totp_secret, START))
    assert rule == "ok" and lookup(people, token) == "alice"
    with people.context.database.transaction() as session:
        user = session.scalars(select(User).where(User.username == "alice")).one()
        assert user.password_hash.startswith("$argon2id$")
        stored = session.scalars(select(WebSession.token_sha256)).all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]  # never the token
    assert people.events("sign_in") == [("sign_in", "alice", None)]


def test_every_wrong_factor_gets_the_same_answer_and_its_reason_on_record(
        people: People) -> None:
    alice = people.add("alice", "reviewer")
    assert alice.totp_secret is not None
    good = code(alice.totp_secret, START)
    answers = [attempt(people, "alice", "wrong password!!", good),
               attempt(people, "alice", PASSWORD, wrong_code(alice.totp_secret, START)),
               attempt(people, "nobody", PASSWORD, good),
               attempt(people, "alice", PASSWORD, "")]
    assert {message for _, message in answers} == {
        "wrong username, password or code (or the account is disabled)"}
    assert [rule for _, _, rule in people.events("sign_in_failed")] == [
        "wrong_password", "wrong_code", "unknown_user", "wrong_code"]


def test_a_used_code_cannot_sign_in_again(people: People) -> None:
    alice = people.add("alice", "reviewer")
    assert alice.totp_secret is not None
    totp = code(alice.totp_secret, START)
    assert attempt(people, "alice", totp=totp)[0] == "ok"
    assert attempt(people, "alice", totp=totp)[0] == "wrong_code"
    people.clock.now += 30
    assert attempt(people, "alice", totp=code(alice.totp_secret, people.clock.now))[0] == "ok"


def test_failures_slow_down_then_lock_out_until_unlocked(people: People) -> None:
    alice = people.add("alice", "reviewer")
    assert alice.totp_secret is not None
    for _ in range(throttle.ACCOUNT.free):
        assert attempt(people, "alice", "wrong password!!")[0] == "wrong_password"
    assert attempt(people, "alice", "wrong password!!")[0] == "wrong_password"
    rule, message = attempt(people, "alice")  # even the right password waits
    assert rule == "slowed_down" and "try again in 1 s" in message
    for _ in range(throttle.ACCOUNT.lockout - throttle.ACCOUNT.free - 1):
        people.clock.now += 61
        assert attempt(people, "alice", "wrong password!!")[0] == "wrong_password"
    people.clock.now += 61
    rule, message = attempt(people, "alice", totp=code(alice.totp_secret, people.clock.now))
    assert rule == "locked_out" and "bodycam-server user unlock" in message
    assert ("sign_in_failed", "alice", "locked_out") in people.events()
    with people.access.work(CONSOLE, "user.unlock") as work:
        unlock_user(work, "alice")
    assert attempt(people, "alice", totp=code(alice.totp_secret, people.clock.now))[0] == "ok"


def test_a_lockout_ends_by_itself_but_the_next_failure_renews_it(people: People) -> None:
    people.add("alice", "reviewer")
    for _ in range(throttle.ACCOUNT.lockout):
        people.clock.now += 61
        attempt(people, "alice", "wrong password!!")
    assert attempt(people, "alice", "wrong password!!")[0] == "locked_out"
    people.clock.now += throttle.ACCOUNT.lock_s + 1
    assert attempt(people, "alice", "wrong password!!")[0] == "wrong_password"
    assert attempt(people, "alice", "wrong password!!")[0] == "locked_out"


def test_guessing_across_accounts_from_one_address_is_slowed_too(people: People) -> None:
    for number in range(throttle.ADDRESS.free + 1):
        assert attempt(people, f"user{number}", address="198.51.100.7")[0] == "unknown_user"
    assert attempt(people, "someone-else", address="198.51.100.7")[0] == "slowed_down"
    assert attempt(people, "someone-else", address="198.51.100.8")[0] == "unknown_user"


def test_failures_counted_by_many_processes_at_once_are_all_counted(people: People) -> None:
    engines = [Database(people.context.settings.database) for _ in range(4)]
    try:
        def fail(database: Database) -> None:
            for _ in range(5):
                with database.transaction() as session:
                    throttle.record_failure(session, throttle.ACCOUNT, "alice",
                                            people.clock.now)

        threads = [threading.Thread(target=fail, args=(e,)) for e in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with people.context.database.transaction() as session:
            wait = throttle.waiting(session, [throttle.ACCOUNT.key("alice")], people.clock.now)
    finally:
        for engine in engines:
            engine.dispose()
    assert wait is not None and wait.failures == 20 and wait.locked


def test_sessions_expire_when_idle_and_after_a_shift(people: People) -> None:
    alice = people.add("alice", "reviewer")
    assert alice.totp_secret is not None
    _, token = attempt(people, "alice", totp=code(alice.totp_secret, START))
    people.clock.now += IDLE_S - 1
    assert lookup(people, token) == "alice"
    people.clock.now += IDLE_S + 1
    assert lookup(people, token) == "session_expired"
    assert lookup(people, token) == "session_unknown"  # gone from the database
    people.clock.now += 60
    _, token = attempt(people, "alice", totp=code(alice.totp_secret, people.clock.now))
    start = people.clock.now
    while people.clock.now + 600 < start + LIFETIME_S:
        people.clock.now += 600
        assert lookup(people, token) == "alice"
    people.clock.now = start + LIFETIME_S
    assert lookup(people, token) == "session_expired"


def test_disabling_an_account_ends_its_sessions_and_sign_ins(people: People) -> None:
    alice = people.add("alice", "reviewer")
    assert alice.totp_secret is not None
    _, token = attempt(people, "alice", totp=code(alice.totp_secret, START))
    with people.access.work(CONSOLE, "user.disable") as work:
        disable_user(work, "alice")
    assert lookup(people, token) == "session_unknown"
    people.clock.now += 30
    assert attempt(people, "alice", totp=code(alice.totp_secret, people.clock.now))[0] == \
        "account_disabled"


def test_a_wearer_without_second_factor_signs_in_with_the_password(people: People) -> None:
    people.add("walter", "wearer", second_factor=False)
    assert attempt(people, "walter")[0] == "ok"


def test_sql_metacharacters_and_oversized_input_are_just_wrong(people: People) -> None:
    people.add("alice", "reviewer")
    for name in ("alice' OR '1'='1", "alice\"; DROP TABLE users; --", "x" * 10_000, "",
                 "\x00alice"):
        assert attempt(people, name)[0] == "unknown_user"
    assert attempt(people, "alice", "p" * 100_000)[0] == "wrong_password"
    with people.context.database.transaction() as session:
        assert session.scalars(select(User.username)).all() == ["alice"]


def test_a_new_second_factor_ends_the_old_one_and_every_session(people: People) -> None:
    alice = people.add("alice", "reviewer")
    assert alice.totp_secret is not None
    _, token = attempt(people, "alice", totp=code(alice.totp_secret, START))
    with people.access.work(CONSOLE, "user.reset-second-factor") as work:
        secret = reset_second_factor(work, "alice")
    assert secret != alice.totp_secret
    assert lookup(people, token) == "session_unknown"
    people.clock.now += 30
    assert attempt(people, "alice", totp=code(alice.totp_secret, people.clock.now))[0] == \
        "wrong_code"
    assert attempt(people, "alice", totp=code(secret, people.clock.now))[0] == "ok"
    assert ("second_factor_reset", "console", None) in people.events()


def test_totp_keys_are_sealed_and_bound_to_their_account(people: People) -> None:
    alice = people.add("alice", "reviewer")
    people.add("bob", "reviewer")
    assert alice.totp_secret is not None
    with people.context.database.transaction() as session:
        rows = {u.username: u for u in session.scalars(select(User))}
        assert rows["alice"].totp_secret is not None
        assert alice.totp_secret not in rows["alice"].totp_secret
        rows["bob"].totp_secret = rows["alice"].totp_secret  # copied by hand in the database
    assert attempt(people, "bob", totp=code(alice.totp_secret, START))[0] == \
        "second_factor_unreadable"
    (event,) = [e for e in people.access.audit.events("sign_in_failed")]
    assert "user reset-second-factor bob" in event.details


def test_without_the_sealing_key_nobody_with_a_second_factor_signs_in(people: People
                                                                       ) -> None:
    alice = people.add("alice", "reviewer")
    assert alice.totp_secret is not None
    load_box.cache_clear()
    (people.context.settings.identity_dir / KEY_FILE).unlink()
    try:
        assert attempt(people, "alice", totp=code(alice.totp_secret, START))[0] == \
            "second_factor_unreadable"
    finally:
        load_box.cache_clear()
    (event,) = people.access.audit.events("sign_in_failed")
    assert "is missing" in event.details and "bodycam-server migrate" in event.details

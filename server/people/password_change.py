"""A signed-in person changes their own password. The current password is asked again
(a browser left signed in is not enough), a wrong one counts as a failed sign-in (no
guessing through a stolen session), and every session of the person ends, this one too:
whoever held a copy of a cookie is out."""

from __future__ import annotations

from bodycam.server.access.service import Access
from bodycam.server.audit.trail import FAILED
from bodycam.server.people import throttle
from bodycam.server.people.models import User
from bodycam.server.people.passwords import check_password, hash_password, verify_password
from bodycam.server.people.sessions import SignedIn, close_all

__all__ = ["PasswordChangeError", "change_password"]


class PasswordChangeError(ValueError):
    """Refused; `rule` for the record, the message says what to do."""

    def __init__(self, rule: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.rule = rule
        self.status = status


def change_password(access: Access, who: SignedIn, current: str, new: str,
                    address: str) -> None:
    now = access.clock()
    with access.database.transaction() as session:
        user = session.get(User, who.user_id)
        assert user is not None
        stored, username = user.password_hash, user.username
        wait = throttle.waiting(session, [throttle.ACCOUNT.key(username)], now)
    if wait is not None:
        raise PasswordChangeError("locked_out" if wait.locked else "slowed_down",
                                  "too many wrong passwords: try again in "
                                  f"{wait.seconds:.0f} s", status=429)
    check_password(new, username)
    if not verify_password(stored, current):
        with access.database.transaction() as session:
            throttle.record_failure(session, throttle.ACCOUNT, username, now)
            access.audit.add(session, "password_change_refused", username, outcome=FAILED,
                             rule="wrong_password", address=address)
        raise PasswordChangeError("wrong_password", "the current password is wrong; the "
                                  "password was not changed")
    new_hash = hash_password(new)
    with access.database.transaction() as session:
        user = session.get(User, who.user_id)
        assert user is not None
        user.password_hash = new_hash
        close_all(session, user.id)
        access.audit.add(session, "password_changed", username, address=address)

"""A custodian for the tests that fetch recordings from the server's command line.

`bodycam-server fetch` names its person (`--as`, password and second-factor code on
stdin): only someone with recording.export takes a copy, and the copy is on record
under their name. Each fetch gets a fresh account (`user add`, as an administrator
types it), so a code is never offered twice (a used code is refused: replay).
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from bodycam.server.people.totp import code_at

__all__ = ["PASSWORD", "Custodian", "new_custodian"]

PASSWORD = "custodian passphrase for the tests"


@dataclass(frozen=True)
class Custodian:
    username: str

    def add_args(self) -> list[str]:
        """`bodycam-server user add` arguments (stdin: `password_line()`)."""
        return ["user", "add", self.username, "--name", "Test Custodian",
                "--role", "custodian", "--password-stdin"]

    @staticmethod
    def password_line() -> str:
        return PASSWORD + "\n"

    @staticmethod
    def sign_in_lines(added_output: str) -> str:
        """Password and current code, from what `user add` printed (its TOTP key)."""
        found = re.search(r"type the key: ([A-Z2-7 ]+)\n", added_output)
        assert found is not None, added_output
        return f"{PASSWORD}\n{code_at(found.group(1).replace(' ', ''), time.time())}\n"

    def fetch_args(self, *args: str) -> list[str]:
        return ["fetch", *args, "--as", self.username, "--password-stdin"]


def new_custodian() -> Custodian:
    return Custodian(f"custodian-{secrets.token_hex(3)}")

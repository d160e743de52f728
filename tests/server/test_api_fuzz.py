"""Every JSON API endpoint fuzzed by schemathesis from /api/v1/openapi.json, against a
real `bodycam-server serve` over HTTPS (SQLite and PostgreSQL) holding an offloaded
recording, signed in with an API token of each default role (ROLES): no 5xx on any input, every
answer as described (status, content type, body schema), malformed input refused with a
4xx, and no operation that works without signing in (but sign-in, health).

The run is reproducible: a fixed seed per role (a failure names the seed and the
operation; `st run` with the same arguments replays it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import pytest
from offload_client import tls_context
from people_rig import PASSWORD, code
from server_fixtures import Camera, Server, make_backend, make_server
from sqlalchemy import func, select

from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access
from bodycam.server.audit.models import AuditEvent
from bodycam.server.context import ServerContext
from bodycam.server.people.accounts import add_user

# Every role an agency starts with, each fuzzing a server of its own (the administrator's
# fuzzing adds people and roles that the others' runs need not see; one test per role also
# lets pytest-xdist's workers share the fuzzing); the wearer's run is left out (every
# operation refuses it before reading its input, as the auditor's does for most). On
# PostgreSQL an evidence role and the administrator, which between them reach every
# operation's code: the whole set takes too long for a shared test machine.
ROLES: Final = {
    "sqlite": ("reviewer", "custodian", "approver", "auditor", "administrator"),
    "postgresql": ("custodian", "administrator"),
}
# positive_data_acceptance expects a 2xx for every valid input, but a valid request for a
# recording that is not there, or by a role that may not, is rightly refused.
_CHECKS: Final = ("--checks", "all", "--exclude-checks", "positive_data_acceptance")
# A fixed seed per role (a failure names it; `st run --seed` replays it).
SEEDS: Final = {role: seed for seed, role in enumerate(ROLES["sqlite"], start=1)}
# Cases per operation and phase; BODYCAM_FUZZ_EXAMPLES=100 for a deeper run by hand.
EXAMPLES: Final = os.environ.get("BODYCAM_FUZZ_EXAMPLES", "5")


@dataclass
class Fuzzed:
    server: Server
    tokens: dict[str, str]
    roles: tuple[str, ...]


def _token(server: Server, username: str, secret: str) -> str:
    with httpx.Client(verify=tls_context(server.ca), base_url=server.url,
                      timeout=60) as client:
        signed = client.post("/api/v1/session", json={
            "username": username, "password": PASSWORD, "code": code(secret, time.time())})
        assert signed.status_code == 200, signed.text
        made = client.post("/api/v1/tokens", json={"name": "fuzzing"},
                           headers={"X-CSRF-Token": signed.json()["csrf_token"]})
        assert made.status_code == 201, made.text
        token: str = made.json()["token"]
        return token


def _people(server: Server, roles: tuple[str, ...]) -> dict[str, str]:
    """One person per role with an API token: {role: token}."""
    context = ServerContext.open(server.data_dir)
    try:
        access = Access.of(context)
        secrets: dict[str, str] = {}
        for role in roles:
            with access.work(CONSOLE, "user.add") as work:
                added = add_user(work, f"fuzz-{role}", f"Fuzz {role}", PASSWORD,
                                 roles=[role])
            assert added.totp_secret is not None
            secrets[role] = added.totp_secret
    finally:
        context.close()
    return {role: _token(server, f"fuzz-{role}", secret) for role, secret in secrets.items()}


@pytest.fixture(params=[(name, role) for name, roles in ROLES.items() for role in roles],
                ids="-".join)
def fuzzed(request: pytest.FixtureRequest, tmp_path: Path, camera: Camera
           ) -> Iterator[Fuzzed]:
    name, role = request.param
    server = make_server(tmp_path, make_backend(name, request))
    server.enrol(camera)
    server.serve()
    try:
        server.client(camera).upload(camera.recording)
        yield Fuzzed(server, _people(server, (role,)), (role,))
    finally:
        server.stop()


def schemathesis(fuzzed: Fuzzed, role: str, seed: int, directory: Path
                 ) -> subprocess.CompletedProcess[str]:
    server = fuzzed.server
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/api/v1/openapi.json",
         "--url", server.url, "--tls-verify", str(server.ca),
         "-H", f"Authorization: Bearer {fuzzed.tokens[role]}", *_CHECKS,
         "--max-examples", EXAMPLES, "--seed", str(seed), "--workers", "1",
         "--generation-database", "none", "--generation-with-security-parameters", "false",
         "--no-color", "--output-truncate", "true"],
        cwd=directory, capture_output=True, text=True, check=False, timeout=1800)


def test_every_endpoint_survives_fuzzing_by_each_role(fuzzed: Fuzzed, tmp_path: Path
                                                       ) -> None:
    failures = []
    for role in fuzzed.roles:
        seed = SEEDS[role]
        result = schemathesis(fuzzed, role, seed, tmp_path)
        if result.returncode != 0:
            failures.append(f"--- as {role} (seed {seed}):\n{result.stdout[-6000:]}"
                            f"{result.stderr[-2000:]}")
    served = "\n".join(p.output()[-3000:] for p in fuzzed.server.processes)
    assert not failures, "\n".join(failures) + f"\n--- serve's log:\n{served}\n" + refusals(
        fuzzed.server)


def refusals(server: Server) -> str:
    """What the audit log says was refused, and why (the rules and their counts)."""
    database = server.database()
    try:
        with database.transaction() as session:
            rows = session.execute(select(AuditEvent.kind, AuditEvent.rule, func.count())
                                   .where(AuditEvent.outcome != "done")
                                   .group_by(AuditEvent.kind, AuditEvent.rule)).all()
    finally:
        database.dispose()
    return "--- refusals on record:\n" + "\n".join(f"{k} {r}: {n}" for k, r, n in rows)

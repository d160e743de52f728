"""The server's audit log as a signed hash chain, on SQLite and PostgreSQL: every record
is a line of the camera's signed-log format, the export verifies with
`bodycam-evidence verify`, and a row edited, deleted, reordered or re-indexed in the
database is named by `bodycam-server audit verify`."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from people_rig import DATABASES, People, open_people
from server_rig import run_server
from sqlalchemy import text

from bodycam.firmware.evidence.public_keys import parse_public_key
from bodycam.firmware.evidence.signed_log import GENESIS_PREV, line_hash
from bodycam.server.access.permissions import Permission
from bodycam.server.access.rules import CONSOLE, AccessError, Target
from bodycam.server.audit.chain import line_of
from bodycam.server.audit.trail import AuditTrail
from bodycam.server.audit.verify import verify_log
from bodycam.server.identity.signing_key import public_b64


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def server_key(people: People) -> str:
    return public_b64(people.context.signing_key)


def some_history(people: People) -> None:
    """A few records of several kinds: changes, a refusal, a record of its own."""
    people.add("ada", "auditor")
    people.add("rex", "reviewer")
    with pytest.raises(AccessError), people.access.work(CONSOLE, "recording.view") as work:
        work.authorise(Permission.VIEW, Target(recording_id="BC-1-20260101T000000Z-abcd"))
    people.access.audit.record("recording_fetched", "console",
                               recording="BC-1-20260101T000000Z-abcd", out="/tmp/x")


def verify(people: People) -> list[str]:
    return verify_log(people.context.database,
                      [parse_public_key(server_key(people))]).problems


def execute(people: People, sql: str, **values: object) -> None:
    with people.context.database.engine.begin() as connection:
        connection.execute(text(sql), values)


def evidence_verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bodycam.tools.custody.cli", "verify",
                           *args], capture_output=True, text=True, check=False, timeout=300)


def test_every_record_is_chained_signed_and_verifies_in_place(people: People) -> None:
    some_history(people)
    events = people.access.audit.events()
    assert [e.seq for e in events] == list(range(len(events)))
    assert events[0].prev == GENESIS_PREV and events[0].signer is not None
    for before, after in itertools.pairwise(events):
        assert after.prev == before.hash
        assert after.signer is None  # the key is introduced once
    assert verify(people) == []
    assert ("refused", "console", "administrator_no_evidence") in people.events("refused")


def test_the_export_verifies_with_the_camera_tools_and_only_under_the_server_key(
        people: People, tmp_path: Path) -> None:
    some_history(people)
    out = tmp_path / "server-audit.jsonl"
    result = run_server("audit", "export", "--data-dir", str(people.context.settings.data_dir),
                        "--out", str(out))
    assert f"--device-key {server_key(people)}" in result.stdout
    lines = out.read_bytes().splitlines()
    assert len(lines) == len(people.access.audit.events()) - 1  # the export's own record
    assert line_hash(lines[-1]) == people.access.audit.events()[-2].hash
    checked = evidence_verify(str(out), "--device-key", server_key(people), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["records"] == len(lines)
    text = evidence_verify(str(out), "--device-key", server_key(people))
    assert f"server key {people.access.audit.signer.fingerprint}: pinned" in text.stdout
    other = public_b64(Ed25519PrivateKey.generate())
    wrong = evidence_verify(str(out), "--device-key", other)
    assert wrong.returncode == 1 and "not the pinned key" in wrong.stdout
    again = run_server("audit", "export", "--data-dir", str(people.context.settings.data_dir),
                       "--out", str(out), check=False)
    assert again.returncode == 1 and "never overwrites" in again.stderr


def test_an_edited_row_is_named(people: People) -> None:
    some_history(people)
    execute(people, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    problems = verify(people)
    assert any(p.startswith("audit_events seq 2: signature does not verify") for p in problems)
    assert any(p.startswith("audit_events seq 2: the row was changed") for p in problems)
    assert any(p.startswith("audit_events seq 3: hash chain broken") for p in problems)


def test_an_edit_with_the_hashes_recomputed_is_caught_by_the_signature(
        people: People) -> None:
    some_history(people)
    (row,) = [e for e in people.access.audit.events() if e.seq == 1]
    details = json.loads(row.details)
    details["roles"] = ["administrator"]
    execute(people, "UPDATE audit_events SET details = :d WHERE seq = 1",
            d=json.dumps(details, sort_keys=True))
    # a forger without the key re-links the chain: each later prev and hash recomputed
    events = people.access.audit.events()
    previous = None
    for event in events:
        if previous is not None:
            event.prev = previous
        digest = line_hash(line_of(event))
        execute(people, "UPDATE audit_events SET prev = :p, hash = :h WHERE seq = :s",
                p=event.prev, h=digest, s=event.seq)
        previous = digest
    execute(people, "UPDATE audit_head SET hash = :h", h=previous)
    problems = verify(people)
    assert problems and all("signature does not verify" in p for p in problems)
    assert problems[0].startswith("audit_events seq 1:")


def test_a_deleted_row_is_named(people: People) -> None:
    some_history(people)
    execute(people, "DELETE FROM audit_events WHERE seq = 2")
    problems = verify(people)
    assert any(p.startswith("audit_events seq 3: seq 3 where 2 was expected")
               for p in problems), problems


def test_rows_deleted_at_the_end_are_caught_by_the_head(people: People) -> None:
    some_history(people)
    last = people.access.audit.events()[-1].seq
    execute(people, "DELETE FROM audit_events WHERE seq >= :s", s=last - 1)
    problems = verify(people)
    assert problems == [f"the chain's head is seq {last}, but the rows end at seq "
                        f"{last - 2}: 2 record(s) at the end were deleted"]


def test_reordered_rows_are_named(people: People) -> None:
    some_history(people)
    execute(people, "UPDATE audit_events SET seq = -1 WHERE seq = 1")
    execute(people, "UPDATE audit_events SET seq = 1 WHERE seq = 2")
    execute(people, "UPDATE audit_events SET seq = 2 WHERE seq = -1")
    problems = verify(people)
    for seq in (1, 2):  # a row's position is signed: moved, its signature fails
        assert f"audit_events seq {seq}: signature does not verify (the line was altered " \
            "after signing, or signed with another key)" in problems, problems
    assert any(p.startswith("audit_events seq 1: hash chain broken") for p in problems)


def test_a_row_moved_to_another_recording_is_named(people: People) -> None:
    some_history(people)
    (fetched,) = people.access.audit.events("recording_fetched")
    execute(people, "UPDATE audit_events SET recording_id = 'BC-2-20260101T000000Z-0000' "
            "WHERE seq = :s", s=fetched.seq)
    assert verify(people) == [
        f"audit_events seq {fetched.seq}: its recording index column "
        "('BC-2-20260101T000000Z-0000') is not the recording its signed details name"]


def test_audit_verify_command_exits_1_and_names_the_row(people: People) -> None:
    some_history(people)
    data_dir = str(people.context.settings.data_dir)
    assert run_server("audit", "verify", "--data-dir", data_dir).stdout.startswith(
        "server audit log: VERIFIED")
    execute(people, "UPDATE audit_events SET rule = NULL WHERE kind = 'refused'")
    result = run_server("audit", "verify", "--data-dir", data_dir, check=False)
    assert result.returncode == 1
    assert "INTEGRITY FAILURE" in result.stdout and "signature does not verify" in result.stdout


def test_oversized_input_is_kept_as_its_digest_and_the_log_still_verifies(
        people: People) -> None:
    """What someone sends to be refused (a megabyte where an id belongs) is on record by
    size and SHA-256, never as a line no verifier reads."""
    junk = "'; DROP TABLE audit_events; --" + "x" * 2_000_000
    with pytest.raises(AccessError), people.access.work(CONSOLE, "recording.view") as work:
        work.authorise(Permission.VIEW, Target(recording_id=junk))
    (refused,) = people.access.audit.events("refused")
    details = json.loads(refused.details)
    assert "recording" not in details and refused.recording_id is None
    assert details["oversized_details"]["bytes"] > 2_000_000
    assert len(refused.details) < 1000
    assert verify(people) == []


def test_a_log_cut_back_with_its_head_is_caught_by_a_kept_export(
        people: People, tmp_path: Path) -> None:
    """Whoever can write the database can cut the log back consistently (rows and head
    row); the heads of an earlier export, kept elsewhere, show it (the camera tools'
    own --heads-out / --anchor)."""
    some_history(people)
    data_dir = str(people.context.settings.data_dir)
    first = tmp_path / "first.jsonl"
    run_server("audit", "export", "--data-dir", data_dir, "--out", str(first))
    heads = tmp_path / "heads.json"
    kept = evidence_verify(str(first), "--device-key", server_key(people),
                           "--heads-out", str(heads))
    assert kept.returncode == 0, kept.stdout + kept.stderr
    events = people.access.audit.events()
    cut = events[-4]
    execute(people, "DELETE FROM audit_events WHERE seq > :s", s=cut.seq)
    execute(people, "UPDATE audit_head SET seq = :s, hash = :h", s=cut.seq, h=cut.hash)
    assert verify(people) == []  # consistent in itself: nothing in the database shows it
    second = tmp_path / "second.jsonl"
    run_server("audit", "export", "--data-dir", data_dir, "--out", str(second))
    checked = evidence_verify(str(second), "--device-key", server_key(people),
                              "--anchor", str(heads))
    assert checked.returncode == 1, checked.stdout
    assert "cut back" in checked.stdout or "rolled back" in checked.stdout, checked.stdout


def test_a_new_server_key_is_introduced_in_the_chain_and_both_are_needed(
        people: People) -> None:
    some_history(people)
    new_key = Ed25519PrivateKey.generate()
    AuditTrail(people.context.database, people.clock, new_key).record("after_rekey", "x")
    last = people.access.audit.events()[-1]
    assert last.signer is not None and json.loads(last.signer)["key"] == public_b64(new_key)
    old = parse_public_key(server_key(people))
    new = parse_public_key(public_b64(new_key))
    assert verify_log(people.context.database, [old, new]).problems == []
    (problem,) = verify_log(people.context.database, [new]).problems
    assert problem.startswith("audit_events seq 0:") and "not the pinned key" in problem

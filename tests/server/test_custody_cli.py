"""The custody commands end to end through `bodycam-server`: assignments by the console,
evidence work only `--as` a person signed in with password and second-factor code (a
wrong code is refused and on record; the sign-in session ends with the command), and
the access rules hold on the command line as everywhere else."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import pytest
from custody_rig import Custody, custody_server, fresh
from people_rig import DATABASES, PASSWORD, code, wrong_code
from server_rig import run_server
from sqlalchemy import func, select

from bodycam.server.people.models import WebSession

RID = "BC-0001-20261206T090000Z-000a"


@pytest.fixture(scope="module", params=DATABASES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Custody]:
    for custody in custody_server(request, tmp_path_factory):
        for name in ("cody", "cleo"):  # one sign-in per person per 30 s code step
            custody.person(name, "custodian")
        yield custody


@pytest.fixture
def custody(server: Custody) -> Custody:
    fresh(server).camera("BC-0001")
    server.recording("BC-0001", "2026-12-06T09:00:00.000Z", "2026-12-06T09:10:00.000Z",
                     tag="000a")
    return server


def cli(custody: Custody, monkeypatch: pytest.MonkeyPatch, *args: str,
        as_user: str | None = None, good_code: bool = True) -> tuple[int, str, str]:
    """Run a command; `as_user` signs in with a code of the next time step (accepted
    whichever side of a step boundary the check falls)."""
    extra: list[str] = []
    if as_user is not None:
        secret = custody.secrets[as_user]
        at = time.time() + 30
        typed = code(secret, at) if good_code else wrong_code(secret, at)
        monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n{typed}\n"))
        extra = ["--as", as_user, "--password-stdin"]
    data_dir = str(custody.people.context.settings.data_dir)
    done = run_server(*args, "--data-dir", data_dir, *extra, check=False)
    return done.returncode, done.stdout, done.stderr


def test_the_console_assigns_cameras(custody: Custody, monkeypatch: pytest.MonkeyPatch
                                     ) -> None:
    rc, out, err = cli(custody, monkeypatch, "assignment", "add", "BC-0001", "walter",
                       "--from", "2026-12-06T07:00:00Z", "--until", "2026-12-06T15:00:00Z")
    assert rc == 0, err
    assert "walter" in out and "2026-12-06T07:00:00.000Z .. 2026-12-06T15:00:00.000Z" in out
    rc, out, err = cli(custody, monkeypatch, "assignment", "add", "BC-0001", "wendy",
                       "--from", "2026-12-06T08:00:00Z")
    assert rc == 1 and "one camera is worn by one person at a time. Fix" in err
    rc, out, _ = cli(custody, monkeypatch, "assignment", "list", "--device", "BC-0001")
    assert rc == 0 and "walter" in out and "wendy" not in out
    assert ("device_assigned", "console", None) in custody.events()


def test_evidence_work_as_a_signed_in_person(custody: Custody,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    rc, out, err = cli(custody, monkeypatch, "case", "open", "2026-0042", "--title",
                       "Main Street", as_user="carl")
    assert rc == 0, err
    assert "case 2026-0042: Main Street (open; opened by carl)" in out
    rc, out, err = cli(custody, monkeypatch, "case", "add", "2026-0042", RID,
                       as_user="cora")
    assert rc == 0 and RID in out, err
    rc, out, err = cli(custody, monkeypatch, "hold", "place", RID, "--reason",
                       "prosecutor's letter", as_user="cody")
    assert rc == 0 and "IN FORCE" in out, err
    rc, out, err = cli(custody, monkeypatch, "note", "add", RID, "--text",
                       "face visible at 09:03", as_user="rita")
    assert rc == 0 and "added" in out, err
    rc, out, err = cli(custody, monkeypatch, "search", "--json", "--case", "2026-0042",
                       as_user="rory")
    assert rc == 0, err
    found = json.loads(out)
    assert found["total"] == 1 and found["recordings"][0]["on_hold"]
    assert [(k, a) for k, a, _ in custody.events() if k not in ("sign_in",)] == [
        ("case_opened", "carl"), ("case_recording_added", "cora"), ("hold_placed", "cody"),
        ("note_added", "rita"), ("recordings_searched", "rory")]
    assert [a for k, a, _ in custody.events("sign_in")] == ["carl", "cora", "cody", "rita",
                                                            "rory"]
    with custody.people.context.database.transaction() as session:  # sessions ended
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_a_wrong_code_signs_nobody_in(custody: Custody, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    rc, _, err = cli(custody, monkeypatch, "hold", "place", RID, "--reason", "x",
                     as_user="cleo", good_code=False)
    assert rc == 1 and "--as cleo: wrong username, password or code" in err
    assert ("sign_in_failed", "cleo", "wrong_code") in custody.events()
    assert custody.events("hold_placed") == []


def test_the_rules_hold_on_the_command_line(custody: Custody,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rc, _, err = cli(custody, monkeypatch, "note", "add", RID, "--text", "x",
                     as_user="carl")  # a custodian does not write notes
    assert rc == 1 and "lacks permission recording.note" in err
    rc, _, err = cli(custody, monkeypatch, "search", as_user="admin")
    assert rc == 1 and "administrators have no access to evidence" in err
    rc, _, err = cli(custody, monkeypatch, "hold", "lift", "1", as_user="cora")
    assert rc == 1 and "cannot lift legal hold 1 alone" in err
    assert [(a, r) for k, a, r in custody.events("refused")] == [
        ("carl", "permission"), ("admin", "administrator_no_evidence"),
        ("cora", "two_person_lift")]


def test_evidence_commands_need_a_person(custody: Custody,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as exited:
        cli(custody, monkeypatch, "case", "open", "2026-0042", "--title", "t")
    assert exited.value.code == 2

"""`bodycam-server recordings` and `fetch` go through the access gate like every other
evidence command: fetch names its person (--as, password and code), the hard rules hold
(the wearer, an administrator, an auditor are refused, with the rule, on record), and
the copy is on record under the person's name before a byte is written."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fetch_rig import run_with_stdin
from people_rig import PASSWORD, code, wrong_code
from server_fixtures import Camera, Server
from sqlalchemy import select

from bodycam.server.access.rules import CONSOLE
from bodycam.server.access.service import Access
from bodycam.server.audit.trail import AuditEvent
from bodycam.server.cli import main
from bodycam.server.context import ServerContext
from bodycam.server.custody.instants import canonical
from bodycam.server.custody.models import DeviceAssignment
from bodycam.server.people.accounts import add_user
from bodycam.server.people.models import User
from bodycam.server.recordings.models import Recording

ROLES = (("walt", "wearer"), ("casey", "custodian"), ("adam", "administrator"),
         ("audrey", "auditor"), ("rita", "reviewer"))


def offloaded(server: Server, camera: Camera) -> dict[str, str]:
    """The camera's recording on the server, worn by walt; everyone's TOTP secret."""
    server.serve()
    server.client(camera).upload(camera.recording)
    server.stop()
    context = ServerContext.open(server.data_dir)
    access = Access.of(context)
    secrets: dict[str, str] = {}
    try:
        for name, role in ROLES:
            with access.work(CONSOLE, "user.add") as work:
                added = add_user(work, name, name.title(), PASSWORD, roles=[role])
            assert added.totp_secret is not None
            secrets[name] = added.totp_secret
        with access.work(CONSOLE, "assignment.add") as work:
            recording = work.session.get_one(Recording, camera.recording.name)
            assert recording.start is not None and recording.end is not None
            walt = work.session.scalars(select(User.id).where(User.username == "walt")).one()
            work.session.add(DeviceAssignment(
                device_id=recording.device_id, user_id=walt,
                starts=canonical(datetime.fromisoformat(recording.start) - timedelta(hours=1)),
                ends=canonical(datetime.fromisoformat(recording.end) + timedelta(hours=1)),
                assigned_by="adam", assigned_at=time.time()))
    finally:
        context.close()
    return secrets


def as_person(server: Server, secret: str, *args: str) -> tuple[int, str, str]:
    return run_with_stdin(server, f"{PASSWORD}\n{code(secret, time.time())}\n", *args,
                          "--password-stdin", check=False)


def events(server: Server, kind: str) -> list[AuditEvent]:
    context = ServerContext.open(server.data_dir)
    try:
        return Access.of(context).audit.events(kind)
    finally:
        context.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_fetch_refuses_the_wearer_an_administrator_and_an_auditor_with_the_rule(
        server: Server, camera: Camera, tmp_path: Path) -> None:
    secrets = offloaded(server, camera)
    rid, out = camera.recording.name, tmp_path / "out"
    refusals = {"walt": ("own_recording", "never exports or fetches their own recording"),
                "adam": ("administrator_no_evidence", "administrators have no access to "
                         "evidence"),
                "audrey": ("permission", "lacks permission recording.export")}
    for name, (_rule, said) in refusals.items():
        rc, _, err = as_person(server, secrets[name], "fetch", rid, "--out", str(out),
                               "--as", name)
        assert rc == 1 and said in err and "Fix:" in err, (name, err)
        assert not out.exists()  # not a byte, not even the directory
    refused = [(e.actor, e.rule, json.loads(e.details)) for e in events(server, "refused")]
    assert [(actor, rule, d["action"], d["recording"]) for actor, rule, d in refused] == [
        (name, rule, "recording.fetch", rid) for name, (rule, _) in refusals.items()]
    assert events(server, "recording_fetched") == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_custodian_fetches_and_the_copy_is_on_record_under_their_name(
        server: Server, camera: Camera, tmp_path: Path) -> None:
    secrets = offloaded(server, camera)
    rid, out = camera.recording.name, tmp_path / "out"
    rc, said, err = as_person(server, secrets["casey"], "fetch", rid, rid, "--out", str(out),
                              "--as", "casey")
    assert rc == 0, err
    assert said.count("files written") == 1  # the same id twice is fetched once
    for path in camera.recording.iterdir():
        assert (out / rid / path.name).read_bytes() == path.read_bytes()
    (fetched,) = events(server, "recording_fetched")
    details = json.loads(fetched.details)
    assert fetched.actor == "casey"
    assert (details["recording"], details["via"], details["missing"]) == (rid, "cli", 0)
    assert details["files"] == len(list(camera.recording.iterdir()))
    assert [e.actor for e in events(server, "sign_in")] == ["casey"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_fetch_needs_a_person_and_their_code(
        server: Server, camera: Camera, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    secrets = offloaded(server, camera)
    rid, out = camera.recording.name, tmp_path / "out"
    with pytest.raises(SystemExit) as usage:  # the console never fetches
        main(["fetch", rid, "--out", str(out), "--data-dir", str(server.data_dir)])
    assert usage.value.code == 2 and "--as" in capsys.readouterr().err
    wrong = wrong_code(secrets["casey"], time.time())
    rc, _, err = run_with_stdin(server, f"{PASSWORD}\n{wrong}\n", "fetch", rid, "--out",
                                str(out), "--as", "casey", "--password-stdin", check=False)
    assert rc == 1 and "--as casey: wrong username, password or code" in err
    assert not out.exists() and events(server, "recording_fetched") == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_listing_is_the_consoles_or_a_searchers_and_on_record(
        server: Server, camera: Camera) -> None:
    secrets = offloaded(server, camera)
    rc, said, err = server.run("recordings", "--json")  # the console: the ingest state
    assert rc == 0, err
    assert [r["id"] for r in json.loads(said)] == [camera.recording.name]
    rc, said, err = as_person(server, secrets["rita"], "recordings", "--json", "--as", "rita")
    assert rc == 0 and [r["state"] for r in json.loads(said)] == ["complete"], err
    rc, _, err = as_person(server, secrets["audrey"], "recordings", "--as", "audrey")
    assert rc == 1 and "audrey lacks permission recording.search" in err
    rc, _, err = as_person(server, secrets["walt"], "recordings", "--as", "walt")
    assert rc == 1 and "walt lacks permission recording.search" in err
    assert [(e.actor, json.loads(e.details)["count"])
            for e in events(server, "recordings_listed")] == [("console", 1), ("rita", 1)]

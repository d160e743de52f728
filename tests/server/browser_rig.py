"""Debian's Chromium under Playwright, launched the one way this machine and CI can run
it (no sandbox as root, no GPU, no network of its own), and the site the web browser
tests drive: a real `serve` process with a camera enrolled and a person for each role.
The browser tests import it."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import pytest
from people_rig import PASSWORD, code
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from server_fixtures import Camera, Server, make_backend, make_server

from bodycam.server.recordings.models import Recording

CHROMIUM: Final = "/usr/bin/chromium"
ARGS: Final = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--disable-quic"]
LAPTOP: Final = {"width": 1280, "height": 860}
ROLES: Final = {"root": ("Rhea Admin", "administrator"), "rita": ("Rita Reviewer", "reviewer"),
                "rory": ("Rory Approver", "approver"), "audrey": ("Audrey Auditor", "auditor"),
                "cora": ("Cora Custodian", "custodian")}
_RETENTION_WAIT_S: Final = 300.0  # serve's own run, if it holds the lease, ends long before


def chromium(*extra: str) -> Iterator[Browser]:
    """The body of a module's `browser` fixture."""
    assert Path(CHROMIUM).exists(), "install Debian's chromium (make .venv/.dev does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra])
        yield launched
        launched.close()


class Site:
    """A real server with the camera enrolled and a person for each role, plus walt, a
    wearer without a second factor; the camera's recording once upload() sent it."""

    def __init__(self, server: Server, secrets: dict[str, str], camera: Camera) -> None:
        self.server = server
        self.secrets = secrets
        self.camera = camera
        self._recording: Recording | None = None

    @property
    def recording(self) -> Recording:
        assert self._recording is not None, "the recording is not uploaded yet: upload()"
        return self._recording

    def upload(self) -> Recording:
        """The camera offloads its recording (made in 2025 by the camera's clock)."""
        client = self.server.client(self.camera)
        try:
            client.upload(self.camera.recording)
        finally:
            client.close()
        database = self.server.database()
        with database.transaction() as session:
            recording = session.get_one(Recording, self.camera.recording.name)
            session.expunge(recording)
        database.dispose()
        self._recording = recording
        return recording

    def run_retention(self) -> str:
        """`bodycam-server retention run`. Serve's own job (first run minutes after the
        start) may hold the lease: it does the same work, and the run is tried again."""
        deadline = time.monotonic() + _RETENTION_WAIT_S
        while True:
            rc, out, err = self.server.run("retention", "run", check=False)
            if rc == 0:
                return out
            assert "another process is running" in err and time.monotonic() < deadline, err
            time.sleep(0.5)

    def fill_sign_in(self, page: Page, username: str, *, later: int = 0) -> None:
        """Fills the sign-in form and sends it; `later` time steps ahead for the code,
        so a person signs in again within one step (a code is never taken twice)."""
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        if username in self.secrets:
            page.get_by_label("Code from your authenticator app").fill(
                code(self.secrets[username], time.time() + 30 * later))
        page.get_by_role("button", name="Sign in").click()

    def sign_in(self, browser: Browser, username: str,
                viewport: dict[str, int] = LAPTOP, *, later: int = 0
                ) -> tuple[BrowserContext, Page]:
        context = browser.new_context(ignore_https_errors=True, viewport=viewport)  # type: ignore[arg-type]
        page = context.new_page()
        page.goto(self.server.url + "/sign-in")
        self.fill_sign_in(page, username, later=later)
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        return context, page


def _add(server: Server, monkeypatch: pytest.MonkeyPatch, username: str, *, name: str,
         role: str, second_factor: bool = True) -> str | None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    added = server.run("user", "add", username, "--name", name, "--role", role,
                       "--password-stdin", *([] if second_factor else ["--no-second-factor"]))
    found = re.search(r"secret=([A-Z2-7]+)", added[1])
    return found.group(1) if found else None


def open_site(request: pytest.FixtureRequest, tmp_path: Path, camera: Camera,
              monkeypatch: pytest.MonkeyPatch, *, upload: bool = True) -> Iterator[Site]:
    """The body of a `site` fixture on the database `request.param` names."""
    server = make_server(tmp_path, make_backend(request.param, request))
    server.enrol(camera)
    secrets = {}
    for username, (name, role) in ROLES.items():
        secret = _add(server, monkeypatch, username, name=name, role=role)
        assert secret is not None
        secrets[username] = secret
    _add(server, monkeypatch, "walt", name="Walt Wearer", role="wearer", second_factor=False)
    server.serve()
    site = Site(server, secrets, camera)
    if upload:
        site.upload()
    yield site
    server.stop()


def field_time(moment: str | datetime | None, shift: timedelta = timedelta()) -> str:
    """A UTC time as a datetime-local field takes it, moved by `shift`."""
    assert moment is not None
    when = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return (when + shift).strftime("%Y-%m-%dT%H:%M:%S")

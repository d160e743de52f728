"""The web interface in a real browser (Playwright driving Debian's Chromium) against a
real `serve` process with a recording a camera really offloaded: the administrator
records who wore the camera; a reviewer searches, opens the recording, adds a note,
categorises it and requests its deletion in one browser session; an approver approves
it in another; the auditor reads the audit log and the chain-of-custody report. At
laptop and tablet widths, without JavaScript.
The two-person deletion runs on SQLite and on PostgreSQL (what it does depends on the
database: two sessions, row locks, the deletion); the other browser tests show pages
whose database work the in-process tests (test_web_pages.py, test_web_evidence.py)
already run on both, so they run on SQLite only and the suite is not doubled.
Screenshots go to the test's directory, or to $BODYCAM_SCREENSHOTS (docs/screenshots)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Final

import pytest
from browser_rig import Site, field_time, open_site
from people_rig import DATABASES
from playwright.sync_api import Browser, expect
from server_fixtures import Camera
from test_people_browser import browser, shot

__all__ = ["browser"]

TABLET: Final = {"width": 768, "height": 1024}


@pytest.fixture(params=["sqlite"])
def site(request: pytest.FixtureRequest, tmp_path: Path, camera: Camera,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    yield from open_site(request, tmp_path, camera, monkeypatch)


@pytest.mark.parametrize("site", DATABASES, indirect=True)
def test_the_two_person_deletion_from_two_browser_sessions(browser: Browser, site: Site,
                                                           tmp_path: Path) -> None:
    recording = site.recording
    admin_context, admin = site.sign_in(browser, "root")
    expect(admin.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(
        ["Dashboard", "Users", "Roles", "Devices", "Retention"])
    shot(admin, tmp_path, "dashboard-administrator")
    admin.get_by_role("link", name="Devices").click()
    admin.get_by_label("Camera", exact=True).last.select_option(recording.device_id)
    form = admin.locator("form", has=admin.get_by_role("heading", name="Record an assignment"))
    form.get_by_label("Camera").select_option(recording.device_id)
    form.get_by_label("Worn by (username)").fill("walt")
    form.get_by_label("From (UTC)").fill(field_time(recording.start, -timedelta(hours=1)))
    form.get_by_label("Until (UTC; empty: still out)").fill(
        field_time(recording.end, timedelta(hours=1)))
    form.get_by_role("button", name="Record assignment").click()
    expect(admin.get_by_role("status")).to_contain_text(f"walt wears {recording.device_id}")
    shot(admin, tmp_path, "devices")
    admin.get_by_role("link", name="Users").click()
    expect(admin.get_by_role("table", name="Everyone who can sign in")).to_contain_text("rita")
    shot(admin, tmp_path, "users")
    admin.get_by_role("link", name="Roles").click()
    expect(admin.get_by_role("heading", name="reviewer")).to_be_visible()
    shot(admin, tmp_path, "roles")
    admin.get_by_role("link", name="Retention").click()
    admin.get_by_label("Category", exact=True).select_option("evidential")
    admin.get_by_label("New period (days)").fill("0")  # the browser refuses it already
    admin.get_by_role("button", name="Request the change").click()
    expect(admin.get_by_role("status")).to_have_count(0)
    admin.get_by_label("New period (days)").fill("1095")
    admin.get_by_label("Reason").fill("New state law: three years for evidence")
    admin.get_by_role("button", name="Request the change").click()
    expect(admin.get_by_role("status")).to_contain_text("an approver decides it")
    shot(admin, tmp_path, "retention")
    admin.goto(site.server.url + f"/recordings/{recording.id}")
    expect(admin.get_by_role("alert")).to_contain_text("administrators have no access to "
                                                      "evidence")
    admin_context.close()

    rita_context, rita = site.sign_in(browser, "rita")
    rita.get_by_role("link", name="Recordings").click()
    rita.get_by_label("Camera").fill(recording.device_id)
    rita.get_by_role("button", name="Search").click()
    expect(rita.get_by_role("table")).to_contain_text("walt")
    shot(rita, tmp_path, "recordings")
    rita.get_by_role("link", name=recording.id).click()
    expect(rita.get_by_role("heading", name=f"Recording {recording.id}")).to_be_visible()
    rita.get_by_label("Add a note").fill("Routine patrol, nothing of note.")
    rita.get_by_role("button", name="Add note").click()
    expect(rita.get_by_role("status")).to_have_text("Your note is added.")
    rita.get_by_label("Category").select_option("not_evidential")
    rita.get_by_role("button", name="Categorise").click()
    expect(rita.get_by_role("status")).to_contain_text("now in category not_evidential")
    rita.get_by_label("Why delete it? (a different person approves)").fill(
        "Not evidential; no need to wait for the retention period")
    rita.get_by_role("button", name="Request deletion").click()
    expect(rita.get_by_role("status")).to_contain_text("Deletion is requested (request 2)")
    shot(rita, tmp_path, "recording")

    rory_context, rory = site.sign_in(browser, "rory")  # a second browser session
    rory.get_by_role("link", name="Deletion requests").click()
    request = rory.get_by_role("article", name=re.compile("Request 2:"))
    expect(request).to_contain_text("Requested by rita")
    shot(rory, tmp_path, "deletion-requests")
    request.get_by_label("Note on your decision").fill("Agreed: not evidential")
    request.get_by_role("button", name="Approve request 2").click()
    expect(rory.get_by_role("status")).to_contain_text(f"Recording {recording.id} is "
                                                        "deleted")
    rory_context.close()

    rita.get_by_role("link", name="Deletion requests").click()
    expect(rita.get_by_role("table", name="Decided lately")).to_contain_text("approved by rory")
    expect(rita.get_by_role("button", name="Approve request 2")).to_have_count(0)
    rita_context.close()

    audrey_context, audrey = site.sign_in(browser, "audrey")
    audrey.get_by_role("link", name="Audit log").click()
    audrey.get_by_label("Recording").fill(recording.id)
    audrey.get_by_role("button", name="Filter").click()
    log = audrey.get_by_role("table")
    for kind in ("recording_received", "note_added", "recording_categorised",
                 "deletion_requested", "deletion_approved"):
        expect(log).to_contain_text(kind)
    shot(audrey, tmp_path, "audit-log")
    audrey.goto(site.server.url + f"/recordings/{recording.id}/custody")
    expect(audrey.locator("body")).to_contain_text(recording.manifest_sha256)
    shot(audrey, tmp_path, "custody-report")
    audrey_context.close()


def test_a_custodian_opens_a_case_and_places_a_legal_hold(browser: Browser, site: Site,
                                                          tmp_path: Path) -> None:
    _, page = site.sign_in(browser, "cora")
    page.get_by_role("link", name="Cases").click()
    page.get_by_label("Reference").fill("2026-0042")
    page.get_by_label("Title").fill("Disturbance, Market Street")
    page.get_by_role("button", name="Open case").click()
    expect(page.get_by_role("status")).to_have_text("Case 2026-0042 is open.")
    page.goto(site.server.url + f"/recordings/{site.recording.id}")
    page.get_by_label("Add to case").select_option("2026-0042")
    page.get_by_role("button", name="Add to case").click()
    expect(page.get_by_role("status")).to_contain_text("part of case 2026-0042")
    page.get_by_label("Reason for a legal hold").fill("Preservation order 17/2026")
    page.get_by_role("button", name="Place legal hold").click()
    expect(page.get_by_role("status")).to_contain_text("nothing deletes this recording now")
    page.get_by_role("link", name="2026-0042").click()
    expect(page.get_by_role("heading", name="Case 2026-0042: Disturbance, Market Street")
           ).to_be_visible()
    shot(page, tmp_path, "case")
    page.context.close()


def test_a_recording_page_on_a_tablet_and_a_wearer_sees_nothing(
        browser: Browser, site: Site, tmp_path: Path) -> None:
    context, page = site.sign_in(browser, "rita", TABLET)
    page.goto(site.server.url + f"/recordings/{site.recording.id}")
    expect(page.get_by_role("heading", name="Segments")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= TABLET["width"], f"the page is {width} px wide on a {TABLET['width']} px tablet"
    shot(page, tmp_path, "recording-tablet")
    context.close()
    context, page = site.sign_in(browser, "walt")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(
        ["Dashboard"])
    page.goto(site.server.url + f"/recordings/{site.recording.id}")
    expect(page.get_by_role("alert")).to_contain_text("lacks permission recording.search")
    context.close()

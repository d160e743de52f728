"""The web interface's newest controls in a real browser (Playwright driving Debian's
Chromium) against a real `serve` process: restoring a recording the retention job made
pending, enabling a disabled person again, and ending a camera's assignment at an
earlier time. Every control is found by its role and accessible label (that is the
accessibility check), the person it is not for neither gets it nor gets through by
sending the form by hand, and the refusals are readable pages naming the rule or the
field. The restore runs on SQLite and PostgreSQL (a pending row changed under the
retention job's rules); the others show pages whose database work test_web_forms.py
already runs on both. Screenshots go to the test's directory, or $BODYCAM_SCREENSHOTS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from browser_rig import Site, field_time, open_site
from people_rig import DATABASES
from playwright.sync_api import Browser, Locator, Page, expect
from server_fixtures import Camera
from test_people_browser import browser, shot
from test_web_browser import site

from bodycam.hal.clocks import DEFAULT_SIM_WALL

__all__ = ["browser", "site"]


@pytest.fixture(params=["sqlite"])
def bare_site(request: pytest.FixtureRequest, tmp_path: Path, camera: Camera,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The site before the camera offloads (the test uploads when it needs to)."""
    yield from open_site(request, tmp_path, camera, monkeypatch, upload=False)


def post_anyway(page: Page, action: str, fields: dict[str, str]) -> None:
    """What a person without the control can still try: send its form by hand, from
    this page (its CSRF token, this origin), as a crafted page or a saved form would."""
    with page.expect_navigation():
        page.evaluate("""([action, fields]) => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = action;
            const add = (name, value) => {
                const input = document.createElement("input");
                input.type = "hidden"; input.name = name; input.value = value;
                form.append(input);
            };
            add("csrf_token", document.querySelector("input[name=csrf_token]").value);
            for (const [name, value] of Object.entries(fields)) add(name, value);
            document.body.append(form);
            form.submit();
        }""", [action, fields])


def _fact(page: Page, section: str, term: str) -> Locator:
    """The value of `term` in the facts list of the page's `section`."""
    return page.get_by_role("region", name=section).locator(f"dt:text-is('{term}') + dd")


def _audit(site: Site, browser: Browser, **filters: str) -> tuple[Page, Locator]:
    """The auditor's audit log, filtered (labels: Kind, Actor, Outcome, Recording)."""
    _, page = site.sign_in(browser, "audrey")
    page.get_by_role("link", name="Audit log").click()
    for label, value in filters.items():
        page.get_by_label(label.capitalize(), exact=True).fill(value)
    page.get_by_role("button", name="Filter").click()
    return page, page.get_by_role("table")


def _row(log: Locator, kind: str) -> Locator:
    return log.get_by_role("row").filter(has=log.page.get_by_role("cell", name=kind,
                                                                  exact=True))


@pytest.mark.parametrize("site", DATABASES, indirect=True)
def test_a_pending_recording_is_restored_from_its_page(browser: Browser, site: Site,
                                                       tmp_path: Path) -> None:
    recording = site.recording  # made in 2025: long past the uncategorised 31 days
    site.run_retention()
    page_of = site.server.url + f"/recordings/{recording.id}"
    restore, keep = f"/recordings/{recording.id}/restore", {"name": "evidential",
                                                           "reason": "Complaint filed"}

    context, root = site.sign_in(browser, "root")
    root.goto(page_of)
    expect(root.get_by_role("alert")).to_contain_text("no access to evidence")
    post_anyway(root, restore, keep)
    expect(root.get_by_role("alert")).to_contain_text("(rule: administrator_no_evidence)")
    context.close()

    context, cora = site.sign_in(browser, "cora")  # may see it, may not categorise it
    cora.goto(page_of)
    expect(_fact(cora, "Retention", "State")).to_contain_text("expired: deleted after")
    expect(cora.get_by_role("form", name="Restore: keep it after all")).to_have_count(0)
    expect(cora.get_by_role("button", name="Restore", exact=True)).to_have_count(0)
    post_anyway(cora, restore, keep)
    expect(cora.get_by_role("alert")).to_contain_text(
        "lacks permission recording.categorise")
    expect(cora.get_by_role("alert")).to_contain_text("(rule: permission)")
    context.close()

    context, rita = site.sign_in(browser, "rita")
    rita.goto(page_of)
    state = _fact(rita, "Retention", "State")
    expect(state).to_contain_text("unless restored")
    form = rita.get_by_role("form", name="Restore: keep it after all")
    # preselected: the first category that keeps it beyond today (evidential's two
    # years until 2027, then prosecution's six); not_evidential's 31 days do not
    expect(form.get_by_label("Keep it in category")).to_have_value(
        re.compile(r"^(evidential|prosecution)$"))
    form.get_by_label("Keep it in category").select_option("not_evidential")
    form.get_by_label("Why is it kept?").fill("Complaint filed")
    shot(rita, tmp_path, "restore")
    form.get_by_role("button", name="Restore", exact=True).click()
    expect(rita.get_by_role("alert")).to_contain_text("still past its retention period")
    expect(rita.get_by_role("alert")).to_contain_text("(rule: still_expired)")
    expect(state).to_contain_text("unless restored")
    form.get_by_label("Keep it in category").select_option("prosecution")
    form.get_by_label("Why is it kept?").fill("Complaint filed")
    form.get_by_label("Why is it kept?").press("Enter")  # the keyboard sends it too
    expect(rita.get_by_role("status")).to_contain_text("restored into category prosecution")
    expect(state).to_have_text("kept")
    expect(_fact(rita, "Retention", "Category")).to_contain_text("prosecution (by rita)")
    expect(rita.get_by_role("form", name="Restore: keep it after all")).to_have_count(0)
    shot(rita, tmp_path, "restored")
    context.close()

    audrey, log = _audit(site, browser, recording=recording.id)
    restored = _row(log, "recording_restored")
    expect(restored).to_contain_text("rita")
    expect(restored).to_contain_text("reason=Complaint filed")
    for actor, rule in (("root", "administrator_no_evidence"), ("cora", "permission"),
                        ("rita", "still_expired")):
        expect(log.get_by_role("row").filter(has_text=f"refused ({rule})").filter(
            has_text="action=recording.restore")).to_contain_text(actor)
    audrey.context.close()


def test_a_disabled_person_cannot_sign_in_until_enabled_again(
        browser: Browser, bare_site: Site, tmp_path: Path) -> None:
    site = bare_site
    rita_context, rita = site.sign_in(browser, "rita")
    admin_context, root = site.sign_in(browser, "root")
    root.get_by_role("link", name="Users").click()
    people = root.get_by_role("table", name="Everyone who can sign in")
    row = people.get_by_role("row").filter(has=root.get_by_role("rowheader", name="rita",
                                                                exact=True))
    row.get_by_role("button", name="Disable rita").click()
    expect(root.get_by_role("status")).to_have_text(
        "rita is disabled; every session of theirs has ended.")
    expect(row).to_contain_text("disabled")
    expect(row.get_by_role("button", name="Disable rita")).to_have_count(0)
    enable = row.get_by_role("button", name="Enable rita again")
    expect(enable).to_be_visible()
    shot(root, tmp_path, "users-disabled")

    rita.reload()  # her session ended with the account
    expect(rita.get_by_role("heading", name="Sign in")).to_be_visible()
    site.fill_sign_in(rita, "rita", later=1)  # the right password and code
    refused = rita.get_by_role("alert")
    expect(refused).to_have_text("Wrong username, password or code (or the account is "
                                 "disabled).")
    shot(rita, tmp_path, "sign-in-disabled")
    site.fill_sign_in(rita, "nobody")  # no such account: the very same answer
    expect(refused).to_have_text("Wrong username, password or code (or the account is "
                                 "disabled).")

    enable.focus()
    root.keyboard.press("Enter")  # the keyboard reaches it too
    expect(root.get_by_role("status")).to_have_text("rita is enabled again and may sign in.")
    expect(row).to_contain_text("active")
    expect(row.get_by_role("button", name="Disable rita")).to_be_visible()
    shot(root, tmp_path, "users-enabled")
    admin_context.close()
    site.fill_sign_in(rita, "rita", later=1)
    expect(rita.get_by_role("heading", name="Dashboard")).to_be_visible()
    rita_context.close()

    audrey, log = _audit(site, browser)
    for kind in ("user_disabled", "user_enabled"):
        expect(_row(log, kind)).to_contain_text("root")
        expect(_row(log, kind)).to_contain_text("user=rita")
    expect(_row(log, "sign_in_failed").filter(has_text="failed (account_disabled)")
           ).to_contain_text("rita")
    audrey.context.close()


def test_an_assignment_is_ended_at_an_earlier_time(browser: Browser, bare_site: Site,
                                                   tmp_path: Path) -> None:
    site = bare_site
    device = site.camera.device_id
    worn_from = DEFAULT_SIM_WALL - timedelta(hours=1)  # the camera's clock starts there
    context, root = site.sign_in(browser, "root")
    root.get_by_role("link", name="Devices").click()
    form = root.get_by_role("form", name="Record an assignment")
    form.get_by_label("Camera").select_option(device)
    form.get_by_label("Worn by (username)").fill("walt")
    form.get_by_label("From (UTC)").fill(field_time(worn_from))
    form.get_by_role("button", name="Record assignment").click()
    expect(root.get_by_role("status")).to_contain_text(
        f"walt wears {device} from 2025-01-01T07:00:00.000Z until checked in")
    table = root.get_by_role("table", name="Assignments, newest first")
    row = table.get_by_role("row").filter(has=root.get_by_role("cell", name="walt"))
    end = row.get_by_label("or ended at (UTC)")
    button = row.get_by_role("button", name=f"End {device}'s assignment to walt at that "
                             "time")
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    for bad, said, name in (
            (worn_from - timedelta(hours=1), "started at 2025-01-01T07:00:00.000Z; it cannot "
             "end at 2025-01-01T06:00:00.000Z", "assignment-end-before-start"),
            (tomorrow, f"cannot end at {field_time(tomorrow)}.000Z, a time still to come",
             "assignment-end-in-the-future")):
        end.fill(field_time(bad))
        button.click()
        expect(root.get_by_role("alert")).to_contain_text(said)
        expect(root.get_by_role("alert")).to_contain_text("Fix:")
        expect(row).to_contain_text("checked out")  # nothing changed
        shot(root, tmp_path, name)
    end.fill(field_time(worn_from + timedelta(minutes=30)))
    shot(root, tmp_path, "assignment-end")
    button.click()
    expect(root.get_by_role("status")).to_have_text(
        f"walt wore {device} until 2025-01-01T07:30:00.000Z.")
    expect(row).to_contain_text("2025-01-01T07:30:00.000Z")
    expect(row).to_contain_text("ended by root")
    expect(button).to_have_count(0)
    shot(root, tmp_path, "assignment-ended")
    context.close()

    recording = site.upload()  # made after that end: walt no longer wore the camera
    assert recording.start is not None and recording.start > "2025-01-01T07:30:00.000Z"
    context, rita = site.sign_in(browser, "rita")
    rita.goto(site.server.url + f"/recordings/{recording.id}")
    worn = _fact(rita, "What the server holds", "Worn by")
    expect(worn).to_contain_text("not on record")
    expect(worn).not_to_contain_text("walt")
    context.close()

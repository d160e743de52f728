"""The sign-in pages in a real browser (Playwright driving Debian's Chromium) against a
real `serve` process, on SQLite and PostgreSQL: labelled fields, a wrong password, a
real TOTP code, the start page, sign-out, and a cross-site form that cannot sign anyone
out. Screenshots go to the test's directory (docs/screenshots/ when asked)."""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from browser_rig import chromium
from people_rig import PASSWORD, code, database_args
from playwright.sync_api import Browser, BrowserContext, Page, expect
from server_rig import ServeProcess, run_server

from bodycam.tools.dev.ports import free_port

# Set to a directory (e.g. docs/screenshots) to keep the screenshots for the README.
SHOTS: Final = os.environ.get("BODYCAM_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture(params=["sqlite"])  # sessions on PostgreSQL: test_people_pages.py
def site(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[tuple[str, str]]:
    """(server URL, alice's TOTP key) with a real serve process."""
    port = free_port()
    directory = tmp_path / "server"
    run_server("init", "--data-dir", str(directory), "--url", f"https://127.0.0.1:{port}",
               *database_args(request.param, request))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    added = run_server("user", "add", "alice", "--name", "Alice Reviewer", "--role",
                       "reviewer", "--password-stdin", "--data-dir", str(directory))
    secret = re.search(r"secret=([A-Z2-7]+)", added.stdout)
    assert secret is not None
    process = ServeProcess(directory, port, {}).start()
    yield f"https://127.0.0.1:{port}", secret.group(1)
    process.stop()


def shot(page: Page, tmp_path: Path, name: str) -> None:
    target = Path(SHOTS) if SHOTS else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=True)


def sign_in(page: Page, password: str, totp: str) -> None:
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(password)
    page.get_by_label("Code from your authenticator app").fill(totp)
    page.get_by_role("button", name="Sign in").click()


def test_signing_in_and_out_in_a_browser(browser: Browser, site: tuple[str, str],
                                          tmp_path: Path) -> None:
    url, secret = site
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1024,
                                                                      "height": 768})
    page = context.new_page()
    page.goto(url + "/")
    expect(page).to_have_url(url + "/sign-in")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, tmp_path, "sign-in")

    sign_in(page, "not the password", code(secret, time.time()))
    expect(page.get_by_role("alert")).to_contain_text("Wrong username, password or code")
    expect(page.get_by_label("Username")).to_have_value("alice")
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")

    sign_in(page, PASSWORD, code(secret, time.time()))
    expect(page).to_have_url(url + "/")
    expect(page.get_by_role("heading", name="Signed in as Alice Reviewer")).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="recording.view")).to_have_count(1)
    shot(page, tmp_path, "signed-in")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto(url + "/")
    expect(page).to_have_url(url + "/sign-in")
    context.close()


def signed_in(browser: Browser, url: str, secret: str) -> tuple[BrowserContext, Page]:
    """Alice signed in, in a browser context of her own."""
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(url + "/sign-in")
    sign_in(page, PASSWORD, code(secret, time.time()))
    expect(page.get_by_role("heading", name="Signed in as Alice Reviewer")).to_be_visible()
    return context, page


def test_a_cross_site_form_cannot_sign_anyone_out(browser: Browser, site: tuple[str, str]
                                                  ) -> None:
    url, secret = site
    context, page = signed_in(browser, url, secret)

    evil = context.new_page()  # a page of another origin, in the same browser
    evil.set_content(f'<form method="post" action="{url}/sign-out">'
                     '<input name="csrf_token" value="guess"><button>Win a prize</button>'
                     '</form>')
    with evil.expect_navigation():
        evil.get_by_role("button", name="Win a prize").click()
    assert "Signed in as" not in evil.content()
    page.reload()
    expect(page.get_by_role("heading", name="Signed in as Alice Reviewer")).to_be_visible()
    context.close()


def test_a_form_from_before_signing_in_again_gets_a_page_saying_what_to_do(
        browser: Browser, site: tuple[str, str]) -> None:
    url, secret = site
    context, page = signed_in(browser, url, secret)
    other = context.new_page()  # another tab: signs out and in again (a new session)
    other.goto(url + "/")
    other.get_by_role("button", name="Sign out").click()
    expect(other.get_by_role("status")).to_have_text("You have signed out.")
    sign_in(other, PASSWORD, code(secret, time.time() + 30))  # the next code: never reused
    expect(other.get_by_role("heading", name="Signed in as Alice Reviewer")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()  # the old session's token
    expect(page.get_by_role("heading", name="The form could not be accepted")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("(rule: csrf)")
    expect(page.locator("main")).to_contain_text("reload it")
    page.get_by_role("link", name="Back to the form").click()
    expect(page.get_by_role("heading", name="Signed in as Alice Reviewer")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()  # reloaded: it works
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    context.close()

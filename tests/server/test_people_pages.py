"""The sign-in pages through the real application in-process: the login form's own CSRF
token, the sign-out form's session token, security headers, and a session shown on the
start page. (test_people_browser.py drives the same pages in Chromium.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from people_rig import DATABASES, PASSWORD, People, code, open_people

from bodycam.server.app import create_app
from bodycam.server.people.web_session import COOKIE

ORIGIN = "https://127.0.0.1:8443"


@pytest.fixture(params=DATABASES)
def people(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[People]:
    yield from open_people(request, tmp_path)


def form_token(client: TestClient) -> str:
    page = client.get("/sign-in")
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and found is not None
    return found.group(1)


def test_the_sign_in_form_signs_in_and_sets_the_session(people: People) -> None:
    alice = people.add("alice", "reviewer")
    assert alice.totp_secret is not None
    client = TestClient(create_app(people.context), base_url=ORIGIN, follow_redirects=False)
    answer = client.post("/sign-in", data={
        "username": "alice", "password": PASSWORD, "form_token": form_token(client),
        "code": code(alice.totp_secret, people.clock.now)}, headers={"Origin": ORIGIN})
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert COOKIE in answer.cookies
    home = client.get("/")
    assert home.status_code == 200 and "Signed in as Alice" in home.text


def test_a_sign_in_post_without_the_forms_token_is_refused(people: People) -> None:
    people.add("alice", "reviewer")
    client = TestClient(create_app(people.context), base_url=ORIGIN, follow_redirects=False)
    form_token(client)  # the cookie is set; the form field is missing or wrong
    for token in ("", "forged"):
        answer = client.post("/sign-in", data={"username": "alice", "password": PASSWORD,
                                               "form_token": token})
        assert answer.status_code == 403 and "has expired or was not sent" in answer.text
    assert people.events("sign_in_failed") == [("sign_in_failed", "alice", "csrf")] * 2
    assert people.events("sign_in") == []


def test_the_sign_out_form_needs_the_sessions_token(people: People) -> None:
    alice = people.add("alice", "reviewer")
    assert alice.totp_secret is not None
    client = TestClient(create_app(people.context), base_url=ORIGIN, follow_redirects=False)
    client.post("/sign-in", data={
        "username": "alice", "password": PASSWORD, "form_token": form_token(client),
        "code": code(alice.totp_secret, people.clock.now)})
    refused = client.post("/sign-out", data={"csrf_token": "guess"})
    assert refused.status_code == 403 and "(rule: csrf)" in refused.text  # a page
    assert client.get("/").status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert token is not None
    done = client.post("/sign-out", data={"csrf_token": token.group(1)})
    assert done.status_code == 303 and done.headers["location"] == "/sign-in?signed-out=1"
    assert client.get("/").headers["location"] == "/sign-in"


def test_pages_forbid_framing_caching_and_foreign_scripts(people: People) -> None:
    page = TestClient(create_app(people.context), base_url=ORIGIN).get("/sign-in")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert '<label for="username">Username</label>' in page.text


def test_markup_in_a_username_is_shown_as_text(people: People) -> None:
    client = TestClient(create_app(people.context), base_url=ORIGIN)
    answer = client.post("/sign-in", data={"username": "<script>alert(1)</script>",
                                           "password": "x", "form_token": form_token(client)})
    assert answer.status_code == 401
    assert "<script>alert" not in answer.text and "&lt;script&gt;" in answer.text

"""Debian's Chromium under Playwright, launched the one way this machine and CI can run
it (no sandbox as root, no GPU, no network of its own). The browser tests import it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

from playwright.sync_api import Browser, sync_playwright

CHROMIUM: Final = "/usr/bin/chromium"
ARGS: Final = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--disable-quic"]


def chromium(*extra: str) -> Iterator[Browser]:
    """The body of a module's `browser` fixture."""
    assert Path(CHROMIUM).exists(), "install Debian's chromium (make .venv/.dev does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra])
        yield launched
        launched.close()

"""Browser tests of the panel: a real hub on loopback and Debian's Chromium driven by Playwright.

Chromium comes from the system (``.ci/debian-packages``), never from ``playwright install``.
Under pytest-xdist every file here runs on the same worker, one after the other (see the
scheduler in the root ``conftest.py``): one Chromium and one hub at a time.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests may run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="install the dev extra: pip install -e '.[dev]'"
)


@attrs.define
class BrowserLog:
    """What the page said that a working panel never says: console errors, CSP violations."""

    errors: list[str] = attrs.field(factory=list)
    allowed: list[Callable[[str, str], bool]] = attrs.field(factory=list)

    def on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if not any(allow(message.text, url) for allow in self.allowed):
            self.errors.append(f"{message.text} ({url})")

    def allow_refusal(self, path: str, status: int = 401) -> None:
        """Accept the browser's note about an HTTP ``status`` on ``path`` the test provokes."""
        self.allowed.append(lambda text, url: f"status of {status}" in text and url.endswith(path))


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Chromium with a fresh profile."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (bash .ci/bootstrap does it "
            "from .ci/debian-packages)"
        )
    assert shutil.which(str(CHROMIUM))
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def watched_page(browser: Any) -> AsyncIterator[tuple[Any, BrowserLog]]:
    """A page in a fresh context (cookies, storage of its own), with its console errors and
    CSP violations collected."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    page.set_default_timeout(15_000)
    log = BrowserLog()
    page.on("console", lambda message: log.on_console(message))
    page.on("pageerror", lambda error: log.errors.append(f"uncaught: {error}"))
    await page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    try:
        yield page, log
    finally:
        await context.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[tuple[Any, BrowserLog]]:
    """A page in a fresh context, with its console errors and CSP violations collected."""
    async with watched_page(browser) as watched:
        yield watched


@pytest.fixture
async def second_page(browser: Any) -> AsyncIterator[tuple[Any, BrowserLog]]:
    """Another user's page, in a context (cookies, storage) of its own, watched the same way."""
    async with watched_page(browser) as watched:
        yield watched

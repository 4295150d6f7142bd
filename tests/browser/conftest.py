"""The web console in a real browser: local mode (a subprocess, as a user starts it) and the Chromium
of the Linux distribution driven by Playwright.

Playwright's own browser download is not used: the tests launch the system's Chromium with
``executable_path`` and flags that keep it off the network (no background services, no updates).
Without Chromium or Playwright the tests skip, except in CI (``CI`` set), where they fail: CI must
never pass by skipping them.

One local mode and one browser serve the whole session; each test gets its own browser context
(fresh ``sessionStorage``) and page. Every page records the Content-Security-Policy violations the
browser reports, its script errors and its requests; a test fails if there was a violation, an
error, or a request to anywhere but the API and the storage.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LocalProcess, receiver, start_local, stop_local  # noqa: F401 (fixture)

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SCREENSHOT_ENV = "DIARIST_CONSOLE_SCREENSHOT"
"""Set to a path (e.g. docs/console.png) to write the README's screenshot of a real result there."""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


def chromium_path() -> str | None:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        _unavailable(
            "Chromium is not installed (scripts/setup.sh installs it as root: apt-get install chromium)"
        )
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def console_local() -> Iterator[LocalProcess]:
    """Local mode with the fake engine, each job taking ~2 s (time to cancel one in the browser)."""
    lp = start_local(
        "--engine",
        "fake",
        env={"DIARIST_FAKE_BEHAVIOUR": "slow", "DIARIST_FAKE_SLOW_S": "2"},
    )
    yield lp
    assert stop_local(lp) == 0, "".join(lp.lines[-30:])


class Console:
    """A page of the console, and what the browser said about it."""

    def __init__(self, page: Any, local: LocalProcess) -> None:
        self.page = page
        self.local = local
        self.csp_violations: list[str] = []
        self.page_errors: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, URL) of every request the page made
        page.on("request", lambda r: self.requests.append((r.method, r.url)))
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))

    def foreign_requests(self) -> list[str]:
        """Requests to anywhere but the API's origin and the storage's (the emulator)."""
        allowed = (self.local.api_url + "/", self.local.aws_endpoint + "/", "blob:", "data:")
        return [url for _, url in self.requests if not url.startswith(allowed)]

    def _console(self, msg: Any) -> None:
        if msg.type == "error" and "Content Security Policy" in msg.text:
            self.csp_violations.append(msg.text)

    def open(self, key: str | None = None) -> Console:
        self.page.goto(self.local.api_url + "/")
        self.page.wait_for_selector("body[data-ready='1']")
        if key is not None:
            self.page.get_by_test_id("api-key").fill(key)
            self.page.get_by_test_id("save-key").click()
        return self

    def tid(self, testid: str) -> Any:
        return self.page.get_by_test_id(testid)

    def submit_file(self, path: Path, **options: Any) -> str:
        """Upload ``path`` with the options set in the form; returns the job id shown."""
        self.tid("file-input").set_input_files(str(path))
        for name, value in options.items():
            field = self.tid(name)
            if isinstance(value, bool):
                field.set_checked(value)
            elif name == "channel-mode":
                field.select_option(value)
            else:
                field.fill(str(value))
        self.tid("submit").click()
        self.page.wait_for_function("() => document.getElementById('job-id').textContent.length > 0")
        return str(self.tid("job-id").text_content())

    def wait_status(self, status: str, timeout_ms: int = 60_000) -> None:
        self.page.wait_for_function(
            "s => document.querySelector('[data-testid=job-status]').textContent.startsWith(s)",
            arg=status,
            timeout=timeout_ms,
        )


@pytest.fixture
def console(browser: Any, console_local: LocalProcess) -> Iterator[Console]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
    c = Console(context.new_page(), console_local)
    yield c
    context.close()
    assert not c.csp_violations, c.csp_violations
    assert not c.page_errors, c.page_errors
    assert not c.foreign_requests(), c.foreign_requests()  # no third-party origin at run time

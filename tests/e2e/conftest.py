"""Browser tests: Debian's Chromium driven by Playwright, against pytest-django's live server on loopback.

Every request to a host other than the live server is aborted and recorded, so a test can assert that
nothing left the machine. Screenshots go to tests/e2e/output/ (a CI artifact, not committed).
"""

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make between browser
# steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
OUTPUT = Path(__file__).parent / "output"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session", autouse=True)
def _patient_expectations():
    """Assertions wait up to 15 s (default 5 s): a loaded 2-core CI machine is slow, never wrong."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


class Blocked(list):
    """URLs the page tried to load from anywhere but the live server."""


@pytest.fixture
def new_page(browser, live_server):
    """Make pages in fresh browser contexts (separate cookies); outside requests are aborted and recorded."""
    contexts = []
    blocked = Blocked()

    def make(**context_options):
        """`context_options` go to `browser.new_context` (the axe test passes `bypass_csp=True`: axe-core is
        injected as an inline script, which the app's CSP rightly refuses)."""
        options = {"viewport": {"width": 1360, "height": 900}, "service_workers": "block"} | context_options
        context = browser.new_context(**options)

        def guard(route):
            host = urlsplit(route.request.url).hostname or ""
            if host in LOCAL_HOSTS or route.request.url.startswith(("data:", "blob:", "about:")):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        # A Content-Security-Policy violation is a test failure too (tests assert page.errors == []).
        page.on(
            "console",
            lambda message: (
                page.errors.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    make.blocked = blocked
    yield make
    for context in contexts:
        context.close()


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/queues/")


def screenshot(page, name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / f"{name}.png"
    # caret="initial": Playwright would otherwise inject a <style> to hide the caret, which the page's CSP
    # (rightly) refuses and reports as a violation.
    page.screenshot(path=str(path), full_page=True, caret="initial")
    return path

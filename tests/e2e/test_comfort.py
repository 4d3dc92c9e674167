"""Comfort in a real browser: personal media settings on the case page, the dark theme, a 390 px phone
without sideways scrolling, and the header's badges."""

import re

import pytest
from playwright.sync_api import expect

from cases.models import Case
from moderation.comfort_models import UserSettings
from moderation.models import Action, AuditEvent
from tests import factories
from tests.e2e.conftest import PASSWORD, log_in, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def floor(live_server):
    """A queue with a case carrying a stored picture, an escalated case, and the agent alice."""
    policy = factories.PolicyFactory(code="harassment", name="Harassment", severity=3)
    remove = factories.ActionFactory(
        code="remove", name="Remove content", kind=Action.Kind.REMOVE, shortcut_key="1"
    )
    policy.allowed_actions.set([remove])
    queue = factories.QueueFactory(slug="general", name="General", is_default=True)
    alice = factories.UserFactory(username="alice")
    alice.set_password(PASSWORD)
    alice.save()
    queue.members.add(alice)
    vendor = factories.VendorFactory()
    subject = factories.SubjectFactory(
        text="a long reported text " * 30, media_urls=["https://media.platform.example/pic-0.png"]
    )
    case = factories.OpenCaseFactory(subject=subject, policy=policy, queue=queue, priority=90)
    factories.ReportFactory(case=case, vendor=vendor, comment="comment " * 40)
    factories.MediaFileFactory(url="https://media.platform.example/pic-0.png")
    escalated = factories.OpenCaseFactory(policy=policy, queue=queue, status=Case.Status.ESCALATED)
    factories.ReportFactory(case=escalated, vendor=vendor)
    return {"queue": queue, "alice": alice, "case": case}


@pytest.fixture(autouse=True)
def _settle(request, new_page):
    """Every page asks for the header badges once loaded: let the last answer finish before the database is
    emptied for the next test (SQLite refuses to flush under a request still reading)."""
    pages = []
    request.node.settle = pages.append
    yield
    for page in pages:
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)


def _filter(page) -> str:
    return page.locator("#media-0 img").evaluate("img => getComputedStyle(img).filter")


def test_my_media_settings_are_applied_on_the_case_page(new_page, live_server, floor, request):
    UserSettings.objects.create(user=floor["alice"], blur="strong", greyscale=False, enlarge_on_reveal=True)
    page = new_page()
    request.node.settle(page)
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/cases/{floor['case'].pk}/")

    expect(page.locator("body")).to_have_class(re.compile(r"\bblur-strong\b.*\benlarge-on-reveal\b"))
    assert _filter(page) == "blur(48px) grayscale(0)"
    small = page.locator("#media-0 .media-frame").bounding_box()["height"]
    page.keyboard.press("r")
    expect(page.locator("#media-0")).to_have_class(re.compile(r"\brevealed\b"))
    assert _filter(page) == "grayscale(0)"
    assert page.locator("#media-0 .media-frame").bounding_box()["height"] > small * 1.5
    screenshot(page, "comfort-case-settings")
    assert page.errors == []


def test_auto_reveal_reveals_through_the_audited_reveal(new_page, live_server, floor, request):
    UserSettings.objects.create(user=floor["alice"], auto_reveal=True)
    page = new_page()
    request.node.settle(page)
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/cases/{floor['case'].pk}/")

    expect(page.locator("#media-0")).to_have_class(re.compile(r"\brevealed\b"))
    assert _filter(page) == "grayscale(1)"  # the default keeps revealed media greyscale
    assert AuditEvent.objects.filter(verb="media.revealed", case_id=floor["case"].pk).count() == 1
    assert page.errors == []


def _background(page) -> str:
    return page.evaluate("getComputedStyle(document.documentElement).backgroundColor")


LIGHT_BG, DARK_BG = "rgb(246, 247, 249)", "rgb(18, 23, 29)"


def test_the_theme_follows_the_system_unless_chosen(new_page, live_server, floor, request):
    page = new_page()
    request.node.settle(page)
    page.emulate_media(color_scheme="dark")
    log_in(page, live_server, "alice")
    assert _background(page) == DARK_BG
    screenshot(page, "comfort-dark-dashboard")

    page.goto(f"{live_server.url}/me/settings")
    page.get_by_label("Theme").select_option("light")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url(re.compile(r"/me/settings$"))
    assert page.evaluate("document.documentElement.className") == "theme-light"
    assert _background(page) == LIGHT_BG

    page.emulate_media(color_scheme="light")
    page.get_by_label("Theme").select_option("dark")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url(re.compile(r"/me/settings$"))
    assert _background(page) == DARK_BG
    page.goto(f"{live_server.url}/cases/{floor['case'].pk}/")
    assert _background(page) == DARK_BG
    screenshot(page, "comfort-dark-case")
    assert page.errors == []


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def test_a_390_px_phone_never_scrolls_sideways_on_the_main_pages(new_page, live_server, floor, request):
    page = new_page()
    request.node.settle(page)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "alice")
    expect(page.locator("#badges [data-badge='escalations']")).to_be_visible()
    for path, name in (
        ("/queues/", "dashboard"),
        ("/queues/general/", "queue"),
        (f"/cases/{floor['case'].pk}/", "case"),
        ("/me/settings", "settings"),
    ):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        screenshot(page, f"comfort-390-{name}")
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
                .slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))"""
        )
        assert _no_sideways_scroll(page), f"{path} scrolls sideways at 390 px: {wide}"
    assert page.errors == []


def test_the_header_badges_show_what_waits_for_me(new_page, live_server, floor, request):
    page = new_page()
    request.node.settle(page)
    log_in(page, live_server, "alice")

    expect(page.locator("#badges [data-badge='escalations'] .badge-count")).to_have_text("1")
    expect(page.locator("#badges [data-badge='confirmations'] .badge-count")).to_have_text("0")
    expect(page.locator("#badges [data-badge='escalations']")).to_have_class(re.compile(r"\bhas\b"))
    assert page.errors == []

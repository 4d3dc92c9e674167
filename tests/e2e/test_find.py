"""Finding things in a real browser: search from the header with the keyboard only, then a subject's
timeline with the diff between its versions and the version a report saw."""

import re

import pytest
from playwright.sync_api import expect

from tests.cases.find_world import build_world
from tests.e2e.conftest import PASSWORD, log_in, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(live_server, review_setup, policies, vendor):
    found = build_world(review_setup, policies, vendor)
    found.alice.set_password(PASSWORD)
    found.alice.save()
    return found


def test_an_agent_finds_a_subject_with_the_keyboard_and_reads_its_story(new_page, live_server, world):
    page = new_page()
    log_in(page, live_server, "alice")

    page.keyboard.press("Control+k")
    box = page.locator("#global-search")
    expect(box).to_be_focused()
    box.press_sequentially("post-1", delay=20)
    options = page.locator('#search-popup [role="option"]')
    expect(options).to_have_count(4)  # two cases, the subject, "all results"
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#search-popup")).not_to_contain_text("post-2")

    for _ in range(3):
        page.keyboard.press("ArrowDown")
    subject_option = page.locator(f'#search-popup [role="option"][href$="/subjects/{world.post1.pk}/"]')
    expect(subject_option).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", subject_option.get_attribute("id"))
    screenshot(page, "find-search-dropdown")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/cases/subjects/\d+/$"))

    expect(page.get_by_role("heading", level=1)).to_contain_text("post-1")
    timeline = page.locator(".timeline")
    expect(timeline.locator(".entry-version")).to_have_count(2)
    expect(timeline.locator(".entry-decision")).to_contain_text("selling followers")
    expect(timeline.locator(".diff-text ins").first).to_have_text("cheap ")
    expect(page.locator(".timeline")).not_to_contain_text("post-2")
    screenshot(page, "find-subject-timeline")

    page.locator("a.saw-version").first.click()
    page.wait_for_url(re.compile(r"/versions/1$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Content version 1")
    expect(page.locator("#version-text")).to_have_text("buy followers")

    # "/" searches where it is not the note shortcut; Escape closes the suggestions first.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("/")
    expect(box).to_be_focused()
    box.press_sequentially("author-7", delay=20)
    expect(page.locator('#search-popup [role="option"]').first).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#search-popup")).to_be_hidden()
    page.keyboard.press("Enter")  # no option active: the full results page
    page.wait_for_url(re.compile(r"/cases/search\?q=author-7$"))
    page.get_by_role("option", name=re.compile("author-7")).click()
    page.wait_for_url(re.compile(r"/cases/authors/\?id=author-7$"))
    expect(page.locator(".timeline")).to_contain_text("post-1")
    assert page.errors == []


def test_a_starred_queue_appears_in_the_header(new_page, live_server, world):
    page = new_page()
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/queues/general/")
    page.get_by_role("button", name="Star this queue").click()
    expect(page.get_by_role("button", name="Starred")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#header-shortcuts")).to_contain_text("★ General")
    assert page.errors == []

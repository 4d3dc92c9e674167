"""A lead's first and second login in a real browser: enrol an authenticator, then password + code."""

import re

import pytest
from playwright.sync_api import expect

from tests.accounts import code_for_key, key_from_secret, person
from tests.e2e.conftest import PASSWORD, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lead(settings):
    settings.TWO_FACTOR_REQUIRED = "privileged"
    return person("lena", "lead", password=PASSWORD)


def code_for(secret: str, steps_ahead: int = 0) -> str:
    """What the lead's phone would show: computed from the key printed on the page."""
    return code_for_key(key_from_secret(secret), steps_ahead)


def password_step(page, live_server) -> None:
    page.goto(f"{live_server.url}/queues/")
    page.get_by_label("Username").fill("lena")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_lead_enrols_on_first_login_and_needs_the_code_on_the_next(new_page, live_server, lead):
    page = new_page()
    password_step(page, live_server)

    page.wait_for_url(re.compile(r"/accounts/two-factor/setup/\?next="))
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.get_by_test_id("otp-secret").inner_text()
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.get_by_role("alert")).to_contain_text("did not match")

    page.get_by_label("Code from the app").fill(code_for(secret))
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.get_by_test_id("backup-codes").locator("li")).to_have_count(10)
    screenshot(page, "two-factor-backup-codes")
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/queues/")

    # A second browser: the password alone lands on the code step, and the app stays shut until it passes.
    second = new_page()
    password_step(second, live_server)
    second.wait_for_url(re.compile(r"/accounts/two-factor/\?next="))
    second.goto(f"{live_server.url}/audit/")
    second.wait_for_url(re.compile(r"/accounts/two-factor/\?next=%2Faudit%2F"))
    second.get_by_label("Code").fill(code_for(secret, steps_ahead=1))
    second.get_by_role("button", name="Verify").click()
    second.wait_for_url(f"{live_server.url}/audit/")

    assert page.errors == [] and second.errors == []
    assert new_page.blocked == []

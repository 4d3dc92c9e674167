"""Decision keys in a real browser: a key is one action under every policy, and only the case's holder uses it."""

import re

import pytest
from playwright.sync_api import expect

from cases.models import Case, Decision
from moderation.models import Action
from tests import factories
from tests.e2e.conftest import PASSWORD, log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desk(live_server):
    """Agent alice of queue `general`; two policies offering different actions that share `warn` (key 3)."""
    actions = {
        "remove": factories.ActionFactory(code="remove", name="Remove content", shortcut_key="1"),
        "label": factories.ActionFactory(
            code="label", name="Label as sensitive", kind=Action.Kind.LABEL, shortcut_key="2"
        ),
        "warn": factories.ActionFactory(
            code="warn", name="Warn author", kind=Action.Kind.WARN, shortcut_key="3"
        ),
        "dismiss": factories.ActionFactory(
            code="dismiss", name="No violation", kind=Action.Kind.NO_VIOLATION
        ),
    }
    harassment = factories.PolicyFactory(code="harassment", name="Harassment", severity=3)
    harassment.allowed_actions.set([actions["remove"], actions["warn"]])
    spam = factories.PolicyFactory(code="spam", name="Spam", severity=1)
    spam.allowed_actions.set([actions["label"], actions["warn"]])
    queue = factories.QueueFactory(slug="general", name="General", is_default=True)
    alice = factories.UserFactory(username="alice")
    alice.set_password(PASSWORD)
    alice.save()
    queue.members.add(alice)
    vendor = factories.VendorFactory()
    cases = []
    for n in range(2):
        case = factories.OpenCaseFactory(policy=harassment, queue=queue, priority=100 - n)
        factories.ReportFactory(case=case, vendor=vendor)
        cases.append(case)
    return {"actions": actions, "harassment": harassment, "spam": spam, "alice": alice, "cases": cases}


def decision_posts(page) -> list[str]:
    """Decide and confirm requests the page sends (heartbeats and previews are not decisions)."""
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.url)
            if request.method == "POST" and re.search(r"/(decide|confirm)$", request.url)
            else None
        ),
    )
    return sent


def radio(page, action):
    return page.locator(f'#action-choices input[value="{action.pk}"]')


def test_keys_on_a_case_you_only_browse_decide_nothing(new_page, live_server, desk):
    case = desk["cases"][0]
    page = new_page()
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    sent = decision_posts(page)
    expect(page.locator("#keys-off")).to_be_visible()

    page.keyboard.press("1")
    page.keyboard.press("Enter")
    # Even with an action picked by mouse, Enter on the form does not submit it.
    radio(page, desk["actions"]["warn"]).click()
    page.keyboard.press("Enter")

    page.wait_for_timeout(1000)  # anything the keys set off would have reached the server by now
    assert not Decision.objects.filter(case=case).exists()
    assert sent == []
    case.refresh_from_db()
    assert (case.status, case.assignee_id) == (Case.Status.OPEN, None)
    expect(page.locator("#toasts")).to_contain_text("only browsing this case")
    expect(radio(page, desk["actions"]["remove"])).not_to_be_checked()

    # Once the agent holds it, the same keys decide it.
    page.get_by_role("button", name="Claim this case").click()
    expect(page.locator("#case-main")).to_have_attribute("data-holding", "1")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    expect(page.locator("#toasts")).to_contain_text(f"Case {case.pk}: Remove content")
    assert Decision.objects.get(case=case).action == desk["actions"]["remove"]
    assert page.errors == []


def test_c_on_a_pending_decision_you_only_browse_confirms_nothing(new_page, live_server, desk):
    case = desk["cases"][0]
    bob = factories.UserFactory(username="bob")
    pending = factories.DecisionFactory(
        case=case, action=desk["actions"]["remove"], decided_by=bob, review_state=Decision.ReviewState.PENDING
    )
    Case.objects.filter(pk=case.pk).update(status=Case.Status.PENDING_CONFIRMATION)
    page = new_page()
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    sent = decision_posts(page)
    expect(page.locator('[data-shortcut="confirm"]')).to_be_visible()

    page.keyboard.press("c")

    page.wait_for_timeout(1000)
    pending.refresh_from_db()
    assert pending.review_state == Decision.ReviewState.PENDING
    assert sent == []
    assert Case.objects.get(pk=case.pk).status == Case.Status.PENDING_CONFIRMATION
    expect(page.locator("#toasts")).to_contain_text("only browsing this case")


def test_the_same_key_chooses_the_same_action_under_every_policy(new_page, live_server, desk):
    warn = desk["actions"]["warn"]
    page = new_page()
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/queues/general/")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    case_id = int(page.locator("#case-main").get_attribute("data-case"))

    # Harassment offers Remove (1) and Warn (3): the third line is No violation, key 3 is still Warn.
    expect(page.locator("#action-choices label", has_text="Warn author").locator("kbd")).to_have_text("3")
    page.keyboard.press("3")
    expect(radio(page, warn)).to_be_checked()

    # Spam offers Label (2) and Warn (3): another list, the same key for the same action.
    page.locator("#decision-policy").select_option(str(desk["spam"].pk))
    expect(radio(page, desk["actions"]["label"])).to_be_visible()
    page.keyboard.press("Escape")  # leave the policy menu: keys typed there belong to it
    page.keyboard.press("3")
    expect(radio(page, warn)).to_be_checked()
    page.keyboard.press("Enter")

    expect(page.locator("#toasts")).to_contain_text(f"Case {case_id}: Warn author (Spam)")
    decision = Decision.objects.get(case_id=case_id)
    assert (decision.action, decision.policy) == (warn, desk["spam"])
    assert page.errors == []

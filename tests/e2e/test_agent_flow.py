"""An agent's shift in a real browser: log in, open a queue, claim, reveal media, decide with the keyboard."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import Case, Decision
from cases.services.review import record_decision
from moderation.models import Action, AuditEvent
from queues.services import claim_case
from tests import factories
from tests.e2e.conftest import PASSWORD, log_in, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shift(live_server):
    """A queue with five open cases (the top one has a stored media copy) and two member agents."""
    policy = factories.PolicyFactory(code="harassment", name="Harassment", severity=3)
    remove = factories.ActionFactory(
        code="remove", name="Remove content", kind=Action.Kind.REMOVE, shortcut_key="1"
    )
    warn = factories.ActionFactory(code="warn", name="Warn author", kind=Action.Kind.WARN, shortcut_key="2")
    policy.allowed_actions.set([remove, warn])
    queue = factories.QueueFactory(slug="general", name="General", is_default=True)
    agents = []
    for username in ("alice", "bob"):
        agent = factories.UserFactory(username=username)
        agent.set_password(PASSWORD)
        agent.save()
        queue.members.add(agent)
        agents.append(agent)
    vendor = factories.VendorFactory()
    cases = []
    for n in range(5):
        media = [f"https://media.platform.example/pic-{n}.png"] if n == 0 else []
        subject = factories.SubjectFactory(
            text=f"reported text number {n} https://bank.example@evil.example/login", media_urls=media
        )
        case = factories.OpenCaseFactory(subject=subject, policy=policy, queue=queue, priority=100 - n)
        factories.ReportFactory(case=case, vendor=vendor, comment=f"comment {n}")
        cases.append(case)
    factories.MediaFileFactory(url="https://media.platform.example/pic-0.png")
    return {"queue": queue, "agents": agents, "cases": cases, "policy": policy, "remove": remove}


def case_id_of(page) -> int:
    return int(page.locator("#case-main").get_attribute("data-case"))


def test_agent_reviews_with_the_keyboard_and_lands_on_the_next_case(new_page, live_server, shift):
    page = new_page()
    log_in(page, live_server, "alice")
    expect(page.locator('tr[data-queue="general"] [data-count="waiting"]')).to_have_text("5")
    page.get_by_role("link", name="General").click()
    page.wait_for_url(re.compile(r"/queues/general/$"))

    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/cases/\d+/$"))
    first = case_id_of(page)
    assert first == shift["cases"][0].pk  # highest priority first
    expect(page.locator(".claim.mine")).to_be_visible()

    # Media are blurred until revealed; the reveal is audited.
    expect(page.locator("#media-0")).to_have_class(re.compile(r"\bblurred\b"))
    blur = page.locator("#media-0 img").evaluate("img => getComputedStyle(img).filter")
    assert "blur" in blur and "grayscale" in blur
    page.keyboard.press("r")
    expect(page.locator("#media-0")).to_have_class(re.compile(r"\brevealed\b"))
    assert page.locator("#media-0 img").evaluate("img => img.naturalWidth") > 0  # served by the app
    assert AuditEvent.objects.filter(verb="media.revealed", case_id=first).count() == 1

    # Links are text with their real host, never anchors.
    expect(page.locator(".hostile-text .host").first).to_have_text("→ evil.example")
    assert page.locator(".hostile-text a").count() == 0

    screenshot(page, "review-page")

    page.keyboard.press("1")
    expect(page.locator('#action-choices input[data-action-key="1"]')).to_be_checked()
    page.keyboard.press("Enter")

    expect(page.locator("#case-main")).not_to_have_attribute("data-case", str(first))
    assert page.url.endswith(f"/cases/{shift['cases'][1].pk}/")  # pushed URL of the next case
    expect(page.locator("#toasts")).to_contain_text(f"Case {first}")
    decision = Decision.objects.get(case_id=first)
    assert decision.decided_by.username == "alice"
    assert Case.objects.get(pk=first).status == Case.Status.RESOLVED
    assert Case.objects.get(pk=shift["cases"][1].pk).assignee.username == "alice"
    assert page.errors == []
    assert new_page.blocked == []


def test_two_agents_claiming_from_one_queue_never_get_the_same_case(new_page, live_server, shift):
    alice, bob = new_page(), new_page()
    log_in(alice, live_server, "alice")
    log_in(bob, live_server, "bob")
    seen = {"alice": [], "bob": []}
    for _ in range(2):
        for name, page in (("alice", alice), ("bob", bob)):
            page.goto(f"{live_server.url}/queues/general/")
            page.keyboard.press("n")
            page.wait_for_url(re.compile(r"/cases/\d+/$"))
            seen[name].append(case_id_of(page))
        # Each decides what they hold, so the next claim takes a new case.
        for page in (alice, bob):
            page.keyboard.press("1")
            page.keyboard.press("Enter")
            expect(page.locator("#toasts .toast").first).to_be_visible()
    claimed = seen["alice"] + seen["bob"]
    assert len(claimed) == len(set(claimed)) == 4
    assert Decision.objects.count() == 4
    assert sorted(Decision.objects.values_list("case_id", flat=True)) == sorted(claimed)


def test_a_stale_decision_shows_the_conflict_and_changes_nothing(new_page, live_server, shift):
    page = new_page()
    log_in(page, live_server, "alice")
    case = shift["cases"][2]
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.get_by_role("button", name="Claim this case").click()
    expect(page.locator("#case-main")).to_have_attribute("data-holding", "1")

    # Meanwhile alice's lease runs out and a lead takes the case over and decides it from elsewhere.
    Case.objects.filter(pk=case.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    lead = factories.UserFactory(username="lead", is_superuser=True)
    assert claim_case(case_id=case.pk, user=lead) is not None
    record_decision(
        case_id=case.pk,
        user=lead,
        policy_id=shift["policy"].pk,
        action_id=shift["remove"].pk,
        expected_version=None,
    )

    page.keyboard.press("2")
    page.keyboard.press("Enter")
    banner = page.locator("#case-main > .banner.conflict")  # not the heartbeat's "no longer hold" banner
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("already decided")
    expect(banner).to_contain_text("lead")
    assert Decision.objects.filter(case=case).count() == 1  # the lead's, not a second one
    assert Decision.objects.get(case=case).decided_by == lead


def test_hostile_text_runs_no_script_and_loads_nothing_from_outside(new_page, live_server, shift):
    case = shift["cases"][3]
    case.subject.text = (
        '<script>document.title="pwned"</script><img src="https://tracker.example/x.gif" '
        "onerror=\"document.title='pwned'\"> \u202egnp.exe {{ secret }} {% debug %} "
        '<a href="javascript:alert(1)">click</a> <style>body{display:none}</style>'
    )
    case.subject.save()
    page = new_page()
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    expect(page.locator(".hostile-text").first).to_contain_text("<script>")
    assert page.title() != "pwned"
    assert page.locator(".hostile-text img, .hostile-text script, .hostile-text a").count() == 0
    expect(page.locator(".hostile-text .ctl.bidi").first).to_have_text("RLO")
    expect(page.locator("body")).to_be_visible()
    assert page.errors == []
    assert new_page.blocked == []

"""axe-core (WCAG 2 A and AA rules) finds no violation on any page of the app, nor on the admin's routing-rule
form, in a real browser, on the demo's own data (what a newcomer sees after `make run`).

axe-core comes from npm (`make axe`, into .cache/axe; never a CDN) and is injected from that local file. It is an
inline script to the page, which the app's CSP refuses, so these contexts bypass the CSP (the other browser
tests keep it and fail on any violation of it).

A new page is one more `Page(...)` line in PAGES: a name, who looks (a demo login, or None), and its path (a
string, or a function of the demo data).
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import RequestFactory

from cases.demo import DEMO_PASSWORD, seed_configuration, seed_reports
from cases.models import Campaign, Case, MediaFile
from moderation.views import server_error
from queues.models import Queue, RoutingRule
from queues.selectors import visible_queue_ids
from tests import factories
from tests.accounts import code_for_key, key_from_secret
from tests.cases.find_world import version
from tests.e2e.conftest import OUTPUT

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(__file__).resolve().parents[2] / ".cache/axe/node_modules/axe-core/axe.min.js"
RULES = ["wcag2a", "wcag2aa"]


@dataclass(frozen=True)
class Demo:
    """What the pages are about, picked from the seeded demo."""

    queue: str  # a queue the agent works
    media_case: int  # an open case with a stored media copy, held by the agent
    campaign: int
    rule: int
    empty_queue: str
    subject: int  # the media case's subject, with two content versions
    author: str
    search: str  # a word of the subject's text
    version: int


@dataclass(frozen=True)
class Page:
    name: str
    user: str | None  # a demo login (agent, lead, admin), None: not logged in
    path: str | Callable[[Demo], str]
    status: int = 200

    def url(self, demo: Demo) -> str:
        return self.path(demo) if callable(self.path) else self.path


PAGES = [
    Page("login", None, "/accounts/login/"),
    Page("home", "agent", "/"),
    Page("dashboard", "agent", "/queues/"),
    Page("queue", "agent", lambda d: f"/queues/{d.queue}/"),
    Page("empty queue", "lead", lambda d: f"/queues/{d.empty_queue}/"),
    Page("case page with media, held", "agent", lambda d: f"/cases/{d.media_case}/"),
    Page("case page, browsed by a lead", "lead", lambda d: f"/cases/{d.media_case}/"),
    Page("campaign", "lead", lambda d: f"/cases/campaigns/{d.campaign}/"),
    Page("spot test", "lead", "/cases/spot-test"),
    Page("audit log", "lead", "/audit/"),
    Page("queue health", "lead", "/oversight/"),
    Page("team", "lead", "/oversight/team"),
    Page("outcomes", "lead", "/cases/oversight/outcomes"),
    Page("sources", "lead", "/cases/oversight/sources"),
    Page("search", "agent", lambda d: f"/cases/search?q={d.search}"),
    Page("search, nothing found", "agent", "/cases/search?q=zzqqxx-nothing"),
    Page("subject timeline", "agent", lambda d: f"/cases/subjects/{d.subject}/"),
    Page("content version", "agent", lambda d: f"/cases/subjects/{d.subject}/versions/{d.version}"),
    Page("author timeline", "lead", lambda d: f"/cases/authors/?id={d.author}"),
    Page("my settings", "agent", "/me/settings"),
    Page("what waits: second reviews", "agent", "/me/waiting/confirmations"),
    Page("my settings, lead", "lead", "/me/settings"),
    Page("DSA statements", "admin", "/dsa/statements/"),
    Page("transparency report", "admin", "/dsa/transparency/"),
    Page("not found", "agent", "/cases/987654321/", status=404),
    Page("forbidden", "agent", "/oversight/", status=403),
    Page("admin: routing rules", "admin", "/admin/queues/routingrule/"),
    Page("admin: add a routing rule", "admin", "/admin/queues/routingrule/add/"),
    Page("admin: change a routing rule", "admin", lambda d: f"/admin/queues/routingrule/{d.rule}/change/"),
    # Last: it may claim a case (a confirmation page when the browser does not say the link is the app's own).
    Page("claim the next case", "lead", lambda d: f"/queues/{d.queue}/next"),
]


@pytest.fixture
def demo(live_server) -> Demo:
    seeded = seed_configuration()
    seed_reports(vendors=seeded["vendors"], count=40)
    agent = seeded["users"]["agent"]
    stored = set(MediaFile.objects.values_list("url", flat=True))
    media_case = next(
        case
        for case in Case.objects.filter(status=Case.Status.OPEN, queue_id__in=visible_queue_ids(agent))
        .select_related("subject", "queue")
        .order_by("id")
        if set(case.subject.media_urls) & stored
    )
    factories.hold(media_case, agent)
    subject = media_case.subject
    # A second content version, so the version page shows a diff against the first.
    latest = subject.versions.order_by("-version").first()
    version(subject, latest.version + 1, f"{latest.text} (edited)")
    busy = set(Case.objects.values_list("queue_id", flat=True))
    return Demo(
        queue=media_case.queue.slug,
        media_case=media_case.pk,
        campaign=Campaign.objects.order_by("-member_count").first().pk,
        rule=RoutingRule.objects.filter(score_conditions__isnull=False).first().pk,
        empty_queue=Queue.objects.exclude(pk__in=busy).filter(is_restricted=False).first().slug,
        subject=subject.pk,
        author=subject.author_id,
        version=latest.version + 1,
        search=next(word for word in subject.text.split() if word.isalpha() and len(word) > 3),
    )


def log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/queues/|/admin/"))


def violations(page) -> list[str]:
    """axe-core's WCAG 2 A/AA violations on the page as it is now, one readable line per failing element."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make axe` (npm install into .cache/axe)")
    page.wait_for_load_state("load")  # a form post's answer must be the page axe reads, not the one leaving
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.flatMap(v => v.nodes.map(n =>
                `${v.id} (${v.impact}): ${v.help} at ${n.target.join(" ")}: ${n.failureSummary.replace(/\\s+/g, " ")}`));
        }""",
        RULES,
    )
    return found


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_page_of_the_app_has_an_axe_violation(new_page, live_server, demo, scheme):
    """Light and dark: the theme follows the system's colour scheme unless a person picks one."""
    pages = {}
    found: dict[str, list[str]] = {}
    for entry in PAGES:
        if entry.user not in pages:
            pages[entry.user] = new_page(bypass_csp=True, color_scheme=scheme)
            if entry.user:
                log_in(pages[entry.user], live_server, entry.user)
        page = pages[entry.user]
        response = page.goto(live_server.url + entry.url(demo))
        assert response.status == entry.status, f"{entry.name}: {response.status}"
        page.wait_for_load_state("networkidle")
        if problems := violations(page):
            found[entry.name] = problems

    report = json.dumps(found, indent=1, ensure_ascii=False)
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / f"axe-violations-{scheme}.json").write_text(report)  # a CI artifact, with the screenshots
    assert found == {}, report


def test_the_server_error_page_has_no_axe_violation(new_page, live_server):
    """A 500 cannot be caused on purpose: the page the handler renders is served at a made-up address."""
    html = server_error(RequestFactory().get("/queues/")).content
    page = new_page(bypass_csp=True)
    page.route(
        f"{live_server.url}/boom/",
        lambda route: route.fulfill(status=500, body=html, content_type="text/html; charset=utf-8"),
    )
    page.goto(f"{live_server.url}/boom/")

    assert violations(page) == []


def test_the_two_factor_pages_have_no_axe_violation(new_page, live_server, settings):
    settings.TWO_FACTOR_REQUIRED = "privileged"
    seed_configuration()
    page = new_page(bypass_csp=True)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("lead")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/accounts/two-factor/setup/"))
    found = {"setup": violations(page)}
    secret = page.get_by_test_id("otp-secret").inner_text()
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Turn on two-factor").click()
    page.get_by_role("alert").wait_for()
    found["setup, wrong code"] = violations(page)
    page.get_by_label("Code from the app").fill(code_for_key(key_from_secret(secret)))
    page.get_by_role("button", name="Turn on two-factor").click()
    page.get_by_test_id("backup-codes").wait_for()
    found["backup codes"] = violations(page)

    second = new_page(bypass_csp=True)
    second.goto(f"{live_server.url}/accounts/login/")
    second.get_by_label("Username").fill("lead")
    second.get_by_label("Password").fill(DEMO_PASSWORD)
    second.get_by_role("button", name="Log in").click()
    second.wait_for_url(re.compile(r"/accounts/two-factor/\?next="))
    found["verify"] = violations(second)

    assert {name: problems for name, problems in found.items() if problems} == {}

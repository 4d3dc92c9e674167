"""The adversarial corpus (tests/corpus/hostile_reports.py) through the real API and a real browser.

Every entry is posted to the live server's intake API over loopback. Refused ones must get their 4xx with a
JSON body naming the field; accepted ones are routed to the default queue and opened by a member agent in
Chromium, where nothing may run, load from elsewhere, be injected into the page, be evaluated as a template,
or break the layout: the hostile strings must be there as visible text, their tricks shown as badges.

Findings are collected across the corpus and reported together, one line per entry and problem.
"""

from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from cases.models import Case
from moderation.audit import Actor
from moderation.models import Action
from moderation.services import issue_vendor_token
from tests import factories
from tests.corpus.hostile_reports import CORPUS, HostileReport
from tests.e2e.conftest import PASSWORD, log_in, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

ACCEPTED = [entry for entry in CORPUS if entry.accepted]
# Pages worth keeping a picture of (tests/e2e/output/, a CI artifact).
SCREENSHOTS = {"rlo-filename", "long-host-and-identifiers", "max-text-invisible-flood", "bidi-in-identifiers"}
# The heaviest page a report can make stays bounded in what the browser must build (elements and bytes), a
# bound on the page, not on the machine's speed (text is capped and invisible characters become badges).
PAGE_MAX_ELEMENTS = 30_000
PAGE_MAX_HTML_BYTES = 3_000_000
LAYOUT_TOLERANCE_PX = 2
MAX_PROBLEMS_SHOWN = 8

# Runs in every page before the page's own scripts: arms the sentinel the payloads would overwrite and
# records CSP violations (a blocked payload is still a failure: it means markup got into the page).
SENTINEL_SCRIPT = """
window.__sentinel = "armed";
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__csp.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
}, true);
"""

# Everything in the DOM that hostile input could have injected. The app's own pages use none of these
# (external scripts and one stylesheet from the same origin only; no inline styles or handlers).
DOM_PROBLEMS = r"""
() => {
  const problems = [];
  const origin = location.origin;
  const all = (selector) => Array.from(document.querySelectorAll(selector));
  const brief = (el) => el.outerHTML.slice(0, 140).replace(/\s+/g, " ");
  if (window.__sentinel !== "armed") problems.push("the sentinel init script did not run");
  if (window.__pwned !== undefined) problems.push(`window.__pwned was set to ${String(window.__pwned)}`);
  for (const csp of window.__csp || []) problems.push(`CSP violation: ${csp}`);
  for (const script of all("script")) {
    if (!script.src || new URL(script.src).origin !== origin) problems.push(`script element: ${brief(script)}`);
  }
  const forbidden = "iframe, frame, frameset, object, embed, applet, portal, base, meta[http-equiv], style, "
    + "svg, math, template, noscript, video, audio, source, track, marquee, input[type=password]";
  for (const el of all(forbidden)) problems.push(`injected <${el.tagName.toLowerCase()}>: ${brief(el)}`);
  for (const link of all("link")) {
    if (link.rel !== "stylesheet" || new URL(link.href).origin !== origin) problems.push(`link: ${brief(link)}`);
  }
  for (const el of all("*")) {
    for (const name of el.getAttributeNames()) {
      const lower = name.toLowerCase();
      if (lower.startsWith("on") || lower === "style" || lower === "srcdoc" || lower.startsWith("hx-on")) {
        problems.push(`attribute ${name} on ${brief(el)}`);
      }
      if (["href", "src", "action", "formaction", "poster", "data", "srcset", "background"].includes(lower)) {
        const value = el.getAttribute(name);
        let url;
        try { url = new URL(value, location.href); } catch (error) { problems.push(`bad URL ${brief(el)}`); continue; }
        if (url.origin !== origin) problems.push(`${name} leaving the site: ${brief(el)}`);
      }
    }
  }
  const own = new Set(["ctl", "ctl bidi", "link", "host", "host-warning"]);
  for (const el of all(".hostile-text *, .snippet *")) {
    if (el.tagName !== "SPAN" || !own.has(el.className)) problems.push(`markup inside hostile text: ${brief(el)}`);
  }
  return problems;
}
"""

# The text of an element as the reporter wrote it: without the host notes the page adds after each link.
AS_WRITTEN = """
(element) => {
  const copy = element.cloneNode(true);
  copy.querySelectorAll(".host, .host-warning").forEach((note) => note.remove());
  return copy.textContent;
}
"""

LAYOUT = """
() => {
  const button = document.querySelector("#decision-form button[type=submit]");
  const heading = document.querySelector("#case-main h1");
  const at = (el) => {
    if (!el) return null;
    const rect = el.getBoundingClientRect();
    const x = rect.left + rect.width / 2, y = rect.top + rect.height / 2;
    const hit = document.elementFromPoint(x, y);
    return {
      inViewport: rect.top >= 0 && rect.left >= 0 && rect.bottom <= innerHeight && rect.right <= innerWidth
        && rect.width > 0 && rect.height > 0,
      onTop: !!hit && (hit === el || el.contains(hit)),
    };
  };
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    button: at(button),
    heading: at(heading),
  };
}
"""


@pytest.fixture
def intake(live_server):
    """A default queue `general` with a member agent, the harassment policy and a vendor's API token."""
    assert urlsplit(live_server.url).hostname in ("localhost", "127.0.0.1"), "loopback only"
    policy = factories.PolicyFactory(code="harassment", name="Harassment", severity=3)
    policy.allowed_actions.set(
        [
            factories.ActionFactory(code="remove", name="Remove content", kind=Action.Kind.REMOVE),
            factories.ActionFactory(code="warn", name="Warn author", kind=Action.Kind.WARN),
        ]
    )
    queue = factories.QueueFactory(slug="general", name="General", is_default=True)
    agent = factories.UserFactory(username="alice")
    agent.set_password(PASSWORD)
    agent.save()
    queue.members.add(agent)
    _, token = issue_vendor_token(
        vendor=factories.VendorFactory(), label="corpus", actor=Actor.system("test")
    )
    session = requests.Session()
    session.trust_env = False  # no proxies from the environment: these requests stay on loopback
    session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    yield SimpleNamespace(queue=queue, agent=agent, session=session, url=f"{live_server.url}/api/v1/reports")
    session.close()


def post(intake, entry: HostileReport) -> requests.Response:
    return intake.session.post(intake.url, data=entry.payload(), timeout=120)


def answer_problems(entry: HostileReport, response: requests.Response, queue) -> list[str]:
    """What is wrong with the API's answer to `entry` (empty when it is what the corpus expects)."""
    problems = []
    if response.status_code >= 500:
        problems.append(f"server error {response.status_code}: {response.text[:300]}")
    if response.status_code != entry.status:
        problems.append(f"status {response.status_code}, expected {entry.status}: {response.text[:300]}")
    try:
        body = response.json()
    except ValueError:
        return [*problems, f"answer is not JSON: {response.text[:200]!r}"]
    if not entry.accepted:
        if body.get("error") != entry.error:
            problems.append(f"error {body.get('error')!r}, expected {entry.error!r}")
        if not body.get("detail"):
            problems.append("error body has no detail")
        if entry.field and entry.field not in body.get("fields", {}):
            problems.append(f"fields {sorted(body.get('fields', {}))} do not name {entry.field!r}")
        return problems
    if body.get("status") != "created":
        problems.append(f"report status {body.get('status')!r}, expected 'created'")
    elif not Case.objects.filter(pk=body["case_id"], queue=queue, status=Case.Status.OPEN).exists():
        problems.append(f"case {body['case_id']} was not routed to the default queue")
    return problems


def test_every_hostile_report_gets_its_expected_answer_and_never_a_server_error(intake):
    problems = []
    for entry in CORPUS:
        response = post(intake, entry)
        problems += [f"{entry.name}: {problem}" for problem in answer_problems(entry, response, intake.queue)]
        if entry.accepted and response.status_code == entry.status:
            # A replay of the same hostile bytes is recognised as the same report (idempotency survives them).
            replay = post(intake, entry)
            if replay.status_code != 200 or replay.json() != response.json() | {"status": "duplicate"}:
                problems.append(f"{entry.name}: replay answered {replay.status_code} {replay.text[:200]}")
    assert not problems, "\n".join(problems)


def page_problems(page, entry: HostileReport) -> list[str]:
    """What the open case page does wrong with `entry` (empty when it shows it as inert, visible text)."""
    problems = list(page.evaluate(DOM_PROBLEMS))
    main = page.locator("#case-main")
    if main.count() != 1:
        return [*problems, f"the page has {main.count()} #case-main (injected markup took the page apart)"]
    for selector, expected in entry.exact.items():
        element = page.locator(f"#case-main {selector}").first
        if not element.is_visible():
            problems.append(f"{selector} is not visible")
            continue
        shown = element.evaluate(AS_WRITTEN)
        if shown != expected:
            problems.append(f"{selector} shows {shown[:200]!r}, expected {expected[:200]!r}")
    visible = main.inner_text()
    for text in entry.contains:
        if text not in visible:
            problems.append(f"{text[:80]!r} is not visible on the page")
    badges = set(
        page.evaluate("Array.from(document.querySelectorAll('#case-main .ctl'), e => e.textContent)")
    )
    problems += [f"no {badge} badge" for badge in entry.badges if badge not in badges]
    hosts = {text.removeprefix("→ ") for text in main.locator(".host").all_text_contents()}
    problems += [f"no host badge for {host}" for host in entry.hosts if host not in hosts]
    warnings = " | ".join(main.locator(".host-warning").all_text_contents())
    problems += [f"no warning {warning!r}" for warning in entry.warnings if warning not in warnings]
    if entry.truncated and "Showing the first 20,000" not in visible:
        problems.append("huge text is not marked as truncated")
    layout = page.evaluate(LAYOUT)
    if layout["scrollWidth"] > layout["innerWidth"] + LAYOUT_TOLERANCE_PX:
        problems.append(f"page is {layout['scrollWidth']}px wide in a {layout['innerWidth']}px viewport")
    for label, key in (("decision button", "button"), ("case heading", "heading")):
        where = layout[key]
        if where is None or not where["inViewport"] or not where["onTop"]:
            problems.append(f"{label} not visible and unobscured in the viewport: {where}")
    return problems


def test_accepted_hostile_reports_show_as_inert_visible_text(new_page, live_server, intake):
    cases = {}
    for entry in ACCEPTED:
        response = post(intake, entry)
        assert response.status_code == 201, f"{entry.name}: {response.status_code} {response.text[:300]}"
        cases[entry.name] = response.json()["case_id"]

    page = new_page()
    page.add_init_script(SENTINEL_SCRIPT)
    dialogs, requests_seen = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: requests_seen.append(request.url))
    log_in(page, live_server, "alice")

    problems = []
    for entry in ACCEPTED:
        url = f"{live_server.url}/cases/{cases[entry.name]}/"
        errors_before, dialogs_before = len(page.errors), len(dialogs)
        page.goto(url, timeout=60_000)
        try:
            found = page_problems(page, entry)
        except PlaywrightError as error:  # e.g. injected markup navigated the page away mid-check
            found = [f"page could not be checked: {str(error).splitlines()[0]}"]
        if page.url != url:
            found.append(f"navigated away to {page.url}")
        found += [f"page error: {error}" for error in page.errors[errors_before:]]
        found += [f"dialog opened: {message!r}" for message in dialogs[dialogs_before:]]
        elements, html_bytes = page.evaluate(
            "[document.getElementsByTagName('*').length, document.documentElement.outerHTML.length]"
        )
        if elements > PAGE_MAX_ELEMENTS or html_bytes > PAGE_MAX_HTML_BYTES:
            found.append(f"page too heavy: {elements} elements, {html_bytes} bytes of HTML")
        if len(found) > MAX_PROBLEMS_SHOWN:  # one broken entry must not drown the others in the report
            found = [*found[:MAX_PROBLEMS_SHOWN], f"... and {len(found) - MAX_PROBLEMS_SHOWN} more problems"]
        problems += [f"{entry.name}: {problem}" for problem in found]
        if entry.name in SCREENSHOTS:
            screenshot(page, f"hostile-{entry.name}")

    # Let anything deferred (timers, animations, meta refresh) have its chance on the last page.
    page.wait_for_timeout(1500)
    problems += [f"late: {problem}" for problem in page.evaluate(DOM_PROBLEMS)]
    offsite = [
        url for url in requests_seen if not url.startswith((live_server.url, "data:", "about:", "blob:"))
    ]
    problems += [f"request left the live server: {url}" for url in sorted({*offsite, *new_page.blocked})]
    assert not problems, "\n".join(problems)


def test_the_queue_lists_every_hostile_case_inertly(new_page, live_server, intake):
    for entry in ACCEPTED:
        assert post(intake, entry).status_code == 201, entry.name
    page = new_page()
    page.add_init_script(SENTINEL_SCRIPT)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, live_server, "alice")
    expect(page.locator('tr[data-queue="general"] [data-count="waiting"]')).to_have_text(str(len(ACCEPTED)))

    page.goto(f"{live_server.url}/queues/general/")
    expect(page.locator(".snippet").first).to_be_visible()
    assert page.evaluate(DOM_PROBLEMS) == []
    assert "<script>" in page.locator("table.cases").inner_text()
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] + LAYOUT_TOLERANCE_PX, f"queue page is {width[0]}px wide in {width[1]}px"
    assert dialogs == []
    assert page.errors == []
    assert new_page.blocked == []

"""The agent's case review page (`cases.views`): access, hostile content, media, HTMX fragments, decisions,
presence and CSRF.

HTMX requests carry `HX-Request: true`; the case area is swapped with `HX-Target: case-main`.
"""

import json
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Case, CaseNote, CaseViewer, Decision, MediaFile, Signal, SubjectTag
from cases.selectors import media_url_hash
from moderation.models import AuditEvent
from queues.services import claim_case
from tests import factories

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
HX_MAIN = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "case-main"}
MEDIA_URL = "https://cdn.evil.example/photo.png"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def tags_of(html: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def page_url(case, suffix=""):
    return f"/cases/{case.pk}/{suffix}"


@pytest.fixture
def case(review_setup):
    """An open harassment case in `general` with one report, one signal and one stored media item."""
    case = factories.OpenCaseFactory(
        queue=review_setup.queue,
        policy=review_setup.policies["harassment"],
        subject__author_id="author-small",
        subject__media_urls=[MEDIA_URL],
        report_count=1,
        reporter_count=1,
    )
    factories.ReportFactory(case=case, reporter_id="rep-1", comment="they keep insulting me")
    factories.SignalFactory(case=case, label="toxicity", score=0.91)
    factories.MediaFileFactory(url=MEDIA_URL)
    return case


@pytest.fixture
def mine(case, review_setup):
    """The case, claimed by alice (live lease)."""
    claim_case(case_id=case.pk, user=review_setup.agent)
    case.refresh_from_db()
    return case


@pytest.fixture
def outsider_client(review_setup):
    """An agent who is a member of another queue, not of `general`."""
    outsider = factories.UserFactory(username="mallory")
    factories.QueueFactory(slug="elsewhere").members.add(outsider)
    client = Client()
    client.force_login(outsider)
    return client


def post_decision(client, case, review_setup, *, action="remove", policy="harassment", headers=HX, **data):
    body = {
        "policy": review_setup.policies[policy].pk,
        "action": review_setup.actions[action].pk,
        "version": case.version,
        "reason": "",
        "notes": "",
        **data,
    }
    return client.post(page_url(case, "decide"), body, **headers)


# --- Access ---------------------------------------------------------------------------------------------


def test_a_member_sees_the_case_page(agent_client, case):
    response = agent_client.get(page_url(case))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"<h1>Case {case.pk} " in html
    assert 'id="decision-form"' in html
    assert "they keep insulting me" in html
    assert "toxicity" in html


def test_the_decision_form_offers_the_policys_actions_but_not_escalate(agent_client, case):
    html = agent_client.get(page_url(case)).content.decode()

    form = html[html.index('id="action-choices"') : html.index("</fieldset>")]
    assert "Remove" in form and "Warn" in form and "No violation" in form
    assert "Escalate" not in form


CASE_ENDPOINTS = [
    ("get", ""),
    ("post", "decide"),
    ("post", "escalate"),
    ("post", "claim"),
    ("post", "skip"),
    ("post", "release"),
    ("post", "heartbeat"),
    ("get", "actions"),
    ("post", "notes"),
    ("post", "tags"),
    ("get", "media/0"),
    ("get", "media/0/item"),
    ("post", "media/0/reveal"),
]


@pytest.mark.parametrize(("method", "suffix"), CASE_ENDPOINTS)
@pytest.mark.parametrize("headers", [{}, HX_MAIN], ids=["plain", "htmx"])
def test_every_case_url_is_404_for_an_agent_outside_the_queue(
    outsider_client, case, review_setup, method, suffix, headers
):
    data = {"policy": review_setup.policies["spam"].pk, "action": review_setup.actions["remove"].pk}
    data |= {"note": "x", "body": "x", "tag": "x", "queue": review_setup.queue.pk, "version": case.version}
    before = AuditEvent.objects.count()

    response = getattr(outsider_client, method)(page_url(case, suffix), data, **headers)

    assert response.status_code == 404
    assert f"Case {case.pk}".encode() not in response.content
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN and case.assignee is None
    assert AuditEvent.objects.count() == before
    assert not CaseViewer.objects.filter(case=case).exists()
    assert not CaseNote.objects.filter(case=case).exists()


@pytest.mark.parametrize(("method", "suffix"), CASE_ENDPOINTS)
def test_every_case_url_sends_anonymous_users_to_the_login_page(client, case, method, suffix):
    response = getattr(client, method)(page_url(case, suffix))

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={page_url(case, suffix)}"


def test_a_case_that_does_not_exist_is_404(agent_client):
    assert agent_client.get("/cases/987654/").status_code == 404


# --- Hostile content ------------------------------------------------------------------------------------------

HOSTILE = (
    "Hi <script>alert(1)</script> and <img src=x onerror=alert(1)> "
    "file: invoice\u202efdp.exe pay\u200bpal "
    "log in at https://bank.example@evil.example/login now"
)


@pytest.fixture
def hostile_case(review_setup):
    case = factories.OpenCaseFactory(
        queue=review_setup.queue,
        subject__text=HOSTILE,
        subject__external_id='"><script>alert(2)</script>',
        subject__url="https://bank.example@evil.example/",
    )
    factories.ReportFactory(case=case, comment="<img src=y onerror=alert(3)>")
    return case


def test_hostile_text_is_escaped(agent_client, hostile_case):
    html = agent_client.get(page_url(hostile_case)).content.decode()

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;img src=y onerror=alert(3)&gt;" in html  # the report comment
    assert "&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html  # the subject's external id
    assert "<script>alert" not in html and "<img src=x" not in html and "<img src=y" not in html
    escaped = html.count("&lt;img src=x onerror=") + html.count("&lt;img src=y onerror=")
    assert html.count("onerror=") == escaped


def test_hostile_text_produces_no_script_or_event_handler_tags(agent_client, hostile_case):
    tags = tags_of(agent_client.get(page_url(hostile_case)).content.decode())

    scripts = [attrs for tag, attrs in tags if tag == "script"]
    assert scripts and all(attrs.get("src", "").startswith("/static/") for attrs in scripts)
    assert not [(tag, attrs) for tag, attrs in tags if any(name.startswith("on") for name in attrs)]
    assert not [attrs for tag, attrs in tags if tag == "img" and attrs.get("src") in ("x", "y")]


def test_bidi_and_zero_width_characters_are_visible_badges(agent_client, hostile_case):
    html = agent_client.get(page_url(hostile_case)).content.decode()

    assert "\u202e" not in html and "\u200b" not in html
    assert '<span class="ctl bidi" title="U+202E RIGHT-TO-LEFT OVERRIDE">RLO</span>' in html
    assert '<span class="ctl" title="U+200B ZERO WIDTH SPACE">ZWSP</span>' in html


def test_a_link_in_text_is_not_clickable_and_shows_its_real_host(agent_client, hostile_case):
    html = agent_client.get(page_url(hostile_case)).content.decode()

    hrefs = [attrs.get("href", "") for tag, attrs in tags_of(html) if tag == "a"]
    assert not [href for href in hrefs if "example" in href]
    assert '<span class="link">https://bank.example@evil.example/login</span>' in html
    assert "→ evil.example</span>" in html
    assert "→ bank.example" not in html


# --- Media ---------------------------------------------------------------------------------------------


def test_media_are_blurred_and_loaded_from_this_app_only(agent_client, case):
    html = agent_client.get(page_url(case)).content.decode()

    tags = tags_of(html)
    figure = next(attrs for tag, attrs in tags if tag == "figure")
    assert figure["class"].split() == ["media-item", "blurred"]
    images = [attrs for tag, attrs in tags if tag == "img"]
    assert [image["src"] for image in images] == [f"/cases/{case.pk}/media/0"]
    assert images[0]["referrerpolicy"] == "no-referrer"
    for _tag, attrs in tags:
        for name in ("src", "href", "srcset", "action", "hx-get", "hx-post", "poster"):
            assert "cdn.evil.example" not in attrs.get(name, "")
    assert "→ cdn.evil.example" in html  # the original address is shown as text


def test_media_not_stored_show_a_placeholder_and_no_image(agent_client, case):
    MediaFile.objects.all().delete()

    html = agent_client.get(page_url(case)).content.decode()

    assert not [attrs for tag, attrs in tags_of(html) if tag == "img"]
    assert "Not stored yet" in html and "Never loaded from cdn.evil.example" in html


def test_the_media_endpoint_serves_the_stored_bytes_sandboxed(agent_client, case):
    stored = MediaFile.objects.get(url=MEDIA_URL)

    response = agent_client.get(page_url(case, "media/0"))

    assert response.status_code == 200
    assert response.content == bytes(stored.content)
    assert response["Content-Type"] == "image/png"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("content_type", ["image/svg+xml", "text/html", "application/octet-stream", ""])
def test_the_media_endpoint_refuses_non_raster_types(agent_client, case, content_type):
    MediaFile.objects.filter(url=MEDIA_URL).update(content_type=content_type, content=b"<svg onload=x>")

    assert agent_client.get(page_url(case, "media/0")).status_code == 404


@pytest.mark.parametrize("state", [MediaFile.State.BLOCKED, MediaFile.State.FAILED])
def test_the_media_endpoint_refuses_media_that_were_not_stored(agent_client, case, state):
    MediaFile.objects.filter(url=MEDIA_URL).update(state=state)

    assert agent_client.get(page_url(case, "media/0")).status_code == 404


def test_the_media_endpoint_is_404_without_a_stored_copy_or_index(agent_client, case):
    assert agent_client.get(page_url(case, "media/1")).status_code == 404
    MediaFile.objects.all().delete()
    assert agent_client.get(page_url(case, "media/0")).status_code == 404


def test_the_media_endpoint_serves_only_this_cases_media(agent_client, case, review_setup):
    """A stored file of another case is not reachable through this case's media index."""
    factories.MediaFileFactory(url="https://other.example/secret.png")

    assert agent_client.get(page_url(case, "media/0")).content == bytes(
        MediaFile.objects.get(url=MEDIA_URL).content
    )
    assert agent_client.get(page_url(case, "media/1")).status_code == 404


def test_reveal_records_one_audit_event_and_returns_the_unblurred_item(agent_client, case):
    response = agent_client.post(page_url(case, "media/0/reveal"), **HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    figure = next(attrs for tag, attrs in tags_of(html) if tag == "figure")
    assert figure["class"].split() == ["media-item", "revealed"]
    assert figure["id"] == "media-0"
    assert "Blur again" in html
    events = AuditEvent.objects.filter(verb="media.revealed", case_id=case.pk)
    assert events.count() == 1
    assert events.get().data == {"index": 0, "url_sha256": media_url_hash(MEDIA_URL)}


def test_reveal_without_htmx_redirects_to_the_case_and_is_still_audited(agent_client, case):
    response = agent_client.post(page_url(case, "media/0/reveal"))

    assert response.status_code == 302 and response["Location"] == page_url(case)
    assert AuditEvent.objects.filter(verb="media.revealed").count() == 1


def test_reveal_of_a_missing_item_is_404_and_not_audited(agent_client, case):
    assert agent_client.post(page_url(case, "media/5/reveal"), **HX).status_code == 404
    assert not AuditEvent.objects.filter(verb="media.revealed").exists()


def test_reveal_needs_a_post(agent_client, case):
    assert agent_client.get(page_url(case, "media/0/reveal"), **HX).status_code == 405
    assert not AuditEvent.objects.filter(verb="media.revealed").exists()


def test_blur_again_returns_the_blurred_item(agent_client, case):
    response = agent_client.get(page_url(case, "media/0/item"), **HX)

    assert response.status_code == 200
    figure = next(attrs for tag, attrs in tags_of(response.content.decode()) if tag == "figure")
    assert figure["class"].split() == ["media-item", "blurred"]


# --- Query count -------------------------------------------------------------------------------------------

# Measured (SQLite and PostgreSQL): session, user, the case, two permission look-ups, visible queues, then one
# query per section of the page (reports, signals, decisions, notes, tags, curated tags, media, history,
# enforcements, vendor callbacks, same content, viewers, policies + their actions, escalation queues, action
# choices), and the velocity panel's five aggregates (the database's counters: an agent not cleared for
# restricted content sees them without restricted subjects; with Redis a cleared viewer's cost one round trip),
# and for campaigns: the case's memberships, their growth, two per campaign (two campaigns here): its first
# visible members and how many the viewer may see (a window count in the first query joined every member to
# its case, queue and subject before the first ten came back).
CASE_PAGE_MAX_QUERIES = 33


def _in_campaigns(case, review_setup, *, size: int) -> None:
    """Put the case in a near-duplicate and a shared-host campaign of `size` members each (other authors'
    open cases), one member restricted (hidden from the agent)."""
    from cases.models import Campaign, CampaignMember

    now = timezone.now()
    hidden_queue = factories.QueueFactory(slug="restricted-elsewhere", is_restricted=True)
    for kind, key in (
        (Campaign.Kind.NEAR_DUPLICATE_TEXT, ""),
        (Campaign.Kind.SHARED_DOMAIN, f"spam-{case.pk}.test"),
    ):
        campaign = Campaign.objects.create(
            kind=kind, shared_key=key, first_seen_at=now, last_grown_at=now, member_count=size
        )
        others = [
            factories.OpenCaseFactory(
                queue=hidden_queue if n == 0 else review_setup.queue,
                is_restricted=n == 0,
                subject__author_id=f"campaign-author-{n}",
            )
            for n in range(size - 1)
        ]
        CampaignMember.objects.bulk_create(
            CampaignMember(
                campaign=campaign, kind=kind, case=member, subject=member.subject, joined_at=now, jaccard=0.8
            )
            for member in [case, *others]
        )


def _big_case(review_setup):
    author = "author-big"
    vendors = [factories.VendorFactory() for _ in range(5)]
    case = factories.OpenCaseFactory(
        queue=review_setup.queue,
        policy=review_setup.policies["harassment"],
        subject__author_id=author,
        subject__content_hash="same-content",
        subject__media_urls=[f"https://media.example/big-{n}.png" for n in range(25)],
        report_count=200,
    )
    for n in range(10):
        factories.MediaFileFactory(url=f"https://media.example/big-{n}.png")
    for n in range(200):
        factories.ReportFactory(
            case=case,
            vendor=vendors[n % 5],
            policy=review_setup.policies[("spam", "harassment", "child-safety")[n % 3]],
            reporter_id=f"rep-{n}",
            comment=f"comment {n}",
        )
    for n in range(100):
        factories.SignalFactory(case=case, label=f"label-{n % 7}", source_name=f"src-{n % 4}", score=n / 100)
    for n in range(30):
        other = factories.OpenCaseFactory(
            queue=review_setup.queue,
            status=Case.Status.RESOLVED,
            policy=review_setup.policies["spam"],
            subject__author_id=author,
        )
        factories.DecisionFactory(
            case=other, action=review_setup.actions[("remove", "warn")[n % 2]], decided_by=review_setup.agent
        )
    for n in range(5):
        factories.OpenCaseFactory(queue=review_setup.queue, subject__content_hash="same-content")
    for n in range(25):
        factories.CaseNoteFactory(case=case, author=factories.UserFactory(), body=f"note {n}")
    for n in range(15):
        tag = factories.TagFactory(slug=f"tag-{n}", is_curated=n % 2 == 0)
        SubjectTag.objects.create(subject=case.subject, tag=tag)
    for n in range(5):
        CaseViewer.objects.create(case=case, user=factories.UserFactory(), last_seen_at=timezone.now())
    for n in range(3):
        factories.DecisionFactory(
            case=case,
            action=review_setup.actions["warn"],
            mode=Decision.Mode.SHADOW,
            automated=True,
            rule=factories.RoutingRuleFactory(),
        )
    _in_campaigns(case, review_setup, size=60)
    return case


def _small_case(review_setup):
    case = factories.OpenCaseFactory(
        queue=review_setup.queue,
        policy=review_setup.policies["harassment"],
        subject__author_id="author-alone",
        subject__content_hash="unique-content",
        subject__media_urls=["https://media.example/small.png"],
        report_count=1,
    )
    factories.ReportFactory(case=case, reporter_id="reporter-1")
    factories.SignalFactory(case=case)
    _in_campaigns(case, review_setup, size=3)
    return case


def _queries_for_page(client, case) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page_url(case))
    assert response.status_code == 200
    return len(queries)


def test_the_case_page_costs_a_fixed_number_of_queries(agent_client, review_setup):
    small = _small_case(review_setup)
    factories.DecisionFactory(case=small, action=review_setup.actions["warn"], mode=Decision.Mode.SHADOW)
    big = _big_case(review_setup)
    agent_client.get(page_url(small))  # warm per-process caches

    small_count = _queries_for_page(agent_client, small)
    big_count = _queries_for_page(agent_client, big)

    assert small_count == big_count
    assert big_count <= CASE_PAGE_MAX_QUERIES


def test_an_undecided_case_does_not_look_for_enforcements_or_callbacks_it_cannot_have(
    agent_client, review_setup
):
    undecided = _small_case(review_setup)
    agent_client.get(page_url(undecided))
    with CaptureQueriesContext(connection) as queries:
        assert agent_client.get(page_url(undecided)).status_code == 200
    decided = _small_case(review_setup)
    factories.DecisionFactory(case=decided, action=review_setup.actions["warn"], mode=Decision.Mode.SHADOW)

    agent_client.get(page_url(decided))

    reads = " ".join(query["sql"] for query in queries.captured_queries)
    assert 'FROM "cases_enforcement"' not in reads and 'FROM "cases_vendorcallback"' not in reads
    assert _queries_for_page(agent_client, decided) == len(queries) + 2  # a decided one reads both


def test_the_big_case_page_stays_under_the_query_bound(
    agent_client, review_setup, django_assert_max_num_queries
):
    big = _big_case(review_setup)
    agent_client.get(page_url(big))

    with django_assert_max_num_queries(CASE_PAGE_MAX_QUERIES):
        response = agent_client.get(page_url(big))

    html = response.content.decode()
    assert "Showing the latest 50." in html
    assert html.count('class="hostile-text comment"') == 50
    assert html.count("<meter ") == 100
    assert "30 earlier enforcements" in html
    assert html.count('data-testid="campaign-panel"') == 2
    assert "60 members (1 hidden)" in html


def test_the_small_case_page_stays_under_the_query_bound(
    agent_client, review_setup, django_assert_max_num_queries
):
    small = _small_case(review_setup)
    agent_client.get(page_url(small))

    with django_assert_max_num_queries(CASE_PAGE_MAX_QUERIES):
        assert agent_client.get(page_url(small)).status_code == 200


# --- HTMX fragments ----------------------------------------------------------------------------------------


def test_htmx_request_for_the_case_area_returns_only_the_partial(agent_client, case):
    response = agent_client.get(page_url(case), **HX_MAIN)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "<body" not in html
    assert html.lstrip().startswith(f'<div id="case-main" class="review" data-case="{case.pk}"')


def test_the_same_url_without_htmx_returns_the_full_page(agent_client, case):
    html = agent_client.get(page_url(case)).content.decode()

    assert html.startswith("<!doctype html>")
    assert "<html" in html and "</html>" in html
    assert f'<div id="case-main" class="review" data-case="{case.pk}"' in html


def test_an_htmx_request_for_another_target_gets_the_full_page(agent_client, case):
    html = agent_client.get(page_url(case), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="main").content.decode()

    assert "<html" in html


def test_action_choices_follow_the_chosen_policy(agent_client, case, review_setup):
    review_setup.policies["spam"].allowed_actions.set([review_setup.actions["no-violation"]])

    response = agent_client.get(page_url(case, "actions"), {"policy": review_setup.policies["spam"].pk}, **HX)

    html = response.content.decode()
    assert html.lstrip().startswith('<fieldset id="action-choices"')
    assert "No violation" in html and "Remove" not in html


def test_an_action_shows_its_own_key_under_every_policy(agent_client, case, review_setup):
    from moderation.models import Action

    Action.objects.filter(code="remove").update(shortcut_key="1")
    Action.objects.filter(code="warn").update(shortcut_key="2")
    review_setup.policies["spam"].allowed_actions.set([review_setup.actions["warn"]])
    warn, dismiss = review_setup.actions["warn"].pk, review_setup.actions["no-violation"].pk

    for policy in ("harassment", "spam"):
        html = agent_client.get(
            page_url(case, "actions"), {"policy": review_setup.policies[policy].pk}, **HX
        ).content.decode()

        assert f'value="{warn}" data-action-key="2"' in html, policy
        assert f'value="{dismiss}" data-action-key="0"' in html, policy
        assert re.search(r"<kbd>2</kbd>\s*Warn", html), policy


def test_only_the_holder_of_a_case_gets_live_decision_keys(agent_client, case, review_setup):
    browsing = agent_client.get(page_url(case)).content.decode()
    claim_case(case_id=case.pk, user=review_setup.agent)
    holding = agent_client.get(page_url(case)).content.decode()

    assert 'data-holding="0"' in browsing and 'id="keys-off"' in browsing
    assert 'data-holding="1"' in holding and 'id="keys-off"' not in holding


def test_action_choices_for_an_unknown_policy_offer_nothing(agent_client, case):
    html = agent_client.get(page_url(case, "actions"), {"policy": "abc"}, **HX).content.decode()

    assert "No actions are allowed under this policy" in html


# --- Decisions ---------------------------------------------------------------------------------------------


@pytest.fixture
def waiting(case, review_setup):
    """A second open case in `general`, lower in priority: what claim-next offers after `case`."""
    return factories.OpenCaseFactory(queue=review_setup.queue, priority=1.0)


def test_deciding_returns_the_next_case_claimed_with_its_url_and_a_toast(
    agent_client, mine, waiting, review_setup
):
    response = post_decision(agent_client, mine, review_setup, headers=HX_MAIN, reason="Insults.")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert f'data-case="{waiting.pk}"' in html
    assert response["HX-Push-Url"] == f"/cases/{waiting.pk}/"
    toast = json.loads(response["HX-Trigger"])["toast"]
    assert toast == {"message": f"Case {mine.pk}: Remove (Harassment).", "level": "success"}
    waiting.refresh_from_db()
    assert waiting.assignee == review_setup.agent and waiting.status == Case.Status.IN_REVIEW
    decision = Decision.objects.get(case=mine)
    assert decision.reason == "Insults." and decision.decided_by == review_setup.agent


def test_deciding_the_last_case_returns_the_empty_queue_partial(agent_client, mine, review_setup):
    response = post_decision(agent_client, mine, review_setup, headers=HX_MAIN)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert '<section id="case-main" class="card narrow empty-queue">' in html
    assert "Nothing waiting in General" in html
    assert response["HX-Push-Url"] == "/queues/general/"
    assert "HX-Trigger" in response


def test_deciding_and_staying_shows_the_resolved_case(agent_client, mine, waiting, review_setup):
    response = post_decision(agent_client, mine, review_setup, headers=HX_MAIN, then="stay")

    html = response.content.decode()
    assert f'data-case="{mine.pk}"' in html
    assert "This case is resolved" in html
    assert "HX-Push-Url" not in response
    assert Case.objects.get(pk=waiting.pk).assignee is None


def test_a_stale_version_is_a_409_conflict_and_writes_nothing(agent_client, mine, review_setup):
    response = post_decision(agent_client, mine, review_setup, headers=HX_MAIN, version=mine.version - 1)

    assert response.status_code == 409
    html = response.content.decode()
    assert "Not saved." in html and "changed while you had it open" in html
    assert not Decision.objects.filter(case=mine).exists()
    mine.refresh_from_db()
    assert mine.status == Case.Status.IN_REVIEW


def test_deciding_a_case_someone_else_holds_is_a_409(agent_client, case, bob, review_setup):
    claim_case(case_id=case.pk, user=bob)
    case.refresh_from_db()

    response = post_decision(agent_client, case, review_setup, headers=HX_MAIN)

    assert response.status_code == 409
    assert "bob is reviewing this case now." in response.content.decode()
    assert not Decision.objects.filter(case=case).exists()


def test_an_invalid_action_is_a_422_with_the_error_and_the_typed_reason(agent_client, mine, review_setup):
    response = post_decision(
        agent_client,
        mine,
        review_setup,
        headers=HX_MAIN,
        action="escalate",
        reason="My <b>careful</b> reason",
    )

    assert response.status_code == 422
    html = response.content.decode()
    error = '<p class="error" role="alert" id="decision-error">Use Escalate to send the case to another queue.</p>'
    assert error in html
    assert ">My &lt;b&gt;careful&lt;/b&gt; reason</textarea>" in html
    assert not Decision.objects.filter(case=mine).exists()


def test_a_missing_policy_is_a_422_marking_the_policy_field(agent_client, mine, review_setup):
    response = agent_client.post(
        page_url(mine, "decide"), {"policy": "", "action": "", "version": mine.version}, **HX_MAIN
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert "Choose a policy." in html
    assert 'name="policy" hx-disabled-elt="unset" hx-get' in html and 'aria-invalid="true"' in html


def test_deciding_without_htmx_redirects_to_the_queues_next_case(agent_client, mine, review_setup):
    response = post_decision(agent_client, mine, review_setup, headers={})

    assert response.status_code == 302
    assert response["Location"] == "/queues/general/next"
    assert Case.objects.get(pk=mine.pk).status == Case.Status.RESOLVED


def test_decide_needs_a_post(agent_client, case):
    assert agent_client.get(page_url(case, "decide")).status_code == 405


def test_escalating_via_htmx_moves_the_case_and_offers_the_next(agent_client, mine, waiting, review_setup):
    specialists = factories.QueueFactory(slug="specialists", name="Specialists")

    response = agent_client.post(
        page_url(mine, "escalate"),
        {"queue": specialists.pk, "note": "Legal should look", "version": mine.version},
        **HX_MAIN,
    )

    assert response.status_code == 200
    assert response["HX-Push-Url"] == f"/cases/{waiting.pk}/"
    assert "escalated to Specialists" in json.loads(response["HX-Trigger"])["toast"]["message"]
    mine.refresh_from_db()
    assert mine.queue == specialists and mine.status == Case.Status.ESCALATED


def test_escalating_without_a_note_is_a_422_keeping_the_form_open(agent_client, mine, review_setup):
    specialists = factories.QueueFactory(slug="specialists")

    response = agent_client.post(
        page_url(mine, "escalate"), {"queue": specialists.pk, "note": " ", "version": mine.version}, **HX_MAIN
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert '<details class="card escalate" id="escalate" open>' in html
    assert "This field is required." in html
    assert Case.objects.get(pk=mine.pk).queue == review_setup.queue


# --- Claim, skip, release -------------------------------------------------------------------------------------


def test_claiming_a_case_from_the_page_makes_it_mine(agent_client, case, review_setup):
    response = agent_client.post(page_url(case, "claim"), **HX_MAIN)

    assert response.status_code == 200
    assert "Yours until" in response.content.decode()
    assert Case.objects.get(pk=case.pk).assignee == review_setup.agent


def test_claiming_a_case_someone_else_holds_is_a_409(agent_client, case, bob):
    claim_case(case_id=case.pk, user=bob)

    response = agent_client.post(page_url(case, "claim"), **HX_MAIN)

    assert response.status_code == 409
    assert "bob is reviewing this case" in response.content.decode()
    assert Case.objects.get(pk=case.pk).assignee == bob


def test_claiming_a_second_case_at_the_limit_is_a_409_naming_the_one_held(
    agent_client, case, waiting, review_setup
):
    claim_case(case_id=waiting.pk, user=review_setup.agent)

    response = agent_client.post(page_url(case, "claim"), **HX_MAIN)

    assert response.status_code == 409
    assert f"You are already reviewing case {waiting.pk}" in response.content.decode()
    assert Case.objects.get(pk=case.pk).assignee is None


def test_skipping_hands_the_case_back_and_offers_the_next(agent_client, mine, waiting, review_setup):
    response = agent_client.post(page_url(mine, "skip"), **HX_MAIN)

    assert response["HX-Push-Url"] == f"/cases/{waiting.pk}/"
    mine.refresh_from_db()
    assert mine.assignee is None and mine.status == Case.Status.OPEN


def test_releasing_redirects_the_browser_to_the_queue(agent_client, mine):
    response = agent_client.post(page_url(mine, "release"), **HX)

    assert response["HX-Redirect"] == "/queues/general/"
    assert Case.objects.get(pk=mine.pk).assignee is None


# --- Notes and tags ------------------------------------------------------------------------------------------


def test_adding_a_note_returns_the_notes_section_with_it(agent_client, case):
    response = agent_client.post(page_url(case, "notes"), {"body": "Looks <b>coordinated</b>"}, **HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="notes"')
    assert "Looks &lt;b&gt;coordinated&lt;/b&gt;" in html
    assert CaseNote.objects.get(case=case).body == "Looks <b>coordinated</b>"


def test_an_empty_note_is_a_422(agent_client, case):
    response = agent_client.post(page_url(case, "notes"), {"body": "  "}, **HX)

    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert not CaseNote.objects.exists()


def test_adding_a_tag_returns_the_tags_section_with_the_normalised_tag(agent_client, case):
    response = agent_client.post(page_url(case, "tags"), {"tag": "Lang:DE"}, **HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="tags"')
    assert '<input type="hidden" name="remove" value="lang:de">' in html


def test_an_invalid_tag_is_a_422_with_the_rule(agent_client, case):
    response = agent_client.post(page_url(case, "tags"), {"tag": "<b>"}, **HX)

    assert response.status_code == 422
    assert "Tags use lower-case letters" in response.content.decode()
    assert not SubjectTag.objects.exists()


def test_removing_a_tag(agent_client, case):
    agent_client.post(page_url(case, "tags"), {"tag": "lang:de"}, **HX)

    response = agent_client.post(page_url(case, "tags"), {"remove": "lang:de"}, **HX)

    assert response.status_code == 200
    assert "No tags." in response.content.decode()
    assert not SubjectTag.objects.exists()


# --- Presence (heartbeat) -----------------------------------------------------------------------------------


def test_heartbeat_renews_the_holders_lease(agent_client, mine):
    Case.objects.filter(pk=mine.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=20))
    before = Case.objects.get(pk=mine.pk).lease_expires_at

    response = agent_client.post(page_url(mine, "heartbeat"), {"holding": "1"}, **HX)

    assert response.status_code == 200
    after = Case.objects.get(pk=mine.pk).lease_expires_at
    assert after > before + timedelta(seconds=60)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="presence"')
    assert "no longer hold" not in html
    assert """hx-vals='{"holding": "1", "reports_seen": "1"}'""" in html


def test_heartbeat_records_the_viewer(agent_client, case, review_setup):
    agent_client.post(page_url(case, "heartbeat"), **HX)

    assert CaseViewer.objects.filter(case=case, user=review_setup.agent).exists()


def test_heartbeat_shows_other_fresh_viewers_only(agent_client, case, bob):
    CaseViewer.objects.create(case=case, user=bob, last_seen_at=timezone.now())
    stale = factories.UserFactory(username="carol")
    CaseViewer.objects.create(case=case, user=stale, last_seen_at=timezone.now() - timedelta(hours=1))

    html = agent_client.post(page_url(case, "heartbeat"), **HX).content.decode()

    assert "Also looking at this case:" in html
    assert '<span class="viewer">bob</span>' in html
    assert "carol" not in html
    assert '<span class="viewer">alice</span>' not in html


def test_heartbeat_warns_when_the_case_is_now_held_by_someone_else(agent_client, case, bob):
    claim_case(case_id=case.pk, user=bob)

    html = agent_client.post(page_url(case, "heartbeat"), {"holding": "1"}, **HX).content.decode()

    assert "You no longer hold this case" in html
    assert Case.objects.get(pk=case.pk).assignee == bob


def test_heartbeat_warns_when_the_held_case_was_decided(agent_client, mine, review_setup):
    post_decision(agent_client, mine, review_setup, headers={})

    html = agent_client.post(page_url(mine, "heartbeat"), {"holding": "1"}, **HX).content.decode()

    assert "You no longer hold this case" in html


def test_heartbeat_of_a_reader_who_was_not_holding_has_no_warning(agent_client, case, bob):
    claim_case(case_id=case.pk, user=bob)

    html = agent_client.post(page_url(case, "heartbeat"), {"holding": "0"}, **HX).content.decode()

    assert "no longer hold" not in html


# --- CSRF --------------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(review_setup):
    client = Client(enforce_csrf_checks=True)
    client.force_login(review_setup.agent)
    return client


def _page_csrf_token(client, case) -> str:
    html = client.get(page_url(case)).content.decode()
    # (other attributes of <body>, such as the wellness classes, may come first)
    match = re.search(r"<body[^>]*\shx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'>", html)
    assert match, "the page puts the CSRF token into hx-headers on <body>"
    return match.group(1)


def test_a_decision_without_a_csrf_token_is_refused(csrf_client, mine, review_setup):
    _page_csrf_token(csrf_client, mine)  # the cookie is set; the header is missing

    response = post_decision(csrf_client, mine, review_setup)

    assert response.status_code == 403
    assert not Decision.objects.filter(case=mine).exists()


def test_a_decision_with_the_pages_csrf_header_is_accepted(csrf_client, mine, review_setup):
    token = _page_csrf_token(csrf_client, mine)

    response = post_decision(csrf_client, mine, review_setup, headers={**HX_MAIN, "HTTP_X_CSRFTOKEN": token})

    assert response.status_code == 200
    assert Decision.objects.filter(case=mine).count() == 1


def test_a_decision_with_a_wrong_csrf_header_is_refused(csrf_client, mine, review_setup):
    _page_csrf_token(csrf_client, mine)

    response = post_decision(csrf_client, mine, review_setup, headers={**HX, "HTTP_X_CSRFTOKEN": "x" * 64})

    assert response.status_code == 403
    assert not Decision.objects.filter(case=mine).exists()


def test_a_signal_without_score_shows_its_value(agent_client, case):
    factories.SignalFactory(
        case=case, label="account_age_days", score=None, value=3, source=Signal.Source.CONTEXT
    )

    html = agent_client.get(page_url(case)).content.decode()

    assert "<code>account_age_days</code>" in html and "<code>3</code>" in html

"""The agent's way in: login, the dashboard of their queues, the queue page (filters, sorts, pages) and
claim-next (`queues.views`).
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Case, SubjectTag
from moderation.models import AuditEvent
from queues.services import claim_case
from tests import factories

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
SAME_ORIGIN = {"HTTP_SEC_FETCH_SITE": "same-origin"}
CASE_LINK = re.compile(r'<a href="/cases/(\d+)/">#\d+</a>')


def listed(response) -> list[int]:
    """Case ids in the queue page's list, in display order."""
    assert response.status_code == 200, response.content[:500]
    return [int(pk) for pk in CASE_LINK.findall(response.content.decode())]


@pytest.fixture
def general(review_setup):
    return review_setup.queue


@pytest.fixture
def alice(review_setup):
    return review_setup.agent


def open_case(queue, **fields):
    return factories.OpenCaseFactory(queue=queue, **fields)


# --- Login -----------------------------------------------------------------------------------------------


def test_the_login_page_renders(client, db):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<form method="post" action="/accounts/login/">' in html
    assert 'name="username"' in html and 'name="password"' in html
    assert "csrfmiddlewaretoken" in html


def test_logging_in_takes_the_agent_to_their_queues(client, alice):
    alice.set_password("correct horse")
    alice.save()

    response = client.post("/accounts/login/", {"username": "alice", "password": "correct horse"})

    assert response.status_code == 302
    assert response["Location"] == "/queues/"
    assert client.get("/queues/").status_code == 200


def test_a_wrong_password_shows_the_form_again(client, alice):
    alice.set_password("correct horse")
    alice.save()

    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})

    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert client.get("/queues/").status_code == 302


def test_the_dashboard_needs_a_login(client, db):
    response = client.get("/queues/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/queues/"


# --- Dashboard ----------------------------------------------------------------------------------------------


def _count(html: str, slug: str, name: str) -> int:
    row = html[html.index(f'<tr data-queue="{slug}">') :]
    row = row[: row.index("</tr>")]
    return int(re.search(rf'data-count="{name}">(\d+)<', row).group(1))


@pytest.fixture
def dashboard_cases(general, review_setup):
    """general: 3 waiting (2 past SLA, one of them escalated), 1 in review (past SLA), 1 resolved (past SLA)."""
    past = timezone.now() - timedelta(hours=1)
    future = timezone.now() + timedelta(hours=5)
    open_case(general, sla_due_at=past)
    open_case(general, sla_due_at=past, status=Case.Status.ESCALATED)
    open_case(general, sla_due_at=future)
    claimed = open_case(general, sla_due_at=past)
    claim_case(case_id=claimed.pk, user=factories.UserFactory(username="bob"))
    open_case(general, sla_due_at=past, status=Case.Status.RESOLVED)
    hidden = factories.QueueFactory(slug="hidden", name="Hidden queue")
    open_case(hidden, sla_due_at=past)


def test_the_dashboard_lists_only_the_agents_queues(agent_client, dashboard_cases):
    html = agent_client.get("/queues/").content.decode()

    assert '<tr data-queue="general">' in html
    assert 'data-queue="hidden"' not in html and "Hidden queue" not in html


def test_the_dashboard_counts_waiting_and_past_sla_cases(agent_client, dashboard_cases):
    html = agent_client.get("/queues/").content.decode()

    assert _count(html, "general", "waiting") == 3
    assert _count(html, "general", "overdue") == 3  # 2 waiting + 1 in review; resolved ones do not count


def test_the_dashboard_offers_start_reviewing(agent_client, dashboard_cases):
    html = agent_client.get("/queues/").content.decode()

    assert '<form method="post" action="/queues/general/next">' in html
    start = html[html.index('action="/queues/general/next"') :]
    assert start[: start.index("</form>")].count("Start reviewing") == 1
    assert "disabled" not in start[: start.index("</form>")]


def test_start_reviewing_is_disabled_for_an_empty_queue(agent_client, general):
    html = agent_client.get("/queues/").content.decode()

    form = html[html.index('action="/queues/general/next"') :]
    assert "disabled>Start reviewing" in form[: form.index("</form>")]
    assert _count(html, "general", "waiting") == 0


def test_the_dashboard_offers_to_resume_the_agents_own_case(agent_client, general, alice):
    case = open_case(general)
    claim_case(case_id=case.pk, user=alice)

    html = agent_client.get("/queues/").content.decode()

    assert f'<a class="button" href="/cases/{case.pk}/">Resume case {case.pk}</a>' in html


def test_a_user_without_queues_is_told_so(client, db):
    client.force_login(factories.UserFactory(username="newbie"))

    html = client.get("/queues/").content.decode()

    assert "You are not a member of any queue yet." in html


def test_the_dashboard_poll_returns_only_the_queue_table(agent_client, dashboard_cases):
    response = agent_client.get("/queues/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-table")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="queue-table"')
    assert _count(html, "general", "waiting") == 3


# --- Queue page: access -----------------------------------------------------------------------------------


def test_the_queue_page_of_a_queue_the_agent_is_not_in_is_404(agent_client, general):
    factories.QueueFactory(slug="secret")

    assert agent_client.get("/queues/secret/").status_code == 404
    assert agent_client.get("/queues/no-such-queue/").status_code == 404


def test_an_inactive_queue_is_404_even_for_members(agent_client, general, alice):
    closed = factories.QueueFactory(slug="closed", is_active=False)
    closed.members.add(alice)

    assert agent_client.get("/queues/closed/").status_code == 404


def test_the_queue_page_shows_waiting_cases_by_priority(agent_client, general):
    low = open_case(general, priority=5)
    high = open_case(general, priority=50)
    open_case(general, priority=99, status=Case.Status.RESOLVED)
    open_case(general, priority=80, assignee=factories.UserFactory(), status=Case.Status.IN_REVIEW)

    assert listed(agent_client.get("/queues/general/")) == [high.pk, low.pk]


def test_every_filter_has_a_readable_label(agent_client, general):
    html = agent_client.get("/queues/general/").content.decode()

    labels = re.findall(r'<label for="id_(\w+)">([^<]*)</label>', html)
    assert {name for name, _ in labels} >= {"status", "policy", "kind", "vendor", "sla", "tag", "q", "sort"}
    assert [name for name, label in labels if label == "[invalid name]"] == []


def test_the_queue_page_shows_hostile_snippets_escaped(agent_client, general):
    open_case(general, subject__text="<script>alert(1)</script>\u202e")

    html = agent_client.get("/queues/general/").content.decode()

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert ">RLO</span>" in html


def test_the_htmx_filter_request_returns_only_the_case_list(agent_client, general):
    case = open_case(general)

    response = agent_client.get("/queues/general/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="case-list")

    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="case-list">')
    assert listed(response) == [case.pk]


# --- Queue page: filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, ["open", "escalated"]),  # a bare queue page shows the waiting (claimable) cases
        ("active", ["open", "in_review", "escalated"]),
        ("waiting", ["open", "escalated"]),
        ("open", ["open"]),
        ("in_review", ["in_review"]),
        ("escalated", ["escalated"]),
        ("resolved", ["resolved"]),
        ("any", ["open", "in_review", "escalated", "resolved"]),
    ],
)
def test_status_filter(agent_client, general, status, expected):
    cases = {
        "open": open_case(general, priority=40),
        "in_review": open_case(general, priority=30),
        "escalated": open_case(general, priority=20, status=Case.Status.ESCALATED),
        "resolved": open_case(general, priority=10, status=Case.Status.RESOLVED),
    }
    claim_case(case_id=cases["in_review"].pk, user=factories.UserFactory())

    response = agent_client.get("/queues/general/", {"status": status} if status else {})

    assert listed(response) == [cases[name].pk for name in expected]


def test_policy_filter(agent_client, general, policies):
    spam = open_case(general, policy=policies["spam"])
    open_case(general, policy=policies["harassment"])

    assert listed(agent_client.get("/queues/general/", {"policy": policies["spam"].pk})) == [spam.pk]


def test_kind_filter(agent_client, general):
    profile = open_case(general, subject__kind="profile")
    open_case(general, subject__kind="message")

    assert listed(agent_client.get("/queues/general/", {"kind": "profile"})) == [profile.pk]


def test_vendor_filter_matches_cases_with_a_report_from_the_vendor(
    agent_client, general, vendor, other_vendor
):
    both = open_case(general, priority=20)
    factories.ReportFactory(case=both, vendor=vendor)
    factories.ReportFactory(case=both, vendor=other_vendor)
    only_other = open_case(general, priority=10)
    factories.ReportFactory(case=only_other, vendor=other_vendor)

    by_vendor = listed(agent_client.get("/queues/general/", {"vendor": vendor.pk}))
    by_other = listed(agent_client.get("/queues/general/", {"vendor": other_vendor.pk}))

    assert by_vendor == [both.pk]
    assert by_other == [both.pk, only_other.pk]


def test_each_row_shows_its_deadline_and_author_as_the_page_reads_them(agent_client, general):
    now = timezone.now()
    long_author = "user-" + "x" * 40
    late = open_case(general, priority=40, sla_due_at=now - timedelta(hours=2, minutes=5))
    ahead = open_case(general, priority=30, sla_due_at=now + timedelta(minutes=30, seconds=20))
    open_case(general, priority=20, sla_due_at=None)
    late.subject.author_id = long_author
    late.subject.save()
    ahead.subject.author_id = "short-author"
    ahead.subject.save()

    html = agent_client.get("/queues/general/").content.decode()

    rows = {int(pk): row for pk, row in re.findall(r'<tr><td><a href="/cases/(\d+)/">(.*?)</tr>', html, re.S)}
    assert '<td class="sla-late">2h late</td>' in rows[late.pk]
    assert '<td class="sla-soon">in 30m</td>' in rows[ahead.pk]
    assert '<td class="sla-none">no SLA</td>' in html
    assert "<code>short-author</code>" in rows[ahead.pk]
    (shown,) = re.findall(r"<code>(.*?)</code>", rows[late.pk])
    assert shown == long_author[:31] + "…"  # 32 characters at most in the list; the link carries it whole


def test_sla_filters(agent_client, general):
    now = timezone.now()
    late = open_case(general, priority=40, sla_due_at=now - timedelta(minutes=5))
    soon = open_case(general, priority=30, sla_due_at=now + timedelta(minutes=30))
    later = open_case(general, priority=20, sla_due_at=now + timedelta(hours=48))
    no_sla = open_case(general, priority=10, sla_due_at=None)

    assert listed(agent_client.get("/queues/general/", {"sla": "late"})) == [late.pk]
    assert listed(agent_client.get("/queues/general/", {"sla": "soon"})) == [soon.pk]
    assert listed(agent_client.get("/queues/general/", {"sla": "today"})) == [soon.pk]
    assert listed(agent_client.get("/queues/general/", {"sla": "ok"})) == [soon.pk, later.pk, no_sla.pk]


def test_score_filters_use_the_cases_max_score(agent_client, general):
    high = open_case(general, priority=30, max_score=0.95)
    mid = open_case(general, priority=20, max_score=0.5)
    low = open_case(general, priority=10, max_score=0.1)
    open_case(general, priority=5, max_score=None)

    assert listed(agent_client.get("/queues/general/", {"score_min": "0.5"})) == [high.pk, mid.pk]
    assert listed(agent_client.get("/queues/general/", {"score_max": "0.5"})) == [mid.pk, low.pk]
    assert listed(agent_client.get("/queues/general/", {"score_min": "0.2", "score_max": "0.9"})) == [mid.pk]


def test_priority_filters(agent_client, general):
    high = open_case(general, priority=80)
    mid = open_case(general, priority=40)
    open_case(general, priority=5)

    at_least_40 = listed(agent_client.get("/queues/general/", {"priority_min": "40"}))
    between = listed(agent_client.get("/queues/general/", {"priority_min": "10", "priority_max": "50"}))

    assert at_least_40 == [high.pk, mid.pk]
    assert between == [mid.pk]


def test_tag_filter_is_case_insensitive(agent_client, general):
    tagged = open_case(general)
    SubjectTag.objects.create(subject=tagged.subject, tag=factories.TagFactory(slug="lang:de"))
    other = open_case(general)
    SubjectTag.objects.create(subject=other.subject, tag=factories.TagFactory(slug="lang:fr"))

    response = agent_client.get("/queues/general/", {"tag": " LANG:DE "})

    assert listed(response) == [tagged.pk]
    assert '<span class="tag">lang:de</span>' in response.content.decode()


@pytest.mark.parametrize("field", ["text", "external_id", "case_id", "author_id"])
def test_text_search(agent_client, general, field):
    target = open_case(
        general,
        subject__text="Buy cheap WATCHES now",
        subject__external_id="msg-777",
        subject__author_id="au-42",
    )
    open_case(general, subject__text="hello", subject__external_id="msg-1", subject__author_id="au-1")
    query = {
        "text": "cheap watches",
        "external_id": "msg-777",
        "case_id": str(target.pk),
        "author_id": "au-42",
    }

    assert listed(agent_client.get("/queues/general/", {"q": query[field]})) == [target.pk]


def test_external_id_search_is_exact(agent_client, general):
    open_case(general, subject__external_id="msg-777", subject__text="")

    assert listed(agent_client.get("/queues/general/", {"q": "msg-77"})) == []


def test_filters_combine(agent_client, general, policies):
    match = open_case(general, policy=policies["spam"], max_score=0.9, subject__kind="post")
    open_case(general, policy=policies["spam"], max_score=0.1, subject__kind="post")
    open_case(general, policy=policies["harassment"], max_score=0.9, subject__kind="post")
    open_case(general, policy=policies["spam"], max_score=0.9, subject__kind="message")

    response = agent_client.get(
        "/queues/general/", {"policy": policies["spam"].pk, "score_min": "0.8", "kind": "post"}
    )

    assert listed(response) == [match.pk]


def test_a_filter_with_no_match_says_so(agent_client, general):
    open_case(general, max_score=0.1)

    response = agent_client.get("/queues/general/", {"score_min": "0.9"})

    assert listed(response) == []
    assert "No cases match." in response.content.decode()


def test_the_queue_page_only_lists_its_own_cases(agent_client, general):
    mine = open_case(general)
    open_case(factories.QueueFactory(slug="other"))

    assert listed(agent_client.get("/queues/general/", {"status": "any"})) == [mine.pk]


# --- Queue page: sorts ------------------------------------------------------------------------------------------


@pytest.fixture
def sortable(general):
    now = timezone.now()
    cases = {
        "a": open_case(general, priority=10, report_count=5, sla_due_at=now + timedelta(hours=3)),
        "b": open_case(general, priority=30, report_count=1, sla_due_at=now + timedelta(hours=1)),
        "c": open_case(general, priority=20, report_count=9, sla_due_at=now + timedelta(hours=2)),
    }
    # opened a, b, c in that order; reported c, a, b
    for minutes, name in ((30, "a"), (20, "b"), (10, "c")):
        Case.objects.filter(pk=cases[name].pk).update(opened_at=now - timedelta(minutes=minutes))
    for minutes, name in ((3, "c"), (2, "a"), (1, "b")):
        Case.objects.filter(pk=cases[name].pk).update(last_reported_at=now - timedelta(minutes=minutes))
    return cases


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("priority", "bca"),
        ("oldest", "abc"),
        ("newest", "cba"),
        ("sla", "bca"),
        ("reported", "bac"),
        ("reports", "cab"),
    ],
)
def test_sort_options(agent_client, sortable, sort, order):
    response = agent_client.get("/queues/general/", {"sort": sort})

    assert listed(response) == [sortable[name].pk for name in order]


# --- Queue page: invalid input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"score_min": "abc"},
        {"score_min": "2"},
        {"score_max": "-0.1"},
        {"score_min": "NaN"},
        {"priority_min": "-1"},
        {"priority_min": "ten"},
        {"sort": "bogus"},
        {"status": "deleted"},
        {"kind": "spaceship"},
        {"sla": "never"},
        {"policy": "999999"},
        {"policy": "abc"},
        {"vendor": "999999"},
        {"tag": "x" * 65},
        {"q": "x" * 201},
        {"q": "nul\x00byte"},
    ],
)
def test_an_invalid_filter_value_is_a_422_naming_the_field_not_a_500(agent_client, general, params):
    """422, not 400: htmx swaps a 422 in, so the errors replace the list instead of being dropped."""
    open_case(general)
    agent_client.raise_request_exception = False

    response = agent_client.get("/queues/general/", params)

    assert response.status_code == 422
    assert "Some filters are not valid" in response.content.decode()
    assert "<li>" in response.content.decode()  # each error listed with its field


@pytest.mark.parametrize("q", ["\u00b2", "\u2460"])
def test_a_search_for_digit_like_characters_is_not_a_server_error(agent_client, general, q):
    """Superscript and circled digits are `str.isdigit()` but not `int()`-able: still just a text search."""
    open_case(general, subject__text="hello")
    agent_client.raise_request_exception = False

    response = agent_client.get("/queues/general/", {"q": q})

    assert response.status_code == 200
    assert listed(response) == []


def test_a_case_id_search_with_a_huge_number_is_just_a_text_search(agent_client, general):
    open_case(general)

    assert listed(agent_client.get("/queues/general/", {"q": "9" * 30})) == []


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the statement timeout is PostgreSQL's")
def test_a_text_filter_too_slow_for_its_time_limit_asks_for_another_word_and_holds_nothing(
    agent_client, general, settings
):
    from django.db import connection

    # 40 texts of 1 MB that all contain the words: matching them takes longer than 20 ms.
    for n in range(40):
        open_case(general, subject__text="nothing to see here " * 50_000, subject__external_id=f"big-{n}")
    settings.QUEUE_TEXT_TIMEOUT_MS = 20

    response = agent_client.get("/queues/general/", {"q": "to see here"})

    assert response.status_code == 422
    assert "add a word or another filter" in response.content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout')")
        assert cursor.fetchone()[0] != "20ms"  # the limit was the filter's alone
    assert len(listed(agent_client.get("/queues/general/"))) == 40  # the connection answers as before


# --- Queue page: pagination is keyset (tests/queues/test_queue_keyset.py) ------------------------------------


# --- Queue page: query count --------------------------------------------------------------------------------

# Measured: session, user, the queue (whether the agent may see it and starred it, in one statement), two
# permission look-ups, count, page, tags of the page, and the queue's saved views. The filter form's policy and vendor choices are configuration,
# cached per process (`queues.filter_markup`); they cost two more on the first page after a change.
QUEUE_PAGE_MAX_QUERIES = 9


def _fill_queue(queue, *, cases: int, tags_per_case: int):
    tags = [factories.TagFactory(slug=f"t-{n}") for n in range(tags_per_case)]
    for n in range(cases):
        case = open_case(
            queue,
            priority=n,
            max_score=0.5,
            policy=factories.PolicyFactory(),
            assignee=factories.UserFactory() if n % 2 else None,
        )
        SubjectTag.objects.bulk_create(SubjectTag(subject=case.subject, tag=tag) for tag in tags)


def _queue_page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert len(listed(client.get("/queues/general/", {"status": "any"}))) > 0
    return len(queries)


def test_the_queue_page_query_count_does_not_grow_with_page_size_or_tags(agent_client, general, settings):
    _fill_queue(general, cases=3, tags_per_case=1)
    settings.QUEUE_PAGE_SIZE = 2
    agent_client.get("/queues/general/", {"status": "any"})
    small = _queue_page_queries(agent_client)

    _fill_queue(general, cases=40, tags_per_case=8)
    settings.QUEUE_PAGE_SIZE = 50
    agent_client.get("/queues/general/", {"status": "any"})  # the new policies, read once
    big = _queue_page_queries(agent_client)

    assert small == big


def test_the_queue_page_stays_under_the_query_bound(
    agent_client, general, settings, django_assert_max_num_queries
):
    settings.QUEUE_PAGE_SIZE = 50
    _fill_queue(general, cases=50, tags_per_case=10)
    agent_client.get("/queues/general/")

    with django_assert_max_num_queries(QUEUE_PAGE_MAX_QUERIES):
        response = agent_client.get(
            "/queues/general/", {"status": "active", "tag": "t-3", "sort": "oldest", "score_max": "1"}
        )

    assert len(listed(response)) == 50


# --- Claim-next ------------------------------------------------------------------------------------------


@pytest.fixture
def two_waiting(general):
    """Two claimable cases; the first has the higher priority."""
    return [open_case(general, priority=90), open_case(general, priority=10)]


def test_posting_claims_the_top_case_and_opens_it(agent_client, two_waiting, alice):
    response = agent_client.post("/queues/general/next")

    top = two_waiting[0]
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{top.pk}/"
    top.refresh_from_db()
    assert top.assignee == alice and top.status == Case.Status.IN_REVIEW
    assert top.lease_expires_at > timezone.now()
    assert AuditEvent.objects.filter(verb="case.claimed", case_id=top.pk).count() == 1


@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_a_same_origin_or_typed_get_claims(agent_client, two_waiting, alice, site):
    response = agent_client.get("/queues/general/next", HTTP_SEC_FETCH_SITE=site)

    assert response.status_code == 302
    assert response["Location"] == f"/cases/{two_waiting[0].pk}/"
    assert Case.objects.get(pk=two_waiting[0].pk).assignee == alice


@pytest.mark.parametrize(
    "headers", [{"HTTP_SEC_FETCH_SITE": "cross-site"}, {"HTTP_SEC_FETCH_SITE": "same-site"}, {}]
)
def test_a_cross_site_get_asks_for_confirmation_and_claims_nothing(agent_client, two_waiting, headers):
    response = agent_client.get("/queues/general/next", **headers)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<form method="post" action="/queues/general/next">' in html
    assert "Claim the next case" in html
    assert not Case.objects.filter(assignee__isnull=False).exists()
    assert not AuditEvent.objects.filter(verb="case.claimed").exists()


def test_claiming_again_returns_the_case_already_held(agent_client, two_waiting):
    first = agent_client.post("/queues/general/next")
    second = agent_client.post("/queues/general/next")

    assert first["Location"] == second["Location"] == f"/cases/{two_waiting[0].pk}/"
    assert Case.objects.filter(assignee__isnull=False).count() == 1


def test_claim_next_in_another_queue_opens_the_case_already_held_and_says_so(
    agent_client, two_waiting, alice
):
    harassment = factories.QueueFactory(slug="harassment", name="Harassment")
    harassment.members.add(alice)
    open_case(harassment, priority=99)
    held = agent_client.post("/queues/general/next")["Location"]

    response = agent_client.post("/queues/harassment/next", follow=True)

    assert response.redirect_chain[0][0] == held == f"/cases/{two_waiting[0].pk}/"
    assert f"You are still reviewing case {two_waiting[0].pk}" in response.content.decode()
    assert Case.objects.filter(assignee=alice).count() == 1


def test_claim_next_skips_cases_someone_else_holds(agent_client, two_waiting):
    claim_case(case_id=two_waiting[0].pk, user=factories.UserFactory(username="bob"))

    response = agent_client.post("/queues/general/next")

    assert response["Location"] == f"/cases/{two_waiting[1].pk}/"


def test_an_empty_queue_shows_the_empty_page(agent_client, general):
    open_case(general, status=Case.Status.RESOLVED)

    response = agent_client.post("/queues/general/next")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert "Nothing waiting in General" in html
    assert 'href="/queues/general/"' in html


def test_claim_next_in_a_queue_the_agent_is_not_in_is_404(agent_client, general):
    secret = factories.QueueFactory(slug="secret")
    case = open_case(secret)

    assert agent_client.post("/queues/secret/next").status_code == 404
    assert agent_client.get("/queues/secret/next", **SAME_ORIGIN).status_code == 404
    assert Case.objects.get(pk=case.pk).assignee is None


def test_claim_next_needs_a_login(client, two_waiting):
    response = client.post("/queues/general/next")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Case.objects.filter(assignee__isnull=False).exists()


def test_claim_next_post_needs_a_csrf_token(review_setup, two_waiting):
    client = Client(enforce_csrf_checks=True)
    client.force_login(review_setup.agent)

    assert client.post("/queues/general/next").status_code == 403
    assert not Case.objects.filter(assignee__isnull=False).exists()

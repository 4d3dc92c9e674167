"""Leads' Queue health page: the minute snapshots and their roll-up, intake per hour, decision timings, and
every chart's figures after known events."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from cases.models import Case
from cases.services.review.decisions import record_decision
from moderation.histograms import MAX_RELATIVE_ERROR
from queues.models import DecisionTiming, QueueClearance, QueueIntakeHour, QueueSnapshot
from queues.services import claim_case
from queues.services.health_snapshots import copy_decision_timings, record_queue_health
from tests import factories

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = {"period": "custom", "from": "2026-01-05", "to": "2026-01-05"}


def make_lead(username="lena", *queues):
    user = factories.UserFactory(username=username)
    for codename, app in (("view_case", "cases"), ("view_all_queues", "queues")):
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label=app))
    for queue in queues:
        queue.members.add(user)
    return user


def open_case(queue, policy, *, at, sla_hours=None, restricted=False):
    case = factories.OpenCaseFactory(queue=queue, policy=policy, is_restricted=restricted)
    fields = {"opened_at": at}
    if sla_hours is not None:
        fields["sla_due_at"] = at + timedelta(hours=sla_hours)
    Case.objects.filter(pk=case.pk).update(**fields)
    case.refresh_from_db()
    return case


def decide(clock, case, agent, action, *, claim_at, decide_at):
    clock.set(claim_at)
    claim_case(case_id=case.pk, user=agent)
    case.refresh_from_db()
    clock.set(decide_at)
    return record_decision(
        case_id=case.pk,
        user=agent,
        policy_id=case.policy_id,
        action_id=action.pk,
        expected_version=case.version,
    )


def binned(*minutes):
    """Figures read from histogram bins: within the bins' error (`moderation.histograms`) of the exact ones,
    plus the chart's rounding to a tenth of a minute."""
    return [pytest.approx(m, rel=MAX_RELATIVE_ERROR, abs=0.05) for m in minutes]


def column(response, slug, name):
    """{x label: value} of one series of a chart."""
    chart = next(c for c in response.context["charts"] if c.slug == slug)
    (series,) = [s for s in chart.series if s.name == name]
    return dict(zip(chart.x_labels, series.values, strict=True))


def rows(response, slug):
    chart = next(c for c in response.context["charts"] if c.slug == slug)
    return {row[0]: row[1:] for row in chart.rows}


def test_snapshot_counts_waiting_in_review_overdue_and_oldest_wait_once_a_minute(review_setup, clock):
    queue, alice, policy = review_setup.queue, review_setup.agent, review_setup.policies["spam"]
    open_case(queue, policy, at=T0 - timedelta(hours=3), sla_hours=1)  # waiting, overdue
    open_case(queue, policy, at=T0 - timedelta(hours=1), sla_hours=24)  # waiting
    held = open_case(queue, policy, at=T0 - timedelta(hours=5), sla_hours=24)
    claim_case(case_id=held.pk, user=alice)

    record_queue_health(now=T0 + timedelta(seconds=20))
    record_queue_health(now=T0 + timedelta(seconds=50))  # same minute: nothing added

    (snap,) = QueueSnapshot.objects.filter(queue=queue)
    assert (snap.at, snap.waiting, snap.in_review, snap.overdue) == (T0, 2, 1, 1)
    assert snap.oldest_waiting_seconds == 3 * 3600 + 50 - 30 or snap.oldest_waiting_seconds == 3 * 3600 + 20


def test_minute_snapshots_older_than_two_days_roll_up_to_their_hours_worst(review_setup, clock):
    queue = review_setup.queue
    old = T0 - timedelta(days=3)
    for minute, waiting in ((0, 4), (1, 9), (59, 2)):
        QueueSnapshot.objects.create(
            queue=queue,
            at=old + timedelta(minutes=minute),
            waiting=waiting,
            oldest_waiting_seconds=60 * waiting,
        )
    QueueSnapshot.objects.create(queue=queue, at=T0 - timedelta(days=401), grain="hour", waiting=1)
    recent = QueueSnapshot.objects.create(queue=queue, at=T0 - timedelta(hours=1), waiting=5)

    record_queue_health(now=T0)

    hour = QueueSnapshot.objects.get(queue=queue, at=old)
    assert (hour.grain, hour.waiting, hour.oldest_waiting_seconds) == ("hour", 9, 540)
    assert not QueueSnapshot.objects.filter(grain="minute", at__lt=T0 - timedelta(days=2)).exists()
    assert not QueueSnapshot.objects.filter(at__lt=T0 - timedelta(days=400)).exists()
    assert QueueSnapshot.objects.filter(pk=recent.pk).exists()


def test_intake_counts_cases_opened_and_reports_per_queue_and_hour(review_setup, vendor, clock):
    queue, policy = review_setup.queue, review_setup.policies["spam"]
    for minutes in (5, 15, 70):
        case = open_case(queue, policy, at=T0 + timedelta(minutes=minutes))
        clock.set(T0 + timedelta(minutes=minutes))
        factories.ReportFactory(case=case, vendor=vendor)
        factories.ReportFactory(case=case, vendor=vendor)

    record_queue_health(now=T0 + timedelta(minutes=80))
    record_queue_health(now=T0 + timedelta(minutes=81))  # recomputed, not added

    got = {(r.hour, r.opened, r.reports) for r in QueueIntakeHour.objects.filter(queue=queue)}
    assert got == {(T0, 2, 4), (T0 + timedelta(hours=1), 1, 2)}


def test_decision_timing_copies_opening_first_claim_and_the_deciders_claim(review_setup, bob, clock):
    queue, alice, policy = review_setup.queue, review_setup.agent, review_setup.policies["spam"]
    case = open_case(queue, policy, at=T0, sla_hours=1)
    clock.set(T0 + timedelta(minutes=5))
    claim_case(case_id=case.pk, user=bob)
    from queues.services import release_case

    release_case(case_id=case.pk, user=bob)
    decision = decide(
        clock,
        case,
        alice,
        review_setup.actions["remove"],
        claim_at=T0 + timedelta(minutes=20),
        decide_at=T0 + timedelta(minutes=50),
    )

    assert copy_decision_timings() == 1
    assert copy_decision_timings() == 1  # looked at again (late commits), still one row
    timing = DecisionTiming.objects.get()
    assert timing.decision_id == decision.pk
    assert timing.first_claimed_at == T0 + timedelta(minutes=5)
    assert timing.claimed_at == T0 + timedelta(minutes=20)
    assert (timing.agent_id, timing.queue_id, timing.opened_at) == (alice.pk, queue.pk, T0)


@pytest.fixture
def known_day(review_setup, vendor, clock):
    """On 2026-01-05: three cases opened at 09:00, 09:10, 09:20, decided at 09:30 (in SLA), 09:52 (in SLA)
    and 10:40 (late); first claims 10, 22 and 40 minutes after opening; a fourth opened at 09:25 waits."""
    queue, alice, policy = review_setup.queue, review_setup.agent, review_setup.policies["spam"]
    remove = review_setup.actions["remove"]
    a = open_case(queue, policy, at=T0, sla_hours=1)
    b = open_case(queue, policy, at=T0 + timedelta(minutes=10), sla_hours=1)
    c = open_case(queue, policy, at=T0 + timedelta(minutes=20), sla_hours=1)
    waiting = open_case(queue, policy, at=T0 + timedelta(minutes=25), sla_hours=24)
    for case in (a, b, c, waiting):
        clock.set(case.opened_at)
        factories.ReportFactory(case=case, vendor=vendor)
    decide(clock, a, alice, remove, claim_at=T0 + timedelta(minutes=10), decide_at=T0 + timedelta(minutes=30))
    record_queue_health(now=T0 + timedelta(minutes=31))  # b, c and waiting wait; b since 09:10
    decide(clock, b, alice, remove, claim_at=T0 + timedelta(minutes=32), decide_at=T0 + timedelta(minutes=52))
    decide(
        clock, c, alice, remove, claim_at=T0 + timedelta(minutes=60), decide_at=T0 + timedelta(minutes=100)
    )
    record_queue_health(now=T0 + timedelta(minutes=105))  # only "waiting" is left, since 09:25
    clock.set(T0 + timedelta(hours=3))
    return review_setup


def test_health_charts_show_known_figures(client, known_day):
    client.force_login(make_lead())
    response = client.get(reverse("queues:oversight-health"), DAY)
    assert response.status_code == 200
    assert rows(response, "intake")["09:00"] == [4, 4]
    assert rows(response, "sla")["09:00"] == [100]
    assert rows(response, "sla")["10:00"] == [0]
    assert rows(response, "breaches")["10:00"] == [1]
    # first review: 10 and 22 minutes in the 09:00 bucket (median 16, p90 20.8), 40 in the 10:00 one; read
    # from log-spaced histogram bins, so within their error of the exact figures
    assert rows(response, "first-review")["09:00"] == binned(16, 20.8)
    assert rows(response, "first-review")["10:00"] == binned(40, 40)
    assert rows(response, "time-to-decision")["09:00"] == binned(36, 40.8)
    assert rows(response, "time-to-decision")["10:00"] == binned(80, 80)
    assert column(response, "backlog", "General")["09:00"] == 3
    assert column(response, "backlog", "General")["10:00"] == 1
    assert column(response, "oldest", "General")["09:00"] == 21
    assert column(response, "oldest", "General")["10:00"] == 80
    assert column(response, "backlog", "General")["11:00"] is None  # no snapshot: a gap, not a zero
    assert b'<svg class="chart' in response.content


def test_each_chart_downloads_as_csv_with_the_same_figures(client, known_day):
    client.force_login(make_lead())
    response = client.get(reverse("queues:oversight-health"), {**DAY, "csv": "breaches"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "Period,Breaches (decisions)"
    assert "10:00,1" in lines
    assert client.get(reverse("queues:oversight-health"), {**DAY, "csv": "nope"}).status_code == 404


@pytest.mark.parametrize(
    "params, field",
    [
        ({"period": "fortnight"}, "period"),
        ({"period": "custom", "from": "yesterday", "to": "2026-01-05"}, "from"),
        ({"period": "custom", "from": "2026-01-05", "to": "2026-01-01"}, "to"),
    ],
)
def test_a_bad_period_is_answered_422_with_the_field_named(client, review_setup, params, field):
    client.force_login(make_lead())
    for name in ("queues:oversight-health", "queues:oversight-team"):
        response = client.get(reverse(name), params)
        assert response.status_code == 422
        assert f'data-field="{field}"'.encode() in response.content


def test_agents_get_403_on_the_oversight_pages(agent_client):
    for name in ("queues:oversight-health", "queues:oversight-team"):
        assert agent_client.get(reverse(name)).status_code == 403


def test_restricted_cases_are_never_counted_for_an_uncleared_lead(client, review_setup, vendor, clock):
    policy = review_setup.policies["child-safety"]
    restricted = factories.QueueFactory(slug="cs", name="Child safety", is_restricted=True)
    open_case(restricted, policy, at=T0, restricted=True)
    # a restricted case left in an open queue counts only for the cleared, too
    open_case(review_setup.queue, policy, at=T0 + timedelta(minutes=1), restricted=True)
    record_queue_health(now=T0 + timedelta(minutes=30))

    uncleared = make_lead("uncleared", restricted)
    client.force_login(uncleared)
    response = client.get(reverse("queues:oversight-health"), DAY)
    assert "Child safety" not in [s.name for s in response.context["charts"][0].series]
    assert rows(response, "intake")["09:00"] == [0, 0]
    assert column(response, "backlog", "General")["09:00"] == 0
    # even asking for the restricted queue by id shows nothing of it
    response = client.get(reverse("queues:oversight-health"), {**DAY, "queue": restricted.pk})
    assert "Child safety" not in [s.name for s in response.context["charts"][0].series]

    cleared = make_lead("cleared", restricted)
    QueueClearance.objects.create(user=cleared, queue=restricted, reason="trained")
    client.force_login(cleared)
    response = client.get(reverse("queues:oversight-health"), DAY)
    # the restricted queue's case; the one left in an open queue is not that queue's figure for anyone
    assert rows(response, "intake")["09:00"] == [1, 0]
    assert column(response, "backlog", "Child safety")["09:00"] == 1


def test_the_queue_filter_narrows_every_chart(client, known_day, clock):
    other = factories.QueueFactory(slug="other", name="Other")
    open_case(other, known_day.policies["spam"], at=T0)
    record_queue_health(now=T0 + timedelta(minutes=106))
    client.force_login(make_lead())
    response = client.get(reverse("queues:oversight-health"), {**DAY, "queue": other.pk})
    assert [s.name for s in response.context["charts"][0].series] == ["Other"]
    assert rows(response, "intake")["09:00"] == [1, 0]


@pytest.mark.parametrize("cases", [1, 12])
def test_the_health_page_runs_a_bounded_number_of_queries(
    client, review_setup, clock, django_assert_max_num_queries, cases
):
    for n in range(cases):
        queue = factories.QueueFactory()
        open_case(queue, review_setup.policies["spam"], at=T0 + timedelta(minutes=n))
    record_queue_health(now=T0 + timedelta(hours=1))
    client.force_login(make_lead())
    with django_assert_max_num_queries(14):
        assert client.get(reverse("queues:oversight-health"), DAY).status_code == 200

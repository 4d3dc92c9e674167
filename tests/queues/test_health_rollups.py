"""The beat task's timing roll-ups behind Queue health and Team: idempotent day rebuilds, recounts when a
late appeal lands, and the restriction key that keeps uncleared leads from counting restricted queues."""

from datetime import timedelta
from io import StringIO

from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from cases.models import Appeal, Case
from moderation.audit import Actor, Verb, record_event
from queues.models import AgentDay, QueueClearance, TimingBucket
from queues.services.health_rollups import rebuild_window, refresh_health_rollups
from queues.services.health_snapshots import copy_decision_timings, record_queue_health
from tests import factories
from tests.queues.test_oversight_health import DAY, T0, column, make_lead, open_case
from tests.queues.test_oversight_team import past_decision


def exact_percentile(values, fraction):
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rows_of():
    return sorted(
        (r.grain, r.start, r.queue_id, r.decided, r.to_decision) for r in TimingBucket.objects.all()
    ), sorted((r.day, r.agent_id, r.decisions, r.appealed) for r in AgentDay.objects.all())


def test_a_rerun_of_the_beat_task_rebuilds_the_same_rows(review_setup, clock):
    queue, alice, remove = review_setup.queue, review_setup.agent, review_setup.actions["remove"]
    for n in range(3):
        past_decision(
            open_case(queue, review_setup.policies["spam"], at=T0),
            alice,
            remove,
            at=T0 + timedelta(minutes=10 * n),
        )
    record_queue_health(now=T0 + timedelta(hours=1))
    first = rows_of()
    record_queue_health(now=T0 + timedelta(hours=1, minutes=1))
    assert rows_of() == first
    (day,) = AgentDay.objects.all()
    assert (day.agent_id, day.decisions) == (alice.pk, 3)
    hours = TimingBucket.objects.filter(grain="hour")
    assert sum(h.decided for h in hours) == 3
    assert TimingBucket.objects.get(grain="day").decided == 3


def test_a_late_appeal_recounts_the_day_of_its_decision(client, review_setup, clock):
    queue, alice, remove = review_setup.queue, review_setup.agent, review_setup.actions["remove"]
    decision = past_decision(open_case(queue, review_setup.policies["spam"], at=T0), alice, remove, at=T0)
    record_queue_health(now=T0 + timedelta(hours=1))
    client.force_login(make_lead())
    assert column(client.get(reverse("queues:oversight-team"), DAY), "agent-review", "Appeal rate") == {
        "alice": 0
    }

    later = T0 + timedelta(days=3)
    clock.set(later)
    appeal_case = factories.CaseFactory(kind=Case.Kind.APPEAL, policy=decision.policy)
    appeal = Appeal.objects.create(
        vendor=factories.VendorFactory(),
        external_id="late",
        decision=decision,
        appeal_case=appeal_case,
        statement="not me",
        payload_hash="x",
        state=Appeal.State.OVERTURNED,
    )
    record_event(
        actor=Actor.system("test"), verb=Verb.APPEAL_OVERTURNED, target=appeal, case_id=appeal_case.pk
    )
    refresh_health_rollups(now=later)
    response = client.get(reverse("queues:oversight-team"), DAY)
    assert column(response, "agent-review", "Appeal rate") == {"alice": 100}
    assert column(response, "agent-review", "Overturn rate") == {"alice": 100}


def test_restricted_decisions_are_rolled_up_apart_and_shown_only_to_the_cleared(client, review_setup, clock):
    restricted = factories.QueueFactory(slug="cs", name="Child safety", is_restricted=True)
    policy, alice = review_setup.policies["child-safety"], review_setup.agent
    past_decision(
        open_case(review_setup.queue, policy, at=T0, restricted=True),
        alice,
        review_setup.actions["remove"],
        at=T0,
    )
    past_decision(
        open_case(restricted, policy, at=T0, restricted=True), alice, review_setup.actions["remove"], at=T0
    )
    assert copy_decision_timings() == 2
    assert rebuild_window(days=1, now=T0 + timedelta(hours=1)) > 0
    assert set(TimingBucket.objects.filter(grain="day").values_list("queue_id", "is_restricted")) == {
        (review_setup.queue.pk, True),
        (restricted.pk, True),
    }
    client.force_login(make_lead("uncleared", review_setup.queue, restricted))
    # the restricted case left in the open queue is counted for nobody uncleared; the restricted queue is
    # not visible at all
    assert column(client.get(reverse("queues:oversight-team"), DAY), "decisions", "Decisions") == {}
    charts = client.get(reverse("queues:oversight-health"), DAY).context["charts"]
    timed = [c for c in charts if c.slug in ("sla", "breaches", "first-review", "time-to-decision")]
    assert len(timed) == 4 and all(c.is_empty for c in timed)
    QueueClearance.objects.create(user=make_lead("cleared", restricted), queue=restricted, reason="trained")
    client.force_login(User.objects.get(username="cleared"))
    assert column(client.get(reverse("queues:oversight-team"), DAY), "decisions", "Decisions") == {"alice": 1}


def test_the_rebuild_command_backfills_the_window(review_setup, clock):
    past_decision(
        open_case(review_setup.queue, review_setup.policies["spam"], at=T0),
        review_setup.agent,
        review_setup.actions["remove"],
        at=T0 - timedelta(days=2),
    )
    copy_decision_timings()
    clock.set(T0)
    out = StringIO()
    call_command("rebuild_health_rollups", "--days", "3", stdout=out)
    assert "rebuilt 3 days" in out.getvalue()
    assert AgentDay.objects.get().day == (T0 - timedelta(days=2)).replace(hour=0)
    call_command("rebuild_health_rollups", "--days", "3", stdout=StringIO())  # again: the same rows
    assert AgentDay.objects.count() == 1

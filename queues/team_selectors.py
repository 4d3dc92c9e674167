"""Reads behind the leads' Team page: per agent (and per policy) volumes, handle time and review outcomes.

Scoped like the queue-health page (`oversight_selectors.Scope`): only cases of the queues the lead may see,
restricted ones only for the cleared. Agent names are shown because only leads reach these pages.
Decisions' review and appeal outcomes change after the fact, so they are read from the decisions (through
the period index `oversight_decision_at_idx`), not from the copied timings.
"""

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q

from cases.models import Appeal, Case, Decision
from moderation.audit import Verb
from moderation.charts import Chart, Series
from moderation.models import AuditEvent, Policy
from moderation.periods import Period
from queues.models import CaseSkip, DecisionTiming, RuleMatch
from queues.oversight_selectors import Scope, _minutes, _percentiles


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def team_charts(scope: Scope, period: Period) -> list[Chart]:
    """Decisions and handle time (claim → decision, median and p90) per agent; skips and releases; second
    review disagreement, appeal and overturn rates per agent and per policy; review-sample outcomes.
    Nine queries, whatever the number of rows."""
    in_period = {"decided_at__gte": period.start, "decided_at__lt": period.end}
    by_people = DecisionTiming.objects.filter(
        scope.cases(), agent__isnull=False, automated=False, **in_period
    )
    decisions = dict(
        by_people.values("agent_id").annotate(n=Count("pk")).order_by().values_list("agent_id", "n")
    )
    handle = _percentiles(by_people, "agent_id", "claimed_at", "decided_at")

    skips = dict(
        CaseSkip.objects.filter(
            scope.cases("case__"), created_at__gte=period.start, created_at__lt=period.end
        )
        .values("user_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("user_id", "n")
    )
    releases = {
        int(actor): n
        for actor, n in AuditEvent.objects.filter(
            verb=Verb.CASE_RELEASED,
            at__gte=period.start,
            at__lt=period.end,
            actor_type=AuditEvent.ActorType.USER,
            case_id__in=Case.objects.filter(scope.cases()).values("pk"),
        )
        .values("actor_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("actor_id", "n")
        if actor.isdigit()
    }

    decided = Decision.objects.filter(
        scope.cases("case__"),
        mode=Decision.Mode.LIVE,
        decided_by__isnull=False,
        created_at__gte=period.start,
        created_at__lt=period.end,
    )
    outcomes = {
        "reviewed": Count("pk", filter=Q(review_state__in=("confirmed", "overturned"))),
        "disagreed": Count("pk", filter=Q(review_state="overturned")),
        "n": Count("pk"),
        "appealed": Count("appeal"),
        "judged": Count("appeal", filter=Q(appeal__state__in=(Appeal.State.UPHELD, Appeal.State.OVERTURNED))),
        "overturned": Count("appeal", filter=Q(appeal__state=Appeal.State.OVERTURNED)),
    }
    per_agent = {
        row["decided_by_id"]: row for row in decided.values("decided_by_id").annotate(**outcomes).order_by()
    }
    per_policy = {
        row["policy_id"]: row for row in decided.values("policy_id").annotate(**outcomes).order_by()
    }

    # The review sample (REVIEW_SAMPLE_RATE): cases automation would have closed, sent to people instead;
    # "agreed" when the agent took the rule's action.
    sampled = (
        RuleMatch.objects.filter(outcome=RuleMatch.Outcome.SAMPLED, case__decisions__in=decided)
        .values("case__decisions__decided_by_id")
        .annotate(n=Count("pk"), agreed=Count("pk", filter=Q(case__decisions__action_id=F("action_id"))))
        .order_by()
    )
    sample = {row["case__decisions__decided_by_id"]: row for row in sampled}

    agent_ids = sorted(set(decisions) | set(skips) | set(releases) | set(per_agent) | set(sample))
    names = dict(get_user_model().objects.filter(pk__in=agent_ids).values_list("pk", "username"))
    agent_ids.sort(key=lambda pk: names.get(pk, ""))
    agents = [names.get(pk, f"#{pk}") for pk in agent_ids]
    policy_ids = sorted(per_policy)
    policy_names = dict(Policy.objects.filter(pk__in=policy_ids).values_list("pk", "name"))
    policies = [policy_names.get(pk, f"#{pk}") for pk in policy_ids]

    def rates(rows: dict, keys: list, part: str, whole: str) -> list:
        return [_rate(rows[k][part], rows[k][whole]) if k in rows else None for k in keys]

    return [
        Chart(
            "decisions",
            "Decisions per agent",
            agents,
            [Series("Decisions", [decisions.get(a, 0) for a in agent_ids])],
            kind="bar",
            unit="decisions",
            x_title="Agent",
        ),
        Chart(
            "handle-time",
            "Handle time (claim → decision)",
            agents,
            [
                Series("Median", [_minutes(handle.get(a, (None, None))[0]) for a in agent_ids]),
                Series("p90", [_minutes(handle.get(a, (None, None))[1]) for a in agent_ids]),
            ],
            kind="bar",
            unit="minutes",
            x_title="Agent",
        ),
        Chart(
            "skips",
            "Skips and releases",
            agents,
            [
                Series("Skips", [skips.get(a, 0) for a in agent_ids]),
                Series("Releases", [releases.get(a, 0) for a in agent_ids]),
            ],
            kind="bar",
            unit="cases",
            x_title="Agent",
        ),
        Chart(
            "agent-review",
            "Second review, appeals and overturns per agent",
            agents,
            [
                Series("Second-review disagreement", rates(per_agent, agent_ids, "disagreed", "reviewed")),
                Series("Appeal rate", rates(per_agent, agent_ids, "appealed", "n")),
                Series("Overturn rate", rates(per_agent, agent_ids, "overturned", "judged")),
            ],
            kind="bar",
            unit="%",
            x_title="Agent",
        ),
        Chart(
            "policy-review",
            "Second review, appeals and overturns per policy",
            policies,
            [
                Series("Second-review disagreement", rates(per_policy, policy_ids, "disagreed", "reviewed")),
                Series("Appeal rate", rates(per_policy, policy_ids, "appealed", "n")),
                Series("Overturn rate", rates(per_policy, policy_ids, "overturned", "judged")),
            ],
            kind="bar",
            unit="%",
            x_title="Policy",
        ),
        Chart(
            "review-sample",
            "Review sample: agents agreeing with the rule",
            agents,
            [
                Series("Sampled cases decided", [sample[a]["n"] if a in sample else 0 for a in agent_ids]),
                Series(
                    "Agreed with the rule", [sample[a]["agreed"] if a in sample else 0 for a in agent_ids]
                ),
            ],
            kind="bar",
            unit="cases",
            x_title="Agent",
        ),
    ]

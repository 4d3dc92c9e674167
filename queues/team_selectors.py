"""Reads behind the leads' Team page: per agent (and per policy) volumes, handle time and review outcomes.

Scoped like the queue-health page (`oversight_selectors.Scope`): only cases of the queues the lead may see,
restricted ones only for the cleared. Agent names are shown because only leads reach these pages.
Figures come from the per-agent daily roll-up (`AgentDay`, written by the beat task from the copied timings,
the decisions' review states and their appeals; see `queues.services.health_rollups` for when a day is
recounted); handle-time medians and p90s are read from its summed histograms (`moderation.histograms`,
within 4.9 % of the exact ones). The review sample is read live.
"""

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, Sum
from django.utils.translation import gettext as _

from cases.models import Decision
from moderation.charts import Chart, Series
from moderation.histograms import merge, percentile
from moderation.models import Policy
from moderation.periods import Period
from queues.models import AgentDay, RuleMatch
from queues.oversight_selectors import Scope, _minutes


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def team_charts(scope: Scope, period: Period) -> list[Chart]:
    """Decisions and handle time (claim → decision, median and p90) per agent; skips and releases; second
    review disagreement, appeal and overturn rates per agent and per policy; review-sample outcomes.
    Seven queries, whatever the number of rows."""
    days = AgentDay.objects.filter(scope.cases(), day__gte=period.start, day__lt=period.end).order_by()
    counted = ("decisions", "reviewed", "disagreed", "appealed", "judged", "overturned", "skips", "releases")
    sums = {name: Sum(name) for name in counted}
    per_agent = {row["agent_id"]: row for row in days.values("agent_id").annotate(**sums)}
    per_policy = {
        row["policy_id"]: row for row in days.filter(decisions__gt=0).values("policy_id").annotate(**sums)
    }
    handle_bins: dict[int, dict] = {}
    for agent_id, bins in days.exclude(handle={}).values_list("agent_id", "handle"):
        merge(handle_bins.setdefault(agent_id, {}), bins)
    handle = {a: (percentile(b, 0.5), percentile(b, 0.9)) for a, b in handle_bins.items()}
    decisions = {a: row["decisions"] for a, row in per_agent.items() if row["decisions"]}
    skips = {a: row["skips"] for a, row in per_agent.items() if row["skips"]}
    releases = {a: row["releases"] for a, row in per_agent.items() if row["releases"]}
    for row in per_policy.values():
        row["n"] = row["decisions"]
    per_agent = {a: {**row, "n": row["decisions"]} for a, row in per_agent.items() if row["decisions"]}

    # Cases decided in the period by people in the scope, for the review sample (read live: a sampled
    # case is rare, the decisions' period index bounds it).
    decided = Decision.objects.filter(
        scope.cases("case__"),
        mode=Decision.Mode.LIVE,
        decided_by__isnull=False,
        created_at__gte=period.start,
        created_at__lt=period.end,
    )
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
            _("Decisions per agent"),
            agents,
            [Series(_("Decisions"), [decisions.get(a, 0) for a in agent_ids])],
            kind="bar",
            unit=_("decisions"),
            x_title=_("Agent"),
        ),
        Chart(
            "handle-time",
            _("Handle time (claim → decision)"),
            agents,
            [
                Series(_("Median"), [_minutes(handle.get(a, (None, None))[0]) for a in agent_ids]),
                Series(_("p90"), [_minutes(handle.get(a, (None, None))[1]) for a in agent_ids]),
            ],
            kind="bar",
            unit=_("minutes"),
            x_title=_("Agent"),
        ),
        Chart(
            "skips",
            _("Skips and releases"),
            agents,
            [
                Series(_("Skips"), [skips.get(a, 0) for a in agent_ids]),
                Series(_("Releases"), [releases.get(a, 0) for a in agent_ids]),
            ],
            kind="bar",
            unit=_("cases"),
            x_title=_("Agent"),
        ),
        Chart(
            "agent-review",
            _("Second review, appeals and overturns per agent"),
            agents,
            [
                Series(_("Second-review disagreement"), rates(per_agent, agent_ids, "disagreed", "reviewed")),
                Series(_("Appeal rate"), rates(per_agent, agent_ids, "appealed", "n")),
                Series(_("Overturn rate"), rates(per_agent, agent_ids, "overturned", "judged")),
            ],
            kind="bar",
            unit="%",
            x_title=_("Agent"),
        ),
        Chart(
            "policy-review",
            _("Second review, appeals and overturns per policy"),
            policies,
            [
                Series(
                    _("Second-review disagreement"), rates(per_policy, policy_ids, "disagreed", "reviewed")
                ),
                Series(_("Appeal rate"), rates(per_policy, policy_ids, "appealed", "n")),
                Series(_("Overturn rate"), rates(per_policy, policy_ids, "overturned", "judged")),
            ],
            kind="bar",
            unit="%",
            x_title=_("Policy"),
        ),
        Chart(
            "review-sample",
            _("Review sample: agents agreeing with the rule"),
            agents,
            [
                Series(_("Sampled cases decided"), [sample[a]["n"] if a in sample else 0 for a in agent_ids]),
                Series(
                    _("Agreed with the rule"), [sample[a]["agreed"] if a in sample else 0 for a in agent_ids]
                ),
            ],
            kind="bar",
            unit=_("cases"),
            x_title=_("Agent"),
        ),
    ]

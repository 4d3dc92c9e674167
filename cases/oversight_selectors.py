"""Read side of the Outcomes dashboard: what was decided, by whom or what, and how well automation did.

Every figure is limited to cases the viewer may see (`queues.selectors`): the hourly roll-ups carry the
case's queue and restriction, the live queries join the case. Decisions by source come from the hourly roll-ups
(`cases.models.oversight`, at most OVERSIGHT_REFRESH_HOURS old); per rule and per model figures from the
daily `PerformanceDay` roll-up (its staleness: `cases.services.performance_rollup`).

- source: agent (a person's live decision), automated (a rule's live decision), shadow (recorded only);
- agreement: of a shadow verdict (or a model's score against its threshold) with the latest live decision
  a person made on the same case; only cases a person decided count;
- precision from appeals: upheld / (upheld + overturned) over the appeals resolved against the decisions.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC

from django.db.models import Count, F, FloatField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDay, TruncHour

from cases.models import Appeal, Decision, DecisionHour, ModelVersion, PerformanceDay, ScoringRecord
from moderation.charts import Chart, Series
from moderation.models import Action, Policy
from moderation.periods import Period
from queues.models import RoutingRule
from queues.selectors import visible_case_condition

SOURCES = [(value, label) for value, label in DecisionHour.Source.choices]
NOT_ENFORCING = (Action.Kind.NO_VIOLATION, Action.Kind.ESCALATE)
DEFAULT_THRESHOLD = 0.5  # a model with no calibrated threshold is read at one half
TOP_COMBINATIONS = 12  # policy and action bars on the chart; the CSV and table of the same chart hold these


def bucket_trunc(period: Period, field: str):
    return (TruncHour if period.bucket == "hour" else TruncDay)(field, tzinfo=UTC)


def visible_hours(model, user, period: Period, queue_ids: list[int] | None = None):
    """Roll-up rows of the period the user may see (optionally only some of their queues)."""
    rows = model.objects.filter(hour__gte=period.start, hour__lt=period.end)
    condition = visible_case_condition(user)
    if condition is not None:
        rows = rows.filter(condition)
    if queue_ids:
        rows = rows.filter(queue_id__in=queue_ids)
    return rows


# --- decisions by source -------------------------------------------------------------------------------


def decisions_by_source(user, period: Period, queue_ids=None) -> tuple[Chart, Chart]:
    """(decisions per bucket stacked by source, automated share of live decisions per bucket in %)."""
    counts: dict = defaultdict(int)
    for row in (
        visible_hours(DecisionHour, user, period, queue_ids)
        .annotate(b=bucket_trunc(period, "hour"))
        .values("b", "source")
        .annotate(n=Sum("decisions"))
        .order_by()
    ):
        counts[(row["b"], row["source"])] += row["n"]
    buckets = period.buckets()
    labels = [period.label(b) for b in buckets]
    stacked = Chart(
        slug="decisions-by-source",
        title="Decisions by source",
        x_labels=labels,
        series=[Series(label, [counts[(b, value)] for b in buckets]) for value, label in SOURCES],
        kind="stacked",
        unit="decisions",
        x_title="Period",
    )
    share = []
    for b in buckets:
        live = counts[(b, "agent")] + counts[(b, "automated")]
        share.append(round(100 * counts[(b, "automated")] / live, 1) if live else None)
    automated = Chart(
        slug="automated-share",
        title="Automated share of live decisions",
        x_labels=labels,
        series=[Series("Automated", share)],
        kind="line",
        unit="%",
        x_title="Period",
    )
    return stacked, automated


def decisions_by_policy_action(user, period: Period, queue_ids=None) -> Chart:
    """Decisions per policy and action (the most frequent combinations), one bar per source."""
    counts: dict = defaultdict(int)
    totals: dict = defaultdict(int)
    for row in (
        visible_hours(DecisionHour, user, period, queue_ids)
        .values("policy_id", "action_id", "source")
        .annotate(n=Sum("decisions"))
        .order_by()
    ):
        key = (row["policy_id"], row["action_id"])
        counts[(key, row["source"])] += row["n"]
        totals[key] += row["n"]
    top = sorted(totals, key=lambda k: (-totals[k], k))[:TOP_COMBINATIONS]
    policies = dict(Policy.objects.filter(pk__in={p for p, _ in top}).values_list("pk", "name"))
    actions = dict(Action.objects.filter(pk__in={a for _, a in top}).values_list("pk", "name"))
    return Chart(
        slug="decisions-by-policy-action",
        title="Decisions by policy and action",
        x_labels=[f"{policies.get(p, p)} · {actions.get(a, a)}" for p, a in top],
        series=[Series(label, [counts[(key, value)] for key in top]) for value, label in SOURCES],
        kind="bar",
        unit="decisions",
        x_title="Policy · action",
    )


# --- automated rules and models ------------------------------------------------------------------------


@dataclass(frozen=True)
class Performance:
    """What one rule or model did in the period, and how well it held up."""

    name: str
    state: str
    volume: int  # decisions (rule) or scores (model)
    enforced: int  # live automated decisions (rule) or scores at or above the threshold (model)
    shadow: int  # shadow decisions (rule) or shadow scores (model)
    reviewed: int  # … on cases a person decided
    agreed: int  # … where the person agreed
    upheld: int
    overturned: int

    @property
    def agreement(self) -> float | None:
        return round(100 * self.agreed / self.reviewed, 1) if self.reviewed else None

    @property
    def precision(self) -> float | None:
        judged = self.upheld + self.overturned
        return round(100 * self.upheld / judged, 1) if judged else None


def _human_decision(field: str):
    """The latest live decision a person made on the row's case (action id or action kind)."""
    return Subquery(
        Decision.objects.filter(
            case_id=OuterRef("case_id"),
            mode=Decision.Mode.LIVE,
            automated=False,
            review_state__in=Decision.IN_FORCE,
        )
        .order_by("-created_at", "-id")
        .values(field)[:1]
    )


FIGURES = ("volume", "enforced", "shadow", "reviewed", "agreed", "upheld", "overturned")


def rule_figures(start, end) -> list[dict]:
    """Per rule, queue and restriction, the figures of rule decisions made in [start, end) (the roll-up's
    source: `cases.services.performance_rollup`)."""
    decisions = Decision.objects.filter(
        created_at__gte=start, created_at__lt=end, rule__isnull=False
    ).exclude(review_state=Decision.ReviewState.OVERTURNED)
    return list(
        decisions.annotate(human=_human_decision("action_id"))
        .values("rule_id", "case__queue_id", "case__is_restricted")
        .annotate(
            volume=Count("id"),
            enforced=Count("id", filter=Q(mode=Decision.Mode.LIVE, automated=True)),
            shadow=Count("id", filter=Q(mode=Decision.Mode.SHADOW)),
            reviewed=Count("id", filter=Q(mode=Decision.Mode.SHADOW, human__isnull=False)),
            agreed=Count("id", filter=Q(mode=Decision.Mode.SHADOW, human=F("action_id"))),
            upheld=Count("id", filter=Q(appeal__state=Appeal.State.UPHELD)),
            overturned=Count("id", filter=Q(appeal__state=Appeal.State.OVERTURNED)),
        )
        .order_by()
    )


def model_figures(start, end) -> list[dict]:
    """Per model version, queue and restriction, the figures of scores taken in [start, end): a score at or
    above the threshold is the model saying "violation", which agrees with a person's enforcing action;
    below it, with no violation."""
    positive = Q(score__gte=F("cut"))
    human_enforced = Q(human_kind__isnull=False) & ~Q(human_kind__in=NOT_ENFORCING)
    human_cleared = Q(human_kind__in=NOT_ENFORCING)
    return list(
        ScoringRecord.objects.filter(scored_at__gte=start, scored_at__lt=end)
        .annotate(
            cut=Coalesce(F("model_version__threshold"), Value(DEFAULT_THRESHOLD), output_field=FloatField()),
            human_kind=_human_decision("action__kind"),
            appeal_state=Subquery(
                Appeal.objects.filter(
                    decision__case_id=OuterRef("case_id"), decision__mode=Decision.Mode.LIVE
                )
                .order_by("-decision__created_at")
                .values("state")[:1]
            ),
        )
        .values("model_version_id", "case__queue_id", "case__is_restricted")
        .annotate(
            volume=Count("id"),
            enforced=Count("id", filter=positive),
            shadow=Count("id", filter=Q(is_shadow=True)),
            reviewed=Count("id", filter=Q(human_kind__isnull=False)),
            agreed=Count("id", filter=(positive & human_enforced) | (~positive & human_cleared)),
            upheld=Count("id", filter=positive & Q(appeal_state=Appeal.State.UPHELD)),
            overturned=Count("id", filter=positive & Q(appeal_state=Appeal.State.OVERTURNED)),
        )
        .order_by()
    )


def _performance_days(kind: str, user, period: Period, queue_ids) -> dict[int, dict]:
    """{rule or model version id: summed figures} of the period's roll-up rows the user may see."""
    rows = PerformanceDay.objects.filter(kind=kind, day__gte=period.start, day__lt=period.end)
    condition = visible_case_condition(user)
    if condition is not None:
        rows = rows.filter(condition)
    if queue_ids:
        rows = rows.filter(queue_id__in=queue_ids)
    return {
        row.pop("subject_id"): row
        for row in rows.values("subject_id").annotate(**{f: Sum(f) for f in FIGURES}).order_by()
    }


def rule_performance(user, period: Period, queue_ids=None) -> list[Performance]:
    """Per routing rule that decided (live) or would have decided (shadow) a case in the period (from the
    daily roll-up `PerformanceDay`)."""
    rows = _performance_days(PerformanceDay.Kind.RULE, user, period, queue_ids)
    rules = {r.pk: r for r in RoutingRule.objects.filter(pk__in=list(rows))}
    out = []
    for rule_id, row in rows.items():
        rule = rules.get(rule_id)
        out.append(
            Performance(name=rule.name if rule else "(deleted rule)", state=rule.state if rule else "", **row)
        )
    return sorted(out, key=lambda p: (-p.volume, p.name))


def model_performance(user, period: Period, queue_ids=None) -> list[Performance]:
    """Per model version that scored a case in the period (from the daily roll-up `PerformanceDay`)."""
    rows = _performance_days(PerformanceDay.Kind.MODEL, user, period, queue_ids)
    versions = ModelVersion.objects.filter(pk__in=list(rows)).defer("artefact")
    names = {
        v.pk: (f"{v.version} ({v.policy_id and v.policy.name})", v.state)
        for v in versions.select_related("policy")
    }
    out = []
    for version_id, row in rows.items():
        name, state = names.get(version_id, ("(deleted model)", ""))
        out.append(Performance(name=name, state=state, **row))
    return sorted(out, key=lambda p: (-p.volume, p.name))


def performance_chart(slug: str, title: str, rows: list[Performance], x_title: str) -> Chart:
    """Agreement and precision per rule or model, in %, drawn."""
    return Chart(
        slug=slug,
        title=title,
        x_labels=[p.name for p in rows],
        series=[
            Series("Agreement with people", [p.agreement for p in rows]),
            Series("Precision from appeals", [p.precision for p in rows]),
        ],
        kind="bar",
        unit="%",
        x_title=x_title,
    )


def performance_table(slug: str, title: str, rows: list[Performance], x_title: str, noun: str) -> Chart:
    """Every figure per rule or model: the page's table and its CSV (not drawn: the units differ)."""
    columns = [
        (noun, lambda p: p.volume),
        ("Enforced" if noun == "Decisions" else "At or above threshold", lambda p: p.enforced),
        ("Shadow", lambda p: p.shadow),
        ("Reviewed by a person", lambda p: p.reviewed),
        ("Agreed", lambda p: p.agreed),
        ("Agreement (%)", lambda p: p.agreement),
        ("Appeals upheld", lambda p: p.upheld),
        ("Appeals overturned", lambda p: p.overturned),
        ("Precision (%)", lambda p: p.precision),
    ]
    return Chart(
        slug=slug,
        title=title,
        x_labels=[f"{p.name} [{p.state}]" if p.state else p.name for p in rows],
        series=[Series(name, [value(p) for p in rows]) for name, value in columns],
        kind="bar",
        x_title=x_title,
    )

"""Known events for the cases dashboards' tests: decisions, appeals, scores, reports and deliveries with
known times, in an open queue and a restricted one the lead is a member of but not cleared for."""

import csv
import io
from datetime import timedelta
from types import SimpleNamespace

from django.utils import timezone

from cases.models import (
    Appeal,
    Case,
    Decision,
    Enforcement,
    ModelVersion,
    Report,
    Reporter,
    ScoringRecord,
    VendorCallback,
)
from cases.services.oversight_rollup import refresh_oversight_hours
from tests import factories
from tests.accounts import person


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    return list(csv.reader(io.StringIO(response.content.decode())))


def by_label(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in rows[1:]}


def _at(model, pk: int, when, field: str = "created_at") -> None:
    model.objects.filter(pk=pk).update(**{field: when})


def build(review_setup) -> SimpleNamespace:
    now = timezone.now()
    when = now - timedelta(days=1)
    queue, agent, actions = review_setup.queue, review_setup.agent, review_setup.actions
    harassment = review_setup.policies["harassment"]
    restricted_queue = factories.QueueFactory(slug="child-safety", name="Child safety", is_restricted=True)
    lead = person("lara", "lead")
    queue.members.add(lead)
    restricted_queue.members.add(lead)  # a member, never cleared: restricted numbers must not reach her
    vendor = factories.VendorFactory(slug="acme", name="Acme")
    other = factories.VendorFactory(slug="beta", name="Beta")
    auto_rule = factories.RoutingRuleFactory(
        name="Obvious spam", automation_mode="live", auto_policy=harassment, auto_action=actions["remove"]
    )
    shadow_rule = factories.RoutingRuleFactory(name="Candidate insults", state="shadow")

    def case(restricted=False, status="open"):
        return factories.CaseFactory(
            policy=harassment,
            queue=restricted_queue if restricted else queue,
            is_restricted=restricted,
            status=status,
            resolved_at=when if status == "resolved" else None,
        )

    def decide(case_, action, **extra):
        d = factories.DecisionFactory(case=case_, policy=harassment, action=actions[action], **extra)
        _at(Decision, d.pk, when)
        return d

    def appeal(decision, state):
        appeal_case = factories.CaseFactory(policy=harassment, queue=queue, kind=Case.Kind.APPEAL)
        return Appeal.objects.create(
            vendor=vendor,
            external_id=f"a-{decision.pk}",
            decision=decision,
            appeal_case=appeal_case,
            statement="not me",
            payload_hash="x",
            state=state,
        )

    # People: three decisions in the open queue, one in the restricted queue.
    agreed_case, disagreed_case, cleared_case = case(), case(), case()
    decide(agreed_case, "remove", decided_by=agent)
    decide(disagreed_case, "no-violation", decided_by=agent)
    decide(cleared_case, "no-violation", decided_by=agent)
    hidden = case(restricted=True)
    decide(hidden, "remove", decided_by=agent)
    # An automated rule: two live decisions, one upheld and one overturned on appeal.
    first, second = case(), case()
    appeal(decide(first, "remove", automated=True, rule=auto_rule), Appeal.State.UPHELD)
    appeal(decide(second, "remove", automated=True, rule=auto_rule), Appeal.State.OVERTURNED)
    # A shadow rule: would have removed three cases; people removed one and cleared one, one is undecided.
    undecided = case()
    for target in (agreed_case, disagreed_case, undecided):
        decide(target, "remove", mode=Decision.Mode.SHADOW, rule=shadow_rule)
    decide(hidden, "remove", mode=Decision.Mode.SHADOW, rule=shadow_rule)  # restricted: not for the lead
    # A model (threshold 0.7): agrees on agreed_case (0.9, removed) and cleared_case (0.2, cleared),
    # disagrees on disagreed_case (0.9, cleared), undecided has no person's decision.
    model = ModelVersion.objects.create(
        policy=harassment,
        version="tox-1",
        state="shadow",
        algorithm="test",
        artefact=b"",
        artefact_sha256="",
        threshold=0.7,
    )
    for target, score in (
        (agreed_case, 0.9),
        (disagreed_case, 0.9),
        (cleared_case, 0.2),
        (undecided, 0.8),
        (hidden, 0.9),
    ):
        ScoringRecord.objects.create(
            case=target,
            model_version=model,
            scored_at=when,
            content_version=1,
            feature_hash="h",
            score=score,
            is_shadow=True,
        )
    appeal(Decision.objects.get(case=agreed_case, mode="live"), Appeal.State.UPHELD)

    # Reports: Acme 3 (2 upheld, 1 rejected, judged when their cases were resolved), Beta 1 pending, and one
    # Acme report on the restricted case.
    def report(vendor_, outcome, restricted=False, status="resolved"):
        r = factories.ReportFactory(
            vendor=vendor_,
            case=case(restricted=restricted, status=status),
            policy=harassment,
            outcome=outcome,
            reporter_id="rep-1",
        )
        _at(Report, r.pk, when, "received_at")
        return r

    report(vendor, "upheld")
    report(vendor, "upheld")
    report(vendor, "rejected")
    report(other, "pending", status="open")
    report(vendor, "upheld", restricted=True)
    Reporter.objects.create(vendor=vendor, reporter_id="rep-1", upheld_count=8, rejected_count=2)
    Reporter.objects.create(
        vendor=other, reporter_id="rep-2", upheld_count=1, rejected_count=3, muted_at=now, muted_by=lead
    )

    # Deliveries: one failed and one failing enforcement, one delivered; one failed callback to Acme; and a
    # failed enforcement of the restricted case.
    factories.EnforcementEndpointFactory(name="Platform hook")

    def enforcement(decision, state, attempts=0, kind="apply"):
        return Enforcement.objects.create(
            decision=decision,
            case=decision.case,
            kind=kind,
            state=state,
            attempts=attempts,
            idempotency_key=f"e-{decision.pk}-{kind}",
            payload={},
        )

    live = list(Decision.objects.filter(mode="live", case__is_restricted=False).order_by("pk"))
    enforcement(live[0], "failed", attempts=8)
    enforcement(live[1], "pending", attempts=2)
    enforcement(live[2], "delivered", attempts=1)
    enforcement(Decision.objects.get(case=hidden, mode="live"), "failed", attempts=8)
    VendorCallback.objects.create(
        vendor=vendor,
        decision=live[3],
        case=live[3].case,
        state="failed",
        attempts=5,
        idempotency_key="cb-1",
        payload={},
    )
    refresh_oversight_hours(since=now - timedelta(days=8), until=now)
    return SimpleNamespace(
        lead=lead,
        queue=queue,
        restricted_queue=restricted_queue,
        vendor=vendor,
        other=other,
        auto_rule=auto_rule,
        shadow_rule=shadow_rule,
        model=model,
        when=when,
    )

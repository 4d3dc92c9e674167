"""Training labels: one yes/no answer per (case, policy), from final human decisions only.

What counts, and why:
- a live, human (`automated=False`) decision in force (`final` or `confirmed`): a person said so and nobody
  has since said otherwise. Its policy gets the label "violating" when its action enforces, else "not".
- a second reviewer overturning a pending decision: the pending one is `overturned` (not in force) and the
  reviewer's decision is the label; the overturned decision's policy, if the reviewer chose another, gets
  "not violating" (a person looked and said it was not that).
- an appeal overturned: the decision it reversed labels "not violating" (for an automated decision too: the
  appeal reviewer is a person); an appeal upheld on an automated decision makes it a human label.
- automated decisions without an appeal, and every shadow decision, never label: a model must not train on
  its own output.
- imported history (`import_decisions`) is human decisions from the previous tool, so it labels.
When a case has several labels for the same policy, the latest (by when the human judgement was made) wins.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from cases.models import Appeal, Case, Decision
from moderation.models import Action

NOT_VIOLATING = (Action.Kind.NO_VIOLATION, Action.Kind.ESCALATE)


@dataclass(frozen=True)
class Label:
    case_id: int
    policy_id: int
    violating: bool
    decided_at: datetime
    source: str  # "decision", "second_review", "appeal"


def _human_in_force() -> Q:
    return Q(mode=Decision.Mode.LIVE, automated=False, review_state__in=Decision.IN_FORCE)


def policy_labels(
    policy_id: int | None = None, *, since: datetime | None = None, until: datetime | None = None
) -> list[Label]:
    """Labels (latest per case and policy), oldest first. Three queries whatever the number of decisions."""
    base = Decision.objects.exclude(case__kind=Case.Kind.APPEAL)
    if since is not None:
        base = base.filter(created_at__gte=since)
    if until is not None:
        base = base.filter(created_at__lt=until)
    if policy_id is not None:
        base = base.filter(policy_id=policy_id)
    candidates: list[Label] = []
    fields = ("id", "case_id", "policy_id", "action__kind", "created_at", "reviewed_at")
    for row in base.filter(_human_in_force()).values(*fields):
        candidates.append(
            Label(
                row["case_id"],
                row["policy_id"],
                row["action__kind"] not in NOT_VIOLATING,
                row["created_at"],
                "decision",
            )
        )
    # Second review: the overturned decision's policy is "not violating" unless the reviewer's decision
    # (also in the list above) labels that same policy later.
    for row in base.filter(mode=Decision.Mode.LIVE, review_state=Decision.ReviewState.OVERTURNED).values(
        *fields
    ):
        candidates.append(
            Label(
                row["case_id"],
                row["policy_id"],
                False,
                row["reviewed_at"] or row["created_at"],
                "second_review",
            )
        )
    appeals = Appeal.objects.filter(
        state__in=(Appeal.State.UPHELD, Appeal.State.OVERTURNED), decision__mode=Decision.Mode.LIVE
    ).exclude(decision__case__kind=Case.Kind.APPEAL)
    if since is not None:
        appeals = appeals.filter(decision__created_at__gte=since)
    if until is not None:
        appeals = appeals.filter(decision__created_at__lt=until)
    if policy_id is not None:
        appeals = appeals.filter(decision__policy_id=policy_id)
    for row in appeals.values(
        "state", "resolved_at", "decision__case_id", "decision__policy_id", "decision__action__kind"
    ):
        overturned = row["state"] == Appeal.State.OVERTURNED
        violating = not overturned and row["decision__action__kind"] not in NOT_VIOLATING
        candidates.append(
            Label(
                row["decision__case_id"], row["decision__policy_id"], violating, row["resolved_at"], "appeal"
            )
        )
    latest: dict[tuple[int, int], Label] = {}
    # Ties (same moment): an appeal outranks a second review, which outranks the decision it reviewed.
    rank = {"decision": 0, "second_review": 1, "appeal": 2}
    for label in sorted(candidates, key=lambda label: (label.decided_at, rank[label.source])):
        latest[(label.case_id, label.policy_id)] = label
    return sorted(latest.values(), key=lambda label: (label.decided_at, label.case_id))

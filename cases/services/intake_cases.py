"""Which case each report joins: the subject's open case (locked), a resolved one it only repeats, or a new
one. Part of `cases.services.intake`'s one transaction, after the subjects are locked."""

from datetime import datetime

from cases.models import Case, Report, Subject
from cases.services.intake_inputs import ReportInput


def cases_for(
    items: list[ReportInput], subjects: dict[tuple[str, str], Subject], versions: list[int], *, now: datetime
) -> tuple[list[Case], list[Case]]:
    """The case each item joins: the subject's open case, a resolved one it only repeats, or a new one."""
    known_ids = {subject.pk for subject in subjects.values() if not getattr(subject, "_is_new", False)}
    open_cases: dict[int, Case] = {}
    last_resolved: dict[int, Case] = {}
    if known_ids:
        # Locked (after the subjects: same order everywhere), so the router cannot resolve a case while a
        # report is being added to it; a case resolved while we waited no longer matches and is not returned.
        open_cases = {
            case.subject_id: case
            for case in Case.objects.select_for_update()
            .filter(subject_id__in=known_ids, kind=Case.Kind.REPORT)
            .exclude(status=Case.Status.RESOLVED)
            .order_by("id")
        }
        without_open = known_ids - open_cases.keys()
        last_resolved = _last_resolved_cases(without_open) if without_open else {}

    chosen: list[Case] = []
    to_open: dict[int, Case] = {}
    for item, version in zip(items, versions, strict=True):
        subject = subjects[item.subject.key]
        case = open_cases.get(subject.pk) or to_open.get(subject.pk)
        if case is None:
            resolved = last_resolved.get(subject.pk)
            if resolved is not None and _repeats_decided_report(item, version, resolved):
                case = resolved
            else:
                case = to_open[subject.pk] = Case(
                    subject=subject, policy=item.policy, opened_at=now, is_restricted=subject.is_restricted
                )
                case._reporters = set()
        if case.pk is None:
            # A case opened by this call gets its aggregates now, so it needs no UPDATE afterwards.
            case.report_count += 1
            case._reporters.add(item.reporter_key)
            case.reporter_count = len(case._reporters)
            case.last_reported_at = now
            if item.policy.severity > case.policy.severity:
                case.policy = item.policy
        chosen.append(case)

    opened: list[Case] = []
    if to_open:
        opened = Case.objects.bulk_create(list(to_open.values()))
    return chosen, opened


def _last_resolved_cases(subject_ids: set[int]) -> dict[int, Case]:
    latest: dict[int, Case] = {}
    for case in (
        Case.objects.filter(subject_id__in=subject_ids, status=Case.Status.RESOLVED, kind=Case.Kind.REPORT)
        .order_by("subject_id", "-resolved_at", "-id")
        .only("id", "subject_id", "resolved_at", "status")
    ):
        latest.setdefault(case.subject_id, case)
    if latest:
        facts = (
            Report.objects.filter(case__in=latest.values())
            .order_by()
            .values_list("case_id", "policy_id", "subject_version")
            .distinct()
        )
        by_case: dict[int, tuple[set[int], int]] = {}
        for case_id, policy_id, version in facts:
            policies, max_version = by_case.get(case_id, (set(), 0))
            policies.add(policy_id)
            by_case[case_id] = (policies, max(max_version, version))
        for case in latest.values():
            case._decided_policies, case._decided_version = by_case.get(case.pk, (set(), 0))
    return latest


def _repeats_decided_report(item: ReportInput, version: int, resolved: Case) -> bool:
    """A late report adds nothing to a decided case: same reason, same content, seen before the decision.

    Anything else (a new reason, new content, or abuse seen after the decision) deserves a new review.
    """
    return (
        item.policy.pk in resolved._decided_policies
        and version <= resolved._decided_version
        and item.occurred_at is not None
        and resolved.resolved_at is not None
        and item.occurred_at <= resolved.resolved_at
    )

"""Restricted content stays restricted wherever it goes.

A report under a restricted policy (child safety, say) restricts its subject for good, and every case on
it, past, present and future: their content, history, appeals and audit rows are then seen only by people
cleared for a restricted queue (`queues.selectors.visible_cases`). A case that becomes restricted while in
an open queue leaves it at once; routing then places it in a restricted queue, never an open one.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cases.models import Case, MediaFile, Subject, SubjectVersion
from cases.selectors import media_url_hash
from cases.services.background import enqueue_case_enrichment
from moderation.audit import Actor, Verb, record_event
from queues.models import Queue


def restrict_subjects(subjects) -> None:
    """Mark the subjects and all their cases restricted (sticky). Called inside the intake transaction."""
    ids = {subject.pk for subject in subjects}
    if not ids:
        return
    for subject in subjects:
        subject.is_restricted = True
    Subject.objects.filter(pk__in=ids).update(is_restricted=True)
    Case.objects.filter(subject_id__in=ids, is_restricted=False).update(is_restricted=True)
    # Their pictures too, under whatever URL or case they turn up again (`cases.selectors.withheld_media`).
    hashes = {
        media_url_hash(str(url))
        for media_urls in SubjectVersion.objects.filter(subject_id__in=ids).values_list(
            "media_urls", flat=True
        )
        for url in (media_urls or [])
    }
    if hashes:
        MediaFile.objects.filter(url_hash__in=hashes, is_restricted=False).update(is_restricted=True)


def withdraw_from_open_queues(case_ids: set[int], *, now: datetime) -> set[int]:
    """Restricted, unresolved cases among `case_ids` sitting in an open queue are unrouted at once (and
    whoever held them there loses them), so only the fully cleared see them until routing places them in a
    restricted queue. Returns the withdrawn ids."""
    if not case_ids:
        return set()
    exposed = (
        Case.objects.filter(pk__in=case_ids, is_restricted=True)
        .exclude(status=Case.Status.RESOLVED)
        .exclude(queue__in=Queue.objects.filter(is_restricted=True))
    )
    withdrawn = set(exposed.values_list("pk", flat=True))
    if not withdrawn:
        return withdrawn
    Case.objects.filter(pk__in=withdrawn, status=Case.Status.IN_REVIEW).update(status=Case.Status.OPEN)
    Case.objects.filter(pk__in=withdrawn).update(
        queue=None,
        routed_at=None,
        routed_by_rule=None,
        assignee=None,
        lease_expires_at=None,
        claimed_at=None,
        version=F("version") + 1,
        updated_at=now,
    )
    return withdrawn


@transaction.atomic
def restrict_policy(policy) -> int:
    """An admin marked a policy restricted: every subject already reported under it, and its cases, become
    restricted, and open ones leave open queues (routing re-places them). Audited. Returns the cases moved."""
    subjects = list(Subject.objects.filter(reports__policy=policy, is_restricted=False).distinct())
    restrict_subjects(subjects)
    ids = set(Case.objects.filter(subject__in=subjects).values_list("pk", flat=True))
    withdrawn = withdraw_from_open_queues(ids, now=timezone.now())
    if subjects:
        record_event(
            actor=Actor.system("restriction"),
            verb=Verb.POLICY_RESTRICTED_CASES,
            target=policy,
            data={"subjects": len(subjects), "withdrawn_cases": sorted(withdrawn)[:1000]},
        )
    if withdrawn:
        transaction.on_commit(lambda: enqueue_case_enrichment(sorted(withdrawn)), robust=True)
    return len(withdrawn)

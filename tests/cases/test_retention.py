"""Retention: resolved cases' subject content is purged after its policy's retention, unless something holds it.

The clock is frozen by passing `now=` to the service (the purge takes it as an argument for this reason).
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission

from cases.models import Appeal, Case, LegalHold, MediaFile, Report, Signal, Subject, SubjectVersion
from cases.retention_selectors import due_subjects
from cases.selectors import media_url_hash
from cases.services.legal_holds import place_legal_hold, release_legal_hold
from cases.services.retention import purge_due_content, purge_expired_content, purge_subject_content
from moderation.errors import Conflict, Forbidden, Invalid
from moderation.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TEXT = "buy followers at scam.example"


@pytest.fixture
def spam():
    return factories.PolicyFactory(code="spam-30", name="Spam", retention_days=30)


@pytest.fixture
def lead():
    user = factories.UserFactory(username="lena")
    user.user_permissions.add(Permission.objects.get(codename="place_legal_hold"))
    return user


def resolved_case(policy, *, days_ago: float, media: tuple[str, ...] = (), subject=None, **case_fields):
    """A case on a subject with one content version, one report with a comment, resolved `days_ago`."""
    if subject is None:
        subject = factories.SubjectFactory(
            text=TEXT, media_urls=list(media), url="https://platform.example/p/1", metadata={"likes": 3}
        )
        SubjectVersion.objects.create(
            subject=subject,
            version=1,
            content_hash="hash-1",
            author_id=subject.author_id,
            text=TEXT,
            media_urls=list(media),
            url=subject.url,
            metadata=subject.metadata,
        )
    case = factories.CaseFactory(
        subject=subject,
        policy=policy,
        status=Case.Status.RESOLVED,
        resolved_at=NOW - timedelta(days=days_ago),
        **case_fields,
    )
    factories.ReportFactory(
        case=case, comment="see the link", payload={"subject": {"text": TEXT}}, payload_hash="ph-1"
    )
    factories.DecisionFactory(case=case)
    return case


def purge(now=NOW):
    return purge_expired_content(now=now, batch_size=50, max_batches=10)


def test_content_past_retention_is_purged_and_the_case_decision_and_hashes_stay(spam):
    case = resolved_case(spam, days_ago=31)

    purged = purge()

    assert [item.subject_id for item in purged] == [case.subject_id]
    subject = Subject.objects.get(pk=case.subject_id)
    assert (subject.text, subject.url, subject.metadata, subject.media_urls) == ("", "", {}, [])
    assert subject.content_purged_at == NOW and subject.content_purged_under == spam
    assert subject.author_id == "author-1"  # who posted it stays: strikes and history need it
    version = subject.versions.get()
    assert (version.text, version.url, version.purged_at) == ("", "", NOW)
    assert version.content_hash == "hash-1"  # dedupe of late repeats still works
    report = Report.objects.get(case=case)
    assert (report.comment, report.payload, report.payload_hash) == ("", {"purged": True}, "ph-1")
    case.refresh_from_db()
    assert case.status == Case.Status.RESOLVED and case.decisions.count() == 1


def test_content_not_yet_past_retention_is_kept(spam):
    case = resolved_case(spam, days_ago=29.9)

    assert purge() == []
    assert Subject.objects.get(pk=case.subject_id).text == TEXT
    # Once the clock passes the retention, the same run purges it.
    assert len(purge(now=NOW + timedelta(days=1))) == 1


def test_a_policy_without_retention_keeps_content_forever(spam):
    keep = factories.PolicyFactory(code="keep", retention_days=None)
    resolved_case(keep, days_ago=3650)

    assert purge() == []


def test_a_subject_with_another_case_still_open_is_not_purged(spam):
    case = resolved_case(spam, days_ago=90)
    factories.CaseFactory(subject=case.subject, policy=spam, status=Case.Status.OPEN)

    assert purge() == []
    assert Subject.objects.get(pk=case.subject_id).text == TEXT


def test_a_subject_with_a_case_under_a_keep_forever_policy_is_not_purged(spam):
    case = resolved_case(spam, days_ago=90)
    keep = factories.PolicyFactory(code="keep", retention_days=None)
    factories.CaseFactory(
        subject=case.subject, policy=keep, status=Case.Status.RESOLVED, resolved_at=NOW - timedelta(days=90)
    )

    assert purge() == []


def test_a_pending_appeal_blocks_purging_until_it_is_decided(spam):
    case = resolved_case(spam, days_ago=90)
    appeal_case = factories.CaseFactory(
        subject=case.subject,
        kind=Case.Kind.APPEAL,
        policy=None,
        status=Case.Status.RESOLVED,
        resolved_at=NOW - timedelta(days=1),
    )
    appeal = Appeal.objects.create(
        vendor=factories.VendorFactory(),
        external_id="ap-1",
        decision=case.decisions.get(),
        appeal_case=appeal_case,
        statement="I did nothing",
        payload_hash="x",
    )

    assert purge() == []

    Appeal.objects.filter(pk=appeal.pk).update(state=Appeal.State.UPHELD)
    # The appeal case sets no clock of its own: the report case's retention alone decides.
    assert len(purge()) == 1


def test_a_legal_hold_on_the_case_blocks_purging_until_released(spam, lead):
    case = resolved_case(spam, days_ago=90)
    hold = place_legal_hold(user=lead, reason="Litigation 2026-044", case_id=case.pk)

    assert purge() == []
    assert Subject.objects.get(pk=case.subject_id).text == TEXT

    release_legal_hold(user=lead, hold_id=hold.pk, reason="Matter closed")
    assert len(purge()) == 1
    assert Subject.objects.get(pk=case.subject_id).text == ""


def test_a_legal_hold_on_the_subject_blocks_every_case_on_it(spam, lead):
    first = resolved_case(spam, days_ago=90)
    resolved_case(spam, days_ago=60, subject=first.subject)
    place_legal_hold(user=lead, reason="Police request LE-9", subject_id=first.subject_id)

    assert purge() == []
    assert SubjectVersion.objects.get(subject=first.subject).text == TEXT


def test_legal_holds_are_audited_need_a_reason_and_a_lead(spam, lead):
    case = resolved_case(spam, days_ago=1)
    agent = factories.UserFactory(username="alice")

    with pytest.raises(Forbidden):
        place_legal_hold(user=agent, reason="because", case_id=case.pk)
    with pytest.raises(Invalid):
        place_legal_hold(user=lead, reason="   ", case_id=case.pk)
    hold = place_legal_hold(user=lead, reason="Litigation", case_id=case.pk)
    with pytest.raises(Conflict):
        place_legal_hold(user=lead, reason="again", case_id=case.pk)
    with pytest.raises(Invalid):
        release_legal_hold(user=lead, hold_id=hold.pk, reason="")
    release_legal_hold(user=lead, hold_id=hold.pk, reason="Settled")
    with pytest.raises(Conflict):
        release_legal_hold(user=lead, hold_id=hold.pk, reason="Settled twice")

    events = list(AuditEvent.objects.filter(verb__startswith="legal_hold.").order_by("id"))
    assert [(e.verb, e.case_id, e.actor_label, e.data["reason"]) for e in events] == [
        ("legal_hold.placed", case.pk, "lena", "Litigation"),
        ("legal_hold.released", case.pk, "lena", "Settled"),
    ]
    hold.refresh_from_db()
    assert hold.released_by == lead and not hold.is_active


def test_each_purged_case_gets_one_audit_event_with_counts(spam):
    first = resolved_case(spam, days_ago=90)
    second = resolved_case(spam, days_ago=40, subject=first.subject)

    purge()

    events = AuditEvent.objects.filter(verb="content.purged").order_by("case_id")
    assert [(e.case_id, e.actor_type, e.data["policy"], e.data["reports"]) for e in events] == [
        (first.pk, AuditEvent.ActorType.SYSTEM, "spam-30", 1),
        (second.pk, AuditEvent.ActorType.SYSTEM, "spam-30", 1),
    ]
    assert events[0].data["versions"] == 1 and events[0].data["retention_days"] == 30
    assert TEXT not in str([e.data for e in events])  # the audit trail never copies the purged content


def test_a_second_run_purges_nothing_and_audits_nothing(spam):
    resolved_case(spam, days_ago=90)
    purge()
    events = AuditEvent.objects.count()

    assert purge() == []
    assert purge_subject_content(subject_id=Subject.objects.get().pk, now=NOW) is None
    assert AuditEvent.objects.count() == events


def test_new_content_after_a_purge_is_kept_until_its_own_case_runs_out(spam):
    case = resolved_case(spam, days_ago=90)
    purge()
    SubjectVersion.objects.create(subject=case.subject, version=2, content_hash="hash-2", text="new words")
    factories.CaseFactory(
        subject=case.subject, policy=spam, status=Case.Status.RESOLVED, resolved_at=NOW - timedelta(days=5)
    )

    assert purge() == []
    assert len(purge(now=NOW + timedelta(days=26))) == 1
    assert SubjectVersion.objects.get(version=2).text == ""


def test_media_copies_are_deleted_but_their_hashes_stay(spam):
    copy = factories.MediaFileFactory(url="https://cdn.example/a.png", sha256="s" * 64, md5="m" * 32)
    case = resolved_case(spam, days_ago=90, media=(copy.url,))

    purge()

    copy.refresh_from_db()
    assert copy.state == MediaFile.State.PURGED and bytes(copy.content) == b""
    assert (copy.sha256, copy.md5, copy.url_hash) == ("s" * 64, "m" * 32, media_url_hash(copy.url))
    assert AuditEvent.objects.get(verb="content.purged", case_id=case.pk).data["media_files"] == 1


def test_a_media_copy_another_subject_still_shows_is_kept(spam):
    copy = factories.MediaFileFactory(url="https://cdn.example/shared.png")
    resolved_case(spam, days_ago=90, media=(copy.url,))
    other = factories.SubjectFactory(media_urls=[copy.url])
    factories.CaseFactory(subject=other, policy=spam, status=Case.Status.OPEN)

    purge()

    copy.refresh_from_db()
    assert copy.state == MediaFile.State.STORED and bytes(copy.content) != b""


def test_text_a_bank_matched_is_removed_from_its_signal(spam):
    case = resolved_case(spam, days_ago=90)
    factories.SignalFactory(
        case=case,
        source=Signal.Source.BANK,
        label="bank:scams",
        score=1.0,
        value={"bank": "scams", "entry_value": "scam.example", "matched": "scam.example"},
    )

    purge()

    value = Signal.objects.get(case=case).value
    assert value == {"bank": "scams", "entry_value": "scam.example", "matched": "[purged]"}


def test_restricted_content_stays_restricted_after_the_purge(spam):
    copy = factories.MediaFileFactory(url="https://cdn.example/r.png", is_restricted=True)
    case = resolved_case(spam, days_ago=90, media=(copy.url,), is_restricted=True)
    Subject.objects.filter(pk=case.subject_id).update(is_restricted=True)

    purge()

    assert Case.objects.get(pk=case.pk).is_restricted
    assert Subject.objects.get(pk=case.subject_id).is_restricted
    assert MediaFile.objects.get(pk=copy.pk).is_restricted


def test_a_batch_is_bounded_and_resumes_where_it_stopped(spam):
    cases = [resolved_case(spam, days_ago=90) for _ in range(5)]

    batch, after = purge_due_content(now=NOW, limit=2)
    assert [item.subject_id for item in batch] == [cases[0].subject_id, cases[1].subject_id]
    assert after == cases[1].subject_id
    batch, after = purge_due_content(now=NOW, limit=2, after_id=after)
    batch, after = purge_due_content(now=NOW, limit=2, after_id=after)
    assert len(batch) == 1 and after is None
    assert not due_subjects(now=NOW).exists()


@pytest.mark.parametrize("subjects", [2, 8])
def test_a_batch_costs_a_fixed_number_of_queries_per_subject(spam, subjects, django_assert_max_num_queries):
    for _ in range(subjects):
        copy = factories.MediaFileFactory()
        case = resolved_case(spam, days_ago=90, media=(copy.url,))
        factories.SignalFactory(case=case, source=Signal.Source.BANK, value={"matched": "x"})

    # Policies and the batch's ids, then 16 per subject whatever its size: savepoint, lock and re-check,
    # cases, policy, versions (2), media still shown (2), media, reports (2), signals (2), subject, audit.
    with django_assert_max_num_queries(2 + 16 * subjects):
        batch, _ = purge_due_content(now=NOW, limit=subjects)
    assert len(batch) == subjects


def test_the_beat_task_purges_what_is_due(spam):
    from cases.tasks import purge_expired_content as task

    case = resolved_case(spam, days_ago=90)
    Case.objects.filter(pk=case.pk).update(resolved_at=datetime.now(UTC) - timedelta(days=31))

    assert task.apply().get() == 1
    assert Subject.objects.get(pk=case.subject_id).content_purged_at is not None


def test_held_subjects_are_not_listed_as_due(spam, lead):
    held = resolved_case(spam, days_ago=90)
    free = resolved_case(spam, days_ago=90)
    LegalHold.objects.create(
        case=held, reason="kept", placed_by=lead, placed_at=NOW
    )  # direct row: the selector alone is under test

    assert list(due_subjects(now=NOW).values_list("pk", flat=True)) == [free.subject_id]


def _report_through_intake(vendor, policy, n: int, text: str):
    from cases.services.intake import ReportInput, SubjectInput, accept_reports

    subject = SubjectInput(kind="post", external_id="post-purged", text=text)
    return accept_reports(
        vendor=vendor,
        reports=[ReportInput(external_id=f"i-{n}", policy=policy, subject=subject, payload={"n": n})],
    )[0]


def test_the_same_content_reported_again_after_a_purge_is_shown_again(
    spam, django_capture_on_commit_callbacks
):
    vendor = factories.VendorFactory()
    first = _report_through_intake(vendor, spam, 1, TEXT)
    Case.objects.filter(pk=first.case_id).update(
        status=Case.Status.RESOLVED, resolved_at=NOW - timedelta(days=40)
    )
    purge()
    assert Subject.objects.get(external_id="post-purged").text == ""

    # Same words again (same content hash, which the purge kept): the evidence comes back, not the marker.
    _report_through_intake(vendor, spam, 2, TEXT)

    subject = Subject.objects.get(external_id="post-purged")
    assert subject.text == TEXT and subject.content_purged_at is None
    version = subject.versions.get()
    assert version.text == TEXT and version.purged_at is None


def test_a_case_without_a_policy_or_resolution_time_keeps_its_subject(spam):
    case = resolved_case(spam, days_ago=90)
    factories.CaseFactory(subject=case.subject, policy=None, status=Case.Status.RESOLVED, resolved_at=None)

    assert purge() == []

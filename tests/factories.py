from datetime import timedelta

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from cases.demo import png_bytes
from cases.models import (
    Case,
    CaseNote,
    ContextProvider,
    Decision,
    MediaFile,
    Report,
    Scorer,
    Signal,
    Subject,
    Tag,
)
from cases.selectors import media_url_hash
from moderation.models import NO_VIOLATION_KEY, Action, EnforcementEndpoint, Policy, Vendor
from queues.models import Queue, RoutingRule, ScoreCondition


class ActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Action
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"action-{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").title())
    kind = Action.Kind.REMOVE
    enforcement_type = "content.remove"
    # "No violation" always has 0; other actions get a key where a test gives one.
    shortcut_key = factory.LazyAttribute(
        lambda o: NO_VIOLATION_KEY if o.kind == Action.Kind.NO_VIOLATION else ""
    )


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Policy
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"policy-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    severity = 2
    sla_hours = 24


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor

    name = factory.Sequence(lambda n: f"Vendor {n}")
    slug = factory.Sequence(lambda n: f"vendor-{n}")
    reliability = 0.5


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"queue-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class SubjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subject

    kind = Subject.Kind.MESSAGE
    external_id = factory.Sequence(lambda n: f"msg-{n}")
    author_id = "author-1"
    text = "hello"


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    subject = factory.SubFactory(SubjectFactory)
    policy = factory.SubFactory(PolicyFactory)


class ReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Report

    vendor = factory.SubFactory(VendorFactory)
    external_id = factory.Sequence(lambda n: f"r-{n}")
    case = factory.SubFactory(CaseFactory)
    subject = factory.SelfAttribute("case.subject")
    subject_version = 1
    policy = factory.SelfAttribute("case.policy")
    reason = factory.SelfAttribute("policy.code")
    payload = factory.LazyAttribute(lambda o: {"external_id": o.external_id})
    payload_hash = "x"


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signal

    case = factory.SubFactory(CaseFactory)
    source = Signal.Source.SCORER
    source_name = "test"
    label = "toxicity"
    score = 0.5
    dedupe_key = factory.Sequence(lambda n: f"k-{n}")


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    case = factory.SubFactory(CaseFactory)
    policy = factory.SelfAttribute("case.policy")
    action = factory.SubFactory(ActionFactory)


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingRule

    name = factory.Sequence(lambda n: f"rule {n}")
    position = factory.Sequence(lambda n: n * 10)
    state = RoutingRule.State.LIVE


class ScoreConditionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoreCondition

    rule = factory.SubFactory(RoutingRuleFactory)
    source = ScoreCondition.Source.SCORER
    label = "toxicity"
    operator = ScoreCondition.Operator.GTE
    threshold = 0.8


class OpenCaseFactory(CaseFactory):
    """A routed, claimable case: in a queue, open, with priority and an SLA."""

    status = Case.Status.OPEN
    priority = 10.0
    routed_at = factory.LazyFunction(timezone.now)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tag-{n}")


class CaseNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaseNote

    case = factory.SubFactory(CaseFactory)
    author = factory.SubFactory(UserFactory)
    body = "looked at this"


class MediaFileFactory(factory.django.DjangoModelFactory):
    """A stored copy of a media URL (a 1x1 PNG unless given content)."""

    class Meta:
        model = MediaFile

    url = factory.Sequence(lambda n: f"https://media.example/{n}.png")
    url_hash = factory.LazyAttribute(lambda o: media_url_hash(o.url))
    content_type = "image/png"
    content = factory.LazyFunction(lambda: png_bytes(2, 2, (200, 30, 30)))
    size = factory.LazyAttribute(lambda o: len(o.content))


def hold(case, user, *, claim=False, minutes=30):
    """Have `user` hold `case`, as the agent working it does: deciding, confirming a decision and resolving an
    appeal are only for the holder of a live lease (`cases.services.review`).

    By default only the lease is given (assignee, claimed_at, lease_expires_at), so the case's status and
    version stay what the test set up and its expected versions still match. `claim=True` goes through the
    real claim instead (`queues.services.claim_case`: in review, version + 1, audited) for a test whose point
    is the claim. Returns `case`, refreshed.
    """
    if claim:
        from queues.services import claim_case

        assert claim_case(case_id=case.pk, user=user) is not None, f"{user} could not claim case {case.pk}"
        case.refresh_from_db()
        return case
    now = timezone.now()
    Case.objects.filter(pk=case.pk).update(
        assignee=user, claimed_at=now, lease_expires_at=now + timedelta(minutes=minutes)
    )
    case.refresh_from_db(fields=["assignee", "claimed_at", "lease_expires_at"])
    return case


class ScorerFactory(factory.django.DjangoModelFactory):
    """An HTTP moderation API scorer."""

    class Meta:
        model = Scorer

    name = factory.Sequence(lambda n: f"Scorer {n}")
    kind = Scorer.Kind.HTTP
    url = factory.Sequence(lambda n: f"https://scorer{n}.example/v1/moderate")


class ContextProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContextProvider

    name = factory.Sequence(lambda n: f"Context {n}")
    url_template = factory.Sequence(lambda n: f"https://platform{n}.example/users/{{author_id}}/facts")


class EnforcementEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EnforcementEndpoint

    name = factory.Sequence(lambda n: f"Platform {n}")
    url = "https://platform.example/moderation/enforcements"
    secret = "whsec-" + "0" * 40

"""Platform events (message posted, profile changed, ...) that detection saw, and the rules they can trigger.

An event is kept only as far as the rules need it afterwards: who sent it, which subject and author it was
about, when, how many bank entries it hit and what came of it. Its text and media are not stored here: an
event that opens a case hands its content to intake, which keeps it as evidence under the case's retention;
the rest is forgotten after `EVENT_RETENTION_DAYS` (`cases.services.events.forget_old_events`).
"""

from django.db import models

from cases.models.case import Case
from moderation.models import Policy, Vendor


class Event(models.Model):
    class Type(models.TextChoices):
        MESSAGE_POSTED = "message.posted"
        PROFILE_CHANGED = "profile.changed"
        ACCOUNT_CREATED = "account.created"
        MEDIA_UPLOADED = "media.uploaded"

    class Outcome(models.TextChoices):
        NONE = "none", "No rule acted"
        CASE_OPENED = "case_opened", "Opened (or joined) a case"
        DECIDED = "decided", "Decided automatically"
        SHADOW_DECIDED = "shadow_decided", "Case opened, automatic decision recorded in shadow"

    # The platform's event id is the idempotency key per source: a redelivered or re-posted event is the
    # same row (unique below), so counters read from these rows never count it twice.
    source = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="events", db_index=False)
    external_id = models.CharField(max_length=180)
    type = models.CharField(max_length=24, choices=Type.choices)
    subject_kind = models.CharField(max_length=16)
    subject_external_id = models.CharField(max_length=255)
    author_id = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(db_index=True)
    bank_hits = models.PositiveIntegerField(default=0)
    payload_hash = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.NONE)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rule = models.ForeignKey(
        "queues.RoutingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Rules in the shadow state that matched: what they would have done is for leads to compare, not applied.
    shadow_rule_ids = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="one_event_per_source_id"),
        ]
        # The counters read one source's events by author over the last day.
        indexes = [models.Index(fields=["source", "author_id", "received_at"], name="event_author_time")]

    def __str__(self) -> str:
        return f"{self.type} {self.external_id}"


class EventTrigger(models.Model):
    """Makes a routing rule run on platform events (as well as on cases): the same conditions, states and
    automatic-decision setting. A live match opens a case through intake (reported as `open_policy` by the
    event's source), and a rule that decides automatically then decides it through the automated-decision
    path with its guards; a shadow-state rule only notes the match on the event."""

    rule = models.OneToOneField("queues.RoutingRule", on_delete=models.CASCADE, related_name="event_trigger")
    event_types = models.JSONField(
        default=list, blank=True, help_text='Empty: every type. e.g. ["message.posted", "media.uploaded"]'
    )
    open_policy = models.ForeignKey(
        Policy,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The reason of the case an event opens; empty: the rule's automatic-decision policy.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"events → {self.rule_id}"

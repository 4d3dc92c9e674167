"""What the rules see of a platform event, and which rule acts on it.

An event's facts have the shape of a case's (`queues.selectors.CaseFacts`), so the routing rules' own
condition check (`queues.matching.condition_holds`) judges them, with the same source trust: bank hits are
`[bank] bank:<name>`, the built-in model's score `[scorer] profanity`, and the event counters system facts:

    [system] event.author_events_1h        this author's events from this source, last hour (this one included)
    [system] event.author_events_24h       ... last 24 hours
    [system] event.author_bank_hits_24h    bank hits on this author's events, last 24 hours

The counters are read from the stored events in one aggregate query per batch (plus the batch's own events
before each), and a redelivered event is a replay that is never run again, so it never counts twice.

The counters count what a source sent, about an author the source names: any vendor with a token can make
its own counter for any author as high as it likes, and the case the rule opens is on a subject the event
names, which may be content another vendor reported. So, like a vendor score, a counter may trigger an
automatic decision only on a rule that names its vendors (vouched for by the admin); an automated rule that
reads a counter and names no vendor never acts on events (it may still route, with automation off). A rule's policy condition does not apply to events (an event has no report
reason); its event trigger's `event_types` does instead.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, Sum

from cases.detection.bank_hits import bank_hits_for, compiled_banks
from cases.detection.textmodel import text_model
from cases.models import Event, EventTrigger
from moderation.models import Policy, Vendor
from queues.matching import condition_holds
from queues.models import RoutingRule, ScoreCondition
from queues.selectors import CaseFacts, active_rules

EVENTS_1H, EVENTS_24H, BANK_HITS_24H = (
    "event.author_events_1h",
    "event.author_events_24h",
    "event.author_bank_hits_24h",
)
EVENT_COUNTERS = (EVENTS_1H, EVENTS_24H, BANK_HITS_24H)
TEXT_MODEL_LABEL = "profanity"  # the built-in model's label


@dataclass(frozen=True)
class EventRule:
    """A rule with an event trigger, its conditions read once from the prefetched rows (matching runs for
    every event and every rule: no related-manager call on that path)."""

    rule: RoutingRule
    event_types: frozenset[str]
    policy: Policy | None  # the reason of the case it opens
    kinds: frozenset[str]
    vendor_ids: frozenset[int]
    languages: frozenset[str]
    conditions: tuple[ScoreCondition, ...]
    acts_unattributably: bool  # decides automatically on conditions we cannot attribute: never acts
    # The signals its conditions read ((source, label)): one an event lacks fails its condition whatever
    # the operator (`condition_holds`), so a rule needing a bank hit is passed over at one set test by the
    # events without one (most) instead of being judged condition by condition.
    needs: frozenset[tuple[str, str]] = field(init=False)

    def __post_init__(self):
        needs = frozenset((condition.source, condition.label) for condition in self.conditions)
        object.__setattr__(self, "needs", needs)


@dataclass
class Detected:
    bank_hits: int = 0
    signals: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)


_compiled: tuple[list[RoutingRule], float, list[EventRule]] | None = None


def event_rules() -> list[EventRule]:
    """The evaluated routing rules (live and shadow, in position order) that have an event trigger: the
    routing rule cache's rules and their triggers, compiled again when that cache reloads (a saved rule,
    condition or trigger clears it) or after CONFIG_CACHE_SECONDS."""
    global _compiled
    rules = active_rules()
    if (
        _compiled is not None
        and _compiled[0] is rules
        and time.monotonic() - _compiled[1] <= settings.CONFIG_CACHE_SECONDS
    ):
        return _compiled[2]
    compiled = _compile(rules)
    _compiled = (rules, time.monotonic(), compiled)
    return compiled


def _compile(rules: list[RoutingRule]) -> list[EventRule]:
    triggers = {
        trigger.rule_id: trigger
        for trigger in EventTrigger.objects.filter(rule_id__in=[rule.pk for rule in rules]).select_related(
            "open_policy"
        )
    }
    return [
        EventRule(
            rule=rule,
            event_types=frozenset(triggers[rule.pk].event_types or ()),
            policy=triggers[rule.pk].open_policy or rule.auto_policy,
            kinds=frozenset(rule.subject_kinds or ()),
            vendor_ids=frozenset(vendor.pk for vendor in rule.vendors.all()),
            languages=frozenset(language.lower().split("-")[0] for language in rule.languages or ()),
            conditions=tuple(rule.score_conditions.all()),
            acts_unattributably=rule.automation_mode != RoutingRule.AutomationMode.OFF
            and (not rule.automation_is_attributable or _counts_any_vendor(rule)),
        )
        for rule in rules
        if rule.pk in triggers
    ]


def _counts_any_vendor(rule: RoutingRule) -> bool:
    """The rule reads an event counter and names no vendor: the count is whoever-sent-it's claim."""
    return not rule.vendors.all() and any(
        condition.source == ScoreCondition.Source.SYSTEM and condition.label in EVENT_COUNTERS
        for condition in rule.score_conditions.all()
    )


def prepare_detection() -> None:
    """Compile the banks and the event rules now (a consumer does it before taking its first batch, so the
    first events do not wait for a 10,000-term bank to compile)."""
    compiled_banks()
    rules = event_rules()
    if _uses_text_model(rules):
        text_model()


def _uses_text_model(rules: list[EventRule]) -> bool:
    return any(
        condition.source == ScoreCondition.Source.SCORER and condition.label == TEXT_MODEL_LABEL
        for event_rule in rules
        for condition in event_rule.conditions
    )


def detect(items, rules: list[EventRule]) -> list[Detected]:
    """Bank hits for every event (text, permalink and media URLs, normalised as each bank says) and, only
    when a rule reads it, the built-in model's score, one batched call for all texts. Writes nothing."""
    found = []
    for item in items:
        subject = item.subject
        drafts = bank_hits_for(subject.text, urls=[url for url in (subject.url, *subject.media_urls) if url])
        signals: dict[tuple[str, str], dict[str, float]] = {}
        for draft in drafts:
            by_name = signals.setdefault((draft.source, draft.label), {})
            score = draft.score if draft.score is not None else 1.0
            by_name[draft.source_name] = max(by_name.get(draft.source_name, 0.0), score)
        found.append(Detected(bank_hits=len(drafts), signals=signals))
    if rules and _uses_text_model(rules):
        texts = [(index, item.subject.text) for index, item in enumerate(items) if item.subject.text]
        if texts:
            scores = text_model().scores([text for _, text in texts])
            for (index, _), score in zip(texts, scores, strict=True):
                found[index].signals[(ScoreCondition.Source.SCORER, TEXT_MODEL_LABEL)] = {"": score}
    return found


def read_counters(source: Vendor, items, found: list[Detected], *, now: datetime) -> list[dict[str, float]]:
    """Each event's author counters as they stand at that event: the author's stored events (one aggregate
    query, run before the batch is inserted) plus the batch's own events up to and including it, in order,
    so a burst inside one batch counts the way it would have one event at a time."""
    authors = {item.subject.author_id for item in items if item.subject.author_id}
    stored: dict[str, list[float]] = {}
    if authors:
        rows = (
            Event.objects.filter(
                source=source, author_id__in=authors, received_at__gt=now - timedelta(hours=24)
            )
            .values("author_id")
            .annotate(
                last_hour=Count("id", filter=Q(received_at__gt=now - timedelta(hours=1))),
                last_day=Count("id"),
                bank_hits=Sum("bank_hits"),
            )
        )
        stored = {
            row["author_id"]: [float(row["last_hour"]), float(row["last_day"]), float(row["bank_hits"] or 0)]
            for row in rows
        }
    counters: list[dict[str, float]] = []
    for item, detected in zip(items, found, strict=True):
        author = item.subject.author_id
        if not author:
            counters.append({})
            continue
        running = stored.setdefault(author, [0.0, 0.0, 0.0])
        running[0] += 1
        running[1] += 1
        running[2] += detected.bank_hits
        counters.append(dict(zip(EVENT_COUNTERS, running, strict=True)))
    return counters


def event_facts(item, found: Detected, counters: dict[str, float], *, source: Vendor) -> CaseFacts:
    signals = dict(found.signals)
    for name, value in counters.items():
        signals[(ScoreCondition.Source.SYSTEM, name)] = {"": value}
    return CaseFacts(
        policy_ids=set(),
        vendor_ids={source.pk},
        subject_kind=item.subject.kind,
        language=item.subject.language,
        severity=0,
        distinct_reporters=0,
        vendor_reliability=0.0,
        signals=signals,
    )


def _matches(event_rule: EventRule, item, facts: CaseFacts) -> bool:
    if event_rule.event_types and item.type not in event_rule.event_types:
        return False
    if event_rule.kinds and facts.subject_kind not in event_rule.kinds:
        return False
    if event_rule.vendor_ids and not (event_rule.vendor_ids & facts.vendor_ids):
        return False
    if not event_rule.needs <= facts.signals.keys():
        return False
    if event_rule.languages and facts.language.split("-")[0].lower() not in event_rule.languages:
        return False
    return all(condition_holds(condition, facts) for condition in event_rule.conditions)


def first_live_match(
    rules: list[EventRule], item, found: Detected, counters, *, source: Vendor
) -> tuple[EventRule | None, list[int]]:
    """The first live rule that matches the event (it acts), and the shadow-state rules that matched on the
    way (noted, nothing applied). Like routing, an automated rule whose conditions are not attributable to
    us never acts (refused on save, skipped here)."""
    facts = event_facts(item, found, counters, source=source)
    watched: list[int] = []
    for event_rule in rules:
        if event_rule.acts_unattributably or not _matches(event_rule, item, facts):
            continue
        if event_rule.rule.state == RoutingRule.State.SHADOW:
            watched.append(event_rule.rule.pk)
            continue
        return event_rule, watched
    return None, watched

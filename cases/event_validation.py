"""Strict validation of platform events, the same way reports are validated (`cases.validation`).

`parse_event(raw)` returns `(EventInput, {})` or `(None, {"dotted.field": [messages]})`: unknown fields are
refused, types are never coerced, and the subject is checked by the report validator's own rules. The REST
endpoint and the stream consumer both call it, so a message the API refuses is refused on the stream too
(there it goes to the dead-letter subject with these messages as its reason).
"""

from typing import Any

from cases.models import Event
from cases.services.events import EventInput
from cases.validation import REQUIRED, _Errors, _occurred_at, _string, _subject, _unknown
from moderation.content import find_unstorable_text

MAX_EVENT_ID = 180  # the report an event opens is keyed `event:<id>`, within the report key's 200
EVENT_FIELDS = frozenset({"id", "type", "occurred_at", "subject"})
EVENT_TYPES = frozenset(Event.Type.values)
# What each event type can be about: a profile change is about a profile, never about a message.
KINDS_BY_TYPE = {
    Event.Type.MESSAGE_POSTED: frozenset({"message", "post"}),
    Event.Type.PROFILE_CHANGED: frozenset({"profile"}),
    Event.Type.ACCOUNT_CREATED: frozenset({"account"}),
    Event.Type.MEDIA_UPLOADED: frozenset({"media"}),
}


def parse_event(raw: Any) -> tuple[EventInput | None, dict[str, list[str]]]:
    errors = _Errors()
    if not isinstance(raw, dict):
        errors.add("body", f"Invalid data. Expected a JSON object, but got {type(raw).__name__}.")
        return None, dict(errors)
    problem = find_unstorable_text(raw)
    if problem:
        path, message = problem
        errors.add(path, f"Value {message}.")
        return None, dict(errors)
    external_id = _string(errors, raw, "id", "id", max_length=MAX_EVENT_ID, required=True, allow_blank=False)
    kind = raw.get("type")
    if "type" not in raw:
        errors.add("type", REQUIRED)
    elif not isinstance(kind, str) or kind not in EVENT_TYPES:
        errors.add("type", f"Not a valid event type; use one of {', '.join(sorted(EVENT_TYPES))}.")
    occurred_at = _occurred_at(errors, raw.get("occurred_at"))
    _unknown(errors, raw, EVENT_FIELDS, "")
    if "subject" not in raw:
        errors.add("subject", REQUIRED)
        return None, dict(errors)
    subject = _subject(errors, raw["subject"])
    if subject is not None and kind in KINDS_BY_TYPE and subject.kind not in KINDS_BY_TYPE[kind]:
        allowed = ", ".join(sorted(KINDS_BY_TYPE[kind]))
        errors.add("subject.kind", f"A {kind} event is about a {allowed}, not a {subject.kind}.")
    if errors or subject is None:
        return None, dict(errors)
    payload = {
        "id": external_id,
        "type": kind,
        "occurred_at": occurred_at.isoformat() if occurred_at else None,
        "subject": {"kind": subject.kind, "external_id": subject.external_id} | subject.content(),
    }
    return EventInput(
        external_id=external_id, type=kind, subject=subject, occurred_at=occurred_at, payload=payload
    ), {}

"""What intake takes in: validated reports and subjects (built by `cases.validation`), and what it answers."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from moderation.models import Policy

CONTENT_FIELDS = ("author_id", "text", "media_urls", "language", "url", "metadata")


@dataclass(frozen=True)
class SubjectInput:
    kind: str
    external_id: str
    author_id: str = ""
    text: str = ""
    media_urls: tuple[str, ...] = ()
    language: str = ""
    url: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.external_id)

    @property
    def has_content(self) -> bool:
        return bool(self.author_id or self.text or self.media_urls or self.url or self.metadata)

    def content(self) -> dict[str, Any]:
        return {
            "author_id": self.author_id,
            "text": self.text,
            "media_urls": list(self.media_urls),
            "language": self.language,
            "url": self.url,
            "metadata": self.metadata,
        }

    @cached_property
    def content_hash(self) -> str:
        return canonical_hash(self.content())


@dataclass(frozen=True)
class ReportInput:
    """A validated report, as the API hands it to the service."""

    external_id: str
    policy: Policy
    subject: SubjectInput
    payload: dict  # the canonical, JSON-safe form of the validated item (stored as evidence)
    reporter_id: str = ""
    comment: str = ""
    occurred_at: datetime | None = None
    scores: tuple[tuple[str, float], ...] = ()
    # Set for a report accepted first (`Prefer: respond-async`): the id its 202 promised, reserved then.
    report_id: int | None = None

    @cached_property
    def payload_hash(self) -> str:
        return canonical_hash(self.payload)

    @property
    def reporter_key(self) -> str:
        # Reporter ids are scoped to the vendor that sent them; no reporter id counts as the vendor itself.
        return self.reporter_id


@dataclass
class IntakeOutcome:
    external_id: str
    status: str  # "created" | "duplicate" | "conflict"
    report_id: int | None = None
    case_id: int | None = None
    detail: str = ""


def canonical_hash(value: Any) -> str:
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()

"""The velocity counters: one list, with what each counts, about whom, over which window (data, not code),
and the events that feed them."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

AUTHOR, SUBJECT, VENDOR = "author", "subject", "vendor"
REPORTS, REPORTERS, NEW_SUBJECTS, BANK_HITS = "reports", "reporters", "new_subjects", "bank_hits"
BANK_SOURCE = "bank"  # `Signal.source` of matching-bank hits


@dataclass(frozen=True)
class VelocityCounter:
    """One counter: what it counts (`event`) about whom (`scope`) over which `window`, in `bucket` steps."""

    name: str
    label: str  # plain words, for the case page
    scope: str  # author | subject | vendor
    event: str  # reports | reporters (distinct) | new_subjects | bank_hits
    window: timedelta
    bucket: timedelta

    @cached_property
    def distinct(self) -> bool:
        return self.event == REPORTERS

    @cached_property
    def window_ms(self) -> int:
        return int(self.window.total_seconds() * 1000)

    @cached_property
    def bucket_ms(self) -> int:
        return int(self.bucket.total_seconds() * 1000)


MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
DAY = 24 * HOUR

SECONDS_5 = timedelta(seconds=5)

# The one list: routing's system facts, the case page and the benchmark all read it. Buckets: a live value
# covers the window rounded out to whole buckets; more, smaller buckets are closer but cost a longer read.
_TABLE = (
    # name, label (plain words), scope, event, window, bucket
    ("author.reports_1h", "Reports on this author, last hour", AUTHOR, REPORTS, HOUR, MINUTE),
    ("author.reports_24h", "Reports on this author, last 24 h", AUTHOR, REPORTS, DAY, HOUR),
    (
        "author.distinct_reporters_24h",
        "People reporting this author, last 24 h",
        AUTHOR,
        REPORTERS,
        DAY,
        HOUR,
    ),
    (
        "author.new_subjects_24h",
        "This author's newly reported content, last 24 h",
        AUTHOR,
        NEW_SUBJECTS,
        DAY,
        HOUR,
    ),
    ("author.bank_hits_24h", "Matching-bank hits on this author, last 24 h", AUTHOR, BANK_HITS, DAY, HOUR),
    ("subject.reports_1h", "Reports on this content, last hour", SUBJECT, REPORTS, HOUR, MINUTE),
    (
        "subject.distinct_reporters_24h",
        "People reporting this content, last 24 h",
        SUBJECT,
        REPORTERS,
        DAY,
        HOUR,
    ),
    (
        "vendor.reports_1m",
        "Busiest reporting vendor's reports, last minute",
        VENDOR,
        REPORTS,
        MINUTE,
        SECONDS_5,
    ),
)
COUNTERS: tuple[VelocityCounter, ...] = tuple(VelocityCounter(*row) for row in _TABLE)
COUNTER_NAMES: tuple[str, ...] = tuple(counter.name for counter in COUNTERS)


@dataclass(frozen=True)
class ReportEvent:
    """What a stored report contributes to the counters."""

    received_at: datetime
    subject_id: int
    author_id: str
    vendor_id: int
    reporter_id: str = ""

    @property
    def reporter_key(self) -> str:
        # Reporter ids are the vendor's; no reporter id counts as the vendor itself (as the case's count does).
        return f"{self.vendor_id}:{self.reporter_id}"


@dataclass(frozen=True)
class NewSubjectEvent:
    first_seen_at: datetime
    author_id: str

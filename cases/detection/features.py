"""The one feature function: what a trained model sees of a case, as it stood at a moment.

Scoring (`cases.detection.learned`) and training (`cases.detection.training`) both call `features_at`, so a
model is trained on exactly what it will be served. Everything is point in time: the content version scored,
signals stored by then, the author's strikes in force then and the velocity counters over (at - window, at].
Text is normalised against evasion (every trick of `cases.detection.normalise`) before any model sees it.
A trained model's own signals are never features (a model must not feed on its own output).
"""

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Q

from cases.counters import COUNTER_NAMES, counters_at
from cases.detection.normalise import normalise
from cases.models import Case, Report, Signal, Strike, SubjectVersion

# A vendor's report rate says how busy the vendor is, not what this content is, and counting it costs a scan of
# every report the vendor sent in the window: at intake speed that grows with traffic, which a per-text scorer
# cannot afford. Models see the author and subject counters only (rules can still use the vendor counter).
MODEL_COUNTERS: tuple[str, ...] = tuple(name for name in COUNTER_NAMES if not name.startswith("vendor."))

# Long texts (whole emails) are cut before normalising: the head carries the signal, and the character
# n-grams of 1,000 characters take about 2 ms to extract (4,000 took 7: over the serving budget).
MAX_MODEL_TEXT = 1000
MAX_SIGNAL_FEATURES = 50
TRAINED_MODEL_PREFIX = "trained:"
_CHUNK = 500


@dataclass(frozen=True)
class Features:
    text: str  # normalised
    inputs: dict  # name -> number, or "kind"/"language" -> string (one-hot encoded by the model)

    @property
    def digest(self) -> str:
        """SHA-256 of the text and the inputs, canonical JSON: equal features, equal digest."""
        body = json.dumps(
            {"text": hashlib.sha256(self.text.encode()).hexdigest(), "inputs": self.inputs},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Moment:
    """A case and the moment (and content version) its features are taken at."""

    case: Case
    at: datetime
    content_version: int | None = None


def features_at(case: Case, at: datetime, content_version: int | None = None) -> Features:
    """One case's features at `at` (serving): `features_for([...])[0]`, in one statement (see `_history`)."""
    moment = Moment(case, at, content_version)
    subject = case.subject
    signals, active_strikes, reported = _history(moment)
    version = content_version or subject.content_version
    if version == subject.content_version:
        text = subject.text
    else:
        found = SubjectVersion.objects.filter(subject_id=subject.pk, version=version).only("text").first()
        text = found.text if found is not None else ""
    return _assemble(moment, text, active_strikes, reported, signals)


def features_for(moments: list[Moment]) -> list[Features]:
    """Features of many cases at once (training): a few queries a chunk of 500, plus the velocity counters of
    those subjects that have an author or reports (the others' counters are zero by definition)."""
    out: list[Features] = []
    for start in range(0, len(moments), _CHUNK):
        out.extend(_chunk(moments[start : start + _CHUNK]))
    return out


def _chunk(moments: list[Moment]) -> list[Features]:
    case_ids = [m.case.pk for m in moments]
    subject_ids = {m.case.subject_id for m in moments}
    latest_at = max(m.at for m in moments)
    signals: dict[int, list] = defaultdict(list)
    rows = (
        Signal.objects.filter(case_id__in=case_ids, created_at__lte=latest_at, score__isnull=False)
        .exclude(model__startswith=TRAINED_MODEL_PREFIX)
        .exclude(source=Signal.Source.SHADOW_MODEL)
        .values_list("case_id", "source", "label", "score", "created_at")
    )
    for case_id, source, label, score, created_at in rows:
        signals[case_id].append((source, label, score, created_at))
    authors = {m.case.subject.author_id for m in moments if m.case.subject.author_id}
    strikes: dict[str, list] = defaultdict(list)
    if authors:
        for strike in Strike.objects.filter(author_id__in=authors, created_at__lte=latest_at).only(
            "author_id", "created_at", "removed_at", "expires_at"
        ):
            strikes[strike.author_id].append(strike)
    reported = set(
        Report.objects.filter(subject_id__in=subject_ids, received_at__lte=latest_at).values_list(
            "subject_id", flat=True
        )
    )
    versions = {
        (v.subject_id, v.version): v.text
        for v in SubjectVersion.objects.filter(
            _versions_wanted(
                [m for m in moments if m.content_version not in (None, m.case.subject.content_version)]
            )
        ).only("subject_id", "version", "text")
    }
    features = []
    for moment in moments:
        case, at, subject = moment.case, moment.at, moment.case.subject
        version = moment.content_version or subject.content_version
        text = subject.text if version == subject.content_version else versions.get((subject.pk, version), "")
        active = sum(
            strike.created_at <= at and _in_force(strike, at) for strike in strikes.get(subject.author_id, [])
        )
        best: dict[tuple[str, str], float] = {}
        for source, label, score, created_at in signals.get(case.pk, []):
            if created_at <= at:
                best[(source, label)] = max(best.get((source, label), 0.0), float(score))
        features.append(_assemble(moment, text, active, subject.pk in reported, best))
    return features


def _assemble(
    moment: Moment, text: str, active_strikes: int, reported: bool, signals: dict[tuple[str, str], float]
) -> Features:
    """The features from what was read (by either path): the one place the inputs are put together."""
    subject, at = moment.case.subject, moment.at
    inputs: dict = {"kind": subject.kind, "language": subject.language or ""}
    inputs["author.active_strikes"] = float(active_strikes)
    if subject.author_id or reported:
        counters = counters_at(subject, at, vendor_ids=())
    else:
        counters = dict.fromkeys(MODEL_COUNTERS, 0.0)
    inputs |= {name: float(counters[name]) for name in MODEL_COUNTERS}
    best = {f"signal.{source}.{label}": float(score) for (source, label), score in signals.items()}
    inputs |= dict(sorted(best.items())[:MAX_SIGNAL_FEATURES])
    return Features(text=normalise(text[:MAX_MODEL_TEXT]), inputs=inputs)


def _history(moment: Moment) -> tuple[dict[tuple[str, str], float], int, bool]:
    """The case's strongest signal per (source, label), the author's strikes in force and whether the subject
    had been reported, all as of the moment, in one statement. Serving scores one case at a time, and the
    three ORM queries of the batch path cost about 2 ms of query building a text (the database's own share
    was a tenth of that): over the 5 ms budget with the model. Same filters as `_chunk`; the point-in-time
    tests hold the two paths equal on SQLite and PostgreSQL."""
    subject, at = moment.case.subject, connection.ops.adapt_datetimefield_value(moment.at)
    quote = connection.ops.quote_name
    signal, strike, report = (quote(m._meta.db_table) for m in (Signal, Strike, Report))
    # Markers start with "~", which no signal source (a choice value) does. Table names are our models'
    # (quoted); every value is a parameter.
    parts = [
        f"SELECT source, label, MAX(score) FROM {signal} WHERE case_id = %s AND created_at <= %s"  # noqa: S608
        " AND score IS NOT NULL AND NOT (model LIKE %s) AND source <> %s GROUP BY source, label",
        f"SELECT '~reported', '', COUNT(*) FROM (SELECT 1 FROM {report} WHERE subject_id = %s"  # noqa: S608
        " AND received_at <= %s LIMIT 1) AS reported",
    ]
    params: list = [
        moment.case.pk,
        at,
        f"{TRAINED_MODEL_PREFIX}%",
        Signal.Source.SHADOW_MODEL,
        subject.pk,
        at,
    ]
    if subject.author_id:
        parts.append(
            f"SELECT '~strikes', '', COUNT(*) FROM {strike} WHERE author_id = %s AND created_at <= %s"  # noqa: S608
            " AND (removed_at IS NULL OR removed_at > %s) AND (expires_at IS NULL OR expires_at > %s)"
        )
        params += [subject.author_id, at, at, at]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    signals = {  # the batch path starts each best at 0.0
        (source, label): max(0.0, float(score)) for source, label, score in rows if not source.startswith("~")
    }
    markers = {source: int(count) for source, _, count in rows if source.startswith("~")}
    return signals, markers.get("~strikes", 0), markers.get("~reported", 0) > 0


def _versions_wanted(moments: list[Moment]) -> Q:
    wanted = Q(pk__in=[])
    for moment in moments:
        wanted |= Q(subject_id=moment.case.subject_id, version=moment.content_version)
    return wanted


def _in_force(strike: Strike, at: datetime) -> bool:
    # The same rule as `cases.track_record.strikes_in_force_at(at)`, applied to rows already loaded.
    return (strike.removed_at is None or strike.removed_at > at) and (
        strike.expires_at is None or strike.expires_at > at
    )


def features_of_text(text: str, *, kind: str, language: str) -> Features:
    """A text with no history in this system (a golden-set line): no signals, strikes or counters, the same
    inputs a brand-new subject from an unknown author has."""
    inputs: dict = {"kind": kind, "language": language or "", "author.active_strikes": 0.0}
    inputs |= dict.fromkeys(MODEL_COUNTERS, 0.0)
    return Features(text=normalise(text[:MAX_MODEL_TEXT]), inputs=inputs)

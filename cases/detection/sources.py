"""Signal sources: ML scorers (built-in text model, HTTP moderation APIs) and context providers.

Each source turns a subject into `SignalDraft`s, doing its network I/O through `moderation.outbound` and never
touching the database, so sources can run in parallel threads outside any transaction.
"""

import functools
import math
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import quote

from cases.detection.textmodel import text_model
from cases.models import ContextProvider, Scorer, Signal, Subject
from cases.models.signal_source import BUILTIN_CONTEXT_LABELS, BUILTIN_CONTEXT_SOURCES
from moderation import outbound

MAX_LABELS = 50
MAX_FACT_BYTES = 2048


class SourceFailed(Exception):
    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class SignalDraft:
    source: str
    source_name: str
    label: str
    dedupe_key: str
    score: float | None = None
    value: Any = None
    model: str = ""
    model_version: str = ""
    # A trained model's draft also logs what it saw: ScoringRecord fields (cases.detection.trained_scorer).
    scoring: dict | None = None


def store_signal_drafts(case_id: int, drafts: list[SignalDraft]) -> None:
    """Write the drafts as the case's signals; a draft whose dedupe key the case already has is a no-op (a
    re-delivered task or a second pass writes nothing twice)."""
    Signal.objects.bulk_create(
        [
            Signal(
                case_id=case_id,
                source=draft.source,
                source_name=draft.source_name,
                model=draft.model,
                model_version=draft.model_version,
                label=draft.label,
                score=draft.score,
                value=draft.value,
                dedupe_key=draft.dedupe_key,
            )
            for draft in drafts
        ],
        ignore_conflicts=True,
    )


# --- the built-in text model ------------------------------------------------------------------------------

BUILTIN_MODEL = "alt-profanity-check"
BUILTIN_LABEL = "profanity"


@functools.cache  # importlib.metadata scans installed distributions: ~20 ms a call
def builtin_model_version() -> str:
    try:
        package = metadata.version("alt-profanity-check")
        sklearn = metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        return "unknown"
    return f"{package}+sklearn{sklearn}"


def builtin_text_score(text: str) -> float:
    """Probability (0..1) that `text` is profane or offensive, from the model shipped in the wheel."""
    return text_model().scores([text[:20_000]])[0]


# --- scorers ------------------------------------------------------------------------------------------------


def source_key(source: Scorer | ContextProvider, subject: Subject) -> str:
    """Identity of one run of a source: scorers run once per content version, context once per case."""
    if isinstance(source, Scorer):
        return f"scorer:{source.pk}:v{subject.content_version}"
    return f"context:{source.pk}"


def applies_to(source: Scorer | ContextProvider, subject: Subject) -> bool:
    if source.subject_kinds and subject.kind not in source.subject_kinds:
        return False
    return not (isinstance(source, Scorer) and not subject.text.strip())


def is_local(source: Scorer | ContextProvider) -> bool:
    """Runs in-process without I/O (no point in a thread, and no timeout to wait for)."""
    return isinstance(source, Scorer) and source.kind in (Scorer.Kind.BUILTIN_TEXT, Scorer.Kind.TRAINED)


def run_source(source: Scorer | ContextProvider, subject: Subject) -> list[SignalDraft]:
    if isinstance(source, Scorer):
        return run_scorer(source, subject)
    return run_context_provider(source, subject)


def run_scorer(scorer: Scorer, subject: Subject) -> list[SignalDraft]:
    key = source_key(scorer, subject)
    if scorer.kind == Scorer.Kind.TRAINED:
        return []  # needs the case, not only the subject: enrichment runs it (cases.detection.trained_scorer)
    if scorer.kind == Scorer.Kind.BUILTIN_TEXT:
        scores = {BUILTIN_LABEL: builtin_text_score(subject.text)}
        model, version = BUILTIN_MODEL, builtin_model_version()
    else:
        response = _call(
            "POST", scorer.url, scorer, json_body=scorer_request_body(scorer.request_format, subject)
        )
        scores = parse_scores(response, scorer.response_format, scorer.response_path)
        model = scorer.model_name or scorer.name
        version = scorer.model_version or _model_from(response)
    return [
        SignalDraft(
            source=Signal.Source.SCORER,
            source_name=scorer.name,
            label=f"{scorer.label_prefix}{label}"[:100],
            score=score,
            model=model[:120],
            model_version=version[:64],
            dedupe_key=f"{key}:{label}"[:255],
        )
        for label, score in scores.items()
    ]


def scorer_request_body(request_format: str, subject: Subject) -> dict:
    if request_format == Scorer.RequestFormat.OPENAI:
        return {"input": subject.text}
    if request_format == Scorer.RequestFormat.PERSPECTIVE:
        body: dict[str, Any] = {"comment": {"text": subject.text}, "requestedAttributes": {}}
        if subject.language:
            body["languages"] = [subject.language]
        return body
    return {
        "text": subject.text,
        "language": subject.language,
        "kind": subject.kind,
        "subject_id": subject.external_id,
    }


def parse_scores(response: Any, response_format: str, path: str = "") -> dict[str, float]:
    """{label: score} from the response shapes of common moderation APIs; anything else is malformed."""
    data = _follow(response, path)
    scores: dict[str, float] = {}
    if response_format == Scorer.ResponseFormat.OPENAI:
        results = _follow(data, "results")
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            raise SourceFailed("response has no results[0]", retryable=False)
        data, response_format = results[0].get("category_scores"), Scorer.ResponseFormat.LABEL_SCORES
    if response_format == Scorer.ResponseFormat.PERSPECTIVE:
        attributes = _follow(data, "attributeScores")
        if not isinstance(attributes, dict):
            raise SourceFailed("response has no attributeScores", retryable=False)
        data = {
            name.lower(): _follow(attribute, "summaryScore.value") for name, attribute in attributes.items()
        }
        response_format = Scorer.ResponseFormat.LABEL_SCORES
    if response_format == Scorer.ResponseFormat.LABEL_SCORES:
        if not isinstance(data, dict):
            raise SourceFailed("expected an object of label → score", retryable=False)
        items = list(data.items())
    elif response_format == Scorer.ResponseFormat.CATEGORY_LIST:
        if isinstance(data, dict):  # {"categories": [...]} without a configured path
            data = next((value for value in data.values() if isinstance(value, list)), None)
        if not isinstance(data, list):
            raise SourceFailed("expected a list of categories", retryable=False)
        items = []
        for entry in data:
            if not isinstance(entry, dict):
                raise SourceFailed("category entry is not an object", retryable=False)
            label = next((entry[k] for k in ("label", "category", "name", "class") if k in entry), None)
            score = next(
                (entry[k] for k in ("score", "confidence", "probability", "value") if k in entry), None
            )
            items.append((label, score))
    else:
        raise SourceFailed(f"unknown response format {response_format!r}", retryable=False)
    for label, score in items[:MAX_LABELS]:
        if not isinstance(label, str) or not label.strip():
            raise SourceFailed("a label is missing or not a string", retryable=False)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise SourceFailed(f"score for {label!r} is not a number", retryable=False)
        if not 0.0 <= score <= 1.0:
            raise SourceFailed(f"score for {label!r} is outside 0..1", retryable=False)
        label = label.strip()[:100]
        if label in scores:
            raise SourceFailed(f"label {label!r} appears twice", retryable=False)
        scores[label] = float(score)
    return scores


# --- context providers --------------------------------------------------------------------------------------


def run_context_provider(provider: ContextProvider, subject: Subject) -> list[SignalDraft]:
    if provider.name.strip().lower() in BUILTIN_CONTEXT_SOURCES:
        # Created around the admin's validation (shell, old row): never let it speak for our detector.
        raise SourceFailed(
            f"provider name {provider.name!r} is reserved for a built-in detector", retryable=False
        )
    url = fill_url_template(provider.url_template, subject)
    facts = _call("GET", url, provider)
    if not isinstance(facts, dict):
        raise SourceFailed("expected a JSON object of facts", retryable=False)
    drafts = []
    for name, value in list(facts.items())[:MAX_LABELS]:
        if not isinstance(name, str) or not name:
            continue
        label = f"{provider.label_prefix}{name}"[:100]
        if label in BUILTIN_CONTEXT_LABELS:
            continue  # a vendor's `campaign.size` is not our campaign grouping's (an unnamed condition reads both)
        score = None
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
            score = float(value)  # probabilities stay comparable with ML scores
        if len(str(value)) > MAX_FACT_BYTES:
            value = str(value)[:MAX_FACT_BYTES]
        drafts.append(
            SignalDraft(
                source=Signal.Source.CONTEXT,
                source_name=provider.name,
                label=label,
                score=score,
                value=value,
                dedupe_key=f"{source_key(provider, subject)}:{name}"[:255],
            )
        )
    return drafts


def fill_url_template(template: str, subject: Subject) -> str:
    """Plain replacement (not str.format, which would let a template reach object attributes).

    Values are percent-encoded whole (a `/` cannot open a new path segment); `.` and `..` are refused, as a
    server would resolve them as dot segments and the call would leave its path.
    """
    for value in (subject.author_id, subject.external_id, subject.kind):
        if value in (".", ".."):
            raise SourceFailed(f"identifier {value!r} cannot be placed in a URL path", retryable=False)
    values = {
        "{author_id}": quote(subject.author_id, safe=""),
        "{subject_id}": quote(subject.external_id, safe=""),
        "{kind}": quote(subject.kind, safe=""),
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


# --- helpers ------------------------------------------------------------------------------------------------


def _call(method: str, url: str, source: Scorer | ContextProvider, json_body: Any = None) -> Any:
    headers = {source.auth_header: source.auth_value} if source.auth_header and source.auth_value else {}
    try:
        return outbound.request(
            method, url, headers=headers, json_body=json_body, timeout=source.timeout_seconds
        ).json()
    except outbound.OutboundError as exc:
        raise SourceFailed(f"{type(exc).__name__}: {exc}"[:300], retryable=exc.retryable) from None


def _follow(data: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _model_from(response: Any) -> str:
    model = response.get("model") if isinstance(response, dict) else None
    return model[:64] if isinstance(model, str) else ""

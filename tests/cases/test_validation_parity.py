"""The OpenAPI serializers and the runtime validator describe the same request: same fields, same verdicts."""

import pytest

from cases.serializers import ReportInputSerializer, SubjectInputSerializer
from cases.validation import REPORT_FIELDS, SUBJECT_FIELDS, parse_report
from moderation.api_errors import flatten_errors

pytestmark = pytest.mark.django_db


def test_documented_fields_are_the_validated_fields():
    assert set(ReportInputSerializer().fields) == set(REPORT_FIELDS)
    assert set(SubjectInputSerializer().fields) == set(SUBJECT_FIELDS)


def valid():
    return {
        "external_id": "p-1",
        "reason": "spam",
        "subject": {
            "kind": "post",
            "external_id": "x",
            "author_id": "a",
            "text": "t",
            "media_urls": ["https://cdn.example/a.jpg"],
            "language": "pt-BR",
            "url": "https://example.com/p/1",
            "metadata": {"k": [1, {"n": None}]},
        },
        "reporter": {"id": "r"},
        "comment": "c",
        "occurred_at": "2026-11-20T09:30:00Z",
        "scores": [{"label": "spam", "score": 0.5}],
    }


def with_change(path: str, value):
    body = valid()
    target = body
    *parents, leaf = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[leaf] = value
    return body


CASES = [
    ("external_id", ""),
    ("external_id", "x" * 201),
    ("reason", "no-such-policy"),
    ("subject.kind", "tweet"),
    ("subject.external_id", ""),
    ("subject.text", "x" * 50_001),
    ("subject.media_urls", ["javascript:alert(1)"]),
    ("subject.media_urls", ["https://a.example/x"] * 21),
    ("subject.url", "file:///etc/passwd"),
    ("subject.language", "english"),
    ("subject.metadata", "not an object"),
    ("subject.metadata", {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}),
    ("comment", "x" * 5001),
    ("occurred_at", "yesterday"),
    ("scores", [{"label": "a", "score": 1.5}]),
    ("scores", [{"label": "bad label!", "score": 0.5}]),
    ("scores", [{"label": "a", "score": 0.1}, {"label": "a", "score": 0.2}]),
]


def test_both_accept_a_valid_report(policies):
    serializer = ReportInputSerializer(data=valid(), context={"policies": policies})
    assert serializer.is_valid(), serializer.errors
    item, errors = parse_report(valid(), policies)
    assert item is not None and errors == {}


@pytest.mark.parametrize(("path", "value"), CASES, ids=[f"{p}={str(v)[:20]}" for p, v in CASES])
def test_both_reject_the_same_field(policies, path, value):
    body = with_change(path, value)
    serializer = ReportInputSerializer(data=body, context={"policies": policies})
    assert not serializer.is_valid()
    documented = {
        field.split(".")[0] + ("." + field.split(".")[1] if field.startswith("subject.") else "")
        for field in flatten_errors(serializer.errors)
    }
    item, errors = parse_report(body, policies)
    assert item is None
    validated = {
        field.split(".")[0] + ("." + field.split(".")[1] if field.startswith("subject.") else "")
        for field in errors
    }
    assert documented == validated

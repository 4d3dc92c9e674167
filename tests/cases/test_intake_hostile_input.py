"""Hostile input against the intake REST API.

The contract under test: no client input ever produces a 500. Bad input is a 400 whose `fields` names the
offending dotted path; a wrong content type is a 415; an oversized body a 413; a bad, missing or revoked token
a 401 with a JSON body and a WWW-Authenticate challenge. Every error body is JSON with an "error" key.

Requests are sent with `raise_request_exception = False` so that a server error shows up as a 500 response
(and fails the exact status assertion) instead of as an exception raised inside the test.
"""

import copy
import json

import pytest
from django.test.client import FakePayload
from rest_framework.test import APIClient

from cases.models import Case, Report
from moderation.audit import Actor
from moderation.models import VendorToken
from moderation.services import revoke_vendor_tokens
from moderation.tokens import hash_token
from tests import factories

pytestmark = pytest.mark.django_db

REPORTS = "/api/v1/reports"
BATCH = "/api/v1/reports/batch"
VALID_REASONS = ("child-safety", "harassment", "spam")
SENTINEL = "__RAW_JSON_VALUE__"


# --------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------


def full_body(**overrides):
    """A valid report using every optional field, so any single path can be made hostile."""
    body = {
        "external_id": "hostile-1",
        "reason": "harassment",
        "subject": {
            "kind": "message",
            "external_id": "msg-hostile-1",
            "author_id": "author-9",
            "text": "you are worthless",
            "media_urls": ["https://cdn.example.com/a.png", "https://cdn.example.com/b.png"],
            "language": "en",
            "url": "https://platform.example/messages/1",
            "metadata": {"channel": "dm", "tags": ["a", "b"], "nested": {"k": "v"}},
        },
        "reporter": {"id": "user-1"},
        "comment": "keeps messaging me",
        "occurred_at": "2026-11-20T09:30:00Z",
        "scores": [{"label": "toxicity", "score": 0.5}, {"label": "insult", "score": 0.25}],
    }
    body.update(overrides)
    return body


def set_path(body, path, value):
    """Set `value` at a dotted path ("subject.media_urls.0") inside a deep copy of `body`."""
    body = copy.deepcopy(body)
    parts = path.split(".")
    target = body
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return body


def with_raw(body, path, raw_value: str) -> str:
    """JSON text of `body` with the JSON token `raw_value` (e.g. `1e999`, `NaN`) written verbatim at `path`."""
    text = json.dumps(set_path(body, path, SENTINEL))
    assert text.count(f'"{SENTINEL}"') == 1
    return text.replace(f'"{SENTINEL}"', raw_value)


def post_json(client, path, body):
    """Post `body` as JSON text; ensure_ascii escapes NULs and lone surrogates as \\u0000 / \\ud800."""
    return post_raw(client, path, json.dumps(body))


def post_raw(client, path, data, content_type="application/json"):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return client.generic("POST", path, data, content_type=content_type)


def post_without_content_type(client, path, data: bytes):
    """A POST with a body and no Content-Type header at all."""
    return client.request(
        REQUEST_METHOD="POST",
        PATH_INFO=path,
        CONTENT_LENGTH=str(len(data)),
        **{"wsgi.input": FakePayload(data)},
    )


def body_of(response) -> dict:
    # Decoding strictly also proves the body is valid UTF-8 JSON.
    return json.loads(response.content.decode("utf-8"))


def assert_error(response, status, *, fields=None, field_prefix=None, error=None):
    """Exact status, a JSON error body with an "error" key and, for validation errors, the named fields.

    `fields`: the exact set of dotted paths `fields` must name. `field_prefix`: every named path starts with it.
    """
    assert response.status_code == status, (response.status_code, response.content[:3000])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = body_of(response)
    assert isinstance(body, dict) and "error" in body, body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    if error is not None:
        assert body["error"] == error, body
    if fields is not None:
        assert set(body.get("fields", {})) == set(fields), body
    if field_prefix is not None:
        assert body.get("fields"), body
        assert all(name.startswith(field_prefix) for name in body["fields"]), body
    for name, messages in body.get("fields", {}).items():
        assert isinstance(messages, list) and messages, (name, body)
        assert all(isinstance(message, str) and message for message in messages), (name, body)
    return body


def assert_created(response):
    assert response.status_code == 201, (response.status_code, response.content[:3000])
    body = body_of(response)
    assert body["status"] == "created"
    assert Report.objects.filter(pk=body["id"]).exists()
    return body


@pytest.fixture
def hc(api):
    """The vendor's client, returning server errors as 500 responses instead of raising them."""
    api.raise_request_exception = False
    return api


@pytest.fixture
def anon(db):
    client = APIClient()
    client.raise_request_exception = False
    return client


def test_the_full_valid_body_is_accepted(hc):
    """Control: every hostile case below differs from this accepted body in one place only."""
    assert_created(post_json(hc, REPORTS, full_body()))


# --------------------------------------------------------------------------------------------------------
# 1. Wrong types and over-long values at every field
# --------------------------------------------------------------------------------------------------------

NULL, LIST, OBJECT, TRUE, FALSE = None, ["x"], {"x": 1}, True, False
NOT_STRINGS = [NULL, LIST, OBJECT, TRUE, FALSE, []]
NOT_OBJECTS = [NULL, 7, 1.5, ["x"], [], TRUE, FALSE, "a string", ""]
NOT_LISTS = [NULL, 7, TRUE, "https://cdn.example.com/a.png", OBJECT]

WRONG_VALUES = [
    # (path, value, field the 400 must name)
    *[("external_id", v, "external_id") for v in NOT_STRINGS],
    ("external_id", "x" * 201, "external_id"),
    ("external_id", 10**4000, "external_id"),  # a 4001-digit number, coerced to a too-long string
    *[("reason", v, "reason") for v in [*NOT_STRINGS, 7, 0, 1.5]],
    ("reason", "x" * 65, "reason"),
    ("reason", "", "reason"),
    *[("subject", v, "subject") for v in NOT_OBJECTS],
    *[("reporter", v, "reporter") for v in [7, ["x"], [], TRUE, "user-1", ""]],
    *[("comment", v, "comment") for v in NOT_STRINGS],
    ("comment", "x" * 5001, "comment"),
    *[("occurred_at", v, "occurred_at") for v in [7, 1.5, ["x"], OBJECT, TRUE, FALSE]],
    *[
        ("occurred_at", v, "occurred_at")
        for v in [
            "yesterday",
            "2026-02-30T00:00:00Z",
            "2026-11-20T25:00:00Z",
            "2026-11-20T09:30:00+99:00",
            "99999-01-01T00:00:00Z",
            "2999-01-01T00:00:00Z",  # in the future
            "9999-12-31T23:59:59-01:00",  # overflows when converted to UTC
            "0001-01-01T00:00:00+05:00",  # underflows when converted to UTC
            "x" * 100_000,
        ]
    ],
    *[("scores", v, "scores") for v in [NULL, 7, TRUE, "toxicity", OBJECT]],
    ("scores", [{"label": f"l{i}", "score": 0.1} for i in range(51)], "scores"),
    *[("scores.0", v, "scores.0") for v in [NULL, 7, TRUE, "toxicity", ["x"], []]],
    *[("scores.0.label", v, "scores.0.label") for v in [*NOT_STRINGS, "", "has space", "<script>", "é"]],
    ("scores.0.label", "x" * 101, "scores.0.label"),
    *[("scores.0.score", v, "scores.0.score") for v in [NULL, ["x"], OBJECT, "", "abc", "0x1", "1" * 1001]],
    ("scores.0.score", "0.75", "scores.0.score"),  # a numeric string where a JSON number is expected
    # subject.*
    *[("subject.kind", v, "subject.kind") for v in [*NOT_STRINGS, 7, "", "tweet", "MESSAGE", "x" * 10_000]],
    *[("subject.external_id", v, "subject.external_id") for v in [*NOT_STRINGS, ""]],
    ("subject.external_id", "x" * 256, "subject.external_id"),
    *[("subject.author_id", v, "subject.author_id") for v in NOT_STRINGS],
    ("subject.author_id", "x" * 256, "subject.author_id"),
    *[("subject.text", v, "subject.text") for v in NOT_STRINGS],
    ("subject.text", "x" * 50_001, "subject.text"),
    *[("subject.media_urls", v, "subject.media_urls") for v in NOT_LISTS],
    ("subject.media_urls", [f"https://cdn.example.com/{i}.png" for i in range(21)], "subject.media_urls"),
    *[("subject.media_urls.1", v, "subject.media_urls.1") for v in [*NOT_STRINGS, 7, ""]],
    ("subject.media_urls.1", "https://cdn.example.com/" + "a" * 2025, "subject.media_urls.1"),
    *[
        ("subject.language", v, "subject.language")
        for v in [*NOT_STRINGS, 7, "e", "english!", "en_US", "1en"]
    ],
    ("subject.language", "en-" + "a" * 14, "subject.language"),
    *[("subject.url", v, "subject.url") for v in [*NOT_STRINGS, 7, "not a url"]],
    ("subject.url", "https://platform.example/" + "a" * 2024, "subject.url"),
    *[("subject.metadata", v, "subject.metadata") for v in [NULL, 7, 1.5, TRUE, "{}", '{"a": 1}', ["x"], []]],
    ("subject.metadata", {"blob": "x" * (16 * 1024)}, "subject.metadata"),
    ("subject.metadata", {"blob": "é" * (9 * 1024)}, "subject.metadata"),  # under 16K chars, over 16K bytes
    *[("reporter.id", v, "reporter.id") for v in NOT_STRINGS],
    ("reporter.id", "x" * 256, "reporter.id"),
]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    WRONG_VALUES,
    ids=[f"{p}={type(v).__name__}:{str(v)[:24]!r}" for p, v, _ in WRONG_VALUES],
)
def test_wrong_type_or_size_is_400_naming_the_field(hc, path, value, field):
    response = post_json(hc, REPORTS, set_path(full_body(), path, value))

    assert_error(response, 400, fields={field}, error="validation_error")
    assert Report.objects.count() == 0


NUMBER_OR_BOOL_WHERE_OTHER_EXPECTED = [
    # JSON numbers where the schema says string: must not be silently coerced (1.5 → "1.5", 1e999 → "inf").
    ("external_id", 12345, "external_id"),
    ("external_id", 1.5, "external_id"),
    ("comment", 12345, "comment"),
    ("comment", 1.5, "comment"),
    ("reporter.id", 12345, "reporter.id"),
    ("subject.external_id", 12345, "subject.external_id"),
    ("subject.author_id", 12345, "subject.author_id"),
    ("subject.text", 12345, "subject.text"),
    ("scores.0.label", 12345, "scores.0.label"),
    # A JSON boolean where the schema says number: must not be read as 1.0 / 0.0.
    ("scores.0.score", True, "scores.0.score"),
    ("scores.0.score", False, "scores.0.score"),
]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    NUMBER_OR_BOOL_WHERE_OTHER_EXPECTED,
    ids=[f"{p}={v!r}" for p, v, _ in NUMBER_OR_BOOL_WHERE_OTHER_EXPECTED],
)
def test_number_or_bool_of_the_wrong_json_type_is_400(hc, path, value, field):
    response = post_json(hc, REPORTS, set_path(full_body(), path, value))

    assert_error(response, 400, fields={field}, error="validation_error")


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("vendor", 999, "vendor"),
        ("id", 1, "id"),
        ("case_id", 1, "case_id"),
        ("status", "resolved", "status"),
        ("__proto__", {"admin": True}, "__proto__"),
        ("subject.id", 1, "subject.id"),
        ("subject.content_version", 99, "subject.content_version"),
        ("reporter.is_staff", True, "reporter.is_staff"),
    ],
)
def test_fields_outside_the_schema_are_400_naming_them(hc, path, value, field):
    """Mass assignment: ids, vendor, status and the like are never taken from the request."""
    response = post_json(hc, REPORTS, set_path(full_body(), path, value))

    assert_error(response, 400, fields={field}, error="validation_error")
    assert Report.objects.count() == 0


def test_empty_subject_object_names_each_required_subject_field(hc):
    response = post_json(hc, REPORTS, full_body(subject={}))

    assert_error(response, 400, fields={"subject.kind", "subject.external_id"})


@pytest.mark.parametrize("missing", ["external_id", "reason", "subject"])
def test_missing_required_field_is_400_naming_it(hc, missing):
    body = full_body()
    del body[missing]

    assert_error(post_json(hc, REPORTS, body), 400, fields={missing})


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("reporter", None),
        ("reporter", {}),
        ("occurred_at", None),
        ("scores", []),
        ("subject.media_urls", []),
        ("subject.metadata", {}),
        ("subject.url", ""),
        ("subject.language", ""),
        ("subject.language", "pt-BR"),
        ("subject.text", "x" * 50_000),
        ("subject.external_id", "x" * 255),
        ("comment", "x" * 5000),
        ("scores.0.score", 0),
        ("scores.0.score", 1),
        ("scores.0.label", "x" * 100),
        ("subject.metadata", {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}),  # exactly 6 levels
    ],
)
def test_boundary_values_are_accepted(hc, path, value):
    assert_created(post_json(hc, REPORTS, set_path(full_body(), path, value)))


# --------------------------------------------------------------------------------------------------------
# 2. NUL characters and lone surrogates
# --------------------------------------------------------------------------------------------------------

STRING_PATHS = [
    "external_id",
    "reason",
    "comment",
    "occurred_at",
    "reporter.id",
    "scores.0.label",
    "subject.kind",
    "subject.external_id",
    "subject.author_id",
    "subject.text",
    "subject.language",
    "subject.url",
    "subject.media_urls.1",
    "subject.metadata.channel",
    "subject.metadata.tags.1",
    "subject.metadata.nested.k",
]
BAD_CHARS = {"nul": "\x00", "lone-high-surrogate": "\ud800", "lone-low-surrogate": "\udfff"}


@pytest.mark.parametrize("char", BAD_CHARS.values(), ids=BAD_CHARS.keys())
@pytest.mark.parametrize("path", STRING_PATHS)
def test_unstorable_character_in_a_string_value_is_400_naming_the_path(hc, path, char):
    response = post_json(hc, REPORTS, set_path(full_body(), path, f"ab{char}cd"))

    assert_error(response, 400, fields={path}, error="validation_error")
    assert Report.objects.count() == 0


@pytest.mark.parametrize("char", BAD_CHARS.values(), ids=BAD_CHARS.keys())
@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(lambda c: {f"ke{c}y": "v"}, id="top-level-key"),
        pytest.param(lambda c: {"nested": {f"ke{c}y": "v"}}, id="nested-key"),
        pytest.param(lambda c: {"list": [{f"ke{c}y": "v"}]}, id="key-inside-list"),
        pytest.param(lambda c: {c: "v"}, id="key-is-only-the-character"),
    ],
)
def test_unstorable_character_in_a_metadata_key_is_400_naming_the_metadata_path(hc, metadata, char):
    response = post_json(hc, REPORTS, set_path(full_body(), "subject.metadata", metadata(char)))

    body = assert_error(response, 400, field_prefix="subject.metadata", error="validation_error")
    assert len(body["fields"]) == 1


@pytest.mark.parametrize("char", BAD_CHARS.values(), ids=BAD_CHARS.keys())
def test_unstorable_character_in_a_top_level_key_is_400(hc, char):
    body = full_body()
    body[f"extra{char}"] = "v"

    result = assert_error(post_json(hc, REPORTS, body), 400, error="validation_error")
    assert len(result["fields"]) == 1


@pytest.mark.parametrize("char", BAD_CHARS.values(), ids=BAD_CHARS.keys())
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("1.subject.text", "reports.1.subject.text"),
        ("1.comment", "reports.1.comment"),
        ("0.subject.metadata.channel", "reports.0.subject.metadata.channel"),
    ],
)
def test_unstorable_character_inside_a_batch_item_is_that_items_error(hc, path, expected, char):
    items = [full_body(external_id="b-0"), full_body(external_id="b-1")]
    response = post_json(hc, BATCH, {"reports": set_path(items, path, f"x{char}y")})

    assert response.status_code == 207, response.content
    bad_index = int(path.split(".")[0])
    results = response.json()["results"]
    assert results[bad_index]["status"] == "error"
    assert set(results[bad_index]["fields"]) == {expected.split(".", 2)[2]}
    assert results[1 - bad_index]["status"] == "created"
    assert Report.objects.count() == 1


@pytest.mark.parametrize("char", BAD_CHARS.values(), ids=BAD_CHARS.keys())
def test_unstorable_character_in_a_batch_item_metadata_key_is_that_items_error(hc, char):
    items = [full_body(external_id="b-0"), full_body(external_id="b-1")]
    items[1]["subject"]["metadata"] = {f"k{char}": 1}

    response = post_json(hc, BATCH, {"reports": items})
    assert response.status_code == 207, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "error"]
    assert all(field.startswith("subject.metadata") for field in results[1]["fields"])
    assert Report.objects.count() == 1


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'{"external_id": "a\x00b"}', id="raw-nul-byte-in-string"),
        pytest.param(b'{"external_id": "a\xed\xa0\x80b"}', id="utf8-encoded-surrogate"),
        pytest.param(b'{"external_id": "a\nb"}', id="raw-newline-in-string"),
        pytest.param(b'{"external_id"\x00: "a"}', id="nul-between-tokens"),
    ],
)
def test_raw_control_bytes_and_encoded_surrogates_are_400(hc, raw):
    assert_error(post_raw(hc, REPORTS, raw), 400)


def test_valid_surrogate_pair_escapes_are_accepted(hc):
    """Control: \\ud83d\\ude00 is a valid escaped emoji, not a lone surrogate."""
    text = json.dumps(full_body(comment="SMILE"))
    response = post_raw(hc, REPORTS, text.replace("SMILE", "\\ud83d\\ude00"))

    created = assert_created(response)
    assert Report.objects.get(pk=created["id"]).comment == "\U0001f600"


# --------------------------------------------------------------------------------------------------------
# 3. Numbers
# --------------------------------------------------------------------------------------------------------

HUGE_INT = "9" * 5000


@pytest.mark.parametrize(
    "raw",
    ["1e999", "-1e999", "1E400", "-1.5e308000", "400" + "0" * 400],
    ids=["1e999", "-1e999", "1E400", "-1.5e308000", "403-digit-integer"],
)
def test_out_of_range_float_score_is_400_naming_the_score(hc, raw):
    response = post_raw(hc, REPORTS, with_raw(full_body(), "scores.0.score", raw))

    assert_error(response, 400, fields={"scores.0.score"}, error="validation_error")


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("path", ["scores.0.score", "subject.metadata.channel", "comment", "external_id"])
def test_non_json_constants_are_400(hc, path, raw):
    response = post_raw(hc, REPORTS, with_raw(full_body(), path, raw))

    body = assert_error(response, 400)
    assert raw.lstrip("-") in body["detail"] or body.get("fields"), body


@pytest.mark.parametrize(
    "path", ["scores.0.score", "subject.metadata.channel", "subject.text", "external_id"]
)
def test_five_thousand_digit_integer_is_400(hc, path):
    response = post_raw(hc, REPORTS, with_raw(full_body(), path, HUGE_INT))

    assert_error(response, 400)
    assert Report.objects.count() == 0


@pytest.mark.parametrize("raw", ["1e999", "-1e999"])
@pytest.mark.parametrize(
    "path", ["subject.metadata.channel", "subject.metadata.tags.0", "subject.metadata.nested.k"]
)
def test_infinite_number_in_metadata_is_400_naming_metadata(hc, path, raw):
    """1e999 is valid JSON syntax that Python reads as float('inf'); no JSON column can store it."""
    response = post_raw(hc, REPORTS, with_raw(full_body(), path, raw))

    assert_error(response, 400, field_prefix="subject.metadata")
    assert Report.objects.count() == 0


@pytest.mark.parametrize(
    "score",
    [
        -0.0001,
        1.0000001,
        2,
        -1,
        100,
        1e308,
        -1e308,
        "2",
        "-0.5",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "1e999",
    ],
)
def test_score_outside_zero_one_is_400_naming_the_score(hc, score):
    response = post_json(hc, REPORTS, set_path(full_body(), "scores.1.score", score))

    assert_error(response, 400, fields={"scores.1.score"}, error="validation_error")


@pytest.mark.parametrize(
    "scores",
    [
        [{"label": "toxicity", "score": 0.5}, {"label": "toxicity", "score": 0.5}],
        [{"label": "toxicity", "score": 0.5}, {"label": "toxicity", "score": 0.9}],
        [{"label": "a", "score": 0.1}, {"label": "b", "score": 0.2}, {"label": "a", "score": 0.3}],
    ],
)
def test_duplicated_score_labels_are_400_naming_scores(hc, scores):
    response = post_json(hc, REPORTS, full_body(scores=scores))

    assert_error(response, 400, fields={"scores"}, error="validation_error")


# --------------------------------------------------------------------------------------------------------
# 4. Nesting
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", [REPORTS, BATCH])
@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("[" * 100_000, id="100k-open-brackets"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="100k-balanced-brackets"),
        pytest.param('{"a":' * 100_000 + "1" + "}" * 100_000, id="100k-balanced-objects"),
        pytest.param('{"reports": ' + "[" * 100_000 + "]" * 100_000 + "}", id="100k-inside-reports"),
    ],
)
def test_absurdly_deep_json_is_400(hc, endpoint, raw):
    assert_error(post_raw(hc, endpoint, raw), 400)


def _nested_objects(depth):
    value = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _nested_lists(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(_nested_objects(7), id="objects-7"),
        pytest.param(_nested_objects(50), id="objects-50"),
        pytest.param(_nested_objects(900), id="objects-900"),
        pytest.param(_nested_objects(2000), id="objects-2000"),
        pytest.param(_nested_objects(5000), id="objects-5000"),
        pytest.param({"a": _nested_lists(6)}, id="lists-under-object-7"),
        pytest.param({"a": _nested_lists(5000)}, id="lists-under-object-5000"),
    ],
)
def test_metadata_nested_deeper_than_allowed_is_400(hc, metadata):
    # json.dumps would recurse too deep for the largest cases; build the text by hand.
    text = json.dumps(full_body(), separators=(",", ":"))
    nested = _dump_deep(metadata)
    text = text.replace(json.dumps(full_body()["subject"]["metadata"], separators=(",", ":")), nested)

    response = post_raw(hc, REPORTS, text)

    assert_error(response, 400, fields={"subject.metadata"}, error="validation_error")


def _dump_deep(value) -> str:
    """json.dumps for the nested test values without Python recursion."""
    opens, current = [], value
    while isinstance(current, (dict, list)):
        if isinstance(current, dict):
            opens.append(("{", '"a":', "}"))
            current = current["a"]
        else:
            opens.append(("[", "", "]"))
            current = current[0]
    return (
        "".join(o + k for o, k, _ in opens) + json.dumps(current) + "".join(c for _, _, c in reversed(opens))
    )


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("comment", "comment"),
        ("external_id", "external_id"),
        ("reporter", "reporter"),
        ("scores", "scores"),
        ("subject.text", "subject.text"),
        ("subject.media_urls", "subject.media_urls"),
    ],
)
@pytest.mark.parametrize("depth", [50, 5000])
def test_deep_nesting_in_a_non_metadata_field_is_400_naming_it(hc, path, field, depth):
    text = with_raw(full_body(), path, _dump_deep(_nested_lists(depth)))

    assert_error(post_raw(hc, REPORTS, text), 400, field_prefix=field)


@pytest.mark.parametrize("depth", [50, 5000])
def test_deeply_nested_top_level_value_is_400(hc, depth):
    assert_error(post_raw(hc, REPORTS, _dump_deep(_nested_lists(depth))), 400, fields={"body"})


# --------------------------------------------------------------------------------------------------------
# 5. URL schemes
# --------------------------------------------------------------------------------------------------------

BAD_URLS = [
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "  javascript:alert(1)",
    "javascript://platform.example/%0Aalert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/png;base64,iVBORw0KGgo=",
    "DATA:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "ftp://ftp.example.com/file.txt",
    "gopher://example.com/",
    "//evil.example/x",
    "http:/example.com",
    "https://",
    "platform.example/messages/1",
    "http://exa mple.com/",
    "http://[::1",
    "http://\u0080.example/",
]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("path", ["subject.url", "subject.media_urls.0", "subject.media_urls.1"])
def test_non_web_url_is_400_naming_the_path(hc, path, url):
    response = post_json(hc, REPORTS, set_path(full_body(), path, url))

    assert_error(response, 400, fields={path}, error="validation_error")
    assert Report.objects.count() == 0


@pytest.mark.parametrize(
    "url", ["https://platform.example/a?b=c#d", "http://platform.example", "HTTPS://X.EXAMPLE/"]
)
def test_web_urls_are_accepted(hc, url):
    body = set_path(full_body(), "subject.url", url)
    assert_created(post_json(hc, REPORTS, set_path(body, "subject.media_urls.0", url)))


# --------------------------------------------------------------------------------------------------------
# 6. Content types and body encoding
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", [REPORTS, BATCH])
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "application/octet-stream",
        "application/javascript",
        "application/jsonx",
        "",
        "*/*",
        "application/*",
    ],
)
def test_wrong_content_type_is_415(hc, endpoint, content_type):
    payload = full_body() if endpoint == REPORTS else {"reports": [full_body()]}

    response = post_raw(hc, endpoint, json.dumps(payload), content_type=content_type)

    assert_error(response, 415, error="unsupported_media_type")
    assert Report.objects.count() == 0


@pytest.mark.parametrize("endpoint", [REPORTS, BATCH])
def test_form_encoded_post_is_415(hc, endpoint):
    response = hc.post(endpoint, {"external_id": "r-1", "reason": "spam"})  # multipart by default

    assert_error(response, 415, error="unsupported_media_type")


@pytest.mark.parametrize("endpoint", [REPORTS, BATCH])
def test_urlencoded_post_is_415(hc, endpoint):
    response = post_raw(hc, endpoint, "external_id=r-1&reason=spam", "application/x-www-form-urlencoded")

    assert_error(response, 415, error="unsupported_media_type")


@pytest.mark.parametrize("endpoint", [REPORTS, BATCH])
def test_body_without_content_type_is_415(hc, endpoint):
    response = post_without_content_type(hc, endpoint, json.dumps(full_body()).encode())

    assert_error(response, 415, error="unsupported_media_type")
    assert Report.objects.count() == 0


def test_json_content_type_with_charset_is_accepted(hc):
    response = post_raw(hc, REPORTS, json.dumps(full_body()), "application/json; charset=utf-8")

    assert_created(response)


def test_empty_body_is_400_naming_the_required_fields(hc):
    response = post_raw(hc, REPORTS, b"")

    assert_error(response, 400, fields={"external_id", "reason", "subject"})


def test_empty_body_on_batch_is_400_naming_reports(hc):
    assert_error(post_raw(hc, BATCH, b""), 400, fields={"reports"})


@pytest.mark.parametrize("endpoint", [REPORTS, BATCH])
@pytest.mark.parametrize(
    "raw",
    [
        b" ",
        b"\n\t ",
        b"{",
        b"}",
        b"{'external_id': 'r-1'}",
        b'{"external_id": "r-1",}',
        b"{}{}",
        b"{} trailing",
        b"external_id=r-1",
        b"<report/>",
        b"undefined",
        b'{"external_id": r-1}',
        b"\xef\xbb\xbf{}",  # UTF-8 byte order mark
    ],
)
def test_body_that_is_not_json_is_400(hc, endpoint, raw):
    assert_error(post_raw(hc, endpoint, raw), 400)
    assert Report.objects.count() == 0


@pytest.mark.parametrize("endpoint", [REPORTS, BATCH])
@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\xff\xfe{}", id="utf16-bom"),
        pytest.param(b'{"external_id": "\xc3\x28"}', id="invalid-2-byte-sequence"),
        pytest.param(b'{"external_id": "\xc0\xaf"}', id="overlong-encoding"),
        pytest.param(b'{"external_id": "\xf8\x88\x80\x80\x80"}', id="5-byte-sequence"),
        pytest.param(b'{"external_id": "\x80"}', id="lone-continuation-byte"),
        pytest.param('{"external_id": "é"}'.encode("latin-1"), id="latin-1"),
        pytest.param(json.dumps(full_body()).encode("utf-16"), id="utf-16"),
        pytest.param(json.dumps(full_body()).encode("utf-32"), id="utf-32"),
    ],
)
def test_invalid_utf8_body_is_400(hc, endpoint, raw):
    assert_error(post_raw(hc, endpoint, raw), 400)


@pytest.mark.parametrize(
    "raw",
    [b"null", b"[]", b"[{}]", b'"a string"', b"123", b"-1.5", b"true", b"false"],
)
def test_json_that_is_not_an_object_is_400_naming_body(hc, raw):
    assert_error(post_raw(hc, REPORTS, raw), 400, fields={"body"}, error="validation_error")


@pytest.mark.parametrize("content_length", ["abc", "-1", "", "1e3", " 10"])
def test_garbage_content_length_is_400(hc, content_length):
    data = json.dumps(full_body()).encode()
    response = hc.request(
        REQUEST_METHOD="POST",
        PATH_INFO=REPORTS,
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=content_length,
        **{"wsgi.input": FakePayload(data)},
    )

    assert_error(response, 400)


# --------------------------------------------------------------------------------------------------------
# 7. Body size
# --------------------------------------------------------------------------------------------------------


def _padded_body(size: int) -> bytes:
    """A valid report body of exactly `size` bytes (padding in `comment`)."""
    base = json.dumps(full_body(comment="")).encode()
    return json.dumps(full_body(comment="x" * (size - len(base)))).encode()


def test_body_at_the_limit_is_accepted(hc, settings):
    settings.API_MAX_BODY_BYTES = 1000
    data = _padded_body(1000)
    assert len(data) == 1000

    assert_created(post_raw(hc, REPORTS, data))


@pytest.mark.parametrize("size", [1001, 5000, 2 * 1024 * 1024, 3 * 1024 * 1024])
def test_body_over_the_limit_is_413(hc, settings, size):
    settings.API_MAX_BODY_BYTES = 1000
    data = _padded_body(size)
    assert len(data) == size

    assert_error(post_raw(hc, REPORTS, data), 413, error="payload_too_large")
    assert Report.objects.count() == 0


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"x" * 1001, id="not-json"),
        pytest.param(b"[" * 5000, id="deep"),
        pytest.param(b"\xff" * 1001, id="invalid-utf8"),
        pytest.param(json.dumps({"comment": "\x00" * 1000}).encode(), id="nul-characters"),
    ],
)
def test_oversized_hostile_body_is_413_before_parsing(hc, settings, raw):
    settings.API_MAX_BODY_BYTES = 1000

    assert_error(post_raw(hc, REPORTS, raw), 413, error="payload_too_large")


@pytest.mark.parametrize("endpoint", [REPORTS, BATCH])
def test_body_over_the_default_limit_is_413(hc, settings, endpoint):
    """With the shipped settings (5 MiB), a 6 MiB body must be refused as too large, as JSON."""
    assert settings.API_MAX_BODY_BYTES < 6 * 1024 * 1024
    payload = full_body(comment="x" * (6 * 1024 * 1024))
    if endpoint == BATCH:
        payload = {"reports": [payload]}

    assert_error(post_json(hc, endpoint, payload), 413, error="payload_too_large")
    assert Report.objects.count() == 0


def test_oversized_batch_is_413(hc, settings):
    settings.API_MAX_BODY_BYTES = 1000
    data = json.dumps({"reports": [full_body(external_id=f"b-{i}") for i in range(5)]})
    assert len(data) > 1000

    assert_error(post_raw(hc, BATCH, data), 413, error="payload_too_large")
    assert Report.objects.count() == 0


def test_body_over_djangos_upload_limit_but_under_the_api_limit_is_a_validation_400(hc, settings):
    """3 MB is over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) but under API_MAX_BODY_BYTES (5 MB)."""
    assert settings.API_MAX_BODY_BYTES >= 3_500_000
    response = post_json(hc, REPORTS, full_body(comment="x" * 3_000_000))

    assert_error(response, 400, fields={"comment"})


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:80", "\u00e9vil.example", "a" * 300],
    ids=["unknown-host", "unknown-host-with-port", "non-ascii-host", "300-char-host"],
)
def test_disallowed_host_header_on_the_api_is_400_json(hc, host):
    response = hc.post(REPORTS, json.dumps(full_body()), content_type="application/json", HTTP_HOST=host)

    assert_error(response, 400)
    assert Report.objects.count() == 0


# --------------------------------------------------------------------------------------------------------
# 8. Authentication
# --------------------------------------------------------------------------------------------------------

BAD_AUTHORIZATION = {
    "bearer-without-token": "Bearer",
    "bearer-space": "Bearer ",
    "basic": "Basic dXNlcjpwYXNzd29yZA==",
    "basic-garbage": "Basic xxx",
    "token-scheme": "Token mrv_abc",
    "three-parts": "Bearer mrv_abc extra",
    "unknown-token": "Bearer mrv_not-a-real-token",
    "10k-token": "Bearer " + "x" * 10_000,
    "257-char-token": "Bearer " + "x" * 257,
    "nul-in-token": "Bearer mrv_\x00abc",
    "latin1-token": "Bearer mrv_\xe9\xe9",
    "only-spaces": "   ",
    "sql-ish": "Bearer ' OR 1=1 --",
}


def _post_report(client, body=None):
    return post_json(client, REPORTS, body or full_body())


def _post_batch(client, body=None):
    return post_json(client, BATCH, body or {"reports": [full_body()]})


ENDPOINTS = {
    "post-report": _post_report,
    "post-batch": _post_batch,
    "get-report": lambda client: client.get("/api/v1/reports/1"),
    "get-case": lambda client: client.get("/api/v1/cases/1"),
}


def assert_401(response):
    assert_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer"), response.headers


@pytest.mark.parametrize("call", ENDPOINTS.values(), ids=ENDPOINTS.keys())
def test_no_authorization_header_is_401(anon, policies, call):
    assert_401(call(anon))


@pytest.mark.parametrize("call", ENDPOINTS.values(), ids=ENDPOINTS.keys())
@pytest.mark.parametrize("header", BAD_AUTHORIZATION.values(), ids=BAD_AUTHORIZATION.keys())
def test_bad_authorization_header_is_401(anon, policies, call, header):
    anon.credentials(HTTP_AUTHORIZATION=header)

    assert_401(call(anon))
    assert Report.objects.count() == 0


@pytest.mark.parametrize("call", ENDPOINTS.values(), ids=ENDPOINTS.keys())
def test_revoked_token_is_401(hc, call):
    token = VendorToken.objects.get(key_hash=hash_token(hc.token))
    assert revoke_vendor_tokens(token_ids=[token.pk], actor=Actor.system("test")) == 1

    assert_401(call(hc))
    assert Report.objects.count() == 0


@pytest.mark.parametrize("call", ENDPOINTS.values(), ids=ENDPOINTS.keys())
def test_token_of_an_inactive_vendor_is_401(hc, vendor, call):
    vendor.is_active = False
    vendor.save(update_fields=["is_active"])

    assert_401(call(hc))
    assert Report.objects.count() == 0


def test_token_revoked_between_two_requests_stops_working(hc):
    assert_created(_post_report(hc))
    token = VendorToken.objects.get(key_hash=hash_token(hc.token))
    revoke_vendor_tokens(token_ids=[token.pk], actor=Actor.system("test"))

    assert_401(_post_report(hc, full_body(external_id="after-revoke")))
    assert Report.objects.count() == 1


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda c: post_raw(c, REPORTS, b"{not json"), id="not-json"),
        pytest.param(lambda c: post_raw(c, REPORTS, b"[" * 900), id="deep"),
        pytest.param(lambda c: post_raw(c, REPORTS, json.dumps(full_body()), "text/plain"), id="text-plain"),
        pytest.param(lambda c: post_json(c, REPORTS, {"comment": "\x00"}), id="nul"),
    ],
)
def test_unauthenticated_hostile_body_is_401_before_any_parsing(anon, policies, settings, send):
    settings.API_MAX_BODY_BYTES = 1000
    assert_401(send(anon))


# --------------------------------------------------------------------------------------------------------
# 9. Batch shape
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"[]", b"[{}]", b"null", b'"reports"', b"7", b"true", b"{}"])
def test_batch_body_that_is_not_an_object_with_reports_is_400(hc, raw):
    assert_error(post_raw(hc, BATCH, raw), 400, fields={"reports"}, error="validation_error")


@pytest.mark.parametrize("reports", [None, {}, {"0": {}}, "a string", "", 7, True, []])
def test_batch_reports_not_a_non_empty_list_is_400(hc, reports):
    assert_error(
        post_json(hc, BATCH, {"reports": reports}), 400, fields={"reports"}, error="validation_error"
    )


def test_batch_over_the_limit_is_400_naming_reports(hc, settings):
    settings.API_MAX_BATCH_SIZE = 3
    items = [full_body(external_id=f"b-{i}") for i in range(4)]

    body = assert_error(post_json(hc, BATCH, {"reports": items}), 400, fields={"reports"})
    assert "3" in body["fields"]["reports"][0]
    assert Report.objects.count() == 0


def test_batch_over_the_limit_of_garbage_items_is_400_naming_reports(hc, settings):
    settings.API_MAX_BATCH_SIZE = 3

    assert_error(post_json(hc, BATCH, {"reports": [None] * 10_000}), 400, fields={"reports"})


def test_batch_at_the_limit_is_accepted(hc, settings):
    settings.API_MAX_BATCH_SIZE = 3
    items = [full_body(external_id=f"b-{i}") for i in range(3)]

    response = post_json(hc, BATCH, {"reports": items})

    assert response.status_code == 200, response.content
    assert body_of(response)["summary"] == {"created": 3, "duplicate": 0, "error": 0}


def test_batch_mixing_non_objects_with_valid_items_is_207_in_request_order(hc):
    items = [
        full_body(external_id="ok-0"),
        "a string",
        full_body(external_id="ok-2", subject={"kind": "message", "external_id": "msg-2"}),
        None,
        7,
        [],
        [full_body(external_id="nested-in-list")],
        True,
        {},
        full_body(external_id="ok-9"),
        full_body(external_id=12.5, reason="nope"),  # invalid object item whose external_id is not a string
    ]

    response = post_json(hc, BATCH, {"reports": items})

    assert response.status_code == 207, response.content
    assert response["Content-Type"].startswith("application/json")
    body = body_of(response)
    results = body["results"]
    assert [result["index"] for result in results] == list(range(len(items)))
    assert [result["status"] for result in results] == [
        "created",
        "error",
        "created",
        "error",
        "error",
        "error",
        "error",
        "error",
        "error",
        "created",
        "error",
    ]
    assert body["summary"] == {"created": 3, "duplicate": 0, "error": 8}
    for index in (1, 3, 4, 5, 6, 7):
        assert results[index]["error"] == "validation_error"
        assert results[index]["external_id"] is None
        assert set(results[index]["fields"]) == {"body"}, results[index]
    assert set(results[8]["fields"]) == {"external_id", "reason", "subject"}
    assert results[10]["external_id"] is None
    assert "reason" in results[10]["fields"]
    created = {results[i]["external_id"]: results[i]["id"] for i in (0, 2, 9)}
    assert set(created) == {"ok-0", "ok-2", "ok-9"}
    assert set(Report.objects.values_list("external_id", flat=True)) == {"ok-0", "ok-2", "ok-9"}
    assert all(Report.objects.filter(pk=pk).exists() for pk in created.values())


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        pytest.param("subject.kind", "tweet", "subject.kind", id="bad-kind"),
        pytest.param("subject.url", "javascript:alert(1)", "subject.url", id="javascript-url"),
        pytest.param("scores.0.score", 7, "scores.0.score", id="score-out-of-range"),
        pytest.param("subject.metadata", _nested_objects(10), "subject.metadata", id="metadata-too-deep"),
        pytest.param("external_id", "   ", "external_id", id="blank-external-id"),
        pytest.param("reason", "not-a-reason", "reason", id="unknown-reason"),
        pytest.param("scores.0.score", 4 * 10**400, "scores.0.score", id="401-digit-score"),
        pytest.param("occurred_at", "0001-01-01T00:00:00+05:00", "occurred_at", id="occurred-at-underflow"),
    ],
)
def test_batch_item_errors_name_item_relative_fields_and_keep_the_good_items(hc, path, value, field):
    items = [
        full_body(external_id="good-0"),
        set_path(full_body(external_id="bad-1"), path, value),
        full_body(external_id="good-2"),
    ]

    response = post_json(hc, BATCH, {"reports": items})

    assert response.status_code == 207, response.content
    results = body_of(response)["results"]
    assert [r["status"] for r in results] == ["created", "error", "created"]
    assert set(results[1]["fields"]) == {field}, results[1]
    assert Report.objects.count() == 2


@pytest.mark.parametrize("raw", ["1e999", "-1e999"])
def test_batch_item_with_infinite_metadata_number_does_not_lose_the_good_items(hc, raw):
    items = [
        full_body(external_id="good-0"),
        full_body(
            external_id="bad-1",
            subject={
                "kind": "message",
                "external_id": "msg-inf",
                "metadata": {"x": SENTINEL},
            },
        ),
    ]
    text = json.dumps({"reports": items}).replace(f'"{SENTINEL}"', raw)

    response = post_raw(hc, BATCH, text)

    assert response.status_code == 207, (response.status_code, response.content[:2000])
    results = body_of(response)["results"]
    assert [r["status"] for r in results] == ["created", "error"]
    assert all(name.startswith("subject.metadata") for name in results[1]["fields"])
    assert Report.objects.filter(external_id="good-0").exists()


def test_batch_item_nested_5000_deep_is_an_item_error(hc):
    items_text = (
        "[" + json.dumps(full_body(external_id="good-0")) + "," + _dump_deep(_nested_lists(5000)) + "]"
    )

    response = post_raw(hc, BATCH, '{"reports": ' + items_text + "}")

    assert response.status_code == 207, (response.status_code, response.content[:2000])
    results = body_of(response)["results"]
    assert [r["status"] for r in results] == ["created", "error"]
    assert set(results[1]["fields"]) == {"body"}


def test_batch_reusing_an_external_id_with_a_different_body_is_an_item_conflict(hc):
    items = [full_body(external_id="same"), full_body(external_id="same", comment="different")]

    response = post_json(hc, BATCH, {"reports": items})

    assert response.status_code == 207, response.content
    results = body_of(response)["results"]
    assert [r["status"] for r in results] == ["created", "error"]
    assert results[1]["error"] == "conflict"
    assert set(results[1]["fields"]) == {"external_id"}
    assert Report.objects.count() == 1


# --------------------------------------------------------------------------------------------------------
# 10. Hostile ids on GET
# --------------------------------------------------------------------------------------------------------

BAD_IDS = [
    "99999999999999999999999",
    "9223372036854775808",  # 2**63: one past the largest 64-bit integer
    "18446744073709551616",  # 2**64
    "9223372036854775807",  # the largest 64-bit integer
    "2147483648",
    "9" * 5000,
    "0",
    "00000000001",
    "-1",
    "-99999999999999999999999",
    "abc",
    "1.5",
    "1e3",
    "0x10",
    "%00",
    "1%00",
    "%20",
    "1%20",
    "%F0%9F%98%80",
    "%ED%A0%80",
    "%FF",
    "1;DROP TABLE cases_report",
    "1'",
    "..%2F..%2Fetc%2Fpasswd",
]


@pytest.mark.parametrize("resource", ["reports", "cases"])
@pytest.mark.parametrize("report_id", BAD_IDS)
def test_hostile_id_is_404_json(hc, resource, report_id):
    response = hc.get(f"/api/v1/{resource}/{report_id}")

    assert_error(response, 404, error="not_found")


@pytest.mark.parametrize("resource", ["reports", "cases"])
def test_another_vendors_ids_are_404(hc, other_api, resource):
    other_api.raise_request_exception = False
    created = assert_created(post_json(hc, REPORTS, full_body()))
    object_id = created["id"] if resource == "reports" else created["case_id"]

    assert hc.get(f"/api/v1/{resource}/{object_id}").status_code == 200
    assert_error(other_api.get(f"/api/v1/{resource}/{object_id}"), 404, error="not_found")


# --------------------------------------------------------------------------------------------------------
# 11. Unknown reasons
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    [
        "not-a-reason",
        "SPAM",
        "Harassment",
        "spam-",
        "harass",
        "child_safety",
        "retired",
        "<script>x</script>",
        "spam\u200b",
        "%s%s%n",
        "x" * 64,
        7,
    ],
)
def test_unknown_reason_is_400_listing_the_valid_codes(hc, reason):
    factories.PolicyFactory(code="retired", name="Retired", is_active=False)

    body = assert_error(post_json(hc, REPORTS, full_body(reason=reason)), 400, fields={"reason"})

    message = " ".join(body["fields"]["reason"])
    for code in VALID_REASONS:
        assert code in message, message
    assert "retired" not in message.split("Valid reasons:")[-1], message
    assert Report.objects.count() == 0


# --------------------------------------------------------------------------------------------------------
# 12. external_id edges
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "external_id",
    ["", " ", "   ", "\t", "\n", "\r\n", " \t\n ", "\u00a0", "\u3000", "\u2003\u2003", "x" * 201, "é" * 201],
)
def test_blank_or_too_long_external_id_is_400(hc, external_id):
    body = assert_error(
        post_json(hc, REPORTS, full_body(external_id=external_id)), 400, fields={"external_id"}
    )

    assert body["error"] == "validation_error"
    assert Report.objects.count() == 0


@pytest.mark.parametrize(
    "external_id", ["x" * 200, "é" * 200, "\U0001f600" * 200, " padded ", "a" + " " * 199]
)
def test_external_id_up_to_200_characters_is_accepted_and_read_back_unchanged(hc, external_id):
    created = assert_created(post_json(hc, REPORTS, full_body(external_id=external_id)))

    response = hc.get(f"/api/v1/reports/{created['id']}")
    assert response.status_code == 200
    assert body_of(response)["external_id"] == external_id
    assert Case.objects.filter(pk=created["case_id"]).exists()


def test_external_id_reused_with_a_different_body_is_409_naming_external_id(hc):
    assert_created(post_json(hc, REPORTS, full_body()))

    assert_error(
        post_json(hc, REPORTS, full_body(comment="changed")), 409, fields={"external_id"}, error="conflict"
    )


def test_declared_oversized_body_is_413_before_authentication(anon, policies, settings):
    """An oversized body is refused from its Content-Length alone: never read, whoever sends it."""
    settings.API_MAX_BODY_BYTES = 1000
    response = post_raw(anon, REPORTS, b"x" * 5000)
    assert_error(response, 413, error="payload_too_large")

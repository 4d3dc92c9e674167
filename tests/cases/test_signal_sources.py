"""cases.detection.sources: scorers (built-in text model, HTTP moderation APIs) and context providers.

Every network fake is pytest-httpserver's real HTTP server on 127.0.0.1, reached through moderation.outbound
with OUTBOUND_ALLOW_PRIVATE_NETWORKS switched on per test.
"""

import contextlib
import posixpath
import re
from urllib.parse import unquote

import pytest
from django.core.exceptions import ValidationError

from cases.detection.sources import (
    BUILTIN_LABEL,
    BUILTIN_MODEL,
    SourceFailed,
    builtin_text_score,
    fill_url_template,
    parse_scores,
    run_context_provider,
    run_scorer,
    run_source,
    scorer_request_body,
)
from cases.models import ContextProvider, Scorer, Signal, Subject


@pytest.fixture
def allow_private(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    return settings


def make_subject(**overrides) -> Subject:
    fields = {
        "kind": Subject.Kind.MESSAGE,
        "external_id": "msg-1",
        "author_id": "author-9",
        "text": "you are worthless",
        "language": "en",
        "content_version": 3,
    }
    fields.update(overrides)
    return Subject(**fields)


def make_scorer(httpserver, **overrides) -> Scorer:
    fields = {
        "name": "vendor-x",
        "kind": Scorer.Kind.HTTP,
        "url": f"http://127.0.0.1:{httpserver.port}/score",
        "auth_header": "Authorization",
        "auth_value": "Bearer sk-test",
        "timeout_seconds": 2.0,
    }
    fields.update(overrides)
    return Scorer.objects.create(**fields)


def make_provider(httpserver, path="/users/{author_id}/facts", **overrides) -> ContextProvider:
    fields = {
        "name": "platform-facts",
        "url_template": f"http://127.0.0.1:{httpserver.port}{path}",
        "auth_header": "X-Internal-Token",
        "auth_value": "tok-123",
        "timeout_seconds": 2.0,
        "label_prefix": "ctx.",
    }
    fields.update(overrides)
    return ContextProvider.objects.create(**fields)


def raw_target(httpserver, index=0) -> str:
    """The request target exactly as it arrived on the wire (werkzeug's RAW_URI), before any decoding."""
    return httpserver.log[index][0].environ["RAW_URI"]


# --- parse_scores -----------------------------------------------------------------------------------------


def test_label_scores():
    assert parse_scores({"toxicity": 0.91, "spam": 0, "threat": 1}, "label_scores") == {
        "toxicity": 0.91,
        "spam": 0.0,
        "threat": 1.0,
    }


@pytest.mark.parametrize(
    "entries",
    [
        [{"label": "toxicity", "score": 0.8}, {"label": "spam", "score": 0.1}],
        [{"category": "toxicity", "confidence": 0.8}, {"category": "spam", "confidence": 0.1}],
        [{"name": "toxicity", "score": 0.8}, {"name": "spam", "confidence": 0.1}],
        [{"class": "toxicity", "probability": 0.8}, {"label": "spam", "value": 0.1}],
    ],
)
def test_category_list_keys(entries):
    assert parse_scores(entries, "category_list") == {"toxicity": 0.8, "spam": 0.1}


def test_category_list_wrapped_in_an_object_without_path():
    assert parse_scores({"categories": [{"label": "hate", "score": 0.4}]}, "category_list") == {"hate": 0.4}


def test_nested_response_path():
    response = {"result": {"categories": [{"label": "hate", "score": 0.25}], "other": 1}}
    assert parse_scores(response, "category_list", "result.categories") == {"hate": 0.25}

    response = {"data": [{"scores": {"sexual": 0.05}}]}
    assert parse_scores(response, "label_scores", "data.0.scores") == {"sexual": 0.05}


def test_openai_format():
    response = {
        "id": "modr-1",
        "model": "omni-moderation-latest",
        "results": [
            {
                "flagged": True,
                "categories": {"harassment": True},
                "category_scores": {
                    "harassment": 0.93,
                    "violence": 0.01,
                },
            }
        ],
    }
    assert parse_scores(response, "openai") == {"harassment": 0.93, "violence": 0.01}


def test_perspective_format():
    response = {
        "attributeScores": {
            "TOXICITY": {"summaryScore": {"value": 0.9, "type": "PROBABILITY"}},
            "INSULT": {"summaryScore": {"value": 0.7}},
        },
        "languages": ["en"],
    }
    assert parse_scores(response, "perspective") == {"toxicity": 0.9, "insult": 0.7}


MALFORMED = [
    pytest.param([1, 2], "label_scores", "", id="label-scores-not-a-dict"),
    pytest.param("toxic", "label_scores", "", id="string"),
    pytest.param(None, "label_scores", "", id="null"),
    pytest.param({"toxicity": 1.5}, "label_scores", "", id="score-above-1"),
    pytest.param({"toxicity": -0.1}, "label_scores", "", id="score-below-0"),
    pytest.param({"toxicity": float("nan")}, "label_scores", "", id="nan"),
    pytest.param({"toxicity": float("inf")}, "label_scores", "", id="inf"),
    pytest.param({"toxicity": True}, "label_scores", "", id="bool-score"),
    pytest.param({"toxicity": "0.5"}, "label_scores", "", id="string-score"),
    pytest.param({"toxicity": None}, "label_scores", "", id="null-score"),
    pytest.param({"": 0.5}, "label_scores", "", id="empty-label"),
    pytest.param([{"score": 0.5}], "category_list", "", id="missing-label"),
    pytest.param([{"label": 7, "score": 0.5}], "category_list", "", id="non-string-label"),
    pytest.param([{"label": "x"}], "category_list", "", id="missing-score"),
    pytest.param([{"label": "x", "score": False}], "category_list", "", id="category-bool-score"),
    pytest.param([{"label": "x", "score": float("nan")}], "category_list", "", id="category-nan"),
    pytest.param(["toxicity"], "category_list", "", id="entry-not-object"),
    pytest.param({"a": 1}, "category_list", "", id="no-list"),
    pytest.param({"result": {}}, "category_list", "result.categories", id="path-missing"),
    pytest.param({"results": []}, "openai", "", id="openai-empty-results"),
    pytest.param({"results": [{"flagged": True}]}, "openai", "", id="openai-no-category-scores"),
    pytest.param({"results": "x"}, "openai", "", id="openai-results-not-list"),
    pytest.param({}, "perspective", "", id="perspective-no-attributes"),
    pytest.param({"attributeScores": {"TOXICITY": {}}}, "perspective", "", id="perspective-no-value"),
    pytest.param(
        {"attributeScores": {"TOXICITY": {"summaryScore": {"value": 2}}}},
        "perspective",
        "",
        id="perspective-out-of-range",
    ),
    pytest.param({"toxicity": 0.5}, "xml", "", id="unknown-format"),
]


@pytest.mark.parametrize(("response", "response_format", "path"), MALFORMED)
def test_malformed_scores_raise_non_retryable(response, response_format, path):
    with pytest.raises(SourceFailed) as exc_info:
        parse_scores(response, response_format, path)
    assert exc_info.value.retryable is False


def test_whitespace_only_label_is_rejected_not_stored_as_empty():
    # " " passes the emptiness check before .strip(); it must not become an empty label.
    with pytest.raises(SourceFailed) as exc_info:
        parse_scores({"   ": 0.5}, "label_scores")
    assert exc_info.value.retryable is False


# --- request bodies ---------------------------------------------------------------------------------------


def test_request_body_shapes_without_language():
    subject = make_subject(language="")
    assert scorer_request_body("perspective", subject) == {
        "comment": {"text": "you are worthless"},
        "requestedAttributes": {},
    }
    assert scorer_request_body("openai", subject) == {"input": "you are worthless"}


# --- run_scorer against a real HTTP server ----------------------------------------------------------------


REQUEST_BODIES = [
    pytest.param(
        "simple",
        {"text": "you are worthless", "language": "en", "kind": "message", "subject_id": "msg-1"},
        id="simple",
    ),
    pytest.param("openai", {"input": "you are worthless"}, id="openai"),
    pytest.param(
        "perspective",
        {"comment": {"text": "you are worthless"}, "requestedAttributes": {}, "languages": ["en"]},
        id="perspective",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("request_format", "expected_body"), REQUEST_BODIES)
def test_http_scorer_sends_the_configured_request_format(
    allow_private, httpserver, request_format, expected_body
):
    httpserver.expect_request(
        "/score",
        method="POST",
        json=expected_body,
        headers={"Authorization": "Bearer sk-test", "Content-Type": "application/json"},
    ).respond_with_json({"toxicity": 0.9})
    scorer = make_scorer(httpserver, request_format=request_format)

    drafts = run_scorer(scorer, make_subject())

    httpserver.check_assertions()
    assert len(httpserver.log) == 1
    assert [(d.label, d.score) for d in drafts] == [("toxicity", 0.9)]


@pytest.mark.django_db
def test_http_scorer_signals_carry_prefix_model_and_versioned_dedupe_keys(allow_private, httpserver):
    httpserver.expect_request("/score", method="POST").respond_with_json(
        {
            "model": "from-response-v9",
            "result": {
                "categories": [
                    {"label": "harassment", "score": 0.82},
                    {"label": "spam", "score": 0.03},
                ]
            },
        }
    )
    scorer = make_scorer(
        httpserver,
        response_format="category_list",
        response_path="result.categories",
        label_prefix="vx.",
        model_name="vx-moderation",
        model_version="2026-01",
    )
    subject = make_subject(content_version=7)

    drafts = run_scorer(scorer, subject)

    assert {d.label: d.score for d in drafts} == {"vx.harassment": 0.82, "vx.spam": 0.03}
    for draft in drafts:
        assert draft.source == Signal.Source.SCORER
        assert draft.source_name == "vendor-x"
        assert draft.model == "vx-moderation"
        assert draft.model_version == "2026-01"  # configured version wins over the response's
        assert draft.value is None
    assert {d.dedupe_key for d in drafts} == {
        f"scorer:{scorer.pk}:v7:harassment",
        f"scorer:{scorer.pk}:v7:spam",
    }


@pytest.mark.django_db
def test_http_scorer_dedupe_key_changes_with_content_version(allow_private, httpserver):
    httpserver.expect_request("/score").respond_with_json({"toxicity": 0.5})
    scorer = make_scorer(httpserver)

    first = run_scorer(scorer, make_subject(content_version=1))
    second = run_scorer(scorer, make_subject(content_version=2))

    assert first[0].dedupe_key == f"scorer:{scorer.pk}:v1:toxicity"
    assert second[0].dedupe_key == f"scorer:{scorer.pk}:v2:toxicity"


@pytest.mark.django_db
def test_http_scorer_falls_back_to_scorer_name_and_response_model(allow_private, httpserver):
    httpserver.expect_request("/score").respond_with_json(
        {
            "id": "modr-1",
            "model": "omni-moderation-2024-09-26",
            "results": [{"category_scores": {"harassment": 0.6}}],
        }
    )
    scorer = make_scorer(httpserver, request_format="openai", response_format="openai")

    (draft,) = run_scorer(scorer, make_subject())

    assert draft.label == "harassment"
    assert draft.model == "vendor-x"
    assert draft.model_version == "omni-moderation-2024-09-26"


@pytest.mark.django_db
def test_http_scorer_perspective_round_trip(allow_private, httpserver):
    httpserver.expect_request("/score", method="POST").respond_with_json(
        {"attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.9}}}}
    )
    scorer = make_scorer(
        httpserver, request_format="perspective", response_format="perspective", label_prefix="persp."
    )

    (draft,) = run_source(scorer, make_subject())

    assert (draft.label, draft.score) == ("persp.toxicity", 0.9)


@pytest.mark.django_db
def test_http_scorer_without_auth_value_sends_no_auth_header(allow_private, httpserver):
    httpserver.expect_request("/score").respond_with_json({"toxicity": 0.1})
    scorer = make_scorer(httpserver, auth_value="")

    run_scorer(scorer, make_subject())

    assert "Authorization" not in httpserver.log[0][0].headers


@pytest.mark.django_db
def test_http_scorer_custom_auth_header(allow_private, httpserver):
    httpserver.expect_request("/score", headers={"X-Api-Key": "abc"}).respond_with_json({"toxicity": 0.1})
    scorer = make_scorer(httpserver, auth_header="X-Api-Key", auth_value="abc")

    run_scorer(scorer, make_subject())

    httpserver.check_assertions()


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True), (401, False)])
def test_http_scorer_failures_become_source_failed(allow_private, httpserver, status, retryable):
    httpserver.expect_request("/score").respond_with_json({"error": "x"}, status=status)
    scorer = make_scorer(httpserver)

    with pytest.raises(SourceFailed) as exc_info:
        run_scorer(scorer, make_subject())
    assert exc_info.value.retryable is retryable


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"not json", b'{"toxicity": 1.7}', b'{"toxicity": NaN}', b'["toxicity"]'])
def test_http_scorer_bad_bodies_are_not_retryable(allow_private, httpserver, body):
    httpserver.expect_request("/score").respond_with_data(body, content_type="application/json")
    scorer = make_scorer(httpserver)

    with pytest.raises(SourceFailed) as exc_info:
        run_scorer(scorer, make_subject())
    assert exc_info.value.retryable is False


@pytest.mark.django_db
def test_http_scorer_to_loopback_is_blocked_without_the_setting(settings, httpserver):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    httpserver.expect_request("/score").respond_with_json({"toxicity": 0.1})
    scorer = make_scorer(httpserver)

    with pytest.raises(SourceFailed) as exc_info:
        run_scorer(scorer, make_subject())
    assert exc_info.value.retryable is False
    assert "BlockedDestination" in str(exc_info.value)
    assert httpserver.log == []


# --- the built-in text model ------------------------------------------------------------------------------


def test_builtin_text_score_separates_abuse_from_friendliness():
    assert builtin_text_score("you are a fucking idiot") > 0.8
    assert builtin_text_score("have a lovely day") < 0.3
    score = builtin_text_score("x" * 50_000)
    assert 0.0 <= score <= 1.0


@pytest.mark.django_db
def test_builtin_scorer_records_model_and_version(httpserver):
    scorer = Scorer.objects.create(name="builtin", kind=Scorer.Kind.BUILTIN_TEXT, label_prefix="ml.")
    subject = make_subject(text="you are a fucking idiot", content_version=2)

    (draft,) = run_scorer(scorer, subject)

    assert draft.label == f"ml.{BUILTIN_LABEL}"
    assert draft.score > 0.8
    assert draft.model == BUILTIN_MODEL == "alt-profanity-check"
    assert draft.model_version and draft.model_version != "unknown"
    assert draft.dedupe_key == f"scorer:{scorer.pk}:v2:{BUILTIN_LABEL}"
    assert draft.source == Signal.Source.SCORER
    assert httpserver.log == []  # no network for the built-in model


# --- context providers ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("author_id", "encoded"),
    [
        ("author-9", "author-9"),
        ("a b", "a%20b"),
        ("team/alice", "team%2Falice"),
        ("who?x=1#frag", "who%3Fx%3D1%23frag"),
        ("a b/c?d#e&f%g", "a%20b%2Fc%3Fd%23e%26f%25g"),
        ("ünï", "%C3%BCn%C3%AF"),
    ],
)
def test_context_url_template_is_filled_url_encoded_inside_the_segment(
    allow_private, httpserver, author_id, encoded
):
    httpserver.expect_request(re.compile(r"^/users/.*/facts$")).respond_with_json({"strikes": 2})
    provider = make_provider(httpserver)

    run_context_provider(provider, make_subject(author_id=author_id))

    assert raw_target(httpserver) == f"/users/{encoded}/facts"
    assert httpserver.log[0][0].query_string == b""
    assert httpserver.log[0][0].headers["X-Internal-Token"] == "tok-123"


@pytest.mark.django_db
def test_context_url_template_fills_every_placeholder(allow_private, httpserver):
    httpserver.expect_request(re.compile(r"^/k/.*")).respond_with_json({})
    provider = make_provider(httpserver, path="/k/{kind}/s/{subject_id}?author={author_id}")

    run_context_provider(
        provider, make_subject(kind=Subject.Kind.POST, external_id="p/1 2", author_id="a&b=c")
    )

    assert raw_target(httpserver) == "/k/post/s/p%2F1%202?author=a%26b%3Dc"
    assert httpserver.log[0][0].args.to_dict() == {"author": "a&b=c"}


@pytest.mark.django_db
@pytest.mark.parametrize("author_id", ["..", "."])
def test_dot_segment_author_id_cannot_leave_its_path_segment(allow_private, httpserver, author_id):
    """An author id of ".." must not turn /users/{author_id}/facts into /facts (path traversal on the
    internal API). Either the call is refused, or the target keeps a /users/<one segment>/facts shape once
    a server normalizes it (decoding %2E and removing dot segments, as RFC 3986 normalizers do)."""
    httpserver.expect_request(re.compile(r".*")).respond_with_json({"strikes": 0})
    provider = make_provider(httpserver)

    with contextlib.suppress(SourceFailed):  # refusing such an id is a correct outcome
        run_context_provider(provider, make_subject(author_id=author_id))

    for index in range(len(httpserver.log)):
        normalized = posixpath.normpath(unquote(raw_target(httpserver, index)))
        segments = normalized.split("/")
        assert len(segments) == 4 and segments[1] == "users" and segments[3] == "facts", (
            f"author_id {author_id!r} reached {raw_target(httpserver, index)!r} (normalizes to {normalized!r})"
        )


@pytest.mark.django_db
def test_facts_become_signals(allow_private, httpserver):
    facts = {
        "account_age_days": 1200,
        "spam_probability": 0.42,
        "zero": 0,
        "one": 1.0,
        "negative": -0.5,
        "ratio_over_one": 3.5,
        "verified": True,
        "suspended": False,
        "tier": "gold",
        "history": {"strikes": 2, "last": "2026-01-01", "tags": ["a", "b"]},
        "aliases": ["x", "y"],
        "nothing": None,
    }
    httpserver.expect_request("/users/author-9/facts", method="GET").respond_with_json(facts)
    provider = make_provider(httpserver)

    drafts = {d.label: d for d in run_context_provider(provider, make_subject())}

    assert set(drafts) == {f"ctx.{name}" for name in facts}
    expected_scores = {"spam_probability": 0.42, "zero": 0.0, "one": 1.0}
    for name, value in facts.items():
        draft = drafts[f"ctx.{name}"]
        assert draft.value == value, name
        assert draft.score == expected_scores.get(name), name
        assert draft.source == Signal.Source.CONTEXT
        assert draft.source_name == "platform-facts"
        assert draft.dedupe_key == f"context:{provider.pk}:{name}"
        assert draft.model == "" and draft.model_version == ""
    assert isinstance(drafts["ctx.verified"].value, bool)
    assert drafts["ctx.verified"].score is None
    assert drafts["ctx.history"].value == {"strikes": 2, "last": "2026-01-01", "tags": ["a", "b"]}


@pytest.mark.django_db
def test_non_standard_json_constants_make_the_response_malformed(allow_private, httpserver):
    """NaN / Infinity are not JSON: a response using them is refused whole (strict, like our own parser)."""
    httpserver.expect_request("/users/author-9/facts").respond_with_data(
        b'{"risk": NaN, "big": Infinity}', content_type="application/json"
    )
    provider = make_provider(httpserver)

    with pytest.raises(SourceFailed) as failure:
        run_context_provider(provider, make_subject())
    assert failure.value.retryable is False


@pytest.mark.django_db
@pytest.mark.parametrize("body", [[1, 2], "facts", 0.5, None])
def test_non_object_context_response_is_not_retryable(allow_private, httpserver, body):
    httpserver.expect_request("/users/author-9/facts").respond_with_json(body)
    provider = make_provider(httpserver)

    with pytest.raises(SourceFailed) as exc_info:
        run_context_provider(provider, make_subject())
    assert exc_info.value.retryable is False


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "retryable"), [(503, True), (500, True), (404, False)])
def test_context_provider_http_errors(allow_private, httpserver, status, retryable):
    httpserver.expect_request("/users/author-9/facts").respond_with_data("down", status=status)
    provider = make_provider(httpserver)

    with pytest.raises(SourceFailed) as exc_info:
        run_source(provider, make_subject())
    assert exc_info.value.retryable is retryable


def test_fill_url_template_does_not_evaluate_format_fields():
    subject = make_subject(author_id="a b", external_id="m/1")
    template = "https://127.0.0.1/u/{author_id.__class__}/{author_id}/{subject_id}/{0}/{kind!r}/{}"

    filled = fill_url_template(template, subject)

    assert filled == "https://127.0.0.1/u/{author_id.__class__}/a%20b/m%2F1/{0}/{kind!r}/{}"
    assert "str" not in filled and "class '" not in filled


def test_fill_url_template_values_cannot_inject_other_placeholders():
    subject = make_subject(author_id="{subject_id}", external_id="{kind}", kind=Subject.Kind.POST)

    filled = fill_url_template("http://127.0.0.1/{author_id}/{subject_id}/{kind}", subject)

    assert filled == "http://127.0.0.1/%7Bsubject_id%7D/%7Bkind%7D/post"


# --- model validation -------------------------------------------------------------------------------------


def errors_of(instance) -> dict:
    with pytest.raises(ValidationError) as exc_info:
        instance.full_clean()
    return exc_info.value.message_dict


@pytest.mark.django_db
def test_http_scorer_requires_url():
    assert "url" in errors_of(Scorer(name="s", kind=Scorer.Kind.HTTP, url=""))


@pytest.mark.django_db
def test_builtin_scorer_needs_no_url():
    Scorer(name="builtin", kind=Scorer.Kind.BUILTIN_TEXT, url="").full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize("bad_url", ["ftp://localhost/score", "javascript:alert(1)", "file:///etc/passwd"])
def test_scorer_url_must_be_http(bad_url):
    assert "url" in errors_of(Scorer(name="s", kind=Scorer.Kind.HTTP, url=bad_url))


@pytest.mark.django_db
def test_valid_http_scorer_passes_validation():
    Scorer(
        name="s",
        kind=Scorer.Kind.HTTP,
        url="https://localhost/score",
        timeout_seconds=0.1,
        subject_kinds=["message", "post"],
    ).full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize("placeholder", ["{secret}", "{author_id.__class__}", "{0}", "{}"])
def test_context_provider_rejects_unknown_placeholders(placeholder):
    provider = ContextProvider(name="c", url_template=f"https://localhost/users/{placeholder}/facts")
    assert "url_template" in errors_of(provider)


@pytest.mark.django_db
def test_context_provider_accepts_known_placeholders():
    ContextProvider(
        name="c", url_template="https://localhost/{kind}/{subject_id}/users/{author_id}/facts"
    ).full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["", "ftp://localhost/{author_id}", "localhost/{author_id}"])
def test_context_provider_url_template_must_be_http(bad):
    assert "url_template" in errors_of(ContextProvider(name="c", url_template=bad))


@pytest.mark.django_db
@pytest.mark.parametrize("timeout", [0, 0.05, 30.5, 100, -1])
def test_timeout_out_of_range_is_rejected(timeout):
    scorer = Scorer(name="s", kind=Scorer.Kind.HTTP, url="https://localhost/s", timeout_seconds=timeout)
    provider = ContextProvider(
        name="c", url_template="https://localhost/{author_id}", timeout_seconds=timeout
    )
    assert "timeout_seconds" in errors_of(scorer)
    assert "timeout_seconds" in errors_of(provider)


@pytest.mark.django_db
@pytest.mark.parametrize("kinds", [["tweet"], ["message", "tweet"], "message", [1]])
def test_unknown_subject_kinds_are_rejected(kinds):
    scorer = Scorer(name="s", kind=Scorer.Kind.BUILTIN_TEXT, subject_kinds=kinds)
    provider = ContextProvider(name="c", url_template="https://localhost/{author_id}", subject_kinds=kinds)
    assert "subject_kinds" in errors_of(scorer)
    assert "subject_kinds" in errors_of(provider)


# --- attack pass: a provider never speaks for a built-in detector ------------------------------------------


def test_a_provider_cannot_take_the_campaign_detectors_name():
    provider = ContextProvider(name="Campaigns", url_template="https://facts.example/{author_id}")

    with pytest.raises(ValidationError) as refused:
        provider.full_clean()

    assert "name" in refused.value.message_dict


@pytest.mark.django_db
def test_a_providers_campaign_size_fact_is_dropped(allow_private, httpserver):
    """A remote endpoint answering `campaign.size: 500` must not satisfy `[context] campaign.size >= 10`."""
    httpserver.expect_request("/users/u1/facts").respond_with_json({"campaign.size": 500, "account_age": 0.5})
    provider = make_provider(httpserver, label_prefix="")

    drafts = run_context_provider(provider, make_subject(author_id="u1"))

    assert [draft.label for draft in drafts] == ["account_age"]


@pytest.mark.django_db
def test_a_provider_row_with_the_reserved_name_is_never_called(allow_private, httpserver):
    provider = make_provider(httpserver, name="campaigns")

    with pytest.raises(SourceFailed, match="reserved"):
        run_context_provider(provider, make_subject(author_id="u1"))
    assert httpserver.log == []

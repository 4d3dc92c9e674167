"""The EU DSA Transparency Database's rules for a statement of reasons (`cases.statement_rules`), checked field
by field against the published rules (the TDB's validation: required, conditional, enumerated fields, lengths,
dates, puid charset). No database: the validator is pure."""

import pytest

from cases.statement_rules import validate_statement


def incompatible(**overrides) -> dict:
    """A statement the TDB accepts: removal for breaking our terms, after a notice."""
    statement = {
        "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "incompatible_content_ground": "Terms of service, section 4 (harassment)",
        "incompatible_content_explanation": "The message insults another user.",
        "incompatible_content_illegal": "No",
        "content_type": ["CONTENT_TYPE_TEXT"],
        "category": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        "territorial_scope": ["DE", "FR"],
        "content_language": "EN",
        "content_date": "2026-11-30",
        "application_date": "2026-12-01",
        "decision_facts": "Remove under our Harassment policy.",
        "source_type": "SOURCE_ARTICLE_16",
        "automated_detection": "No",
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "puid": "mod-decision-1",
    }
    statement.update(overrides)
    return {key: value for key, value in statement.items() if value is not None}


def illegal(**overrides) -> dict:
    base = incompatible(
        decision_ground="DECISION_GROUND_ILLEGAL_CONTENT",
        incompatible_content_ground=None,
        incompatible_content_explanation=None,
        incompatible_content_illegal=None,
        illegal_content_legal_ground="StGB § 130",
        illegal_content_explanation="Incitement to hatred against a group.",
    )
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def test_a_complete_statement_on_either_ground_breaks_no_rule():
    assert validate_statement(incompatible()) == {}
    assert validate_statement(illegal()) == {}


@pytest.mark.parametrize(
    "field",
    [
        "decision_ground",
        "content_type",
        "category",
        "content_date",
        "application_date",
        "decision_facts",
        "source_type",
        "automated_detection",
        "automated_decision",
        "puid",
    ],
)
def test_every_required_field_is_required(field):
    errors = validate_statement(incompatible(**{field: None}))

    assert field in errors


def test_at_least_one_restriction_is_required():
    errors = validate_statement(incompatible(decision_visibility=None))

    assert "decision_visibility" in errors
    assert validate_statement(incompatible(decision_visibility=[]))  # an empty list is no restriction


@pytest.mark.parametrize(
    "field, value",
    [
        ("decision_monetary", "DECISION_MONETARY_SUSPENSION"),
        ("decision_provision", "DECISION_PROVISION_TOTAL_SUSPENSION"),
        ("decision_account", "DECISION_ACCOUNT_TERMINATED"),
    ],
)
def test_any_one_of_the_four_restrictions_is_enough(field, value):
    assert validate_statement(incompatible(decision_visibility=None, **{field: value})) == {}


@pytest.mark.parametrize(
    "field, bad",
    [
        ("decision_visibility", ["DECISION_VISIBILITY_HIDDEN"]),
        ("decision_monetary", "DECISION_MONETARY_FINE"),
        ("decision_provision", "DECISION_PROVISION_SOME"),
        ("decision_account", "DECISION_ACCOUNT_BANNED"),
        ("account_type", "ACCOUNT_TYPE_ROBOT"),
        ("decision_ground", "DECISION_GROUND_VIBES"),
        ("incompatible_content_illegal", "Maybe"),
        ("content_type", ["CONTENT_TYPE_HOLOGRAM"]),
        ("category", "STATEMENT_CATEGORY_OTHER"),  # the TDB has no "other" category
        ("territorial_scope", ["US"]),
        ("content_language", "en"),  # upper-case ISO 639-1 only
        ("content_language", "XX"),
        ("source_type", "SOURCE_RUMOUR"),
        ("automated_detection", "yes"),
        ("automated_decision", "AUTOMATED_DECISION_MAYBE"),
    ],
)
def test_enumerated_fields_take_only_the_published_values(field, bad):
    assert field in validate_statement(incompatible(**{field: bad}))


def test_territorial_scope_takes_eea_countries_and_lists_only():
    assert validate_statement(incompatible(territorial_scope=["IS", "LI", "NO", "AT"])) == {}
    assert "territorial_scope" in validate_statement(incompatible(territorial_scope="DE"))
    assert "territorial_scope" in validate_statement(incompatible(territorial_scope=["DE", "DE"]))


@pytest.mark.parametrize("field", ["illegal_content_legal_ground", "illegal_content_explanation"])
def test_illegal_content_needs_its_legal_ground_and_explanation(field):
    assert field in validate_statement(illegal(**{field: None}))
    assert field in validate_statement(illegal(**{field: ""}))


@pytest.mark.parametrize("field", ["incompatible_content_ground", "incompatible_content_explanation"])
def test_incompatible_content_needs_its_contractual_ground_and_explanation(field):
    assert field in validate_statement(incompatible(**{field: None}))


def test_the_other_grounds_fields_are_refused_rather_than_silently_dropped():
    errors = validate_statement(incompatible(illegal_content_legal_ground="StGB § 130"))
    assert "illegal_content_legal_ground" in errors
    errors = validate_statement(
        illegal(incompatible_content_ground="ToS 4", incompatible_content_illegal="No")
    )
    assert {"incompatible_content_ground", "incompatible_content_illegal"} <= set(errors)


def test_incompatible_content_may_say_it_is_also_illegal():
    assert validate_statement(incompatible(incompatible_content_illegal="Yes")) == {}
    assert validate_statement(incompatible(incompatible_content_illegal=None)) == {}


@pytest.mark.parametrize(
    "field, overrides",
    [
        ("decision_visibility_other", {"decision_visibility": ["DECISION_VISIBILITY_OTHER"]}),
        (
            "decision_monetary_other",
            {"decision_visibility": None, "decision_monetary": "DECISION_MONETARY_OTHER"},
        ),
        ("content_type_other", {"content_type": ["CONTENT_TYPE_OTHER"]}),
    ],
)
def test_an_other_value_needs_its_text_and_the_text_needs_the_other_value(field, overrides):
    assert field in validate_statement(incompatible(**overrides))
    assert validate_statement(incompatible(**overrides, **{field: "Shadow ban"})) == {}
    assert field in validate_statement(incompatible(**{field: "Shadow ban"}))


@pytest.mark.parametrize(
    "field, limit, overrides",
    [
        ("decision_facts", 5000, {}),
        ("incompatible_content_ground", 500, {}),
        ("incompatible_content_explanation", 2000, {}),
        ("illegal_content_legal_ground", 500, "illegal"),
        ("illegal_content_explanation", 2000, "illegal"),
        ("content_type_other", 500, {"content_type": ["CONTENT_TYPE_OTHER"]}),
        ("decision_visibility_other", 500, {"decision_visibility": ["DECISION_VISIBILITY_OTHER"]}),
        ("source_identity", 500, {}),
        ("puid", 500, {}),
    ],
)
def test_text_fields_are_limited_to_the_published_lengths(field, limit, overrides):
    build = illegal if overrides == "illegal" else incompatible
    extra = {} if overrides == "illegal" else overrides

    assert validate_statement(build(**extra, **{field: "a" * limit})) == {}
    assert field in validate_statement(build(**extra, **{field: "a" * (limit + 1)}))


@pytest.mark.parametrize("puid", ["has space", "a/b", "naïve", "line\nbreak", "semi;colon", "x.y"])
def test_a_puid_holds_only_letters_digits_hyphens_and_underscores(puid):
    assert "puid" in validate_statement(incompatible(puid=puid))


def test_a_puid_of_the_allowed_characters_passes():
    assert validate_statement(incompatible(puid="Ab-9_z")) == {}


@pytest.mark.parametrize(
    "field, value",
    [
        ("content_date", "2026-12-1"),
        ("content_date", "01.12.2026"),
        ("content_date", "1999-12-31"),
        ("content_date", "2026-02-30"),
        ("application_date", "2019-12-31"),
        ("application_date", "2038-01-02"),
        ("application_date", "2026-12-01-10"),  # the old hour-precision form is gone
        ("end_date_account_restriction", "2026-11-30"),  # before the application date
        ("end_date_visibility_restriction", "2039-01-01"),
    ],
)
def test_dates_are_days_within_the_published_bounds(field, value):
    assert field in validate_statement(incompatible(**{field: value}))


def test_an_end_date_on_or_after_the_application_date_passes():
    assert validate_statement(incompatible(end_date_visibility_restriction="2026-12-01")) == {}


def test_source_identity_is_not_given_for_our_own_initiative():
    errors = validate_statement(incompatible(source_type="SOURCE_VOLUNTARY", source_identity="Acme"))

    assert "source_identity" in errors


def test_an_unknown_field_is_refused_so_a_typo_is_never_lost():
    assert "decision_fact" in validate_statement(incompatible(decision_fact="typo"))
    assert "puid" in validate_statement(incompatible(puid=12))

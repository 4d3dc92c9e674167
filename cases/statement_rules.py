"""The EU DSA Transparency Database's rules for a statement of reasons, as its API applies them: a pure
validator (no database), run before a statement is stored and again by tests from outside.

Source (read 2026-12): the Commission's own code, github.com/digital-services-act/transparency-database —
`app/Models/Statement.php` (the enumerations: DECISION_VISIBILITIES, DECISION_MONETARIES, DECISION_PROVISIONS,
DECISION_ACCOUNTS, ACCOUNT_TYPES, DECISION_GROUNDS, INCOMPATIBLE_CONTENT_ILLEGALS, CONTENT_TYPES,
STATEMENT_CATEGORIES, SOURCE_TYPES, AUTOMATED_DETECTIONS, AUTOMATED_DECISIONS), the validation rules of the
multiple-statements endpoint (`app/Services/GroupedSubmissionsService.php::multi_rules`, the same as
`StatementStoreRequest`), `app/Services/EuropeanCountriesService.php` (EU/EEA country codes) and the API
documentation (`resources/markdown/api-documentation-two.md`: `POST /api/v1/statements`, up to 100 a call,
puid charset, a duplicate puid answered 422 with `errors.existing_puids`).

The rules, field by field:
- one of decision_visibility (a non-empty list) / decision_monetary / decision_provision / decision_account
  is required; each from its enumeration; `_other` texts (≤500) required exactly when the value is OTHER;
- decision_ground required; DECISION_GROUND_ILLEGAL_CONTENT needs illegal_content_legal_ground (≤500) and
  illegal_content_explanation (≤2000); DECISION_GROUND_INCOMPATIBLE_CONTENT needs incompatible_content_ground
  (≤500) and incompatible_content_explanation (≤2000), incompatible_content_illegal optional Yes/No; the other
  ground's fields must be absent (the API drops them: `exclude_unless`; we refuse, so what we store is what
  is kept);
- content_type a non-empty list from CONTENT_TYPES; content_type_other (≤500) exactly with CONTENT_TYPE_OTHER;
- category required from STATEMENT_CATEGORIES; territorial_scope a list of EU/EEA codes; content_language
  an upper-case ISO 639-1 code or null;
- content_date YYYY-MM-DD in [2000-01-01, 2038-01-01]; application_date YYYY-MM-DD in [2020-01-01,
  2038-01-01]; end_date_* YYYY-MM-DD, ≤ 2038-01-01 and not before application_date;
- decision_facts required ≤5000; source_type required from SOURCE_TYPES; source_identity ≤500 (dropped for
  SOURCE_VOLUNTARY); automated_detection Yes/No; automated_decision from AUTOMATED_DECISIONS;
- puid required, ≤500, only `[a-zA-Z0-9_-]`, unique within the platform.
Unknown fields are refused too: a typo must not be silently dropped by the receiver.
"""

import re
from datetime import date

VISIBILITIES = (
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
)
MONETARIES = ("DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER")
PROVISIONS = (
    "DECISION_PROVISION_PARTIAL_SUSPENSION",
    "DECISION_PROVISION_TOTAL_SUSPENSION",
    "DECISION_PROVISION_PARTIAL_TERMINATION",
    "DECISION_PROVISION_TOTAL_TERMINATION",
)
ACCOUNTS = ("DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED")
ACCOUNT_TYPES = ("ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE")
ILLEGAL = "DECISION_GROUND_ILLEGAL_CONTENT"
INCOMPATIBLE = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
GROUNDS = (ILLEGAL, INCOMPATIBLE)
YES_NO = ("Yes", "No")
CONTENT_TYPES = (
    "CONTENT_TYPE_APP",
    "CONTENT_TYPE_AUDIO",
    "CONTENT_TYPE_IMAGE",
    "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA",
    "CONTENT_TYPE_TEXT",
    "CONTENT_TYPE_VIDEO",
    "CONTENT_TYPE_OTHER",
)
CATEGORIES = (
    "STATEMENT_CATEGORY_ANIMAL_WELFARE",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
    "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
    "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS",
    "STATEMENT_CATEGORY_VIOLENCE",
)
# The TDB has no "other" category: a policy mapped to ours is reported as outside the platform's scope.
CATEGORY_FALLBACK = "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE"
ARTICLE_16, TRUSTED_FLAGGER, VOLUNTARY = "SOURCE_ARTICLE_16", "SOURCE_TRUSTED_FLAGGER", "SOURCE_VOLUNTARY"
SOURCE_TYPES = (ARTICLE_16, TRUSTED_FLAGGER, "SOURCE_TYPE_OTHER_NOTIFICATION", VOLUNTARY)
FULLY, PARTIALLY, NOT_AUTOMATED = (
    "AUTOMATED_DECISION_FULLY",
    "AUTOMATED_DECISION_PARTIALLY",
    "AUTOMATED_DECISION_NOT_AUTOMATED",
)
AUTOMATED_DECISIONS = (FULLY, PARTIALLY, NOT_AUTOMATED)
EU_COUNTRIES = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT",
    "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip
EEA_COUNTRIES = (*EU_COUNTRIES, "IS", "LI", "NO")
# ISO 639-1, upper case (the TDB's `content_language`).
_ISO_639_1 = """AA AB AE AF AK AM AN AR AS AV AY AZ BA BE BG BI BM BN BO BR BS CA CE CH CO CR CS CU CV CY DA DE
DV DZ EE EL EN EO ES ET EU FA FF FI FJ FO FR FY GA GD GL GN GU GV HA HE HI HO HR HT HU HY HZ IA ID IE IG II
IK IO IS IT IU JA JV KA KG KI KJ KK KL KM KN KO KR KS KU KV KW KY LA LB LG LI LN LO LT LU LV MG MH MI MK ML MN
MR MS MT MY NA NB ND NE NG NL NN NO NR NV NY OC OJ OM OR OS PA PI PL PS PT QU RM RN RO RU RW SA SC SD SE SG SI
SK SL SM SN SO SQ SR SS ST SU SV SW TA TE TG TH TI TK TL TN TO TR TS TT TW TY UG UK UR UZ VE VI VO WA WO XH
YI YO ZA ZH ZU"""
ISO_639_1 = frozenset(_ISO_639_1.split())
PUID = re.compile(r"[a-zA-Z0-9_-]+")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_BATCH = 100  # statements per call to the multiple endpoint

TEXT_LIMITS = {
    "decision_visibility_other": 500,
    "decision_monetary_other": 500,
    "illegal_content_legal_ground": 500,
    "illegal_content_explanation": 2000,
    "incompatible_content_ground": 500,
    "incompatible_content_explanation": 2000,
    "content_type_other": 500,
    "decision_facts": 5000,
    "source_identity": 500,
    "puid": 500,
    "decision_ground_reference_url": 500,
}
FIELDS = frozenset(
    {
        "decision_visibility",
        "decision_monetary",
        "decision_provision",
        "decision_account",
        "account_type",
        "decision_ground",
        "incompatible_content_illegal",
        "content_type",
        "category",
        "territorial_scope",
        "content_language",
        "content_date",
        "application_date",
        "end_date_account_restriction",
        "end_date_monetary_restriction",
        "end_date_service_restriction",
        "end_date_visibility_restriction",
        "source_type",
        "automated_detection",
        "automated_decision",
        *TEXT_LIMITS,
    }
)
END_DATES = (
    "end_date_account_restriction",
    "end_date_monetary_restriction",
    "end_date_service_restriction",
    "end_date_visibility_restriction",
)


def validate_statement(statement: dict) -> dict[str, list[str]]:
    """Every rule the TDB applies, as `{field: [message, ...]}`; empty when the statement would be accepted."""
    errors: dict[str, list[str]] = {}

    def fail(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    def present(field: str) -> bool:
        value = statement.get(field)
        return value not in (None, "", [])

    for field in sorted(set(statement) - FIELDS):
        fail(field, "Not a statement of reasons field.")
    for field, limit in TEXT_LIMITS.items():
        value = statement.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            fail(field, "Must be a string.")
        elif len(value) > limit:
            fail(field, f"At most {limit} characters ({len(value)} given).")

    _check_restrictions(statement, present, fail)
    _check_ground(statement, present, fail)
    _check_content(statement, present, fail)
    _check_dates(statement, present, fail)

    _one_of(statement, "source_type", SOURCE_TYPES, fail, required=True)
    _one_of(statement, "automated_detection", YES_NO, fail, required=True)
    _one_of(statement, "automated_decision", AUTOMATED_DECISIONS, fail, required=True)
    if not present("decision_facts"):
        fail("decision_facts", "Required.")
    if statement.get("source_type") == VOLUNTARY and present("source_identity"):
        fail("source_identity", "Not given for SOURCE_VOLUNTARY (the TDB drops it).")
    puid = statement.get("puid")
    if not present("puid"):
        fail("puid", "Required.")
    elif isinstance(puid, str) and not PUID.fullmatch(puid):
        fail("puid", "Only letters a-z, A-Z, digits, '-' and '_'.")
    return errors


def _one_of(statement, field, allowed, fail, *, required=False) -> None:
    value = statement.get(field)
    if value is None or value == "":
        if required:
            fail(field, "Required.")
        return
    if value not in allowed:
        fail(field, f"{value!r} is not one of {', '.join(allowed)}.")


def _list_of(statement, field, allowed, fail) -> list:
    value = statement.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        fail(field, "Must be a list.")
        return []
    for item in value:
        if item not in allowed:
            fail(field, f"{item!r} is not one of the allowed values.")
    if len(set(map(str, value))) != len(value):
        fail(field, "Values must not repeat.")
    return value


def _other_text(statement, present, fail, field: str, needed: bool) -> None:
    if needed and not present(field):
        fail(field, "Required when the value is OTHER.")
    elif not needed and present(field):
        fail(field, "Only given when the value is OTHER.")


def _check_restrictions(statement, present, fail) -> None:
    if not any(present(f) for f in ("decision_visibility", "decision_monetary", "decision_provision",
                                    "decision_account")):  # fmt: skip
        fail("decision_visibility", "One of decision_visibility, decision_monetary, decision_provision or "
             "decision_account is required.")  # fmt: skip
    visibility = _list_of(statement, "decision_visibility", VISIBILITIES, fail)
    _other_text(
        statement, present, fail, "decision_visibility_other", "DECISION_VISIBILITY_OTHER" in visibility
    )
    _one_of(statement, "decision_monetary", MONETARIES, fail)
    _other_text(
        statement,
        present,
        fail,
        "decision_monetary_other",
        statement.get("decision_monetary") == "DECISION_MONETARY_OTHER",
    )
    _one_of(statement, "decision_provision", PROVISIONS, fail)
    _one_of(statement, "decision_account", ACCOUNTS, fail)
    _one_of(statement, "account_type", ACCOUNT_TYPES, fail)


def _check_ground(statement, present, fail) -> None:
    ground = statement.get("decision_ground")
    _one_of(statement, "decision_ground", GROUNDS, fail, required=True)
    illegal = ("illegal_content_legal_ground", "illegal_content_explanation")
    incompatible = ("incompatible_content_ground", "incompatible_content_explanation")
    for field in illegal:
        if ground == ILLEGAL and not present(field):
            fail(field, "Required when decision_ground is DECISION_GROUND_ILLEGAL_CONTENT.")
        elif ground != ILLEGAL and present(field):
            fail(field, "Only given when decision_ground is DECISION_GROUND_ILLEGAL_CONTENT.")
    for field in incompatible:
        if ground == INCOMPATIBLE and not present(field):
            fail(field, "Required when decision_ground is DECISION_GROUND_INCOMPATIBLE_CONTENT.")
        elif ground != INCOMPATIBLE and present(field):
            fail(field, "Only given when decision_ground is DECISION_GROUND_INCOMPATIBLE_CONTENT.")
    if ground != INCOMPATIBLE and present("incompatible_content_illegal"):
        fail("incompatible_content_illegal", "Only given when decision_ground is incompatible content.")
    _one_of(statement, "incompatible_content_illegal", YES_NO, fail)


def _check_content(statement, present, fail) -> None:
    if not present("content_type"):
        fail("content_type", "Required (a list of at least one content type).")
    types = _list_of(statement, "content_type", CONTENT_TYPES, fail)
    _other_text(statement, present, fail, "content_type_other", "CONTENT_TYPE_OTHER" in types)
    _one_of(statement, "category", CATEGORIES, fail, required=True)
    _list_of(statement, "territorial_scope", EEA_COUNTRIES, fail)
    _one_of(statement, "content_language", ISO_639_1, fail)


def _parse_date(value) -> date | None:
    if not isinstance(value, str) or not DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _check_dates(statement, present, fail) -> None:
    bounds = {"content_date": date(2000, 1, 1), "application_date": date(2020, 1, 1)}
    latest = date(2038, 1, 1)
    parsed = {}
    for field, earliest in bounds.items():
        if not present(field):
            fail(field, "Required.")
            continue
        day = _parse_date(statement[field])
        if day is None:
            fail(field, "Must be a date as YYYY-MM-DD.")
        elif not earliest <= day <= latest:
            fail(field, f"Must be between {earliest.isoformat()} and {latest.isoformat()}.")
        parsed[field] = day
    for field in END_DATES:
        if not present(field):
            continue
        day = _parse_date(statement[field])
        if day is None:
            fail(field, "Must be a date as YYYY-MM-DD.")
        elif day > latest:
            fail(field, f"Must be on or before {latest.isoformat()}.")
        elif parsed.get("application_date") and day < parsed["application_date"]:
            fail(field, "Must not be before application_date.")

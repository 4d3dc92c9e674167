"""Validation shared by admin-configured models (routing rules, scorers, context providers)."""

import re

from django.core.exceptions import ValidationError

LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$")
SUBJECT_KINDS = ("message", "post", "media", "profile", "account")


def validate_subject_kind_list(value) -> None:
    if not isinstance(value, list) or not all(isinstance(kind, str) for kind in value):
        raise ValidationError('Enter a JSON list such as ["message", "post"].')
    unknown = sorted(set(value) - set(SUBJECT_KINDS))
    if unknown:
        raise ValidationError(
            f"Unknown subject kind(s) {', '.join(unknown)}; use {', '.join(SUBJECT_KINDS)}."
        )


def validate_language_list(value) -> None:
    if not isinstance(value, list) or not all(isinstance(lang, str) for lang in value):
        raise ValidationError('Enter a JSON list such as ["en", "pt-BR"].')
    bad = [lang for lang in value if not LANGUAGE_RE.match(lang)]
    if bad:
        raise ValidationError(f"Not BCP 47 language tags: {', '.join(bad)}.")


def validate_outbound_settings(obj, *, url_field: str, required: bool) -> dict[str, list[str]]:
    """URL scheme and timeout checks for anything that makes outbound calls; returns field errors."""
    errors: dict[str, list[str]] = {}
    url = getattr(obj, url_field) or ""
    if required and not url:
        errors[url_field] = ["Required for HTTP sources."]
    elif url and not url.lower().startswith(("http://", "https://")):
        errors[url_field] = ["Use an http:// or https:// URL."]
    timeout = getattr(obj, "timeout_seconds", None)
    if timeout is not None and not 0.1 <= timeout <= 30:
        errors["timeout_seconds"] = ["Between 0.1 and 30 seconds."]
    return errors


def signal_source_errors(obj, *, url_field: str, required: bool) -> dict[str, list[str]]:
    """Field errors shared by scorers and context providers: outbound settings and subject kinds."""
    errors = validate_outbound_settings(obj, url_field=url_field, required=required)
    try:
        validate_subject_kind_list(obj.subject_kinds)
    except ValidationError as exc:
        errors["subject_kinds"] = exc.messages
    return errors

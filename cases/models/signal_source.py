"""Signal sources detection is configured with: scorers and context providers."""

from django.core.exceptions import ValidationError
from django.db import models

from moderation.validators import signal_source_errors


class Scorer(models.Model):
    """An ML scorer admins enable: the built-in text model or an HTTP moderation API."""

    class Kind(models.TextChoices):
        BUILTIN_TEXT = "builtin_text", "Built-in text model (offline)"
        HTTP = "http", "HTTP moderation API"
        TRAINED = "trained", "Models trained on our decisions (live per policy; shadow ones recorded apart)"

    class RequestFormat(models.TextChoices):
        SIMPLE = "simple", '{"text", "language", "kind", "subject_id"}'
        OPENAI = "openai", 'OpenAI-style {"input": text}'
        PERSPECTIVE = "perspective", 'Perspective-style {"comment": {"text"}, "languages"}'

    class ResponseFormat(models.TextChoices):
        LABEL_SCORES = "label_scores", '{"label": score, ...}'
        CATEGORY_LIST = "category_list", '[{"label"|"category"|"name": ..., "score"|"confidence": ...}]'
        OPENAI = "openai", "OpenAI moderation: results[0].category_scores"
        PERSPECTIVE = "perspective", "Perspective: attributeScores.X.summaryScore.value"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    is_enabled = models.BooleanField(default=True)
    # Restricted cases' content (child safety, say) goes only to sources a superuser has vetted for it.
    receives_restricted_content = models.BooleanField(
        default=False,
        help_text="Also send content of restricted cases (child safety...) here. Only superusers can set it.",
    )
    subject_kinds = models.JSONField(default=list, blank=True, help_text="Empty: every kind with text.")
    url = models.URLField(max_length=2048, blank=True)
    auth_header = models.CharField(max_length=100, blank=True, default="Authorization")
    auth_value = models.CharField(max_length=500, blank=True, help_text='e.g. "Bearer sk-…" (sent as is).')
    timeout_seconds = models.FloatField(default=3.0)
    request_format = models.CharField(
        max_length=16, choices=RequestFormat.choices, default=RequestFormat.SIMPLE
    )
    response_format = models.CharField(
        max_length=16, choices=ResponseFormat.choices, default=ResponseFormat.LABEL_SCORES
    )
    response_path = models.CharField(
        max_length=200,
        blank=True,
        help_text='Dotted path to the scores inside the response, e.g. "result.categories".',
    )
    label_prefix = models.CharField(
        max_length=40, blank=True, help_text='Prepended to labels, e.g. "vendorx."'
    )
    model_name = models.CharField(max_length=120, blank=True, help_text="Recorded on signals (HTTP scorers).")
    model_version = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = signal_source_errors(self, url_field="url", required=self.kind == self.Kind.HTTP)
        if errors:
            raise ValidationError(errors)


# What a context provider's URL template may contain (filled in, URL-encoded, by `cases.detection.sources`).
URL_PLACEHOLDERS = ("{author_id}", "{subject_id}", "{kind}")

# Context signals our own detectors write (source name -> labels): campaign grouping's `campaign.size` is
# `[context: campaigns]`. No context provider may take such a name or send such a label, or a remote
# endpoint's answer would pass for our detector's in routing (`[context: campaigns] campaign.size >= 10`).
BUILTIN_CONTEXT_SOURCES: dict[str, tuple[str, ...]] = {"campaigns": ("campaign.size",)}
BUILTIN_CONTEXT_LABELS = frozenset(label for labels in BUILTIN_CONTEXT_SOURCES.values() for label in labels)


class ContextProvider(models.Model):
    """An HTTP endpoint returning facts about a subject or its author (account age, prior strikes, hash hits)."""

    name = models.CharField(max_length=120, unique=True)
    is_enabled = models.BooleanField(default=True)
    # Restricted cases' content (child safety, say) goes only to sources a superuser has vetted for it.
    receives_restricted_content = models.BooleanField(
        default=False,
        help_text="Also send content of restricted cases (child safety...) here. Only superusers can set it.",
    )
    subject_kinds = models.JSONField(default=list, blank=True, help_text="Empty: every kind.")
    url_template = models.CharField(
        max_length=2048,
        help_text="GET URL; {author_id}, {subject_id}, {kind} are filled in (URL-encoded), e.g. "
        "https://platform.example/internal/users/{author_id}/facts",
    )
    auth_header = models.CharField(max_length=100, blank=True, default="Authorization")
    auth_value = models.CharField(max_length=500, blank=True)
    timeout_seconds = models.FloatField(default=3.0)
    label_prefix = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        import re

        errors = signal_source_errors(self, url_field="url_template", required=True)
        unknown = set(re.findall(r"\{[^}]*\}", self.url_template or "")) - set(URL_PLACEHOLDERS)
        authority = (self.url_template or "").split("://", 1)[-1].split("/", 1)[0]
        if (self.name or "").strip().lower() in BUILTIN_CONTEXT_SOURCES:
            errors["name"] = [f"{self.name!r} is the name of a built-in detector's signals; choose another."]
        if "{" in authority:
            errors["url_template"] = ["Placeholders may only appear in the path or query, never in the host."]
        elif unknown:
            errors["url_template"] = [
                f"Unknown placeholder(s) {', '.join(sorted(unknown))}; use {', '.join(URL_PLACEHOLDERS)}."
            ]
        if errors:
            raise ValidationError(errors)

"""Spot test (leads and admins): paste a text or name a case, see every signal and which rules fire.

Nothing is written: the pasted text is scored by the local detectors only (`cases.detection.spot`, never a
remote vendor), every routing rule — whatever its state — is evaluated with the same matcher routing uses,
and for an existing case its stored signals are shown (a case the user may not see answers as a missing one).
"""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from cases.detection.spot import MAX_SPOT_TEXT, spot_signals
from cases.models import Signal, Subject
from cases.track_record import active_strike_count
from moderation.models import Policy
from moderation.validators import validate_language_list
from queues.matching import rule_matches
from queues.models import RoutingRule, ScoreCondition
from queues.selectors import CaseFacts, case_facts, visible_cases


class SpotTestForm(forms.Form):
    text = forms.CharField(
        required=False, max_length=MAX_SPOT_TEXT, widget=forms.Textarea(attrs={"rows": 5}), label=_("Text")
    )
    kind = forms.ChoiceField(choices=Subject.Kind.choices, initial=Subject.Kind.MESSAGE, label=_("Kind"))
    language = forms.CharField(required=False, max_length=16, initial="en", label=_("Language"))
    author_id = forms.CharField(required=False, max_length=255, label=_("Author id (for strikes)"))
    policy = forms.ModelChoiceField(
        queryset=Policy.objects.filter(is_active=True), required=False, label=_("Policy")
    )
    case_id = forms.IntegerField(required=False, min_value=1, label=_("…or a case id"))

    def clean_language(self):
        language = self.cleaned_data["language"].strip().lower()
        if language:
            validate_language_list([language])
        return language

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("text", "").strip() and not cleaned.get("case_id") and not self.errors:
            raise forms.ValidationError(_("Paste a text or enter a case id."))
        return cleaned


def may_spot_test(user) -> bool:
    """Leads and admins (who read cases in the admin); agents work their queues instead."""
    return user.is_superuser or user.has_perm("cases.view_case")


@login_required
@require_http_methods(["GET", "POST"])
def spot_test(request: HttpRequest) -> HttpResponse:
    if not may_spot_test(request.user):
        raise PermissionDenied("Spot tests are for leads and admins.")
    form = SpotTestForm(request.POST or None)
    context: dict = {"form": form, "signals": None, "from_text": False, "rules": None, "missing": False}
    status = 200
    if request.method == "POST":
        if form.is_valid():
            context |= _spot(request.user, form.cleaned_data)
            status = 404 if context.get("missing") else 200
        else:
            status = 400
    return render(request, "cases/spot_test.html", context, status=status)


def _spot(user, data: dict) -> dict:
    if data.get("case_id"):
        case = visible_cases(user).select_related("subject", "policy").filter(pk=data["case_id"]).first()
        if case is None:
            return {"missing": True}
        facts = case_facts(case)
        stored = list(Signal.objects.filter(case=case).order_by("source", "label", "id"))
        return {"case": case, "signals": stored, "facts": facts, "rules": _rules(facts)}
    drafts = spot_signals(text=data["text"], kind=data["kind"], language=data["language"])
    facts = _facts_from_drafts(drafts, data)
    return {"signals": drafts, "from_text": True, "facts": facts, "rules": _rules(facts)}


def _facts_from_drafts(drafts, data: dict) -> CaseFacts:
    signals: dict[tuple[str, str], dict[str, float]] = {}
    max_score = None
    for draft in drafts:
        if draft.score is None:
            continue
        by_name = signals.setdefault((draft.source, draft.label), {})
        by_name[draft.source_name] = max(by_name.get(draft.source_name, draft.score), draft.score)
        if draft.source != Signal.Source.BANK:  # as in routing: a bank hit is evidence, not a model score
            max_score = draft.score if max_score is None else max(max_score, draft.score)
    strikes = active_strike_count(data.get("author_id") or "")
    signals[(ScoreCondition.Source.SYSTEM, "author.active_strikes")] = {"": float(strikes)}
    policy = data.get("policy")
    return CaseFacts(
        policy_ids={policy.pk} if policy else set(),
        vendor_ids=set(),
        subject_kind=data["kind"],
        language=data.get("language") or "",
        severity=policy.severity if policy else 1,
        distinct_reporters=0,
        vendor_reliability=0.0,
        signals=signals,
        max_score=max_score,
    )


def _rules(facts: CaseFacts) -> list[tuple[RoutingRule, bool]]:
    rules = (
        RoutingRule.objects.select_related("target_queue", "auto_action")
        .prefetch_related("policies", "vendors", "score_conditions")
        .order_by("position", "id")
    )
    return [(rule, rule_matches(rule, facts)) for rule in rules]

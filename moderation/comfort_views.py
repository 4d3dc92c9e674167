"""My settings: a person's media, theme, time-zone and exposure settings, with today's exposure; leads also
see their team's exposure, aggregated (never one person's figure)."""

import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods, require_POST

from moderation.comfort import (
    PERSONAL,
    my_exposure,
    org_defaults,
    remember_comfort,
    save_user_settings,
    session_comfort,
)
from moderation.comfort_models import BUDGET_LIMIT, Blur, Theme, UserSettings
from queues.comfort_selectors import is_lead, team_exposure

DEFAULT = ""
YES_NO = {"on": True, "off": False}


def _default_label(value) -> str:
    if isinstance(value, bool):
        value = _("on") if value else _("off")
    return _("Organisation default (%(value)s)") % {"value": value}


def _on_off(value) -> bool | None:
    return YES_NO.get(value)


class SettingsForm(forms.Form):
    """Every field may be left at the organisation's default (empty), so a later change of it applies."""

    blur = forms.ChoiceField(label=_lazy("Blur strength"), required=False)
    greyscale = forms.TypedChoiceField(
        label=_lazy("Greyscale media"), required=False, coerce=_on_off, empty_value=None
    )
    auto_reveal = forms.TypedChoiceField(
        label=_lazy("Reveal media automatically when a case opens"),
        required=False,
        coerce=_on_off,
        empty_value=None,
    )
    mute_video = forms.TypedChoiceField(
        label=_lazy("Mute video"), required=False, coerce=_on_off, empty_value=None
    )
    enlarge_on_reveal = forms.TypedChoiceField(
        label=_lazy("Enlarge media on reveal"), required=False, coerce=_on_off, empty_value=None
    )
    exposure_budget_minutes = forms.IntegerField(
        label=_lazy("Exposure budget (minutes of revealed media a day; 0: none)"),
        required=False,
        min_value=0,
        validators=[BUDGET_LIMIT],
    )
    theme = forms.ChoiceField(label=_lazy("Theme"), required=False)
    time_zone = forms.ChoiceField(label=_lazy("Time zone"), required=False)
    language = forms.ChoiceField(label=_lazy("Language"), required=False)

    def __init__(self, *args, defaults, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["blur"].choices = [(DEFAULT, _default_label(defaults.get_blur_display())), *Blur.choices]
        self.fields["theme"].choices = [
            (DEFAULT, _default_label(defaults.get_theme_display())),
            *Theme.choices,
        ]
        for name in ("greyscale", "auto_reveal", "mute_video", "enlarge_on_reveal"):
            self.fields[name].choices = [
                (DEFAULT, _default_label(getattr(defaults, name))),
                ("on", _("On")),
                ("off", _("Off")),
            ]
        budget = self.fields["exposure_budget_minutes"]
        budget.help_text = _("Empty: the organisation's default (%(minutes)s minutes).") % {
            "minutes": defaults.exposure_budget_minutes
        }
        zones = sorted(zoneinfo.available_timezones())
        self.fields["time_zone"].choices = [
            (DEFAULT, _("The site's time zone")),
            *((zone, zone) for zone in zones),
        ]
        # Each language in its own name, so a person who cannot read the current one still finds theirs.
        self.fields["language"].choices = [(DEFAULT, _("The browser's language")), *settings.LANGUAGES]


def _initial(own: UserSettings | None) -> dict:
    if own is None:
        return {}
    initial = {name: getattr(own, name) for name in PERSONAL}
    for name, value in initial.items():
        if isinstance(value, bool):
            initial[name] = "on" if value else "off"
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def my_settings(request):
    defaults = org_defaults()
    own = UserSettings.objects.filter(user=request.user).first()
    form = SettingsForm(request.POST or None, defaults=defaults, initial=_initial(own))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            save_user_settings(user=request.user, values=form.cleaned_data)
            comfort = remember_comfort(request, request.user)
            # Said in the language just chosen: the next page is the first in it.
            translation.activate(comfort.language or translation.get_language_from_request(request))
            messages.success(request, _("Settings saved."))
            return redirect("my-settings")
        status = 422
    # A visit refreshes the settings in the session, so a change of the defaults applies from here on.
    comfort = remember_comfort(request, request.user) if request.method == "GET" else session_comfort(request)
    context = {
        "form": form,
        "exposure": my_exposure(request.user, comfort),
        "exposure_window_minutes": max(settings.EXPOSURE_PER_REVEAL_SECONDS // 60, 1),
        "team": team_exposure(request.user, comfort, budget_minutes=defaults.exposure_budget_minutes)
        if is_lead(request.user)
        else None,
    }
    return render(request, "moderation/my_settings.html", context, status=status)


NEXT_THEME = {Theme.SYSTEM: Theme.DARK, Theme.DARK: Theme.LIGHT, Theme.LIGHT: Theme.SYSTEM}


@login_required
@require_POST
def switch_theme(request):
    """The header's theme button: system → dark → light → system, stored as the person's setting."""
    current = session_comfort(request).theme
    save_user_settings(user=request.user, values={"theme": NEXT_THEME.get(current, Theme.SYSTEM)})
    remember_comfort(request, request.user)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("queues:dashboard")
    return redirect(back)

"""Pages in English or German: every template string is in a translation tag, the German catalogue is complete
and compiled, the language follows the person's choice, the switcher's cookie or Accept-Language (the API stays
English), and dates and numbers are written the language's way with their time zone."""

import gettext
import re
import zoneinfo
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from moderation.audit import Verb
from moderation.charts import Chart, Series
from moderation.comfort_models import UserSettings
from moderation.models import AuditEvent
from moderation.periods import parse_period
from moderation.templatetags.readable import stamp
from tests import factories
from tests.moderation.i18n_checker import untranslated_text
from tests.moderation.po_reader import read_po

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# The template folders held to "no English outside translation tags" (all of them; a folder can be let off
# here while a change marks it).
NOT_YET_CHECKED: set[str] = set()
CHECKED_DIRS = sorted(
    {path.relative_to(TEMPLATES).parts[0] for path in TEMPLATES.rglob("*.html") if path.parent != TEMPLATES}
    - NOT_YET_CHECKED
)
CATALOGUES = [
    Path(settings.BASE_DIR) / "moderation" / "locale" / "de" / "LC_MESSAGES" / "django.po",
    Path(settings.BASE_DIR) / "queues" / "locale" / "de" / "LC_MESSAGES" / "django.po",
    Path(settings.BASE_DIR) / "cases" / "locale" / "de" / "LC_MESSAGES" / "django.po",
]
PLACEHOLDER = re.compile(r"%\(\w+\)[sdr]|\{\{\s*\w+\s*\}\}|<[^>]+>")
GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.5"}


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """LocaleMiddleware leaves the last request's language active in the thread: a German page must not make
    the next test's code (a filter called directly, a page rendered without a request) German."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def checked_templates() -> list[Path]:
    top = [path for path in TEMPLATES.glob("*.html")]
    nested = [path for folder in CHECKED_DIRS for path in (TEMPLATES / folder).rglob("*.html")]
    return sorted(top + nested)


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


# --- Templates -----------------------------------------------------------------------------------------------


def test_the_checker_finds_english_left_outside_translation_tags():
    source = """{% load i18n %}{# a comment in English #}
    <h1>Queue health</h1><p title="Hover text">{% translate "Marked" %}</p>
    <input type="submit" value="Send"><kbd>n</kbd> {{ queue.name }} {% if x %}{% endif %}
    {% blocktranslate with n=count %}{{ n }} cases{% endblocktranslate %}"""

    assert untranslated_text(source) == ["Queue health", "p[title]: Hover text", "input[value]: Send"]


def test_no_template_shows_english_outside_translation_tags():
    assert {"cases", "queues", "registration", "oversight"} <= set(CHECKED_DIRS)
    found = {
        str(path.relative_to(TEMPLATES)): text
        for path in checked_templates()
        if (text := untranslated_text(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_every_translated_literal_of_the_templates_is_in_the_catalogue():
    """A string added to a template without `makemessages` would show in English on a German page."""
    known = {(entry.msgctxt, entry.msgid) for path in CATALOGUES for entry in read_po(path)}
    literal = re.compile(r'\{%\s*translate\s+"([^"]+)"(?:\s+context\s+"([^"]+)")?')
    missing = [
        (str(path.relative_to(TEMPLATES)), text)
        for path in checked_templates()
        for text, context in literal.findall(path.read_text(encoding="utf-8"))
        if (context or None, text) not in known
    ]
    assert missing == []


# --- The German catalogue ------------------------------------------------------------------------------------


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda path: str(path.parent.parent.parent.parent.name))
def test_the_german_catalogue_is_complete_and_keeps_every_placeholder(po):
    entries = [entry for entry in read_po(po) if entry.msgid and not entry.obsolete]

    assert len(entries) > 50
    assert [entry.msgid for entry in entries if "fuzzy" in entry.flags] == []
    assert [entry.msgid for entry in entries if not all(entry.msgstr.values()) or not entry.msgstr] == []
    for entry in entries:
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        wanted = sorted(PLACEHOLDER.findall(sources[-1]))
        for translated in entry.msgstr.values():
            assert sorted(PLACEHOLDER.findall(translated)) == wanted, entry.msgid


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda path: str(path.parent.parent.parent.parent.name))
def test_the_committed_mo_is_compiled_from_the_po(po):
    """What Django loads is the .mo: it must say exactly what the .po says (`compilemessages` after editing)."""
    with po.with_suffix(".mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)

    for entry in read_po(po):
        if not entry.msgid or entry.obsolete:
            continue
        if entry.msgid_plural is None:
            assert catalogue._catalog.get(entry.key) == entry.msgstr[0], entry.msgid
        else:
            for index, translated in entry.msgstr.items():
                assert catalogue._catalog.get((entry.key, index)) == translated, entry.msgid


# --- Which language a page is in -----------------------------------------------------------------------------


def test_english_stays_the_default(agent_client):
    response = agent_client.get(reverse("queues:dashboard"))

    assert html_lang(response) == "en" and "Your queues" in response.content.decode()
    assert "Accept-Language" in response["Vary"]


def test_accept_language_de_gives_german_pages(agent_client, review_setup):
    pages = {
        reverse("queues:dashboard"): ["Ihre Warteschlangen", "Prüfung beginnen"],
        reverse("queues:queue", args=[review_setup.queue.slug]): ["Keine passenden Fälle.", "Filtern"],
        reverse("my-settings"): ["Meine Einstellungen", "Einstellungen speichern", "Sprache"],
    }
    for url, german in pages.items():
        response = agent_client.get(url, **GERMAN)
        html = response.content.decode()
        assert response.status_code == 200 and html_lang(response) == "de", url
        assert all(text in html for text in german), url
        assert "Warteschlangen</a>" in html and "Abmelden" in html  # the header too


def test_the_login_and_not_found_pages_are_german_for_a_german_browser(agent_client):
    login = Client().get(reverse("login"), **GERMAN)
    missing = agent_client.get("/cases/987654321/", **GERMAN)

    assert html_lang(login) == "de" and "Benutzername" in login.content.decode()
    assert missing.status_code == 404 and html_lang(missing) == "de"
    assert "<title>Nicht gefunden" in missing.content.decode()


def test_the_switcher_sets_the_language_for_a_signed_out_browser(client):
    response = client.post(reverse("set-language"), {"language": "de", "next": "/accounts/login/"})

    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert html_lang(client.get(reverse("login"))) == "de"
    assert "Anmelden" in client.get(reverse("login")).content.decode()


def test_the_switcher_saves_a_signed_in_persons_choice_which_beats_their_browser(agent_client, review_setup):
    agent_client.post(reverse("set-language"), {"language": "de", "next": reverse("queues:dashboard")})
    agent_client.cookies.pop(settings.LANGUAGE_COOKIE_NAME)  # another browser of theirs: no cookie

    assert UserSettings.objects.get(user=review_setup.agent).language == "de"
    assert AuditEvent.objects.get(verb=Verb.SETTINGS_CHANGED).data["language"] == "de"
    english_browser = agent_client.get(reverse("queues:dashboard"), HTTP_ACCEPT_LANGUAGE="en")
    assert html_lang(english_browser) == "de"


def test_switching_to_the_language_already_saved_writes_no_audit_row(agent_client, review_setup):
    for _ in range(5):
        agent_client.post(reverse("set-language"), {"language": "de", "next": "/"})
    agent_client.post(reverse("set-language"), {"language": "en", "next": "/"})

    changes = AuditEvent.objects.filter(verb=Verb.SETTINGS_CHANGED).order_by("id")
    assert [event.data["language"] for event in changes] == ["de", "en"]


@pytest.mark.parametrize(
    "next_url",
    ["//evil.example/", "/\\evil.example", "https:evil.example", "http://testserver@evil.example/"],
)
def test_the_switcher_never_sends_anyone_off_site(agent_client, next_url):
    response = agent_client.post(reverse("set-language"), {"language": "de", "next": next_url})

    assert response.status_code == 302 and response["Location"] == "/"


def test_the_switcher_keeps_line_breaks_out_of_the_location_header(agent_client):
    response = agent_client.post(reverse("set-language"), {"language": "de", "next": "/\r\nSet-Cookie: a=b"})

    assert "\n" not in response["Location"] and "a" not in response.cookies


def test_the_switcher_needs_the_csrf_token(review_setup):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(review_setup.agent)

    response = browser.post(reverse("set-language"), {"language": "de", "next": "/"})

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(verb=Verb.SETTINGS_CHANGED).exists()


def test_the_switcher_refuses_a_language_it_does_not_have_and_an_outside_next(agent_client, review_setup):
    response = agent_client.post(reverse("set-language"), {"language": "xx", "next": "https://evil.example/"})

    assert response.status_code == 302 and "evil.example" not in response["Location"]
    assert not UserSettings.objects.filter(user=review_setup.agent).exclude(language="").exists()
    assert html_lang(agent_client.get(reverse("queues:dashboard"))) == "en"


def test_the_header_switcher_posts_with_csrf(agent_client):
    html = agent_client.get(reverse("queues:dashboard")).content.decode()
    form = re.search(r'<form class="language-switch" method="post" action="([^"]+)">(.*?)</form>', html, re.S)

    assert form and form.group(1) == reverse("set-language")
    assert 'name="csrfmiddlewaretoken"' in form.group(2)
    assert 'name="language" value="de" lang="de"' in form.group(2) and ">Deutsch</button>" in form.group(2)


def test_a_language_chosen_in_my_settings_applies_to_the_next_page(agent_client, review_setup):
    response = agent_client.post(reverse("my-settings"), {"language": "de"})

    assert response.status_code == 302
    page = agent_client.get(reverse("my-settings"))
    assert html_lang(page) == "de" and "Einstellungen gespeichert." in page.content.decode()


def test_the_api_answers_in_english_whatever_the_client_asks(api):
    german = api.post("/api/v1/reports", {"subject": {}}, format="json", **GERMAN)
    english = api.post("/api/v1/reports", {"subject": {}}, format="json")

    assert german.status_code == 400 and german.json() == english.json()
    assert "This field is required." in str(german.json()["fields"])


# --- Dates, numbers and errors the German way ----------------------------------------------------------------


def test_timestamps_follow_the_language_and_keep_their_time_zone():
    moment = datetime(2026, 12, 2, 9, 5, 7, tzinfo=UTC)
    with timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        with translation.override("en"):
            english = stamp(moment, "seconds")
        with translation.override("de"):
            german, german_minutes = stamp(moment, "seconds"), stamp(moment)

    assert english == "2026-12-02 10:05:07 CET"
    assert (german, german_minutes) == ("02.12.2026 10:05:07 CET", "02.12.2026 10:05 CET")


def test_the_audit_log_shows_german_dates_with_the_zone(client, db):
    lead = factories.UserFactory(username="lena")
    lead.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client.force_login(lead)
    client.post(reverse("my-settings"), {"time_zone": "Europe/Berlin", "language": "de"})

    html = client.get(reverse("audit-log")).content.decode()
    when = timezone.localtime(AuditEvent.objects.latest("id").at, zoneinfo.ZoneInfo("Europe/Berlin"))
    assert f"{when:%d.%m.%Y %H:%M:%S} {when.tzname()}</time>" in html
    assert '<th scope="col">Wann</th>' in html


def test_chart_numbers_and_month_labels_follow_the_language():
    chart = Chart("t", "Backlog", ["x"], [Series("General", [1234.0, 2.0])], kind="bar")
    period = parse_period({"period": "custom", "from": "2026-12-01", "to": "2026-12-03"})
    with translation.override("de"):
        german_summary, german_day = chart.summary, period.label(period.buckets()[0])
    assert "General insgesamt 1.236, Höchstwert 1.234" in german_summary
    assert german_day == "01 Dez"
    with translation.override("en"):
        assert "General total 1,236, highest 1,234" in chart.summary
        assert period.label(period.buckets()[0]) == "01 Dec"


def test_a_bad_period_is_explained_in_german(client, review_setup):
    lead = factories.UserFactory(username="lena")
    for codename, app in (("view_case", "cases"), ("view_all_queues", "queues")):
        lead.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label=app))
    client.force_login(lead)

    response = client.get(reverse("queues:oversight-health"), {"period": "fortnight"}, **GERMAN)

    assert response.status_code == 422
    assert "„period“ muss today, 7d, 30d oder custom sein." in response.content.decode()

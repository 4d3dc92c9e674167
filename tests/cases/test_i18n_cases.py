"""The cases side in German (issue 17): the case page, its decision and appeal forms, the pages around it
(search, timeline, content version) and the toasts and filters the case views produce, rendered from the
German catalogue of the `cases` app; and the catalogue itself (complete, nothing fuzzy, placeholders kept,
the committed .mo compiled from the committed .po).

Each request is made inside `translation.override("de")` and also says `Accept-Language: de`, so it is German
whether or not a locale middleware picks the language per request. English stays the default: the other
test files assert the English strings of the same pages.
"""

import ast
import gettext
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from cases.models import Appeal, Case, Decision
from cases.services import review
from cases.services.appeals import appeals_queue, file_appeal
from cases.templatetags.case_display import age, due_in
from tests import factories
from tests.cases.find_world import version as content_version

pytestmark = pytest.mark.django_db

LOCALE = Path(__file__).resolve().parents[2] / "cases" / "locale" / "de" / "LC_MESSAGES"
DE = {"HTTP_ACCEPT_LANGUAGE": "de"}
HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "case-main"}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def german(client, url: str, **extra):
    with translation.override("de"):
        return client.get(url, **DE, **extra)


def german_post(client, url: str, data: dict, **extra):
    with translation.override("de"):
        return client.post(url, data, **DE, **extra)


@pytest.fixture
def case(review_setup):
    """An open harassment case in `general`: two reports from two reporters, one ML signal."""
    case = factories.OpenCaseFactory(
        queue=review_setup.queue,
        policy=review_setup.policies["harassment"],
        subject__author_id="author-de",
        report_count=2,
        reporter_count=2,
    )
    factories.ReportFactory(case=case, reporter_id="rep-1")
    factories.ReportFactory(case=case, reporter_id="rep-2")
    factories.SignalFactory(case=case, label="toxicity", score=0.91)
    return case


def decide(case, user, review_setup, *, action="remove", reason="Beleidigung.") -> Decision:
    factories.hold(case, user)
    return review.record_decision(
        case_id=case.pk,
        user=user,
        policy_id=case.policy_id,
        action_id=review_setup.actions[action].pk,
        reason=reason,
        expected_version=None,
    )


# --- the case page -------------------------------------------------------------------------------------


def test_the_case_page_speaks_german_with_plural_counts(agent_client, case):
    response = german(agent_client, reverse("cases:review", args=[case.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert f"<h1>Fall {case.pk} " in html
    assert '<span class="status status-open">Offen</span>' in html  # the choice label, translated
    assert "2 Meldungen von 2 Melder*innen" in html
    assert "Diesen Fall übernehmen" in html
    assert ">Signale</h2>" in html
    assert "Verlauf der Autor*in" in html
    assert "Keine aktiven Verwarnungen." in html
    assert '0 frühere Maßnahmen gegen <a class="author-link" href="/cases/authors/?id=author-de">' in html
    assert "Claim this case" not in html and "Author's history" not in html


def test_the_case_page_stays_english_without_a_language(agent_client, case):
    html = agent_client.get(reverse("cases:review", args=[case.pk])).content.decode()

    assert "2 reports from 2 reporters" in html
    assert "Claim this case" in html
    assert "Diesen Fall übernehmen" not in html


def test_one_report_from_one_reporter_uses_the_singular(agent_client, case):
    Case.objects.filter(pk=case.pk).update(report_count=1, reporter_count=1)

    html = german(agent_client, reverse("cases:review", args=[case.pk])).content.decode()

    assert "1 Meldung von 1 Melder*in" in html


def test_the_decision_form_of_a_held_case_is_german(agent_client, case, review_setup):
    factories.hold(case, review_setup.agent)

    html = german(agent_client, reverse("cases:review", args=[case.pk])).content.decode()

    assert '<h2 id="decide-title">Entscheidung</h2>' in html
    assert "<legend>Maßnahme</legend>" in html
    assert "Begründung für die Nutzer*in und die Melder*in" in html
    assert "Interne Notizen (nur für das Team)" in html
    assert "Entscheiden und weiter <kbd>Enter</kbd>" in html
    assert "Harassment (Schweregrad " in html
    assert "Überspringen <kbd>s</kbd>" in html
    assert "Decide and next" not in html


def test_a_decided_case_lists_its_decision_in_german(agent_client, case, review_setup):
    decide(case, review_setup.agent, review_setup)

    html = german(agent_client, reverse("cases:review", args=[case.pk])).content.decode()

    assert "Entscheidungen zu diesem Fall" in html
    assert "<strong>Remove</strong> nach Harassment" in html
    assert "von alice" in html
    assert '<span class="status status-resolved">Erledigt</span>' in html
    assert "Dieser Fall ist erledigt" in html


def test_a_decision_from_the_page_answers_with_a_german_toast(agent_client, case, review_setup):
    factories.hold(case, review_setup.agent)
    fresh = Case.objects.get(pk=case.pk)

    response = german_post(
        agent_client,
        reverse("cases:decide", args=[case.pk]),
        {
            "version": fresh.version,
            "policy": case.policy_id,
            "action": review_setup.actions["remove"].pk,
            "subject_version": 1,
            "then": "stay",
        },
        **HX,
    )

    assert response.status_code == 200
    toast = json.loads(response["HX-Trigger"])["toast"]
    assert toast["message"] == f"Fall {case.pk}: Remove (Harassment)."


def test_claiming_from_the_page_answers_with_a_german_toast(agent_client, case):
    response = german_post(agent_client, reverse("cases:claim", args=[case.pk]), {}, **HX)

    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == f"Fall {case.pk} gehört vorerst Ihnen."


# --- the appeal page -----------------------------------------------------------------------------------


@pytest.fixture
def appeal(review_setup, vendor, case) -> Appeal:
    factories.ReportFactory(case=case, vendor=vendor, policy=case.policy)
    decision = decide(case, review_setup.agent, review_setup)
    filed = file_appeal(
        vendor=vendor,
        external_id="ap-de",
        decision_id=decision.pk,
        statement="Ich habe nur zitiert.",
        appellant_id="author-de",
    )
    appeals_queue().members.add(review_setup.agent)
    review_setup.agent.__dict__.pop("_queue_access", None)
    return Appeal.objects.get(pk=filed.appeal.pk)


def test_the_appeal_page_shows_the_decision_the_statement_and_the_outcome_form_in_german(
    agent_client, appeal
):
    html = german(agent_client, reverse("cases:review", args=[appeal.appeal_case_id])).content.decode()

    assert '<h2 id="appeal-title">Einspruch <span class="status status-open">Offen</span></h2>' in html
    assert "<h3>Die Entscheidung</h3>" in html
    assert "<h3>Die Stellungnahme der Nutzer*in</h3>" in html
    assert "Einspruchsführer*in <code>author-de</code>" in html
    assert "<strong>Remove</strong> nach Harassment, von alice" in html
    assert '<h2 id="decide-title">Ergebnis des Einspruchs</h2>' in html
    assert "Bestätigen (die Entscheidung bleibt bestehen)" in html
    assert "Aufheben (Maßnahme rückgängig machen, Verwarnung entfernen)" in html
    assert "Einspruch entscheiden und weiter" in html
    assert "Ich habe nur zitiert." in html


# --- the pages around the case -------------------------------------------------------------------------


def test_search_timeline_and_version_pages_are_german(agent_client, case):
    subject = case.subject
    content_version(subject, 1, "erste Fassung")

    search = german(agent_client, reverse("cases:search") + "?q=nichts-passt-hierzu").content.decode()
    timeline = german(agent_client, reverse("cases:subject", args=[subject.pk])).content.decode()
    version = german(agent_client, reverse("cases:subject-version", args=[subject.pk, 1])).content.decode()

    assert "<h1>Suchen</h1>" in search
    assert "Nichts, was Sie sehen dürfen, passt zu <q>nichts-passt-hierzu</q>." in search
    assert "Zeitleiste" in timeline and "neueste zuerst" in timeline
    assert f"Fall #{case.pk}</a> eröffnet" in timeline
    assert "<h1>Inhaltsversion 1</h1>" in version
    assert "Erfasst" in version


def test_case_timing_filters_are_german():
    now = timezone.now()

    with translation.override("de"):
        assert age(now - timedelta(days=2, hours=1)) == "2T"
        assert age(now - timedelta(minutes=12)) == "12min"
        assert due_in(now + timedelta(hours=3, minutes=5)) == "in 3h"
        assert due_in(now - timedelta(hours=2, minutes=5)) == "2h überfällig"
        assert due_in(None) == "keine SLA"
    assert due_in(now - timedelta(hours=2, minutes=5)) == "2h late"


# --- user content inside translated sentences stays escaped ----------------------------------------------


def test_user_content_inside_a_translated_sentence_stays_escaped(agent_client, case, review_setup):
    hostile = factories.UserFactory(username="<b>eve</b>")
    review_setup.queue.members.add(hostile)
    factories.hold(case, hostile)
    query = "<script>alert(1)</script>"

    page = german(agent_client, reverse("cases:review", args=[case.pk])).content.decode()
    search = german(agent_client, reverse("cases:search"), data={"q": query}).content.decode()

    assert "&lt;b&gt;eve&lt;/b&gt; prüft diesen Fall" in page
    assert "<b>eve</b>" not in page
    assert "passt zu <q>&lt;script&gt;alert(1)&lt;/script&gt;</q>" in search
    assert "<script>alert(1)</script>" not in search


# --- the catalogue -------------------------------------------------------------------------------------


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr / msgstr[n] (joined), flags."""
    entries, entry, key = [], None, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry:
                entries.append(entry)
            entry, key = None, None
            continue
        entry = entry if entry is not None else {"flags": set(), "msgstr": {}}
        if line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            text = ast.literal_eval(line)
            if isinstance(key, int):
                entry["msgstr"][key] += text
            else:
                entry[key] += text
        else:
            word, _, rest = line.partition(" ")
            index = re.fullmatch(r"msgstr\[(\d)\]", word)
            if index:
                key = int(index.group(1))
                entry["msgstr"][key] = ast.literal_eval(rest)
            elif word == "msgstr":
                key = 0
                entry["msgstr"][0] = ast.literal_eval(rest)
            else:
                key = word
                entry[key] = ast.literal_eval(rest)
    return [e for e in entries if e.get("msgid")]  # the header has an empty msgid


@pytest.mark.parametrize("name", ["django.po"])
def test_the_german_catalogue_is_complete_and_nothing_is_fuzzy(name):
    entries = po_entries(LOCALE / name)

    assert len(entries) > 50
    assert [e["msgid"] for e in entries if "fuzzy" in e["flags"]] == []
    assert [e["msgid"] for e in entries if not all(e["msgstr"].values())] == []
    assert "fuzzy" not in (LOCALE / name).read_text(encoding="utf-8").split("\n\n")[0]  # the header


@pytest.mark.parametrize("name", ["django.po"])
def test_every_translation_keeps_the_placeholders_of_its_source(name):
    wrong = []
    for entry in po_entries(LOCALE / name):
        for index, text in entry["msgstr"].items():
            source = entry["msgid_plural"] if index and "msgid_plural" in entry else entry["msgid"]
            if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(source)):
                wrong.append((entry["msgid"], text))

    assert wrong == []


def test_the_committed_mo_is_compiled_from_the_committed_po():
    with open(LOCALE / "django.mo", "rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)

    stale = []
    for entry in po_entries(LOCALE / "django.po"):
        context = entry.get("msgctxt")
        if "msgid_plural" in entry:
            got = catalogue.ngettext(entry["msgid"], entry["msgid_plural"], 1)
            if context:
                got = catalogue.npgettext(context, entry["msgid"], entry["msgid_plural"], 1)
        else:
            got = (
                catalogue.pgettext(context, entry["msgid"]) if context else catalogue.gettext(entry["msgid"])
            )
        if got != entry["msgstr"][0]:
            stale.append(entry["msgid"])

    assert stale == []

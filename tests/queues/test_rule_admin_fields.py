"""The routing-rule admin form: subject kinds and languages are ordinary fields (ticked, typed), never JSON,
and every field the form shows has a label."""

import re

import pytest

from queues.models import RoutingRule

pytestmark = pytest.mark.django_db

ADD = "/admin/queues/routingrule/add/"


def rule_data(queues, **fields) -> dict:
    return {
        "name": "German harassment",
        "position": 1,
        "state": "draft",
        "target_queue": queues["harassment"].pk,
        "priority_boost": 0,
        "automation_mode": "off",
        "score_conditions-TOTAL_FORMS": 0,
        "score_conditions-INITIAL_FORMS": 0,
        **fields,
    }


def test_subject_kinds_are_checkboxes_and_languages_a_text_field_not_json(admin_client, queues):
    page = admin_client.get(ADD).content.decode()

    for kind in ("message", "post", "media", "profile", "account"):
        assert re.search(rf'<input type="checkbox" name="subject_kinds" value="{kind}"', page), kind
    assert re.search(r'<input type="text" name="languages"', page)
    assert not re.search(r'<textarea name="(subject_kinds|languages)"', page)


def test_ticked_kinds_and_typed_languages_are_saved_as_lists(admin_client, queues):
    response = admin_client.post(
        ADD, rule_data(queues, subject_kinds=["message", "media"], languages=" de, pt-BR ;en")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    rule = RoutingRule.objects.get()
    assert rule.subject_kinds == ["message", "media"]
    assert rule.languages == ["de", "pt-BR", "en"]


def test_empty_kinds_and_languages_mean_any(admin_client, queues):
    response = admin_client.post(ADD, rule_data(queues, languages=""))

    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert (rule.subject_kinds, rule.languages) == ([], [])


def test_the_change_form_shows_saved_languages_as_typed_and_kinds_ticked(admin_client, queues):
    admin_client.post(ADD, rule_data(queues, subject_kinds=["post"], languages="en, de"))
    rule = RoutingRule.objects.get()

    page = admin_client.get(f"/admin/queues/routingrule/{rule.pk}/change/").content.decode()

    assert re.search(r'name="languages" value="en, de"', page)
    assert re.search(r'type="checkbox" name="subject_kinds" value="post"[^>]*checked', page)
    assert not re.search(r'type="checkbox" name="subject_kinds" value="media"[^>]*checked', page)


def test_a_bad_language_tag_is_named_and_nothing_is_saved(admin_client, queues):
    response = admin_client.post(ADD, rule_data(queues, languages="en, english!"))

    assert response.status_code == 200
    assert "Not BCP 47 language tags: english!" in response.content.decode()
    assert not RoutingRule.objects.exists()


def test_an_unknown_subject_kind_is_refused(admin_client, queues):
    response = admin_client.post(ADD, rule_data(queues, subject_kinds=["tweet"], languages=""))

    assert response.status_code == 200
    assert "tweet is not one of the available choices" in response.content.decode()
    assert not RoutingRule.objects.exists()

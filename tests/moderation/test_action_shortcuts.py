"""An action's shortcut key is its own: one safe key, one active action, the same under every policy."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from moderation.models import Action
from tests import factories
from tests.migrations import migrate_to

pytestmark = pytest.mark.django_db


def key_errors(**fields) -> list[str]:
    fields.setdefault("code", "candidate")
    fields.setdefault("name", "Candidate")
    fields.setdefault("kind", Action.Kind.REMOVE)
    with pytest.raises(ValidationError) as error:
        Action(**fields).full_clean()
    return error.value.message_dict["shortcut_key"]


@pytest.mark.parametrize("key", ["A", "!", " ", "é", "12"])
def test_a_key_is_one_digit_or_lower_case_letter(key):
    assert key_errors(shortcut_key=key)


@pytest.mark.parametrize(
    ("key", "meaning"),
    [
        ("n", "Next case"),
        ("s", "Skip"),
        ("c", "Confirm"),
        ("e", "Escalate"),
        ("r", "Reveal media"),
        ("/", "Write a note"),
        ("?", "Help"),
    ],
)
def test_the_review_pages_own_keys_are_refused(key, meaning):
    assert key_errors(shortcut_key=key) == [f"{key} is the review page's key for {meaning}; choose another."]


def test_a_key_means_one_active_action():
    factories.ActionFactory(code="remove", name="Remove content", shortcut_key="1")

    assert key_errors(shortcut_key="1") == [
        "Remove content already has the key 1: a key means one action under every policy."
    ]
    Action(
        code="retired", name="Retired", kind=Action.Kind.REMOVE, shortcut_key="1", is_active=False
    ).full_clean()


def test_the_database_refuses_two_active_actions_with_one_key():
    factories.ActionFactory(code="remove", shortcut_key="1")
    factories.ActionFactory(code="retired", shortcut_key="1", is_active=False)

    with pytest.raises(IntegrityError), transaction.atomic():
        factories.ActionFactory(code="warn", kind=Action.Kind.WARN, shortcut_key="1")


def test_no_violation_always_has_the_key_0():
    for key in ("", "5"):
        assert key_errors(kind=Action.Kind.NO_VIOLATION, shortcut_key=key) == [
            "“No violation” always has the key 0, under every policy."
        ]
    Action(code="dismiss", name="No violation", kind=Action.Kind.NO_VIOLATION, shortcut_key="0").full_clean()


def test_0_is_only_ever_no_violation():
    assert key_errors(shortcut_key="0") == ["0 is reserved for “No violation”."]
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.ActionFactory(code="remove", shortcut_key="0")


def test_escalation_keeps_the_pages_own_key():
    assert key_errors(kind=Action.Kind.ESCALATE, shortcut_key="7") == [
        "Escalation has its own key (e) on the review page; leave this empty."
    ]


def test_the_admin_shows_the_key_error_instead_of_saving(admin_client):
    factories.ActionFactory(code="remove", name="Remove content", shortcut_key="1")

    response = admin_client.post(
        "/admin/moderation/action/add/",
        {"code": "warn", "name": "Warn author", "kind": "warn", "shortcut_key": "1", "is_active": "on"},
    )

    assert response.status_code == 200
    assert "Remove content already has the key 1" in response.content.decode()
    assert not Action.objects.filter(code="warn").exists()


def test_the_admin_lists_each_actions_key(admin_client):
    factories.ActionFactory(code="remove", name="Remove content", shortcut_key="1")

    html = admin_client.get("/admin/moderation/action/").content.decode()

    assert 'class="field-shortcut_key">1<' in html


BEFORE = [("moderation", "0011_policy_is_restricted")]
AFTER = [("moderation", "0012_action_shortcut_key")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_actions_stable_keys():
    actions = migrate_to(BEFORE).get_model("moderation", "Action").objects
    for code, kind, active in [
        ("remove", "remove", True),
        ("dismiss", "no_violation", True),
        ("escalate", "escalate", True),
        ("warn", "warn", True),
        ("retired", "remove", False),
        ("dismiss-too", "no_violation", True),
    ]:
        actions.create(code=code, name=code, kind=kind, is_active=active)

    migrated = migrate_to(AFTER).get_model("moderation", "Action").objects
    keys = dict(migrated.values_list("code", "shortcut_key"))
    migrate_to(
        MigrationExecutor(connection).loader.graph.leaf_nodes()
    )  # the latest schema for the next tests

    assert keys == {
        "remove": "1",
        "dismiss": "0",
        "escalate": "",
        "warn": "2",
        "retired": "",
        "dismiss-too": "",  # only one active action can hold 0; the admin asks for it on the next save
    }

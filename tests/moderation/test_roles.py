"""Roles are groups with permissions (agent, lead, admin); teams decide which queues a lead or agent sees."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from moderation.audit import Actor
from moderation.models import AuditEvent
from moderation.roles import ADMIN, AGENT, LEAD, ROLES, is_privileged, sync_roles
from moderation.services import assign_role
from queues.models import Queue, QueueClearance
from queues.selectors import can_view_case, visible_queue_ids
from tests import factories
from tests.accounts import fresh, person

pytestmark = pytest.mark.django_db


def perms(group_name: str) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=group_name).permissions.select_related("content_type")
    }


def standard_queues() -> dict:
    return {
        "appeals": Queue.objects.get(slug=settings.APPEALS_QUEUE_SLUG),
        "appeals-restricted": Queue.objects.get(slug=settings.APPEALS_RESTRICTED_QUEUE_SLUG),
        "restricted-triage": Queue.objects.get(slug=settings.RESTRICTED_TRIAGE_QUEUE_SLUG),
    }


@pytest.fixture
def world():
    """Two teams, each working its own queue, and a restricted child-safety queue."""
    hate = factories.QueueFactory(slug="hate", name="Hate")
    spam = factories.QueueFactory(slug="spam", name="Spam")
    child = factories.QueueFactory(slug="child-safety", name="Child safety", is_restricted=True)
    hate_team = Group.objects.create(name="Team: hate")
    spam_team = Group.objects.create(name="Team: spam")
    hate.member_groups.add(hate_team)
    spam.member_groups.add(spam_team)
    child.member_groups.add(hate_team)
    return {
        # With the queues every installation has (a migration), whose member team is the Leads role group:
        # the open appeals queue, and the restricted ones, which still need a clearance per person.
        "queues": {"hate": hate, "spam": spam, "child": child, **standard_queues()},
        "cases": {
            "hate": factories.OpenCaseFactory(queue=hate),
            "spam": factories.OpenCaseFactory(queue=spam),
            "child": factories.OpenCaseFactory(queue=child),
        },
    }


# --- the role groups ----------------------------------------------------------------------------------------


def test_migrate_creates_the_three_role_groups():
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == {AGENT, LEAD, ADMIN}


def test_agents_hold_no_model_permission_leads_hold_the_lead_powers_admins_configure():
    assert perms(AGENT) == set()
    assert {
        "cases.act_on_protected",
        "cases.bulk_decide",
        "cases.mute_reporter",
        "cases.retry_enforcement",
        "moderation.view_auditevent",
    } <= perms(LEAD)
    assert "queues.view_all_queues" not in perms(LEAD)
    assert perms(LEAD) < perms(ADMIN)
    assert {"queues.view_all_queues", "moderation.change_policy", "queues.add_queueclearance"} <= perms(ADMIN)


def test_no_role_may_edit_or_delete_the_audit_log_or_evidence():
    for role in ROLES:
        assert not {
            "moderation.change_auditevent",
            "moderation.delete_auditevent",
            "cases.change_case",
            "cases.delete_report",
            "cases.change_decision",
        } & perms(role)


def test_sync_roles_puts_back_permissions_someone_changed_by_hand():
    agents = Group.objects.get(name=AGENT)
    agents.permissions.add(Permission.objects.get(codename="bulk_decide"))
    Group.objects.get(name=LEAD).permissions.clear()

    sync_roles()

    assert perms(AGENT) == set()
    assert "cases.bulk_decide" in perms(LEAD)


# --- what each role sees -------------------------------------------------------------------------------------


def test_a_lead_sees_their_teams_queues_and_the_appeals_queue_not_other_teams(world):
    lead = person("lena", "lead", ["Team: spam"])

    # Appeals through the Leads role group; the restricted appeals and triage queues need a clearance.
    assert visible_queue_ids(lead) == {world["queues"]["spam"].pk, world["queues"]["appeals"].pk}
    assert can_view_case(lead, world["cases"]["spam"])
    assert not can_view_case(fresh(lead), world["cases"]["hate"])


def test_an_agent_sees_their_teams_queues_and_a_restricted_one_only_with_a_clearance(world):
    agent = person("alice", "agent", ["Team: hate"])
    assert visible_queue_ids(agent) == {world["queues"]["hate"].pk}

    QueueClearance.objects.create(user=agent, queue=world["queues"]["child"], reason="training")

    assert visible_queue_ids(fresh(agent)) == {world["queues"]["hate"].pk, world["queues"]["child"].pk}


def test_an_admin_sees_every_unrestricted_queue_but_a_restricted_one_needs_membership_and_clearance(world):
    admin = person("ada", "admin")

    assert visible_queue_ids(admin) == {
        world["queues"]["hate"].pk,
        world["queues"]["spam"].pk,
        world["queues"]["appeals"].pk,
    }
    assert not can_view_case(admin, world["cases"]["child"])


def test_lead_powers_follow_the_role(world):
    agent = person("alice", "agent", ["Team: hate"])
    lead = person("lena", "lead", ["Team: hate"])

    assert not agent.has_perm("cases.bulk_decide")
    assert lead.has_perm("cases.bulk_decide")
    assert lead.has_perm("cases.act_on_protected")


def test_only_agents_are_unprivileged():
    assert not is_privileged(person("alice", "agent"))
    assert is_privileged(person("lena", "lead"))
    assert is_privileged(person("ada", "admin"))
    # However a lead power was granted, it makes the account privileged.
    direct = factories.UserFactory(username="direct")
    direct.user_permissions.add(Permission.objects.get(codename="bulk_decide"))
    assert is_privileged(fresh(direct))


# --- assigning roles -----------------------------------------------------------------------------------------


def test_assigning_a_role_replaces_the_old_one_and_sets_staff(world):
    user = person("sam", "lead", ["Team: hate"])
    assert user.is_staff

    assign_role(user=user, role="agent", actor=Actor.system("test"))
    user = fresh(user)

    assert set(user.groups.values_list("name", flat=True)) == {AGENT, "Team: hate"}
    assert not user.is_staff
    assert not user.has_perm("cases.bulk_decide")


def test_assigning_a_role_is_audited():
    user = person("sam", "lead", [])

    event = AuditEvent.objects.filter(verb="user.role_assigned", target_id=str(user.pk)).get()
    assert event.data == {"role": "lead", "teams": []}


def test_an_unknown_role_or_team_is_refused_and_changes_nothing(world):
    user = factories.UserFactory(username="sam")

    with pytest.raises(ValueError, match="Unknown role"):
        assign_role(user=user, role="owner", actor=Actor.system("test"))
    with pytest.raises(ValueError, match="No such team"):
        assign_role(user=user, role="lead", teams=["Team: nobody"], actor=Actor.system("test"))

    assert not fresh(user).groups.exists()
    assert not AuditEvent.objects.filter(verb="user.role_assigned").exists()


def test_a_role_group_cannot_be_passed_off_as_a_team():
    user = factories.UserFactory(username="sam")

    with pytest.raises(ValueError, match="No such team"):
        assign_role(user=user, role="agent", teams=[ADMIN], actor=Actor.system("test"))


def test_the_grant_role_command(world, capsys):
    factories.UserFactory(username="sam")

    call_command("grant_role", "sam", "lead", "--team", "Team: spam")

    sam = User.objects.get(username="sam")
    assert sam.has_perm("cases.bulk_decide")
    assert visible_queue_ids(sam) == {world["queues"]["spam"].pk, world["queues"]["appeals"].pk}
    assert "sam is now lead" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No user"):
        call_command("grant_role", "nobody", "lead")


# --- the admin site follows the same visibility rule -----------------------------------------------------------


def test_a_lead_in_the_admin_lists_only_their_teams_cases(world):
    lead = person("lena", "lead", ["Team: spam"])
    client = Client()
    client.force_login(lead)

    listed = client.get("/admin/cases/case/")
    assert listed.status_code == 200
    shown = {case.pk for case in listed.context["cl"].result_list}
    assert shown == {world["cases"]["spam"].pk}

    for name in ("hate", "child"):
        hidden = client.get(f"/admin/cases/case/{world['cases'][name].pk}/change/", follow=True)
        assert hidden.request["PATH_INFO"] == "/admin/"  # Django's "does not exist" redirect


def test_a_lead_in_the_admin_sees_only_reports_and_subjects_of_visible_cases(world):
    visible = factories.ReportFactory(case=world["cases"]["spam"], subject=world["cases"]["spam"].subject)
    factories.ReportFactory(case=world["cases"]["child"], subject=world["cases"]["child"].subject)
    lead = person("lena", "lead", ["Team: spam"])
    client = Client()
    client.force_login(lead)

    reports = client.get("/admin/cases/report/")
    subjects = client.get("/admin/cases/subject/")

    assert [r.pk for r in reports.context["cl"].result_list] == [visible.pk]
    assert [s.pk for s in subjects.context["cl"].result_list] == [world["cases"]["spam"].subject_id]


def test_stored_media_are_listed_to_superusers_only(world):
    factories.MediaFileFactory()
    lead = person("lena", "lead", ["Team: spam"])
    client = Client()
    client.force_login(lead)

    assert client.get("/admin/cases/mediafile/").status_code == 403


def test_changing_a_users_groups_in_the_admin_is_audited(admin_client):
    user = factories.UserFactory(username="sam")
    page = admin_client.get(f"/admin/auth/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {
        key: value
        for key, value in form.initial.items()
        if value is not None and key not in {"groups", "user_permissions", "password"}
    }
    data.update(
        {
            "username": "sam",
            "groups": [Group.objects.get(name=LEAD).pk],
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        }
    )
    data.pop("date_joined", None)
    data.pop("last_login", None)

    response = admin_client.post(f"/admin/auth/user/{user.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    event = AuditEvent.objects.get(verb="admin.changed", target_type="auth.user", target_id=str(user.pk))
    assert "Groups" in event.data["change"]


def test_an_admin_resets_a_lost_authenticator_without_ever_seeing_its_key(admin_client):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    lead = person("lena", "lead")
    device = TOTPDevice.objects.create(user=lead, name="phone", confirmed=True)
    admin = person("ada", "admin")
    client = Client()
    client.force_login(admin)

    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    assert device.key not in page
    response = client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    assert AuditEvent.objects.filter(verb="admin.deleted", target_type="otp_totp.totpdevice").exists()

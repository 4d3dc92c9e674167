"""TOTP two-factor: required for leads and admins, optional for agents; enrolment, verification, backup codes."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from moderation.models import AuditEvent
from tests import factories
from tests.accounts import PASSWORD, SETUP, VERIFY, current_code, enrol, logged_in, person, shown_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _two_factor_for_privileged(settings):
    settings.TWO_FACTOR_REQUIRED = "privileged"


# --- who must pass a second factor -------------------------------------------------------------------------


def test_a_lead_without_a_device_is_sent_to_enrol_before_anything_else():
    client = logged_in(person("lena", "lead"))

    response = client.get("/queues/")

    assert response.status_code == 302
    assert response["Location"] == f"{SETUP}?next=%2Fqueues%2F"


def test_an_admin_cannot_reach_the_admin_site_unverified():
    client = logged_in(person("ada", "admin"))

    response = client.get("/admin/")

    assert response.status_code == 302 and response["Location"].startswith(SETUP)


def test_a_superuser_is_held_too():
    root = factories.UserFactory(username="root", is_superuser=True, is_staff=True)
    root.set_password(PASSWORD)
    root.save()

    assert logged_in(root).get("/audit/")["Location"].startswith(SETUP)


def test_an_agent_works_without_a_second_factor_by_default():
    client = logged_in(person("alice", "agent"))

    assert client.get("/queues/").status_code == 200


def test_a_privileged_permission_granted_outside_the_roles_holds_the_account_too():
    from django.contrib.auth.models import Group, Permission

    direct = person("dora", "agent")
    direct.user_permissions.add(Permission.objects.get(codename="view_all_queues"))
    grouped = person("gus", "agent")
    team = Group.objects.create(name="auditors")
    team.permissions.add(Permission.objects.get(codename="view_auditevent"))
    grouped.groups.add(team)
    viewer = person("vic", "agent")  # a view_ permission of the admin's is not privileged
    viewer.user_permissions.add(Permission.objects.get(codename="view_policy"))

    assert logged_in(direct).get("/queues/")["Location"].startswith(SETUP)
    assert logged_in(grouped).get("/queues/")["Location"].startswith(SETUP)
    assert logged_in(viewer).get("/queues/").status_code == 200


def test_asking_whether_an_agent_needs_a_second_factor_costs_one_statement_which_loads_their_permissions(
    django_assert_num_queries,
):
    from django.contrib.auth.models import Group, Permission

    from moderation.two_factor import two_factor_required

    alice = person("alice", "agent")
    alice.user_permissions.add(Permission.objects.get(codename="view_policy"))
    extra = Group.objects.create(name="savers")
    extra.permissions.add(Permission.objects.get(codename="view_strike"))
    alice.groups.add(extra)
    loaded_the_usual_way = User.objects.get(pk=alice.pk)
    agent = User.objects.get(pk=alice.pk)  # nothing loaded yet

    with django_assert_num_queries(1):
        assert two_factor_required(agent) is False
    with django_assert_num_queries(0):  # what the page asks next is already known
        assert agent.has_perm("cases.view_strike") and agent.has_perm("moderation.view_policy")
        assert not agent.has_perm("cases.bulk_decide")
        known = (agent.get_all_permissions(), agent.get_user_permissions(), agent.get_group_permissions())
    assert known == (
        loaded_the_usual_way.get_all_permissions(),
        loaded_the_usual_way.get_user_permissions(),
        loaded_the_usual_way.get_group_permissions(),
    )


def test_an_agent_is_held_when_the_setting_says_all(settings):
    settings.TWO_FACTOR_REQUIRED = "all"
    client = logged_in(person("alice", "agent"))

    assert client.get("/queues/")["Location"].startswith(SETUP)


def test_nobody_is_held_when_the_setting_is_off(settings):
    settings.TWO_FACTOR_REQUIRED = "off"

    assert logged_in(person("lena", "lead")).get("/queues/").status_code == 200


def test_an_unverified_htmx_request_is_told_to_navigate_not_given_a_fragment():
    client = logged_in(person("lena", "lead"))

    response = client.get("/queues/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(SETUP)
    assert response.content == b""


def test_a_fragment_the_two_factor_page_itself_loads_is_not_sent_back_to_that_page():
    """The header's fragments (shortcuts, badges) load on every page, the set-up page too: an HX-Redirect to
    the page they came from would reload it for ever."""
    client = logged_in(person("lena", "lead"))

    response = client.get(
        "/queues/shortcuts", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver{SETUP}?next=/"
    )

    assert response.status_code == 204
    assert "HX-Redirect" not in response
    assert response.content == b""


def test_logout_stays_reachable_while_unverified():
    client = logged_in(person("lena", "lead"))

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert client.get("/queues/")["Location"].startswith("/accounts/login/")


def test_the_vendor_api_is_not_affected(api):
    assert api.get("/api/v1/reports/999999").status_code == 404


# --- enrolment -----------------------------------------------------------------------------------------------


def test_the_setup_page_shows_a_qr_code_and_the_key_with_no_script():
    client = logged_in(person("lena", "lead"))

    response = client.get(SETUP)
    page = response.content.decode()

    assert "<svg" in page
    assert "<script" not in page.split("</header>", 1)[-1].split("<footer", 1)[0]
    assert len(shown_key(response.content.decode())) == 20  # 160 bits
    assert not TOTPDevice.objects.exists()  # nothing is stored until a code confirms it


def test_each_session_gets_its_own_key_until_one_is_confirmed():
    lead = person("lena", "lead")
    first, second = logged_in(lead), logged_in(lead)

    first_key = shown_key(first.get(SETUP).content.decode())

    assert (
        shown_key(first.get(SETUP).content.decode()) == first_key
    )  # stable within the session (reloading the page)
    assert shown_key(second.get(SETUP).content.decode()) != first_key


def test_a_wrong_code_does_not_enrol_and_is_audited():
    lead = person("lena", "lead")
    client = logged_in(lead)
    client.get(SETUP)

    response = client.post(SETUP, {"code": "000000"})

    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=lead, confirmed=True).exists()
    assert AuditEvent.objects.filter(verb="auth.two_factor_failed", actor_id=str(lead.pk)).exists()
    assert client.get("/queues/").status_code == 302


def test_enrolling_verifies_the_session_and_hands_out_ten_backup_codes_once():
    lead = person("lena", "lead")
    client = logged_in(lead)

    device, codes = enrol(client, lead)

    assert device.confirmed
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/queues/").status_code == 200
    assert AuditEvent.objects.filter(verb="auth.two_factor_enrolled", actor_id=str(lead.pk)).exists()
    # Never shown again: the setup page now just sends a verified user on.
    assert client.get(SETUP).status_code == 302


def test_with_only_the_password_nobody_can_enrol_a_second_authenticator():
    lead = person("lena", "lead")
    enrol(logged_in(lead), lead)
    attacker = logged_in(lead)  # knows the password, not the phone

    response = attacker.get(SETUP)

    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=lead).count() == 1
    assert attacker.post(SETUP, {"code": "123456"}).status_code == 302
    assert attacker.get("/queues/")["Location"].startswith(VERIFY)


# --- logging in with a second factor -------------------------------------------------------------------------


def test_an_enrolled_lead_logs_in_with_password_then_code():
    lead = person("lena", "lead")
    device, _ = enrol(logged_in(lead), lead)
    client = logged_in(lead)
    assert client.get("/queues/")["Location"] == f"{VERIFY}?next=%2Fqueues%2F"

    response = client.post(VERIFY, {"code": current_code(device, steps_ahead=1), "next": "/queues/"})

    assert response.status_code == 302 and response["Location"] == "/queues/"
    assert client.get("/queues/").status_code == 200
    assert AuditEvent.objects.filter(verb="auth.two_factor_verified", actor_id=str(lead.pk)).exists()


def test_a_code_already_used_cannot_be_replayed():
    lead = person("lena", "lead")
    device, _ = enrol(logged_in(lead), lead)
    code = current_code(device, steps_ahead=1)
    assert logged_in(lead).post(VERIFY, {"code": code}).status_code == 302

    replay = logged_in(lead).post(VERIFY, {"code": code})

    assert replay.status_code == 400


def test_a_wrong_code_is_refused_audited_and_slows_the_next_try():
    lead = person("lena", "lead")
    device, _ = enrol(logged_in(lead), lead)
    client = logged_in(lead)

    assert client.post(VERIFY, {"code": "000000"}).status_code == 400
    # django-otp throttles the device after a failure: even the right code waits.
    assert client.post(VERIFY, {"code": current_code(device, steps_ahead=1)}).status_code == 400

    assert AuditEvent.objects.filter(verb="auth.two_factor_failed", actor_id=str(lead.pk)).count() == 2
    assert client.get("/queues/").status_code == 302


def test_a_backup_code_works_once():
    lead = person("lena", "lead")
    _, codes = enrol(logged_in(lead), lead)

    first = logged_in(lead)
    assert first.post(VERIFY, {"code": codes[0].upper()}).status_code == 302
    assert first.get("/queues/").status_code == 200
    assert AuditEvent.objects.filter(verb="auth.backup_code_used").count() == 1
    assert StaticToken.objects.filter(token=codes[0]).count() == 0

    assert logged_in(lead).post(VERIFY, {"code": codes[0]}).status_code == 400


def test_next_never_leads_off_site():
    lead = person("lena", "lead")
    device, _ = enrol(logged_in(lead), lead)
    client = logged_in(lead)

    response = client.post(
        VERIFY, {"code": current_code(device, steps_ahead=1), "next": "https://evil.example/phish"}
    )

    assert response.status_code == 302 and response["Location"] == "/queues/"


def test_verifying_gives_the_session_a_new_key():
    lead = person("lena", "lead")
    device, _ = enrol(logged_in(lead), lead)
    client = logged_in(lead)
    before = client.session.session_key

    client.post(VERIFY, {"code": current_code(device, steps_ahead=1)})

    assert client.session.session_key != before


# --- one way in ----------------------------------------------------------------------------------------------


def test_the_admin_login_form_hands_over_to_the_throttled_login():
    response = Client().post("/admin/login/?next=/admin/", {"username": "x", "password": "y"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/admin/")


def test_an_agent_cleared_for_a_restricted_queue_needs_a_second_factor():
    from queues.models import QueueClearance

    agent = person("alice", "agent")
    QueueClearance.objects.create(
        user=agent, queue=factories.QueueFactory(slug="child-safety", is_restricted=True), reason="vetted"
    )

    assert logged_in(agent).get("/queues/")["Location"].startswith(SETUP)


@pytest.mark.parametrize("code", ["12\x003456", "\x00" * 10, "١٢٣٤٥٦", "x" * 5000])
def test_odd_codes_are_refused_cleanly(code):
    lead = person("lena", "lead")
    enrol(logged_in(lead), lead)

    assert logged_in(lead).post(VERIFY, {"code": code}).status_code == 400


# --- resets ---------------------------------------------------------------------------------------------------


def reset_through_user_admin(admin_user: User, *targets: User):
    client = Client()
    client.force_login(admin_user)
    return client.post(
        "/admin/auth/user/",
        {"action": "reset_second_factor", "_selected_action": [str(t.pk) for t in targets], "index": "0"},
        follow=True,
    )


def test_an_admin_resets_a_leads_lost_phone_and_the_lead_enrols_again(settings):
    lead = person("lena", "lead")
    _, codes = enrol(logged_in(lead), lead)
    settings.TWO_FACTOR_REQUIRED = "off"  # the admin's own second factor is not what this is about

    response = reset_through_user_admin(person("ada", "admin"), lead)

    settings.TWO_FACTOR_REQUIRED = "privileged"
    assert "Two-factor reset for 1 user." in [str(m) for m in response.context["messages"]]
    assert logged_in(lead).get("/queues/")["Location"].startswith(SETUP)
    # The old backup codes are gone with the reset: a code gets the user nowhere but enrolment.
    assert logged_in(lead).post(VERIFY, {"code": codes[1]})["Location"].startswith(SETUP)
    assert not StaticToken.objects.filter(token=codes[1]).exists()
    assert AuditEvent.objects.filter(verb="auth.two_factor_reset", target_id=str(lead.pk)).exists()


def test_an_admin_cannot_reset_another_admins_or_their_own_second_factor(settings):
    other = person("otto", "admin")
    enrol(logged_in(other), other)
    admin = person("ada", "admin")
    enrol(logged_in(admin), admin)
    settings.TWO_FACTOR_REQUIRED = "off"

    response = reset_through_user_admin(admin, other, admin)

    assert "2 left alone" in " ".join(str(m) for m in response.context["messages"])
    assert TOTPDevice.objects.filter(user__in=[other, admin], confirmed=True).count() == 2


def test_a_wrong_backup_code_slows_the_next_try_too():
    lead = person("lena", "lead")
    _, codes = enrol(logged_in(lead), lead)
    client = logged_in(lead)

    assert client.post(VERIFY, {"code": "notacode"}).status_code == 400
    assert client.post(VERIFY, {"code": codes[0]}).status_code == 400  # throttled, not used up

    assert StaticToken.objects.filter(token=codes[0]).exists()

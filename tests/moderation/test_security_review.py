"""Security review of roles, clearances, admin scoping, two-factor and the media worker (commits after a30aa57).

Failing tests here demonstrate findings; passing ones pin behaviour that is correct and easy to lose.
"""

import struct

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases.detection.media import fetch_media_copy
from cases.models import MediaFile
from moderation.audit import Actor, record_event
from queues.models import QueueClearance
from queues.selectors import visible_queue_ids
from tests import factories
from tests.accounts import SETUP, VERIFY, code_for_key, enrol, fresh, logged_in, person, shown_key

pytestmark = pytest.mark.django_db

SECRET_URL = "https://cdn.example/child-safety/evidence-4711.jpg"


def forced(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world():
    """A spam team working the spam queue, and a restricted child-safety queue with one case in it."""
    spam = factories.QueueFactory(slug="spam", name="Spam")
    child = factories.QueueFactory(slug="child-safety", name="Child safety", is_restricted=True)
    spam_team = Group.objects.create(name="Team: spam")
    safety_team = Group.objects.create(name="Team: safety")
    spam.member_groups.add(spam_team)
    child.member_groups.add(safety_team)
    child_case = factories.OpenCaseFactory(queue=child)
    return {"spam": spam, "child": child, "child_case": child_case}


# --- 1. The audit log is not scoped to visible cases ----------------------------------------------------------


@pytest.mark.parametrize("url", ["/audit/", "/audit/export.csv", "/admin/moderation/auditevent/{pk}/change/"])
def test_a_lead_without_clearance_cannot_read_restricted_case_events_in_the_audit_log(world, url):
    """Leads hold `view_auditevent`; every restricted case's events (here: which CSAM URL someone unblurred)
    show in the log, its CSV export and the admin, whatever the lead's teams and clearances."""
    event = record_event(
        actor=Actor.for_user(factories.UserFactory(username="cleared-agent")),
        verb="media.revealed",
        target=world["child_case"],
        case_id=world["child_case"].pk,
        data={"index": 0, "url": SECRET_URL},
    )
    lead = person("lena", "lead", ["Team: spam"])
    assert world["child"].pk not in visible_queue_ids(lead)

    response = forced(lead).get(url.format(pk=event.pk))

    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert SECRET_URL.encode() not in body


# --- 2. Admins route around the clearance they are supposed to grant to others ------------------------------


def test_an_admin_cannot_grant_themselves_a_clearance_for_a_restricted_queue(world):
    admin = person("ada", "admin", ["Team: safety"])  # a member through a team; only the clearance is missing
    assert world["child"].pk not in visible_queue_ids(admin)

    forced(admin).post(
        "/admin/queues/queueclearance/add/",
        {
            "queue": world["child"].pk,
            "user": admin.pk,
            "reason": "I said so",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )

    assert not QueueClearance.objects.filter(user=admin).exists()
    assert world["child"].pk not in visible_queue_ids(fresh(admin))


def test_an_admin_cannot_lift_a_queues_restriction_and_read_it_without_clearance(world):
    """Admins hold `view_all_queues`: unticking "restricted" on child safety makes its cases theirs to read."""
    admin = person("ada", "admin")
    client = forced(admin)
    url = f"/admin/queues/queue/{world['child'].pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {
        key: value for key, value in form.initial.items() if value is not None and not isinstance(value, list)
    }
    data.update(
        {
            "member_groups": [group.pk for group in form.initial["member_groups"]],
            "is_restricted": "",
        }
    )
    data = {key: ("on" if value is True else value) for key, value in data.items() if value is not False}

    client.post(url, data)

    assert world["child"].pk not in visible_queue_ids(fresh(admin))


# --- 3. Two-factor device admin -------------------------------------------------------------------------------


def test_an_admin_cannot_reset_a_superusers_second_factor():
    """Admins (not superusers) may delete any device: with a superuser's phished password, that is the way to
    a superuser session (which can then edit users and groups)."""
    root = factories.UserFactory(username="root", is_superuser=True, is_staff=True)
    device = TOTPDevice.objects.create(user=root, name="phone", confirmed=True)
    admin = person("ada", "admin")

    response = forced(admin).post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})

    # Out of reach: the admin's "no such object" answer, and the device is still there.
    assert response.status_code in (302, 403, 404)
    assert response.status_code != 302 or response["Location"] == "/admin/"
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_after_an_admin_resets_a_lost_authenticator_the_user_can_enrol_again(settings):
    """The reset deletes the TOTP device only; the backup-code device stays confirmed, so `user_has_device`
    is still true: the user is sent to "enter a code" (which they no longer have), never to enrolment, and the
    old backup codes keep working."""
    settings.TWO_FACTOR_REQUIRED = "privileged"
    lead = person("lena", "lead")
    device, _ = enrol(logged_in(lead), lead)
    admin = person("ada", "admin")
    settings.TWO_FACTOR_REQUIRED = "off"  # the admin's own second factor is not the point here
    assert (
        forced(admin).post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )
    settings.TWO_FACTOR_REQUIRED = "privileged"

    response = logged_in(lead).get("/queues/")

    assert response.status_code == 302
    assert response["Location"].startswith(SETUP)


# --- 4. Enrolment shows one pending secret to every session of the account -----------------------------------


def test_a_second_session_never_learns_the_secret_that_the_user_confirms(settings):
    """Someone with only the password opens the setup page before the user enrols: the page shows the same
    unconfirmed device's key, which the user then confirms. The attacker silently keeps a working authenticator.
    """
    settings.TWO_FACTOR_REQUIRED = "privileged"
    lead = person("lena", "lead")
    attacker = logged_in(lead)
    attacker_page = attacker.get(SETUP).content.decode()

    device, _ = enrol(logged_in(lead), lead)

    assert shown_key(attacker_page) != device.bin_key


# --- 5. Media: GIF frames larger than the logical screen -----------------------------------------------------


def gif_with_huge_first_frame(width: int, height: int) -> bytes:
    """A GIF whose logical screen is 1x1 but whose first frame is width x height. Browsers (Chromium's and
    Firefox's decoders, Wuffs without the strict-bounds quirk) grow the canvas to the first frame."""
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0, 0, 0)
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    image_data = b"\x02\x02\x4c\x01\x00"  # LZW min code size 2, one tiny sub-block, block terminator
    return header + descriptor + image_data + b"\x3b"


def test_a_gif_whose_first_frame_is_gigapixels_is_blocked(httpserver, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.MEDIA_FETCH_TIMEOUT = 2.0
    httpserver.expect_request("/bomb.gif").respond_with_data(
        gif_with_huge_first_frame(65535, 65535), content_type="image/gif"
    )

    copy = fetch_media_copy(f"http://127.0.0.1:{httpserver.port}/bomb.gif")

    assert copy.state == MediaFile.State.BLOCKED
    assert not bytes(MediaFile.objects.get(pk=copy.pk).content)


# --- Pinned: correct today ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [SETUP, VERIFY])
def test_two_factor_forms_need_the_csrf_token(settings, path):
    settings.TWO_FACTOR_REQUIRED = "privileged"
    lead = person("lena", "lead")
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)

    assert client.post(path, {"code": "123456"}).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/admin/password_change/",
        "/admin/cases/case/",
        "/accounts/two-factor/setup/../../../queues/",
        "/api/../queues/",
        "/audit/export.csv",
    ],
)
def test_an_unverified_lead_reaches_nothing_but_the_two_factor_pages(settings, world, path):
    settings.TWO_FACTOR_REQUIRED = "privileged"
    client = logged_in(person("lena", "lead", ["Team: spam"]))

    response = client.get(path)

    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert response["Location"].startswith(SETUP)


def test_the_setup_page_never_redirects_off_site(settings):
    settings.TWO_FACTOR_REQUIRED = "privileged"
    lead = person("lena", "lead")
    client = logged_in(lead)
    key = shown_key(client.get(SETUP).content.decode())

    response = client.post(SETUP, {"code": code_for_key(key), "next": "//evil.example/x"})

    assert response.status_code == 200 and "backup-codes" in response.content.decode()
    assert "evil.example" not in response.content.decode()


def test_an_expired_clearance_no_longer_opens_the_restricted_queue(world):
    from datetime import timedelta

    from django.utils import timezone

    agent = person("alice", "agent", ["Team: safety"])
    QueueClearance.objects.create(
        user=agent, queue=world["child"], expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert world["child"].pk not in visible_queue_ids(agent)
    assert forced(agent).get(f"/cases/{world['child_case'].pk}/").status_code == 404

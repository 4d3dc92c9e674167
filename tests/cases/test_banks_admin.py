"""Banks in the admin: created and changed through the services (audited, revisioned), a CSV import whose
bad lines show on the form with nothing written, export, a paged entry list, and only admins may change."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from cases.models import Bank, BankEntry
from moderation.models import AuditEvent
from tests.accounts import person
from tests.banks import bank_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reload_every_time(settings):
    settings.BANK_RELOAD_SECONDS = 0


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin(db):
    return client_for(person("ada", "admin"))


def upload(text: str, name="terms.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def test_adding_a_bank_in_the_admin_goes_through_the_service(admin):
    response = admin.post(
        "/admin/cases/bank/add/",
        {"name": "threats", "kind": "keyword", "description": "", "pdq_max_distance": 31, "is_active": "on"},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    bank = Bank.objects.get(name="threats")
    assert bank.normalisations == Bank.default_normalisations("keyword")  # left empty: the default
    assert AuditEvent.objects.filter(verb="bank.created", actor_label="ada").count() == 1
    assert bank.changes.get().actor_label == "ada"


def test_changing_normalisations_in_the_admin_bumps_the_revision_or_shows_the_collision(admin):
    bank = bank_of("words", "keyword", ["K1ll", "kill"], normalisations=["case"])
    url = f"/admin/cases/bank/{bank.pk}/change/"
    base = {"name": "words", "description": "", "pdq_max_distance": 31, "is_active": "on"}

    refused = admin.post(url, {**base, "normalisations": ["case", "leet"]})
    assert refused.status_code == 200 and "become the same term" in refused.content.decode()

    assert admin.post(url, {**base, "normalisations": ["case", "invisible"]}).status_code == 302
    bank.refresh_from_db()
    assert bank.normalisations == ["case", "invisible"] and bank.revision == 3
    assert AuditEvent.objects.filter(verb="bank.changed", target_id=str(bank.pk)).count() == 1


def test_the_import_view_shows_every_bad_line_and_writes_nothing(admin):
    bank = bank_of("links", "domain", ["evil.com"])

    response = admin.post(
        f"/admin/cases/bank/{bank.pk}/import/",
        {"file": upload("value,label\nphish.example,x\nnot a host,y\n<b>@@</b>,z\n")},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "2 bad line(s): nothing was imported." in html
    assert "<td>3</td><td>value</td>" in html and "<td>4</td><td>value</td>" in html
    assert set(BankEntry.objects.filter(bank=bank).values_list("value", flat=True)) == {"evil.com"}


def test_the_import_view_imports_and_says_what_changed(admin):
    bank = bank_of("links", "domain", ["evil.com"])

    response = admin.post(
        f"/admin/cases/bank/{bank.pk}/import/",
        {"file": upload("value\nphish.example\n"), "replace": "on"},
        follow=True,
    )

    assert "1 added" in response.content.decode() and "1 removed" in response.content.decode()
    assert set(BankEntry.objects.filter(bank=bank, is_active=True).values_list("match_key", flat=True)) == {
        "phish.example"
    }
    assert bank.changes.order_by("-revision").first().actor_label == "ada"


def test_export_downloads_a_spreadsheet_safe_csv(admin):
    bank = bank_of("words", "keyword", ["kill", "=cmd"])

    response = admin.get(f"/admin/cases/bank/{bank.pk}/export/")

    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode() == "value,label,note\nkill,test,\n'=cmd,test,\n"
    assert AuditEvent.objects.filter(verb="bank.exported", actor_label="ada").exists()


def test_a_big_bank_change_page_and_entry_list_stay_cheap(admin, django_assert_max_num_queries):
    bank = bank_of("words", "keyword", [f"term{index}z" for index in range(1500)], normalisations=["case"])

    with django_assert_max_num_queries(20):
        page = admin.get(f"/admin/cases/bank/{bank.pk}/change/")
    assert page.status_code == 200 and "1500 active" in page.content.decode()
    assert page.content.decode().count("term1") < 5  # never the entries inline
    with django_assert_max_num_queries(20):
        listing = admin.get(f"/admin/cases/bankentry/?bank__id__exact={bank.pk}")
    assert listing.status_code == 200 and listing.content.decode().count('class="action-select"') == 100


def test_removing_entries_from_the_list_goes_through_the_service(admin):
    bank = bank_of("words", "keyword", ["kill", "stab"])
    kill = BankEntry.objects.get(value="kill")

    admin.post(
        "/admin/cases/bankentry/", {"action": "remove_entries", "_selected_action": [kill.pk]}, follow=True
    )

    kill.refresh_from_db()
    assert not kill.is_active and kill.removed_by.username == "ada"
    assert AuditEvent.objects.filter(verb="bank.entry_removed", target_id=str(bank.pk)).exists()


def test_a_lead_may_look_but_not_change_import_or_export(db):
    bank = bank_of("words", "keyword", ["kill"])
    lead = client_for(person("lee", "lead"))

    assert lead.get(f"/admin/cases/bank/{bank.pk}/change/").status_code == 200
    assert (
        lead.post(f"/admin/cases/bank/{bank.pk}/import/", {"file": upload("value\nx\n")}).status_code == 403
    )
    assert lead.get(f"/admin/cases/bank/{bank.pk}/export/").status_code == 403
    lead.post(
        "/admin/cases/bankentry/", {"action": "remove_entries", "_selected_action": [bank.entries.get().pk]}
    )
    assert bank.entries.get().is_active
    agent = client_for(person("al", "agent"))
    assert agent.get(f"/admin/cases/bank/{bank.pk}/import/").status_code in (302, 403)

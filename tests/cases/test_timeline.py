"""Subject and author timelines: every report, case, decision, strike, appeal and content version, newest
first, paged by keyset, with diffs between versions; nothing the reader may not see."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cases.models import Report, SubjectVersion
from cases.timeline_selectors import Scope, timeline
from cases.version_diff import diff_text
from tests.cases.find_world import build_world, version

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(review_setup, policies, vendor):
    return build_world(review_setup, policies, vendor)


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def kinds(page) -> list[tuple[str, int]]:
    return [(entry.kind, entry.pk) for entry in page.entries]


def test_a_subject_timeline_holds_every_kind_of_entry_newest_first(world):
    page = timeline(user=world.alice, scope=Scope(subject_id=world.post1.pk))
    found = {kind for kind, _ in kinds(page)}
    assert found == {"version", "report", "case", "decision", "strike", "appeal"}
    stamps = [entry.at for entry in page.entries]
    assert stamps == sorted(stamps, reverse=True)
    assert page.next_cursor is None


def test_an_author_timeline_leaves_out_subjects_in_queues_the_reader_is_not_in(world):
    page = timeline(user=world.alice, scope=Scope(author_id="author-7"))
    subjects = {getattr(entry.item, "subject_id", None) for entry in page.entries if entry.kind == "version"}
    assert subjects == {world.post1.pk}
    case_ids = {entry.pk for entry in page.entries if entry.kind == "case"}
    assert case_ids == {world.case1.pk, world.appeal_case.pk}


def test_restricted_subjects_stay_out_of_an_author_timeline_for_the_uncleared(world):
    for user in (world.alice, world.lena):
        page = timeline(user=user, scope=Scope(author_id="author-7"))
        assert world.case3.pk not in {entry.pk for entry in page.entries if entry.kind == "case"}
        assert world.post3.pk not in {
            entry.item.subject_id for entry in page.entries if entry.kind == "version"
        }
    cleared = timeline(user=world.carol, scope=Scope(author_id="author-7"))
    assert {entry.pk for entry in cleared.entries if entry.kind == "case"} == {world.case3.pk}


def test_keyset_pages_cover_the_timeline_once_each(world):
    # Many reports at one instant: ties must neither repeat nor drop entries across pages.
    same = timezone.now() - timedelta(days=3)
    for n in range(7):
        Report.objects.create(
            vendor=world.report1.vendor,
            external_id=f"tie-{n}",
            subject=world.post1,
            subject_version=2,
            case=world.case1,
            policy=world.case1.policy,
            reason="spam",
            payload={},
            payload_hash="x",
        )
    Report.objects.filter(external_id__startswith="tie-").update(received_at=same)
    everything = kinds(timeline(user=world.alice, scope=Scope(subject_id=world.post1.pk), size=500))
    seen, cursor = [], None
    while True:
        page = timeline(user=world.alice, scope=Scope(subject_id=world.post1.pk), cursor=cursor, size=3)
        seen.extend(kinds(page))
        assert len(page.entries) <= 3
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == everything and len(set(seen)) == len(seen)


def test_a_cursor_that_is_garbage_starts_from_the_top(world):
    first = kinds(timeline(user=world.alice, scope=Scope(subject_id=world.post1.pk)))
    assert kinds(timeline(user=world.alice, scope=Scope(subject_id=world.post1.pk), cursor="x~y~1")) == first


def test_each_version_carries_its_diff_against_the_one_before(world):
    page = timeline(user=world.alice, scope=Scope(subject_id=world.post1.pk))
    versions = {entry.item.version: entry for entry in page.entries if entry.kind == "version"}
    assert versions[1].diff is None
    diff = versions[2].diff
    assert diff.changed == ["text"]
    assert [(p.op, p.text) for p in diff.text if p.op != "same"] == [("added", "cheap "), ("added", " today")]


def test_the_word_diff_keeps_removals_and_additions_apart():
    pieces = diff_text("free money now", "free cash now")
    assert [(p.op, p.text) for p in pieces] == [
        ("same", "free "),
        ("removed", "money"),
        ("added", "cash"),
        ("same", " now"),
    ]


def test_the_subject_page_shows_the_story_with_escaped_diffs_and_saw_version_links(
    world, django_assert_max_num_queries
):
    version(world.post1, 3, "buy <script>alert(1)</script> followers")
    client = browser(world.alice)
    client.get(f"/cases/subjects/{world.post1.pk}/")
    with django_assert_max_num_queries(16):
        response = client.get(f"/cases/subjects/{world.post1.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<ins>" in html and "<del>" in html
    assert f'href="/cases/subjects/{world.post1.pk}/versions/1" class="saw-version">saw version 1' in html
    assert 'href="/cases/authors/?id=author-7"' in html


def test_hidden_and_restricted_subjects_answer_as_missing(world):
    client = browser(world.alice)
    assert client.get(f"/cases/subjects/{world.post2.pk}/").status_code == 404
    assert client.get(f"/cases/subjects/{world.post3.pk}/").status_code == 404
    assert client.get(f"/cases/subjects/{world.post3.pk}/versions/1").status_code == 404
    assert browser(world.lena).get(f"/cases/subjects/{world.post3.pk}/").status_code == 404
    assert browser(world.carol).get(f"/cases/subjects/{world.post3.pk}/").status_code == 200


def test_an_author_nobody_here_may_see_answers_as_missing(world):
    from tests import factories

    stranger = factories.UserFactory(username="stranger")
    assert browser(stranger).get("/cases/authors/", {"id": "author-7"}).status_code == 404
    assert browser(world.alice).get("/cases/authors/", {"id": "author-404"}).status_code == 404
    assert browser(world.alice).get("/cases/authors/", {"id": "author-7"}).status_code == 200


def test_the_version_page_opens_a_version_with_its_diff(world):
    response = browser(world.alice).get(f"/cases/subjects/{world.post1.pk}/versions/2")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Changes from version 1" in html and "<ins>cheap </ins>" in html
    assert browser(world.alice).get(f"/cases/subjects/{world.post1.pk}/versions/9").status_code == 404


def test_older_entries_load_as_a_fragment_that_keeps_the_author(world, settings):
    settings.TIMELINE_PAGE_SIZE = 2
    client = browser(world.alice)
    html = client.get("/cases/authors/", {"id": "author-7"}).content.decode()
    assert 'id="timeline-more"' in html and "id=author-7&amp;after=" in html
    page = timeline(user=world.alice, scope=Scope(author_id="author-7"), size=2)
    fragment = client.get(
        "/cases/authors/",
        {"id": "author-7", "after": page.next_cursor},
        headers={"HX-Request": "true", "HX-Target": "timeline-more"},
    ).content.decode()
    assert "<html" not in fragment and 'class="timeline"' in fragment


def test_author_ids_on_the_queue_page_and_the_case_page_link_to_the_author(world):
    world.case1.status = "open"
    world.case1.save()
    client = browser(world.alice)
    queue_html = client.get("/queues/general/", {"status": "any"}).content.decode()
    assert 'href="/cases/authors/?id=author-7"' in queue_html
    case_html = client.get(f"/cases/{world.case1.pk}/").content.decode()
    assert 'href="/cases/authors/?id=author-7"' in case_html
    assert f'href="/cases/subjects/{world.post1.pk}/"' in case_html


def test_purged_content_shows_no_text_and_no_diff(world):
    SubjectVersion.objects.filter(subject=world.post1, version=1).update(purged_at=timezone.now(), text="")
    page = timeline(user=world.alice, scope=Scope(subject_id=world.post1.pk))
    assert all(entry.diff is None for entry in page.entries if entry.kind == "version")

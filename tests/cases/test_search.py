"""Global search: ids of every kind and text, grouped by kind, only what the searcher may see."""

import pytest
from django.db import connection
from django.test import Client

from cases.search_selectors import search
from tests.cases.find_world import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(review_setup, policies, vendor):
    return build_world(review_setup, policies, vendor)


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def case_ids(results) -> set[int]:
    return {int(hit.url.rstrip("/").rsplit("/", 1)[1]) for hit in results.cases}


def test_a_case_id_finds_the_case_its_searcher_may_see(world):
    assert case_ids(search(user=world.alice, query=str(world.case1.pk))) == {world.case1.pk}


def test_a_case_id_in_a_queue_the_agent_is_not_in_finds_nothing(world):
    results = search(user=world.alice, query=str(world.case2.pk))
    assert results.count == 0


def test_a_restricted_case_id_finds_nothing_for_the_uncleared_and_the_case_for_the_cleared(world):
    assert search(user=world.alice, query=str(world.case3.pk)).count == 0
    assert search(user=world.lena, query=str(world.case3.pk)).count == 0
    assert case_ids(search(user=world.carol, query=str(world.case3.pk))) == {world.case3.pk}


def test_a_report_external_id_finds_its_case(world):
    results = search(user=world.alice, query="rep-1")
    assert case_ids(results) == {world.case1.pk}
    assert results.cases[0].matched == "report id"


def test_a_report_external_id_of_a_hidden_case_finds_nothing(world):
    assert search(user=world.alice, query="rep-2").count == 0
    assert search(user=world.alice, query="rep-3").count == 0


def test_an_appeal_external_id_finds_the_appeal_case(world):
    assert case_ids(search(user=world.alice, query="appeal-1")) == {world.appeal_case.pk}


def test_a_subject_external_id_finds_the_subject_and_its_cases(world):
    results = search(user=world.alice, query="post-1")
    assert [hit.url for hit in results.subjects] == [f"/cases/subjects/{world.post1.pk}/"]
    assert case_ids(results) == {world.case1.pk, world.appeal_case.pk}


def test_a_subject_address_finds_the_subject(world):
    results = search(user=world.alice, query="https://platform.example/p/1")
    assert [hit.url for hit in results.subjects] == [f"/cases/subjects/{world.post1.pk}/"]


def test_a_hidden_subject_is_not_found_by_its_id(world):
    assert search(user=world.alice, query="post-2").count == 0
    assert search(user=world.alice, query="post-3").count == 0


def test_an_author_id_finds_the_author_only_through_a_case_the_searcher_may_see(world):
    assert [hit.url for hit in search(user=world.alice, query="author-7").authors] == [
        "/cases/authors/?id=author-7"
    ]
    stranger = world.bob  # sees post-2 (harassment), by the same author
    assert len(search(user=stranger, query="author-7").authors) == 1
    nobody = browser_user_without_queues()
    assert search(user=nobody, query="author-7").count == 0


def browser_user_without_queues():
    from tests import factories

    return factories.UserFactory(username="nobody")


def test_text_finds_only_cases_in_the_searchers_queues_and_never_restricted_ones(world):
    assert case_ids(search(user=world.alice, query="cheap followers")) == {
        world.case1.pk,
        world.appeal_case.pk,
    }
    assert case_ids(search(user=world.bob, query="cheap followers")) == {world.case2.pk}
    assert case_ids(search(user=world.carol, query="cheap followers")) == {world.case3.pk}


def test_text_search_needs_three_characters(world):
    results = search(user=world.alice, query="bu")
    assert results.text_too_short and results.count == 0


def test_each_group_is_bounded(world, settings):
    assert len(search(user=world.alice, query="post-1", limit=1).cases) == 1


def test_a_hostile_query_is_harmless(world):
    assert search(user=world.alice, query="\x00' OR 1=1 --").count == 0
    assert search(user=world.alice, query="x" * 5000).query == "x" * 200


def test_the_dropdown_is_a_grouped_listbox_of_options(world):
    response = browser(world.alice).get(
        "/cases/search", {"q": "post-1"}, headers={"HX-Request": "true", "HX-Target": "search-popup"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'role="listbox"' in html and html.count('role="option"') == 4  # subject, two cases, "all results"
    assert html.index('id="search-group-cases"') < html.index('id="search-group-subjects"')


def test_the_results_page_escapes_the_query_and_stays_under_the_query_bound(
    world, django_assert_max_num_queries
):
    client = browser(world.alice)
    client.get("/cases/search", {"q": "warm-up"})
    with django_assert_max_num_queries(16):
        response = client.get("/cases/search", {"q": "<b>cheap followers</b>"})
    html = response.content.decode()
    assert "&lt;b&gt;cheap followers&lt;/b&gt;" in html and "<b>cheap" not in html


def test_the_results_page_lists_each_kind(world):
    html = browser(world.alice).get("/cases/search", {"q": "author-7"}).content.decode()
    assert "Authors" in html and "/cases/authors/?id=author-7" in html


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the statement timeout is PostgreSQL's")
def test_the_text_search_time_limit_is_put_back_after_the_search(world):

    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '7s'")
    search(user=world.alice, query="cheap followers")  # found by the walk
    search(user=world.alice, query="nowhere to be found")  # the walk, then the index
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout'), current_setting('enable_sort')")
        assert cursor.fetchone() == ("7s", "on")  # the walk's planner setting is not left behind


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the statement timeout is PostgreSQL's")
def test_a_text_search_over_its_time_limit_says_so_instead_of_failing(world, settings):
    from cases.models import Case, Subject

    # 3,000 long texts that all contain the words: matching them takes far longer than a 1 ms limit.
    subjects = Subject.objects.bulk_create(
        Subject(kind="post", external_id=f"long-{n}", author_id="a", text="cheap followers " * 700)
        for n in range(3000)
    )
    Case.objects.bulk_create(Case(subject=subject, queue=world.general) for subject in subjects)
    settings.SEARCH_TEXT_TIMEOUT_MS = 1
    settings.SEARCH_TEXT_WALK_MS = 0  # the index alone: the walk would find these (next test)

    results = search(user=world.alice, query="cheap followers")

    assert results.text_timed_out and results.cases == []
    assert search(user=world.alice, query="post-1").subjects  # the connection still answers


def _long_texts(world, count: int, text: str) -> list[int]:
    from cases.models import Case, Subject

    subjects = Subject.objects.bulk_create(
        Subject(kind="post", external_id=f"long-{n}", author_id="a", text=text) for n in range(count)
    )
    return [
        case.pk
        for case in Case.objects.bulk_create(
            Case(subject=subject, queue=world.general) for subject in subjects
        )
    ]


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the walk and the index are PostgreSQL's")
def test_a_common_word_is_found_by_the_walk_newest_first_without_asking_the_index(world, settings):
    from django.test.utils import CaptureQueriesContext

    ids = _long_texts(world, 200, "cheap followers " * 20)
    settings.SEARCH_TEXT_WALK_MS = 60_000  # the walk's time limit is the next test's

    with CaptureQueriesContext(connection) as captured:
        results = search(user=world.alice, query="CHEAP Followers")

    assert not results.text_timed_out
    assert [int(hit.url.rstrip("/").rsplit("/", 1)[1]) for hit in results.cases] == sorted(ids)[::-1][:10]
    sql = [query["sql"].upper() for query in captured.captured_queries]
    assert any("STRPOS" in query for query in sql) and not any(" LIKE " in query for query in sql)


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the walk and the index are PostgreSQL's")
def test_a_rare_term_the_walk_cannot_reach_in_time_is_found_by_the_index(world, settings):
    from django.test.utils import CaptureQueriesContext

    # 40 decided cases of one 1 MB text: the walk upper-cases and scans it once per case, far longer than its
    # 20 ms. (Not 1 ms: the limit stays armed while the savepoint rolls back, and on a loaded machine that
    # may outlast it.) One text, so the trigram index has little to read.
    from cases.models import Case, Subject

    huge = Subject.objects.create(
        kind="post", external_id="huge", author_id="a", text="nothing here " * 80_000
    )
    Case.objects.bulk_create(
        Case(subject=huge, queue=world.general, status=Case.Status.RESOLVED) for _ in range(40)
    )
    world.post1.text = "a quixotic zephyr"  # the oldest case in alice's queue
    world.post1.save()
    settings.SEARCH_TEXT_WALK_MS = 20
    settings.SEARCH_TEXT_TIMEOUT_MS = 60_000  # the index's own limit is the test above's

    with CaptureQueriesContext(connection) as captured:
        results = search(user=world.alice, query="quixotic zephyr")

    sql = [query["sql"].upper() for query in captured.captured_queries]
    assert any("STRPOS" in query for query in sql) and any(" LIKE " in query for query in sql)
    assert not results.text_timed_out
    assert {hit.matched for hit in results.cases} == {"text"} and results.cases


@pytest.mark.parametrize("query", ["followers", "cheap", "rep", "see", "zzz-not-there"])
def test_the_walk_and_the_index_find_the_same_page(world, settings, query):
    _long_texts(world, 40, "cheap followers, see rep")
    settings.SEARCH_TEXT_WALK_MS = 0
    by_index = search(user=world.alice, query=query)
    settings.SEARCH_TEXT_WALK_MS = 5000
    by_walk = search(user=world.alice, query=query)

    assert [hit.url for hit in by_walk.cases] == [hit.url for hit in by_index.cases]
    assert not by_walk.text_timed_out and not by_index.text_timed_out


def test_an_id_that_finds_something_does_not_also_search_the_texts(world):
    world.post1.text = f"see case {world.case1.pk} and rep-1"
    world.post1.save()
    results = search(user=world.alice, query="rep-1")
    assert [hit.matched for hit in results.cases] == ["report id"]

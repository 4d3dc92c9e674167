"""Global search (the header box): one query string against case ids, subject external ids and addresses,
author ids, report and appeal external ids, and subject text; only what the searcher may see.

Every look-up is exact on an indexed column (`cases/migrations/0032_search.py`) except text, which is a
substring match served by the trigram index on PostgreSQL (`0007_subject_text_search`) and bounded by a
statement timeout there, so a very common word answers "narrow it down" instead of holding a connection.
Visibility is `queues.selectors.visible_cases` throughout: a restricted case, or a case in a queue the
searcher is not in, is never found, counted or hinted at, and subjects and authors are found only through a
case the searcher may see.
"""

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from cases.models import Appeal, Case, Report, Subject
from queues.selectors import visible_cases

MIN_TEXT_LENGTH = 3  # trigrams: shorter terms cannot use the index and match nearly everything
MAX_QUERY_LENGTH = 200


@dataclass(frozen=True)
class Hit:
    """One result: what it is, where it opens, and why it matched."""

    kind: str  # "case" | "subject" | "author"
    label: str
    url: str
    detail: str = ""
    matched: str = ""  # which field matched ("case id", "report id", "text" ...)


@dataclass
class SearchResults:
    query: str
    cases: list[Hit] = field(default_factory=list)
    subjects: list[Hit] = field(default_factory=list)
    authors: list[Hit] = field(default_factory=list)
    text_timed_out: bool = False
    text_too_short: bool = False

    @property
    def groups(self) -> list[tuple[str, str, list[Hit]]]:
        """(key, heading, hits) in the order the dropdown and page show them; empty groups left out."""
        named = [("cases", "Cases", self.cases), ("subjects", "Subjects", self.subjects)]
        named.append(("authors", "Authors", self.authors))
        return [(key, title, hits) for key, title, hits in named if hits]

    @property
    def count(self) -> int:
        return len(self.cases) + len(self.subjects) + len(self.authors)


def author_url(author_id: str, *, base: str | None = None) -> str:
    """`base`: `reverse("cases:author")`, when the caller builds many (reversed once, not per row)."""
    # A query parameter, not a path segment: author ids are the platform's and may hold "/" or "?".
    return f"{base or reverse('cases:author')}?{urlencode({'id': author_id})}"


def search(*, user, query: str, limit: int | None = None) -> SearchResults:
    """What `query` finds that `user` may see, grouped by kind, each group at most `limit` long.

    A fixed number of queries (at most nine, plus the memoised queue access), whatever matches."""
    limit = limit or settings.SEARCH_RESULTS_LIMIT
    query = (query or "").strip()[:MAX_QUERY_LENGTH]
    results = SearchResults(query=query)
    if not query or "\x00" in query:
        return results
    cases = visible_cases(user)
    seen_cases: set[int] = set()

    def add_cases(rows, matched: str) -> None:
        for case in rows:
            if case.pk in seen_cases or len(results.cases) >= limit:
                continue
            seen_cases.add(case.pk)
            results.cases.append(_case_hit(case, matched))

    if query.isascii() and query.isdigit() and len(query) < 19:
        add_cases(_case_rows(cases.filter(pk=int(query)))[:1], "case id")
    reports = Report.objects.filter(external_id=query).values("case_id")
    add_cases(_case_rows(cases.filter(pk__in=reports))[:limit], "report id")
    appeals = Appeal.objects.filter(external_id=query).values("appeal_case_id")
    add_cases(_case_rows(cases.filter(pk__in=appeals))[:limit], "appeal id")

    seen_subjects = cases.filter(subject=OuterRef("pk"))
    subject_match = Q(external_id=query)
    if query.startswith(("http://", "https://")):
        subject_match |= Q(url=query)
    subjects = list(
        Subject.objects.filter(subject_match)
        .filter(Exists(seen_subjects))
        .only("pk", "kind", "external_id", "author_id", "is_restricted")
        .order_by("-pk")[:limit]
    )
    for subject in subjects:
        results.subjects.append(
            Hit(
                kind="subject",
                label=f"{subject.get_kind_display()} {subject.external_id}",
                url=reverse("cases:subject", args=[subject.pk]),
                detail=f"author {subject.author_id}" if subject.author_id else "author unknown",
                matched="address" if subject.external_id != query else "subject id",
            )
        )
    if subjects:
        add_cases(_case_rows(cases.filter(subject__in=[s.pk for s in subjects]))[:limit], "subject id")

    if Subject.objects.filter(author_id=query).filter(Exists(seen_subjects)).exists():
        results.authors.append(
            Hit(kind="author", label=query, url=author_url(query), detail="author id", matched="author id")
        )

    if results.count:
        # An id that found something is what was meant: a substring match of "12345" or "m-12" in millions
        # of texts (bench/search.py) would cost more than everything above and add only noise.
        return results
    if len(query) < MIN_TEXT_LENGTH:
        results.text_too_short = True
    else:
        try:
            add_cases(_text_matches(cases, query, limit), "text")
        except DatabaseError:
            # The statement timeout fired: too common a term to rank in time.
            results.text_timed_out = True
    return results


def _case_rows(cases: QuerySet[Case]) -> QuerySet[Case]:
    # A hit shows the subject's kind and id, never its text: whole texts stay in the database.
    return (
        cases.select_related("subject", "policy", "queue")
        .defer("subject__text", "subject__metadata", "subject__media_urls", "enrichment_state")
        .order_by("-opened_at", "-pk")
    )


def _text_matches(cases: QuerySet[Case], query: str, limit: int) -> list[Case]:
    """Cases whose subject text contains `query`, newest first. On PostgreSQL inside a savepoint with a
    statement timeout (`SEARCH_TEXT_TIMEOUT_MS`): the trigram index finds candidate subjects quickly, but a
    word in millions of texts still has to be filtered for visibility."""
    rows = _case_rows(cases.filter(subject__text__icontains=query))
    if connection.vendor != "postgresql":
        return list(rows[:limit])
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
    # SET LOCAL inside a savepoint: a timeout rolls the savepoint back (and the setting with it); on success
    # the previous limit is put back, since releasing a savepoint would keep ours for the whole request.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true)", [str(settings.SEARCH_TEXT_TIMEOUT_MS)]
            )
        found = list(rows[:limit])
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
    return found


def _case_hit(case: Case, matched: str) -> Hit:
    subject = case.subject
    where = case.queue.name if case.queue_id else "not routed"
    policy = case.policy.name if case.policy_id else "no policy"
    return Hit(
        kind="case",
        label=f"Case #{case.pk}",
        url=reverse("cases:review", args=[case.pk]),
        detail=f"{subject.get_kind_display()} {subject.external_id} · {policy} · {case.get_status_display()} · {where}",
        matched=matched,
    )

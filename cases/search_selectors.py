"""Global search (the header box): one query string against case ids, subject external ids and addresses,
author ids, report and appeal external ids, and subject text; only what the searcher may see.

Every look-up is exact on an indexed column (`cases/migrations/0032_search.py`) except text, which is a
substring match: on PostgreSQL a walk of the newest cases first (a common word's page is found at once), then
the trigram index (`0007_subject_text_search`), each bounded by a statement timeout, so a term too common
for the index and too rare for the walk answers "narrow it down" instead of holding a connection.
Visibility is `queues.selectors.visible_cases` throughout: a restricted case, or a case in a queue the
searcher is not in, is never found, counted or hinted at, and subjects and authors are found only through a
case the searcher may see.
"""

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import StrIndex, Upper
from django.urls import reverse

from cases.models import Appeal, Case, Report, Subject
from moderation.statement_limits import within_statement_timeout
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
        found, results.text_timed_out = _text_matches(cases, query, limit)
        add_cases(found, "text")
    return results


def _case_rows(cases: QuerySet[Case]) -> QuerySet[Case]:
    # A hit shows the subject's kind and id, never its text: whole texts stay in the database.
    return (
        cases.select_related("subject", "policy", "queue")
        .defer("subject__text", "subject__metadata", "subject__media_urls", "enrichment_state")
        .order_by("-opened_at", "-pk")
    )


def _text_matches(cases: QuerySet[Case], query: str, limit: int) -> tuple[list[Case], bool]:
    """Cases whose subject text contains `query`, newest first, and whether the search ran out of time.

    On PostgreSQL in two steps, each in a savepoint under a statement timeout of its own:
    1. the walk: cases newest first, text by text, until `limit` match (`SEARCH_TEXT_WALK_MS`). A common word
       fills the page from the first few dozen cases; the trigram index would hand over millions of
       candidates to filter and sort. A walk that ends within its time has looked at every case: complete.
    2. otherwise the trigram index (`SEARCH_TEXT_TIMEOUT_MS`): a rarer term's few candidates are found at
       once. A term that runs both out of time answers "narrow it down" (nothing, and True).
    Both order by id (arrival), so the walk's page is exactly the index's first page."""
    rows = _case_rows(cases).order_by("-pk")
    if connection.vendor != "postgresql":
        return list(rows.filter(subject__text__icontains=query)[:limit]), False
    if settings.SEARCH_TEXT_WALK_MS > 0:
        # strpos, not LIKE: a condition the trigram index cannot serve, so the plan is the walk by id.
        walk = rows.annotate(_at=StrIndex(Upper("subject__text"), Upper(Value(query)))).filter(_at__gt=0)
        try:
            return within_statement_timeout(
                settings.SEARCH_TEXT_WALK_MS, lambda: list(walk[:limit]), walk=True
            ), False
        except DatabaseError:
            pass
    try:
        indexed = rows.filter(subject__text__icontains=query)
        return within_statement_timeout(settings.SEARCH_TEXT_TIMEOUT_MS, lambda: list(indexed[:limit])), False
    except DatabaseError:
        return [], True


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

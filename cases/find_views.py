"""Finding things: the global search (page and header dropdown), a subject's and an author's timeline, and
one content version with its diff. Thin: parse, call a selector, render. Read only, so nothing is audited;
what is hidden from the reader answers exactly as what does not exist."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases import search_selectors, timeline_selectors
from cases.timeline_selectors import Scope

PAGE_RESULTS_LIMIT = 50


def _wants(request: HttpRequest, target: str) -> bool:
    return bool(request.htmx) and request.htmx.target == target and not request.htmx.boosted


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    dropdown = _wants(request, "search-popup")
    results = search_selectors.search(
        user=request.user,
        query=request.GET.get("q", ""),
        limit=settings.SEARCH_RESULTS_LIMIT if dropdown else PAGE_RESULTS_LIMIT,
    )
    template = "cases/search.html#search-results" if dropdown else "cases/search.html"
    return render(request, template, {"results": results, "dropdown": dropdown})


@login_required
@require_GET
def subject_page(request: HttpRequest, subject_id: int) -> HttpResponse:
    subject = timeline_selectors.visible_subject(user=request.user, subject_id=subject_id)
    if subject is None:
        raise Http404("No such subject")
    return _timeline(request, Scope(subject_id=subject.pk), {"subject": subject})


@login_required
@require_GET
def author_page(request: HttpRequest) -> HttpResponse:
    author_id = request.GET.get("id", "").strip()[:255]
    if not timeline_selectors.author_is_visible(user=request.user, author_id=author_id):
        raise Http404("No such author")
    return _timeline(request, Scope(author_id=author_id), {"author_id": author_id})


def _timeline(request: HttpRequest, scope: Scope, context: dict) -> HttpResponse:
    page = timeline_selectors.timeline(user=request.user, scope=scope, cursor=request.GET.get("after"))
    context.update(timeline=page, first_page=not request.GET.get("after"))
    more = _wants(request, "timeline-more")
    template = "cases/timeline.html#timeline-entries" if more else "cases/timeline.html"
    return render(request, template, context)


@login_required
@require_GET
def version_page(request: HttpRequest, subject_id: int, number: int) -> HttpResponse:
    subject = timeline_selectors.visible_subject(user=request.user, subject_id=subject_id)
    found = (
        timeline_selectors.subject_version(user=request.user, subject=subject, number=number)
        if subject
        else None
    )
    if found is None:
        raise Http404("No such version")
    version, diff, has_next = found
    context = {"subject": subject, "version": version, "diff": diff, "has_next": has_next}
    return render(request, "cases/version.html", context)

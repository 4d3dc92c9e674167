"""A case's media on the review page: the blurred item, the audited reveal, and the stored copy served with
its checked type only (never a redirect to the reported address). Thin: authorize, call, render."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from cases import review_selectors, selectors
from cases.evidence import shown_content
from cases.models import Case, MediaFile
from cases.services.review import case_work
from cases.views import _visible_case

SERVABLE_MEDIA_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def _shown_media(case: Case) -> list[str]:
    """The media of the content version the case shows (the same list the page numbers)."""
    return [str(url) for url in (shown_content(case).media_urls or [])]


def _media_item(case: Case, index: int, user) -> review_selectors.MediaItem:
    urls = _shown_media(case)
    if not 0 <= index < min(len(urls), 20):
        raise Http404("No such media item")
    stored = MediaFile.objects.defer("content").filter(url_hash=selectors.media_url_hash(urls[index])).first()
    return review_selectors.MediaItem(index, urls[index], stored, _withheld(stored, case, user))


def _withheld(stored, case: Case, user) -> bool:
    return stored is not None and bool(review_selectors.withheld_media([stored], case=case, user=user))


@login_required
@require_POST
def reveal_media(request: HttpRequest, case_id: int, index: int) -> HttpResponse:
    """Unblur one media item for this agent: recorded in the audit log before anything is shown."""
    case = _visible_case(request, case_id)
    item = _media_item(case, index, request.user)
    case_work.reveal_media(case_id=case.pk, user=request.user, index=index)
    if not request.htmx:
        return redirect("cases:review", case_id=case.pk)
    return render(request, "cases/review.html#media-item", {"case": case, "item": item, "revealed": True})


@login_required
@require_GET
def media_item(request: HttpRequest, case_id: int, index: int) -> HttpResponse:
    """The blurred tile again ("blur again")."""
    case = _visible_case(request, case_id)
    item = _media_item(case, index, request.user)
    if not request.htmx:
        return redirect("cases:review", case_id=case.pk)
    return render(request, "cases/review.html#media-item", {"case": case, "item": item, "revealed": False})


@login_required
@require_GET
def media_file(request: HttpRequest, case_id: int, index: int) -> HttpResponse:
    """The stored copy of a media item, from this app (the original host is never contacted by browsers).

    Only raster image types are served, with nosniff and a sandboxing CSP, so a stored file can never run
    as a page. The blur is applied by the page; the reveal (audited) removes it.
    """
    case = _visible_case(request, case_id)
    urls = _shown_media(case)
    if not 0 <= index < min(len(urls), 20):
        raise Http404("No such media item")
    stored = MediaFile.objects.filter(
        url_hash=selectors.media_url_hash(urls[index]), state=MediaFile.State.STORED
    ).first()
    if (
        stored is None
        or stored.content_type not in SERVABLE_MEDIA_TYPES
        or _withheld(stored, case, request.user)
    ):
        raise Http404("Media not stored")
    # No byte of reported media reaches a browser unrecorded: the (blurred) load is audited here, the
    # deliberate unblurring by `reveal_media`. Never cached (moderation.middleware.no_store): a copy of reported
    # media must not stay on an agent's disk, so every load is fetched, and audited, again.
    case_work.record_media_served(case_id=case.pk, user=request.user, index=index)
    response = HttpResponse(bytes(stored.content), content_type=stored.content_type)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = "inline"
    return response

"""Header shortcuts: the starred queues and saved views (a fragment the header fetches after the page), and
the forms that star a queue and save or remove a view. Thin: parse, call one service or selector, answer."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from moderation.errors import DomainError
from queues import saved_view_selectors, selectors
from queues.services.saved_views import delete_view, save_view, set_queue_star


@login_required
@require_GET
def shortcuts(request: HttpRequest) -> HttpResponse:
    context = {"shortcuts": saved_view_selectors.header_shortcuts(request.user)}
    fragment = bool(request.htmx) and request.htmx.target == "header-shortcuts"
    template = "queues/shortcuts.html#header-shortcuts" if fragment else "queues/shortcuts.html"
    return render(request, template, context)


def _queue(request: HttpRequest, slug: str):
    queue = selectors.queue_for_user(request.user, slug)
    if queue is None:
        raise Http404("No such queue")
    return queue


@login_required
@require_POST
def star(request: HttpRequest, slug: str) -> HttpResponse:
    queue = _queue(request, slug)
    starred = request.POST.get("starred") == "1"
    set_queue_star(user=request.user, queue=queue, starred=starred)
    if request.htmx:
        context = {"queue": queue, "starred": starred}
        response = render(request, "queues/queue.html#star-form", context)
        response["HX-Trigger"] = "shortcuts-changed"  # the header's shortcuts reload themselves
        return response
    return redirect("queues:queue", slug=queue.slug)


@login_required
@require_POST
def save(request: HttpRequest, slug: str) -> HttpResponse:
    """A lead saves the filter the queue page shows (its querystring) under a name for the team."""
    queue = _queue(request, slug)
    try:
        view = save_view(
            user=request.user,
            queue=queue,
            name=request.POST.get("name", ""),
            querystring=request.POST.get("querystring", ""),
        )
    except DomainError as exc:  # refusals as a message on the queue page, whatever their kind
        messages.error(request, exc.message)
        return redirect("queues:queue", slug=queue.slug)
    messages.success(
        request,
        _("Saved the view “%(view)s” for everyone working %(queue)s.")
        % {"view": view.name, "queue": queue.name},
    )
    return redirect(f"{reverse('queues:queue', args=[queue.slug])}?{view.querystring}")


@login_required
@require_POST
def remove(request: HttpRequest, slug: str, view_id: int) -> HttpResponse:
    queue = _queue(request, slug)
    try:
        delete_view(user=request.user, view_id=view_id)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Removed the saved view."))
    return redirect("queues:queue", slug=queue.slug)

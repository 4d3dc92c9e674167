"""The ASGI application (moderation/asgi.py) runs the middleware chain and the view in one synchronous call:
Django's stock handler crossed between the event loop and threads three times a request."""

import asyncio
import sys
import threading

import pytest
from asgiref.sync import AsyncToSync, SyncToAsync
from asgiref.testing import ApplicationCommunicator
from django.http import HttpResponse
from django.urls import path

from moderation.asgi import OneHopASGIHandler, application

SEEN: dict[str, int] = {}


def outermost(get_response):
    def middleware(request):
        SEEN["middleware"] = threading.get_ident()
        return get_response(request)

    return middleware


def thread_view(request):
    SEEN["view"] = threading.get_ident()
    # Django's stock handler reaches a sync view through async_to_sync (back to the event loop) and then
    # sync_to_async again: those frames are on the view's stack.
    frame, SEEN["back_to_the_loop"] = sys._getframe(), 0
    while frame is not None:
        SEEN["back_to_the_loop"] += isinstance(frame.f_locals.get("self"), AsyncToSync)
        frame = frame.f_back
    return HttpResponse("ok")


urlpatterns = [path("thread/", thread_view)]


def http_scope(path_: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path_,
        "raw_path": path_.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


async def get(app, path_: str) -> tuple[int, bytes]:
    communicator = ApplicationCommunicator(app, http_scope(path_))
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(10)
    body = await communicator.receive_output(10)
    await communicator.wait(10)
    return start["status"], body["body"]


def test_the_served_application_is_the_one_hop_handler():
    assert isinstance(application, OneHopASGIHandler)
    assert isinstance(application._middleware_chain, SyncToAsync)  # the one crossing into a thread


@pytest.mark.django_db
def test_middleware_and_view_run_in_one_thread_without_going_back_to_the_loop(settings):
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = [f"{__name__}.outermost", *settings.MIDDLEWARE]
    SEEN.clear()
    status, body = asyncio.run(get(OneHopASGIHandler(), "/thread/"))

    assert (status, body) == (200, b"ok")
    assert SEEN["middleware"] == SEEN["view"] != threading.get_ident()
    assert SEEN["back_to_the_loop"] == 0

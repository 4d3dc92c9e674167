"""The ASGI application the production server runs (moderation/serving.py: gunicorn with uvicorn workers).

Under ASGI every request runs its synchronous code (all of this app's views) in a thread of its own, so a
persistent database connection is never reused by the next request: it stays open until its thread is
collected. Django's docs say to turn persistent connections off under ASGI and pool instead, which DB_POOL does
(moderation/settings.py); it is on wherever this module is served, unless DB_POOL=0 is set.
"""

import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moderation.settings")
os.environ.setdefault("DB_POOL", "1")


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler with the middleware chain run synchronously and entered once.

    Every middleware here (ours and the libraries') is synchronous. Django's own handler ends the chain with
    its async view caller, so a request crossed threads three times: into the sync middleware, back out to the
    event loop for the view caller, into a thread again for the (sync) view, each crossing copying the context.
    Entering once saves ~0.5-0.7 ms of server CPU a request (/healthz 5.5 -> 5.0 ms, the login page 9.4 -> 8.6
    ms through gunicorn + uvicorn on the 2-core bench machine; WSGI serves /healthz in 2 ms). Here the
    chain, view included, runs in one thread-sensitive call, as under WSGI; the event loop still reads whole
    requests before any of it runs, so slow clients still cost a socket and not a worker.
    """

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)
        if is_async:
            self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)


django.setup(set_prefix=False)
application = OneHopASGIHandler()

"""Streamed answers that stream under both servers: WSGI (runserver, tests) and ASGI (production).

Under ASGI, Django turns a plain iterator into a list before sending the first byte (it cannot iterate a
blocking generator on the event loop), so a 100,000-row export would be built whole in memory. Here the same
generator is pulled in batches through `sync_to_async`: thread-sensitive, so every batch runs in the request's
own thread, on its own database connection, where the view opened the cursor.
"""

from collections.abc import AsyncIterator, Iterator
from itertools import islice

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

BATCH = 500


def streaming_response(request: HttpRequest, parts: Iterator, **kwargs) -> StreamingHttpResponse:
    if isinstance(request, ASGIRequest):
        return StreamingHttpResponse(_in_batches(parts), **kwargs)
    return StreamingHttpResponse(parts, **kwargs)


async def _in_batches(parts: Iterator) -> AsyncIterator:
    take = sync_to_async(lambda: list(islice(parts, BATCH)), thread_sensitive=True)
    try:
        while batch := await take():
            for part in batch:
                yield part
    finally:
        close = getattr(parts, "close", None)
        if close is not None:  # a client that went away: release the cursor now, not when collected
            await sync_to_async(close, thread_sensitive=True)()

"""A request id on every log line: taken from the web request, carried into the Celery tasks it causes.

The web tier takes `X-Request-ID` from the client (nginx sets one) when it is well-formed, else makes one,
and echoes it in the response. Tasks sent while handling the request carry it in a message header
(`moderation.celery_signals`), so a worker's log lines about the report name the request that brought it,
and tasks those tasks send carry it on. `LOG_FORMAT=json` (the production default) writes one JSON object a
line with it; the plain format appends it.
"""

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

REQUEST_ID_HEADER = "X-Request-ID"
# Long enough for a UUID or a trace id, short and plain enough that a client cannot put anything in a log line
# (no spaces, quotes or control characters) nor blow it up.
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
task_var: ContextVar[tuple[str, str]] = ContextVar("task", default=("", ""))


def well_formed(value: str | None) -> bool:
    return bool(value) and _WELL_FORMED.fullmatch(value) is not None


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_middleware(get_response):
    """Set the request id for this request's log lines and tasks; echo it to the client."""

    def middleware(request):
        incoming = request.META.get("HTTP_X_REQUEST_ID")
        request_id = incoming if well_formed(incoming) else new_request_id()
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response

    return middleware


class ContextFilter(logging.Filter):
    """Puts the request id and the running task (id, name) on every record, for either formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.task_id, record.task_name = task_var.get()
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per line: what log shippers (Loki, Elasticsearch, CloudWatch) parse without rules."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ("request_id", "task_id", "task_name"):
            value = getattr(record, field, "")
            if value:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)

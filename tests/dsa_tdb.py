"""A stand-in for the EU DSA Transparency Database's multiple-statements endpoint, written from its published
API documentation (not from the app's code), on a real loopback HTTP server.

`POST /api/v1/statements` with `Authorization: Bearer <token>` and `{"statements": [...]}` (at most 100):
- 401 for a wrong token; 422 `{"errors": {"statement_<n>": {...}}}` for statements missing a required field or
  with a puid outside the charset (re-checked here by hand, not with the app's validator);
- 422 `{"errors": {"puid": [...], "existing_puids": [...]}}` when a puid is already stored; nothing of a
  refused call is created;
- otherwise 201 `{"statements": [... each with uuid ...]}`.
`answer(503, ...)` queues statuses to answer instead (after applying the batch when `apply_first`).
"""

import json
import re
import threading
import uuid

from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.webhooks import free_port

PATH = "/api/v1/statements"
PUID = re.compile(r"^[a-zA-Z0-9_-]+$")
REQUIRED = ("decision_ground", "content_type", "category", "application_date", "content_date",
            "decision_facts", "source_type", "automated_detection", "automated_decision", "puid")  # fmt: skip


class TransparencyDatabase:
    def __init__(self, token: str):
        self.token = token
        self.stored: dict[str, dict] = {}
        self.calls: list[dict] = []
        self.headers: list[dict] = []
        self._answers: list[tuple[int, bool]] = []
        self._lock = threading.Lock()
        self.server = HTTPServer(host="127.0.0.1", port=free_port())
        self.server.expect_request(PATH, method="POST").respond_with_handler(self.handle)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.port}{PATH}"

    def answer(self, status: int, *, apply_first: bool = False, times: int = 1) -> None:
        self._answers.extend([(status, apply_first)] * times)

    def handle(self, request) -> Response:
        with self._lock:
            body = json.loads(request.get_data())
            self.calls.append(body)
            self.headers.append(dict(request.headers))
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return _json(401, {"message": "Unauthenticated."})
            statements = body.get("statements") or []
            if not 1 <= len(statements) <= 100:
                return _json(422, {"message": "1 to 100 statements", "errors": {"statements": ["size"]}})
            if self._answers:
                status, apply_first = self._answers.pop(0)
                if apply_first:
                    self._store(statements)
                return _json(status, {"message": "answer"})
            errors = {}
            for index, statement in enumerate(statements):
                problems = {f: ["required"] for f in REQUIRED if statement.get(f) in (None, "", [])}
                if not PUID.match(str(statement.get("puid", ""))):
                    problems["puid"] = ["format"]
                if problems:
                    errors[f"statement_{index}"] = problems
            if errors:
                return _json(422, {"message": "invalid", "errors": errors})
            existing = [s["puid"] for s in statements if s["puid"] in self.stored]
            if existing:
                return _json(422, {"message": "The identifier(s) are not unique within this platform.",
                                   "errors": {"puid": ["not unique"], "existing_puids": existing}})  # fmt: skip
            return _json(201, {"statements": self._store(statements)})

    def _store(self, statements: list[dict]) -> list[dict]:
        created = []
        for statement in statements:
            self.stored[statement["puid"]] = dict(statement, uuid=str(uuid.uuid4()))
            created.append(self.stored[statement["puid"]])
        return created

    def stop(self) -> None:
        if self.server.is_running():
            self.server.stop()


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")

"""The one way a service refuses: a `DomainError` of one of four kinds, never an HTTP status.

Services raise them; the edges turn them into answers in one place each: `moderation.api_errors` for the API,
`moderation.page_errors` for pages and HTMX fragments. A caller decides what to do by the kind it catches,
never by reading the message (the message is for people).

- `NotFound`: no such thing for this caller (existence is not confirmed either way).
- `Forbidden`: it exists and the caller may see it, but may not do this (a lead's action, a protected subject).
- `Conflict`: the request was fine but the state does not allow it now (decided meanwhile, already exists).
- `Invalid`: the input is wrong; `field` names the field to fix.
"""


class DomainError(Exception):
    """A refusal: `message` says why (shown to the person or developer), `field` names the input it is about
    (`"__all__"`: the request as a whole), `existing` the id of an object already there, when there is one."""

    def __init__(self, message: str, *, field: str = "__all__", existing: int | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.existing = existing

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    """No such object for this caller."""


class Forbidden(DomainError):
    """The caller may not do this."""


class Conflict(DomainError):
    """The object's current state does not allow this (or it already exists)."""


class Invalid(DomainError):
    """The input is wrong; `field` says which."""


KINDS: tuple[type[DomainError], ...] = (NotFound, Forbidden, Conflict, Invalid)


class InvalidRows(Invalid):
    """A file refused as a whole (nothing written): `problems` lists `(line, field, message)` for every bad
    line, in file order, so the person can fix them all in one go."""

    def __init__(self, message: str, *, problems: list[tuple[int, str, str]], field: str = "file"):
        super().__init__(message, field=field)
        self.problems = problems

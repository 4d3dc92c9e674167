"""Background work a service asks for once its transaction commits (enrichment and routing, media copies).

Sent by task name through `moderation.taskdefs.enqueue`, never by importing `cases.tasks` (which imports the
services). One message per CHUNK cases keeps intake cheap and tasks short; a broker outage is logged, never
raised into the caller: the sweepers pick those cases up (`sweep_unrouted_cases`), and a media copy only
stays a placeholder.
"""

import logging

from django.conf import settings
from django.core.cache import cache

from moderation.taskdefs import enqueue

logger = logging.getLogger(__name__)
CHUNK = 10

ENRICH_CASES = "cases.enrich_cases"
FETCH_CASE_MEDIA = "cases.fetch_case_media"
GROUP_ACCEPTED_REPORTS = "cases.group_accepted_reports"
GROUPING_SCHEDULED_KEY = "intake:grouping-scheduled"


def enqueue_case_enrichment(case_ids: list[int]) -> None:
    """Called on commit of intake (and when restricted cases leave open queues)."""
    _enqueue_in_chunks(ENRICH_CASES, case_ids)


def enqueue_media_fetch(case_ids: list[int]) -> None:
    """Called on commit of intake for reports naming media."""
    if settings.MEDIA_FETCH:
        _enqueue_in_chunks(FETCH_CASE_MEDIA, case_ids)


def _enqueue_in_chunks(name: str, case_ids: list[int]) -> None:
    for start in range(0, len(case_ids), CHUNK):
        chunk = case_ids[start : start + CHUNK]
        try:
            enqueue(name, chunk)
        except Exception:
            logger.exception("could not enqueue %s for cases %s", name, chunk)


def enqueue_grouping() -> None:
    """Called when reports were accepted first: the grouper runs once per INTAKE_GROUP_DELAY_SECONDS however
    many arrive (one cache add per call, and a message only when none is scheduled).

    The message runs a little after the marker expires, never before: a report stored while the marker
    stands is committed before that grouper looks, and one stored after it schedules the next. Beat's
    sweep (every minute) covers a lost message or an outage of the broker."""
    eager = settings.CELERY_TASK_ALWAYS_EAGER  # no broker (development, tests): nothing runs it later
    delay = settings.INTAKE_GROUP_DELAY_SECONDS
    if not eager and not _first_in_window(delay):
        return
    try:
        if eager:
            enqueue(GROUP_ACCEPTED_REPORTS)  # runs now, in this process
        else:
            enqueue(GROUP_ACCEPTED_REPORTS, countdown=delay + 0.2)
    except Exception:
        logger.exception("could not enqueue %s; beat's sweep will group the reports", GROUP_ACCEPTED_REPORTS)


def _first_in_window(delay: float) -> bool:
    try:
        return cache.add(GROUPING_SCHEDULED_KEY, 1, timeout=delay)
    except Exception:  # the cache is down: a message too many beats a report left waiting a minute
        logger.warning("cache unavailable; scheduling the grouper regardless", exc_info=True)
        return True

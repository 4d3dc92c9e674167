"""Celery tasks for cases: thin, idempotent wrappers around services."""


def enqueue_case_enrichment(case_ids: list[int]) -> None:
    """Called on commit of intake: hand the touched cases to the enrichment pipeline."""

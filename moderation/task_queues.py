"""The Celery queues, one per kind of work, so one backlog never starves another (`make worker QUEUES=...`).

No Django or Celery imports: settings read it (to declare the queues) and so does the Makefile, through
`python -m moderation.task_queues enforcement,media`, which prints the broker names a worker's `-Q` takes and
refuses a name that is not a queue (a typo would otherwise start a worker that serves nothing).
"""

import os
import sys

QUEUES: dict[str, str] = {
    "intake": "enrichment and routing of new cases: what agents wait for after a report",
    "media": "media copies and hash-bank matching: slow downloads, kept away from enrichment",
    "enforcement": "webhook deliveries to the platform and to vendors (the outbox)",
    "sweeps": "beat's periodic tasks: sweepers, lease release, roll-ups, retention, the heartbeat",
    "training": "model training and evaluation: long, CPU-bound, never in front of the others",
}
ALL = "all"


def prefix() -> str:
    """`CELERY_QUEUE_PREFIX`: several deployments (or parallel test runs) on one broker keep apart."""
    return os.environ.get("CELERY_QUEUE_PREFIX", "")


def broker_names(spec: str = ALL, *, queue_prefix: str | None = None) -> list[str]:
    """`"enforcement,media"` (or `"all"`, or empty) → the queues' names on the broker, in that order."""
    chosen = [name.strip() for name in spec.split(",") if name.strip()] or [ALL]
    if ALL in chosen:
        chosen = list(QUEUES)
    unknown = [name for name in chosen if name not in QUEUES]
    if unknown:
        raise ValueError(f"unknown queue(s) {', '.join(unknown)}: use {', '.join(QUEUES)} or {ALL}")
    start = prefix() if queue_prefix is None else queue_prefix
    return [start + name for name in dict.fromkeys(chosen)]


if __name__ == "__main__":
    try:
        print(",".join(broker_names(",".join(sys.argv[1:]))))
    except ValueError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        sys.exit(2)

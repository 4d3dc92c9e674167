"""Celery tasks for queues: thin wrappers around the claim services."""

from moderation.taskdefs import task
from queues.services import release_expired_leases as release_expired_leases_service
from queues.services.health_snapshots import record_queue_health as record_queue_health_service
from queues.services.rule_guards import pause_surging_rules as pause_surging_rules_service


@task(name="queues.release_expired_leases", queue="sweeps", soft_time_limit=50, time_limit=60)
def release_expired_leases(self) -> int:
    """Beat: return abandoned cases (lease run out) to their queues, so counts and claim-next agree."""
    total = 0
    while (released := release_expired_leases_service()) > 0:
        total += released
    return total


@task(name="queues.pause_surging_rules", queue="sweeps", soft_time_limit=50, time_limit=60)
def pause_surging_rules(self) -> int:
    """Beat: pause live rules whose matches surge above their baseline (blast-radius guard)."""
    return len(pause_surging_rules_service())


@task(name="queues.record_queue_health", queue="sweeps", soft_time_limit=50, time_limit=60)
def record_queue_health(self) -> int:
    """Beat, every minute: the backlog snapshot, intake per hour and decision timings the leads' pages read."""
    return record_queue_health_service().snapshots

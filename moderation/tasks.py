"""Platform tasks: the worker heartbeat `/readyz` and the heartbeat-age metric read."""

from moderation.celery_signals import beat
from moderation.taskdefs import task


@task("moderation.record_worker_heartbeat", queue="sweeps", soft_time_limit=10, time_limit=20, max_retries=0)
def record_worker_heartbeat(self) -> None:
    # Beat sends this every READY_WORKER_HEARTBEAT_SECONDS / 4, so an idle but healthy worker still beats;
    # any task a worker runs beats too (task_postrun). Running it is the proof: the body only records it.
    if not self.request.is_eager:
        beat(force=True)

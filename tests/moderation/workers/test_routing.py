"""Every task runs on a named queue of its kind, so one backlog (a media flood, a retrying platform) never
starves another; the broker keeps tasks long enough, and no longer, than a worker may hold them."""

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

from cases.services import outbox
from moderation.celery import app
from moderation.task_queues import QUEUES, broker_names
from moderation.taskdefs import task

ROOT = Path(__file__).resolve().parents[3]


def project_tasks():
    # What autodiscovery imports in a worker: every installed app's tasks module.
    for config in apps.get_app_configs():
        if importlib.util.find_spec(f"{config.name}.tasks") is not None:
            importlib.import_module(f"{config.name}.tasks")
    # Celery's own tasks, and tasks some tests register for themselves, are not the project's.
    return {name: t for name, t in app.tasks.items() if not name.startswith(("celery.", "tests."))}


def routed_queue(name: str) -> str:
    return app.amqp.router.route({}, name, (), {}, app.tasks[name])["queue"].name


def test_every_registered_task_is_routed_to_a_named_queue():
    tasks = project_tasks()

    assert len(tasks) >= 15
    unrouted = {name: routed_queue(name) for name in tasks if routed_queue(name) not in QUEUES}
    assert unrouted == {}


@pytest.mark.parametrize(
    ("name", "queue"),
    [
        ("cases.enrich_cases", "intake"),
        ("cases.enrich_case_again", "intake"),
        ("cases.fetch_case_media", "media"),
        ("cases.deliver_enforcement", "enforcement"),
        ("cases.deliver_vendor_callback", "enforcement"),
        ("cases.purge_expired_content", "sweeps"),
        ("moderation.record_worker_heartbeat", "sweeps"),
    ],
)
def test_each_kind_of_work_has_its_own_queue(name, queue):
    project_tasks()
    assert routed_queue(name) == queue


# Beat's catch-up run of the accept-first grouper is intake work (it makes cases), so it waits behind intake,
# not behind the sweeps.
INTAKE_CATCH_UP = {"cases.group_accepted_reports"}


def test_every_beat_entry_goes_to_the_sweeps_queue():
    project_tasks()
    queues = {entry["task"]: routed_queue(entry["task"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        name: queue for name, queue in queues.items() if name not in INTAKE_CATCH_UP and queue != "sweeps"
    } == {}
    assert {queues[name] for name in INTAKE_CATCH_UP} == {"intake"}


def test_the_deployment_prefix_is_added_when_a_task_is_sent():
    project_tasks()
    previous = app.conf.queue_prefix
    app.conf.queue_prefix = "eu-"
    try:
        assert routed_queue("cases.deliver_enforcement") == "eu-enforcement"
    finally:
        app.conf.queue_prefix = previous


def test_each_queue_has_its_own_exchange_and_routing_key():
    # One shared exchange and key would copy every task into every queue on RabbitMQ.
    declared = {queue.name: (queue.exchange.name, queue.routing_key) for queue in settings.CELERY_TASK_QUEUES}
    assert declared == {name: (name, name) for name in QUEUES}


def test_a_task_declared_on_no_known_queue_is_refused():
    with pytest.raises(ValueError, match="queue 'bulk' is not one of"):
        task("tests.nowhere", queue="bulk")


def test_worker_queue_names_are_checked_and_prefixed():
    assert broker_names("enforcement, media", queue_prefix="") == ["enforcement", "media"]
    assert broker_names("all", queue_prefix="x-") == [f"x-{name}" for name in QUEUES]
    assert broker_names("", queue_prefix="") == list(QUEUES)
    with pytest.raises(ValueError, match="unknown queue"):
        broker_names("enforcment")


def test_make_worker_refuses_an_unknown_queue_before_starting_celery():
    result = subprocess.run(
        [sys.executable, "-m", "moderation.task_queues", "intake,enforcment"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "unknown queue(s) enforcment" in result.stderr


def test_redis_keeps_a_task_longer_than_it_can_be_held():
    """A message comes back after visibility_timeout: sooner than a running task's time limit or a retry's
    countdown would deliver it twice."""
    longest_limit = max(t.time_limit or 0 for t in project_tasks().values())
    longest_countdown = outbox.BACKOFF_CAP_SECONDS
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > longest_limit + longest_countdown


def test_tasks_are_acked_late_and_requeued_when_their_worker_dies():
    for name, declared in project_tasks().items():
        assert (declared.acks_late, declared.reject_on_worker_lost) == (True, True), name
        assert declared.time_limit and declared.soft_time_limit < declared.time_limit, name

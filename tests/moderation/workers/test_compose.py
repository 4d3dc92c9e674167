"""docker-compose runs one worker service per queue group, each scalable on its own and stopped gracefully,
and the event consumers in their own profile."""

from pathlib import Path

import yaml

from moderation.task_queues import QUEUES
from tests.moderation.workers.test_routing import project_tasks

ROOT = Path(__file__).resolve().parents[3]


def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def worker_services() -> dict[str, dict]:
    return {name: service for name, service in services().items() if name.startswith("worker-")}


def seconds(duration: str) -> int:
    assert duration.endswith("s"), duration
    return int(duration[:-1])


def test_every_queue_is_served_by_exactly_one_worker_service():
    served = [
        queue
        for service in worker_services().values()
        for queue in service["environment"]["WORKER_QUEUES"].split(",")
    ]
    assert sorted(served) == sorted(QUEUES)


def test_each_worker_service_waits_out_its_longest_task_before_it_is_killed():
    longest = {queue: 0 for queue in QUEUES}
    for declared in project_tasks().values():
        longest[declared.queue_group] = max(longest[declared.queue_group], declared.time_limit)
    for name, service in worker_services().items():
        queues = service["environment"]["WORKER_QUEUES"].split(",")
        assert seconds(service["stop_grace_period"]) > max(longest[queue] for queue in queues), name


def test_worker_services_take_their_queues_through_the_checked_list():
    for name, service in worker_services().items():
        command = service["command"][-1]
        assert 'python -m moderation.task_queues "$$WORKER_QUEUES"' in command, name
        assert '-Q "$$queues"' in command, name


def test_the_event_consumer_runs_in_the_events_profile_with_its_nats_server():
    compose = services()
    consumer = compose["consumer"]
    assert consumer["profiles"] == ["events"]
    assert consumer["command"] == ["python", "manage.py", "consume_events"]
    assert consumer["environment"]["EVENTS_NATS_URL"] == "nats://nats:4222"
    assert compose["nats"]["profiles"] == ["events"]
    assert "-js" in compose["nats"]["command"]

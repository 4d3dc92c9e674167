"""Platform-event detection benchmark (PostgreSQL): events/s per core, and event -> case latency via NATS.

    python bench/events.py [--events 20000] [--batch 100] [--terms 10000] [--rules 50]
                           [--latency-events 2000] [--rate 200] [--profile 25]

A fresh database `bench_events` with a keyword bank of `--terms` terms (every normalisation trick on) and
`--rules` routing rules with an event trigger: all but 5 never match (counter thresholds, languages, other
banks) and come first, so every event is judged by every rule; the last 5 open a case on a bank hit.

1. Throughput: `--events` events of ~200 characters (2 % hold a bank term, some of those evasions) from 2,000
   authors go through `ingest_events` in batches of `--batch`, as `consume_events` sends them: strict
   validation, normalisation, bank matching, the counters query, the rules, the inserts, and intake for the
   cases opened. Celery tasks go to a Redis broker (db 5) nobody serves: enrichment is not part of it.
   Prints events/s on the wall clock and per CPU-second of this (single-threaded) process; PostgreSQL
   runs on the same 2 cores.
2. Latency: a real `manage.py consume_events` process reads a real JetStream stream; `--latency-events` are
   published at `--rate`/s (10 % open a case) and each case's `opened_at` is compared with the moment its
   event was published. Prints p50 / p95 / max.

`--profile N` runs the throughput part under cProfile and prints its N most expensive functions (own time),
to see where an event's time goes; `--latency-events 0` skips part 2.

Goal (issue 18): >= 2,000 events/s per core with 10,000 bank terms and 50 rules.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from bench._harness import PYTHON, ROOT, django_env, fresh_database, manage

GOAL = 2_000
BROKER = os.environ.get("BENCH_EVENTS_BROKER", "redis://127.0.0.1:6379/5")
NATS_URL = os.environ.get("EVENTS_NATS_URL", "nats://127.0.0.1:4222")
SYLLABLES = [
    "ka",
    "ri",
    "mo",
    "te",
    "lu",
    "sa",
    "ne",
    "vo",
    "pi",
    "da",
    "gu",
    "ze",
    "ro",
    "mi",
    "ta",
    "lo",
    "fe",
    "bu",
    "ki",
    "na",
]
WORDS = [
    "the",
    "a",
    "we",
    "you",
    "they",
    "said",
    "post",
    "photo",
    "today",
    "really",
    "think",
    "good",
    "great",
    "nice",
    "thanks",
    "love",
    "new",
    "see",
    "here",
    "what",
    "when",
    "time",
    "people",
    "know",
    "about",
    "just",
    "like",
    "more",
    "some",
    "would",
    "could",
    "other",
]


def term(rng: random.Random) -> str:
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 4)))
    if rng.random() < 0.3:
        word += " " + "".join(rng.choice(SYLLABLES) for _ in range(3))
    return word


def evade(text: str, rng: random.Random) -> str:
    trick = rng.randrange(3)
    if trick == 0:
        return ".".join(text)
    if trick == 1:
        return text.upper().replace("A", "4").replace("O", "0")
    return "\u200b".join(text)


def text_of(rng: random.Random, terms: list[str], hit: bool) -> str:
    words = [rng.choice(WORDS) for _ in range(40)]
    if hit:
        found = rng.choice(terms)
        words.insert(rng.randrange(len(words)), evade(found, rng) if rng.random() < 0.4 else found)
    return " ".join(words)[:220]


def event(n: int, rng: random.Random, terms: list[str], hit_rate: float, prefix: str = "e") -> dict:
    return {
        "id": f"{prefix}{n}",
        "type": "message.posted",
        "subject": {
            "kind": "message",
            "external_id": f"{prefix}-msg-{n}",
            "author_id": f"user-{rng.randrange(2000)}",
            "text": text_of(rng, terms, rng.random() < hit_rate),
            "language": "en",
        },
    }


def setup(args, rng: random.Random):
    from cases.models import EventTrigger
    from cases.services.banks import create_bank, import_bank_entries
    from moderation.models import Policy, Vendor
    from queues.models import Queue, RoutingRule, ScoreCondition

    vendor = Vendor.objects.create(slug="platform", name="The platform")
    spam = Policy.objects.create(code="spam", name="Spam", severity=1, sla_hours=72)
    queue = Queue.objects.create(slug="general", name="General", is_default=True)
    terms = sorted({term(rng) for _ in range(args.terms * 2)})[: args.terms]
    bank = create_bank(name="bench-terms", kind="keyword", via="bench")
    rows = ["value,label", *(f"{value},bench" for value in terms)]
    import_bank_entries(bank=bank, data="\n".join(rows) + "\n", source="bench.csv", via="bench")
    never = [
        (ScoreCondition.Source.SYSTEM, "event.author_events_1h", 10_000),
        (ScoreCondition.Source.SYSTEM, "event.author_bank_hits_24h", 10_000),
        (ScoreCondition.Source.BANK, "bank:not-a-bank", 1),
    ]
    for index in range(args.rules):
        matching = index >= args.rules - 5
        rule = RoutingRule.objects.create(
            name=f"bench rule {index}",
            position=index,
            state=RoutingRule.State.LIVE,
            target_queue=queue,
            languages=[] if matching or index % 3 else ["de"],
        )
        source, label, threshold = (
            (ScoreCondition.Source.BANK, "bank:bench-terms", 1) if matching else never[index % len(never)]
        )
        ScoreCondition.objects.create(rule=rule, source=source, label=label, threshold=threshold)
        if not matching:
            ScoreCondition.objects.create(
                rule=rule, source=ScoreCondition.Source.BANK, label="bank:bench-terms", threshold=1
            )
        EventTrigger.objects.create(rule=rule, event_types=["message.posted"], open_policy=spam)
    return vendor, terms


def throughput(args, vendor, terms, rng) -> dict:
    from cases.event_validation import parse_event
    from cases.models import Case
    from cases.services.events import ingest_events

    raw = [event(n, rng, terms, 0.02) for n in range(args.events)]
    bodies = [json.dumps(item).encode() for item in raw]  # what arrives on the stream
    # Warm up: compile the bank, load the rules (what a consumer does once).
    ingest_events(source=vendor, events=[parse_event(event(10**9, rng, terms, 0.0))[0]])
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(bodies), args.batch):
        items = [parse_event(json.loads(body))[0] for body in bodies[start : start + args.batch]]
        ingest_events(source=vendor, events=items)
    wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(args.profile)
    return {
        "events": args.events,
        "cases_opened": Case.objects.count(),
        "wall_s": round(wall, 2),
        "events_per_s_wall": round(args.events / wall),
        "events_per_cpu_s": round(args.events / cpu),
    }


async def _publish(subject: str, stream: str, messages: list[bytes], rate: float) -> list[float]:
    import nats

    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    sent = []
    started = time.time()
    for index, message in enumerate(messages):
        delay = started + index / rate - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(time.time())
        await js.publish(subject, message)
    await nc.drain()
    return sent


async def _delete(stream: str) -> None:
    import nats

    nc = await nats.connect(NATS_URL)
    await nc.jetstream().delete_stream(stream)
    await nc.drain()


def latency(args, env, terms, rng) -> dict:
    from cases.models import Case, Event

    name = "bench_" + uuid.uuid4().hex[:8]
    subject = f"{name}.events"
    messages = [
        json.dumps(event(n, rng, terms, 0.10, prefix="lat")).encode() for n in range(args.latency_events)
    ]
    consumer = subprocess.Popen(
        [PYTHON, "manage.py", "consume_events", "--source", "platform", "--stream", name, "--subject", subject,
         "--durable", "bench", "--batch", str(args.batch), "--max-messages", str(args.latency_events)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        # Ready once it has compiled the bank and bound its durable consumer (it creates the stream).
        for line in consumer.stdout:
            if line.startswith("consuming "):
                break
        sent = asyncio.run(_publish(subject, name, messages, args.rate))
        output, _ = consumer.communicate(timeout=600)
    finally:
        if consumer.poll() is None:
            consumer.kill()
        asyncio.run(_delete(name))
    published = {f"lat{n}": at for n, at in enumerate(sent)}
    rows = Event.objects.filter(external_id__startswith="lat", case__isnull=False).values_list(
        "external_id", "case_id"
    )
    opened = dict(Case.objects.values_list("id", "opened_at"))
    waits = sorted((opened[case_id].timestamp() - published[eid]) * 1000 for eid, case_id in rows)
    if not waits:
        raise SystemExit("no case opened:\n" + output)
    return {
        "events": args.latency_events,
        "rate_per_s": args.rate,
        "cases": len(waits),
        "p50_ms": round(statistics.median(waits), 1),
        "p95_ms": round(waits[int(0.95 * (len(waits) - 1))], 1),
        "max_ms": round(waits[-1], 1),
        "consumer": output.strip().splitlines()[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--terms", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--latency-events", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args()

    database_url = fresh_database("bench_events")
    env = django_env(database_url, CELERY_BROKER_URL=BROKER, BANK_RELOAD_SECONDS="3600")
    manage(env, "migrate", "--noinput")
    os.environ.update(env)
    import django

    django.setup()
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    rng = random.Random(18)
    vendor, terms = setup(args, rng)
    result = {"terms": args.terms, "rules": args.rules, "batch": args.batch}
    result["throughput"] = throughput(args, vendor, terms, rng)
    if args.latency_events:
        result["latency"] = latency(args, env, terms, rng)
    redis.Redis.from_url(BROKER).flushdb()
    ok = result["throughput"]["events_per_cpu_s"] >= GOAL
    result["goal"] = f">= {GOAL} events/s per core: {'met' if ok else 'NOT met'}"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

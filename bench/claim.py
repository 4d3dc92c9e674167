"""Claim-next benchmark (PostgreSQL): 1,000,000 open cases in 20 queues, 16 concurrent claimers.

    python bench/claim.py [--cases 1000000] [--claimers 16] [--seconds 15] [--rate 0] [--reseed]

Each claimer is its own process with its own connection, calling the real service (`claim_next_case`) for
a random queue, then closing the case with one UPDATE (standing in for the decision, not timed) so the next
claim takes a new case. With --rate each claimer paces itself (an agent claims, works, claims again);
without it every claimer loops flat out, which on 2 cores measures CPU queueing as much as the claim. Prints
claims/s, p50/p95/p99 of claim-next, and checks no case was claimed twice.
The database (`moderation_bench_scale`) is reused between runs unless --reseed; bench/pages.py shares it.
"""

import argparse
import multiprocessing
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import percentile
from _scale import database_url, setup_django

# BENCH_DB_NAME: another database, e.g. moderation_scale10m from bench/generate_scale.py.
DB_NAME = os.environ.get("BENCH_DB_NAME", "moderation_bench_scale")


def claimer(url: str, index: int, seconds: float, rate: float, ready, results) -> None:
    setup_django(url)
    from django.contrib.auth.models import User
    from django.db import connection

    from cases.models import Case
    from queues.selectors import visible_queues
    from queues.services import claim_next_case

    user = User.objects.get(username=f"agent{index:02d}")
    queues = list(visible_queues(user))  # the ones the agent may claim from (not the restricted ones)
    rng = random.Random(index)
    latencies: list[float] = []
    claimed: list[int] = []
    empty = 0
    claim_next_case(user=user, queue=queues[0])  # warm up: first-call imports and caches
    Case.objects.filter(assignee=user).update(status="resolved", assignee=None, lease_expires_at=None)
    ready.wait()  # every process is set up (Django, the ML model import) before the clock starts
    deadline = time.time() + seconds
    next_at = time.time() + rng.uniform(0, 1 / rate) if rate else 0.0
    while time.time() < deadline:
        if rate:  # paced: an agent claims, works, claims again (Poisson arrivals at `rate` per second)
            pause = next_at - time.time()
            if pause > 0:
                time.sleep(pause)
            next_at += rng.expovariate(rate)
        queue = rng.choice(queues)
        user.__dict__.pop("_queue_access", None)  # as in a request: the membership look-up is paid
        began = time.perf_counter()
        case = claim_next_case(user=user, queue=queue)
        latencies.append(time.perf_counter() - began)
        if case is None:
            empty += 1
            continue
        claimed.append(case.pk)
        Case.objects.filter(pk=case.pk).update(status="resolved", assignee=None, lease_expires_at=None)
    connection.close()
    results.put((latencies, claimed, empty))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--claimers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="claims/s per claimer (0: as fast as possible, saturating)"
    )
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()

    url = database_url(
        DB_NAME, reseed=args.reseed, cases=args.cases, queues=args.queues, agents=args.claimers
    )
    setup_django(url)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM cases_case WHERE status = 'open' AND assignee_id IS NULL")
        (open_before,) = cursor.fetchone()
        cursor.execute(
            "EXPLAIN SELECT id FROM cases_case WHERE queue_id = (SELECT min(id) FROM queues_queue) "
            "AND status IN ('open', 'escalated') AND assignee_id IS NULL "
            "ORDER BY priority DESC, opened_at LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        plan = " / ".join(row[0].strip() for row in cursor.fetchall()[:3])
    connection.close()
    print(f"open unclaimed cases: {open_before:,}; plan: {plan}")

    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(args.claimers + 1)
    queue = ctx.Queue()
    processes = [
        ctx.Process(target=claimer, args=(url, i, args.seconds, args.rate, ready, queue))
        for i in range(args.claimers)
    ]
    for process in processes:
        process.start()
    ready.wait()
    results = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    latencies = sorted(value for result in results for value in result[0])
    claimed = [case_id for result in results for case_id in result[1]]
    empty = sum(result[2] for result in results)
    duplicates = len(claimed) - len(set(claimed))
    ms = [value * 1000 for value in latencies]
    pacing = f"each at {args.rate:g}/s" if args.rate else "each as fast as it can (saturating 2 cores)"
    print(
        f"{args.claimers} claimers {pacing}, {args.seconds:.0f} s: {len(claimed):,} claims, "
        f"{len(claimed) / args.seconds:,.0f} claims/s (each followed by an untimed close of the case)"
    )
    print(
        f"claim-next latency: p50 {percentile(ms, 50):.2f} ms, p95 {percentile(ms, 95):.2f} ms, "
        f"p99 {percentile(ms, 99):.2f} ms, max {ms[-1]:.1f} ms   (target p95 <= 10 ms)"
    )
    print(f"cases claimed twice: {duplicates}   empty answers: {empty}")
    if duplicates:
        sys.exit(1)


if __name__ == "__main__":
    main()

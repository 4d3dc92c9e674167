"""Server CPU of the agent's queue page (GET /queues/<slug>/, first page, full HTML) in-process.

    DATABASE_URL=postgres://.../moderation_demo python bench/queue_page_cpu.py [--n 300] [--lang de] [--profile]

Against a database seeded by `manage.py seed_demo` (at least 50 waiting cases in one queue). A logged-in
agent (session auth, as `ours_load.py queue` does) fetches the page through Django's full stack with the test
client; prints mean process CPU ms and SQL queries per page. `--profile` prints the top of a cProfile.
bench/pages.py measures the same page at 1M cases (latency, not CPU).
"""

import argparse
import cProfile
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--lang", default="en")
    parser.add_argument("--user", default="agent")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moderation.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from queues.selectors import queue_cases, visible_queues

    setup_test_environment()
    user = User.objects.get(username=args.user)
    client = Client(headers={"accept-language": args.lang})
    client.force_login(user)
    # The agent's queue with the most waiting cases, so the page has its 50 rows.
    counts = {q.slug: queue_cases(q).filter(assignee__isnull=True).count() for q in visible_queues(user)}
    slug = max(counts, key=counts.get)
    path = f"/queues/{slug}/"
    for _ in range(20):  # warm-up: templates, translations, caches
        response = client.get(path)
    assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as ctx:
        client.get(path)
    queries = len(ctx.captured_queries)
    rows = response.content.count(b"<tr><td")
    began_cpu, began = time.process_time(), time.perf_counter()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    for _ in range(args.n):
        client.get(path)
    if profiler:
        profiler.disable()
        if os.environ.get("PROFILE_OUT"):
            profiler.dump_stats(os.environ["PROFILE_OUT"])
    cpu = (time.process_time() - began_cpu) * 1000 / args.n
    wall = (time.perf_counter() - began) * 1000 / args.n
    print(
        f"{path} lang={args.lang} rows={rows} bytes={len(response.content)} queries={queries} "
        f"cpu_ms={cpu:.2f} wall_ms={wall:.2f} (n={args.n}{', profiled' if profiler else ''})"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()

"""Global search and timeline benchmark (PostgreSQL): server time of the header search (dropdown fragment),
the subject and the author timeline, at 1,000,000 cases (about 1.1M reports, 1M subjects).

    python bench/search.py [--cases 1000000] [--requests 100] [--reseed]

Its own database (`moderation_bench_find`), seeded like bench/claim.py's (`_scale.seed`): every case has
one report, every 500th has 50; authors have about five subjects each. Requests go through Django's full
stack in-process, as agent00 (a member of some queues: visibility filters apply). Prints p50/p95 and SQL
queries per look-up kind. Target (issue 17): p95 <= 300 ms at 10M reports.
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _harness import percentile
from _scale import HEAVY_EVERY, database_url, setup_django
from pages import measure

# BENCH_DB_NAME: another database, e.g. moderation_scale10m from bench/generate_scale.py.
DB_NAME = os.environ.get("BENCH_DB_NAME", "moderation_bench_find")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    url = database_url(DB_NAME, reseed=args.reseed, cases=args.cases, queues=20, agents=16)
    setup_django(url)
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import setup_test_environment

    from cases.models import Case

    setup_test_environment()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics: the planner must see the seeded sizes
    client = Client()
    client.force_login(User.objects.get(username="agent00"))
    rng = random.Random(7)
    top = Case.objects.order_by("-pk").values_list("pk", flat=True).first()
    authors = max(1, args.cases // 5)
    n = args.requests

    def dropdown(query: str) -> str:
        return f"/cases/search?q={query}"

    shapes = {
        "search: case id": [dropdown(str(rng.randint(1, top))) for _ in range(n)],
        "search: subject external id": [dropdown(f"m-{rng.randint(1, args.cases)}") for _ in range(n)],
        "search: subject address": [
            dropdown(f"https://platform.example/m/{rng.randint(1, args.cases)}") for _ in range(n)
        ],
        "search: author id": [dropdown(f"user-{rng.randint(0, authors - 1)}") for _ in range(n)],
        "search: report external id": [dropdown(f"r-{rng.randint(1, top)}-1") for _ in range(n)],
        "search: rare text (a message number)": [
            dropdown(f"message+{rng.randint(1, args.cases)}+you") for _ in range(n)
        ],
        "search: common word (every text)": [dropdown("worthless") for _ in range(max(10, n // 5))],
        "subject timeline (1 report)": [],
        "subject timeline (50 reports)": [],
        "author timeline (~5 subjects)": [
            f"/cases/authors/?id=user-{rng.randint(0, authors - 1)}" for _ in range(n)
        ],
    }
    from cases.models import Subject

    def subject_of(case_id: int) -> int:
        return Subject.objects.filter(cases__pk=case_id).values_list("pk", flat=True).first()

    shapes["subject timeline (1 report)"] = [
        f"/cases/subjects/{subject_of(rng.randint(1, top))}/" for _ in range(n)
    ]
    shapes["subject timeline (50 reports)"] = [
        f"/cases/subjects/{subject_of(rng.randint(1, top // HEAVY_EVERY) * HEAVY_EVERY)}/" for _ in range(n)
    ]
    measure(client, [dropdown("1")])  # warm up
    print(f"{'look-up':46} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for name, paths in shapes.items():
        # Pages a hidden subject or author 404s: count only what the agent may see.
        paths = [path for path in paths if client.get(path).status_code == 200][:n]
        if not paths:
            print(f"{name:46} (nothing visible to agent00)")
            continue
        timings, queries, _, _ = measure(client, paths)
        print(f"{name:46} {percentile(timings, 50):8.1f} {percentile(timings, 95):8.1f} {queries:8d}")
    print("target: search p95 <= 300 ms at 10M reports")


if __name__ == "__main__":
    main()

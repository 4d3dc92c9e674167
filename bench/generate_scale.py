"""Generate the issue-18 size database: 10M reports, 1M open cases, 100k authors, 20 queues, a year of audit.

    python bench/generate_scale.py [--database moderation_scale10m] [--open 1000000] [--resolved 3000000]
                                   [--authors 100000]

Drops and recreates the database (re-runnable), seeds it with bench/_scale_year.py and prints each step's
time, the row counts and the database size. About 10.4M reports, 10M audit rows; see _scale_year for the shape.
The other benches read it with `--database moderation_scale10m` (claim, pages, search) or
`BENCH_DB_NAME=moderation_scale10m` (the dashboards).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import fresh_database
from _scale import setup_django


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="moderation_scale10m")
    parser.add_argument("--open", type=int, default=1_000_000)
    parser.add_argument("--resolved", type=int, default=3_000_000)
    parser.add_argument("--authors", type=int, default=100_000)
    args = parser.parse_args()
    began = time.perf_counter()
    url = fresh_database(args.database)
    setup_django(url)
    from _scale_year import seed_year
    from django.db import connection

    counts = seed_year(resolved=args.resolved, open_cases=args.open, authors=args.authors)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        (size,) = cursor.fetchone()
    for table, count in counts.items():
        print(f"  {table:28} {count:>12,}")
    print(f"generated {args.database} in {time.perf_counter() - began:.0f} s; database size {size}")


if __name__ == "__main__":
    main()

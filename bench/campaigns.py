"""Campaign clustering benchmark: reports/s through `cases.detection.campaigns.group_case` (one by one) or
`cases.detection.campaign_batch.group_cases` (a chunk at once) on one core, and how well it finds the
campaigns planted in the stream.

    python bench/campaigns.py [--reports 5000] [--templates 50] [--duplicates 0.2] [--seed 7] [--batch N]

`--batch N` runs the stream twice in the same process, on the same database: first one by one (a commit
every N cases: the baseline), then, the index and campaigns emptied, in chunks of N through `group_cases`
(one transaction a chunk, as intake's enrichment chunks do); it prints both, their ratio, and whether the
two found the same campaigns.

Against the database the app uses: $DATABASE_URL (PostgreSQL: a fresh database `moderation_campaigns_bench`,
or $BENCH_DATABASE_NAME, on that server) or, without it, a fresh SQLite file of that name. The stream is short texts (8-20 words, ~60-130
characters): 80% unique, 20% near-duplicates of 50 campaign templates (a word swapped or added, Cyrillic
homoglyphs, zero-width characters, leet, separators, stretched letters, punctuation), by random authors.
Cases are created before the clock starts (intake is not measured here); each case is then grouped in its own
transaction, as enrichment does (`--commit-every N` batches the commits, to show the grouping's own cost: in
production the enrichment transaction it runs in commits anyway). Prints reports/s, per-case latency percentiles, the share spent computing
the signatures (the same texts, sketched alone: the CPU floor), and pairwise precision/recall of the found
near-duplicate campaigns against the planted ones.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from math import comb

sys.path.insert(0, os.path.dirname(__file__))

WORDS = [
    "the",
    "a",
    "to",
    "and",
    "of",
    "you",
    "your",
    "is",
    "in",
    "it",
    "for",
    "on",
    "this",
    "that",
    "with",
    "my",
    "me",
    "we",
    "be",
    "are",
    "at",
    "now",
    "free",
    "get",
    "new",
    "win",
    "best",
    "click",
    "link",
    "here",
    "today",
    "offer",
    "only",
    "people",
    "friends",
    "money",
    "crypto",
    "wallet",
    "phone",
    "gift",
    "card",
    "account",
    "verify",
    "login",
    "password",
    "bank",
    "prize",
    "winner",
    "limited",
    "time",
    "follow",
    "like",
    "share",
    "post",
    "video",
    "photo",
    "check",
    "out",
    "amazing",
    "deal",
    "cheap",
    "sale",
    "buy",
    "sell",
    "order",
    "fast",
    "easy",
    "work",
    "home",
    "job",
    "earn",
    "cash",
    "daily",
    "bonus",
    "code",
    "promo",
    "secret",
    "trick",
    "doctor",
    "hate",
    "love",
    "game",
    "play",
    "team",
    "match",
    "news",
    "story",
    "life",
    "world",
    "city",
    "music",
    "movie",
    "book",
    "food",
    "travel",
    "dog",
    "cat",
    "weather",
    "morning",
    "night",
    "week",
    "weekend",
    "party",
    "birthday",
    "happy",
    "sad",
    "angry",
    "funny",
    "great",
    "good",
    "bad",
    "really",
    "very",
    "think",
    "know",
    "want",
    "need",
    "make",
    "take",
    "give",
    "see",
    "look",
    "come",
    "going",
    "back",
    "just",
    "still",
    "never",
    "always",
    "maybe",
    "please",
    "thanks",
    "sorry",
    "hello",
    "yes",
    "no",
    "why",
    "what",
    "when",
    "where",
    "who",
    "how",
    "much",
    "many",
    "more",
    "most",
    "less",
    "some",
    "any",
    "every",
]
HOMOGLYPHS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "c": "\u0441", "p": "\u0440", "i": "\u0456"}
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5"}


def _zipf_word(rng: random.Random) -> str:
    # Common words far more often than rare ones, as in real text (so unrelated texts share some 5-grams).
    return (
        WORDS[min(int(rng.paretovariate(1.1)) - 1, len(WORDS) - 1)]
        if rng.random() < 0.5
        else rng.choice(WORDS)
    )


def _sentence(rng: random.Random) -> list[str]:
    return [_zipf_word(rng) for _ in range(rng.randint(8, 20))]


def _evade(words: list[str], rng: random.Random) -> str:
    words = list(words)
    for _ in range(rng.randint(1, 2)):
        trick = rng.choice(
            ["swap", "add", "homoglyph", "zero-width", "leet", "separators", "stretch", "shout"]
        )
        index = rng.randrange(len(words))
        word = words[index]
        if trick == "swap":
            words[index] = rng.choice(WORDS)
        elif trick == "add":
            words.insert(index, rng.choice(WORDS))
        elif trick == "homoglyph":
            words[index] = "".join(HOMOGLYPHS.get(ch, ch) for ch in word)
        elif trick == "zero-width":
            words[index] = "\u200b".join(word)
        elif trick == "leet" and len(word) > 2:
            words[index] = word[0] + "".join(LEET.get(ch, ch) for ch in word[1:-1]) + word[-1]
        elif trick == "separators" and len(word) > 2:
            words[index] = ".".join(word)
        elif trick == "stretch":
            words[index] = word + word[-1] * 3
        else:
            words[-1] = words[-1] + "!!!"
    return " ".join(words)


def stream(reports: int, templates: int, duplicates: float, seed: int) -> list[tuple[str, str, int | None]]:
    """(text, author, planted template or None), in arrival order."""
    rng = random.Random(seed)
    bases = [_sentence(rng) + _sentence(rng)[:4] for _ in range(templates)]
    items = []
    for _ in range(reports):
        if rng.random() < duplicates:
            template = rng.randrange(templates)
            items.append((_evade(bases[template], rng), f"author-{rng.randrange(reports)}", template))
        else:
            items.append((" ".join(_sentence(rng)), f"author-{rng.randrange(reports)}", None))
    return items


def pairwise(found: dict[int, int | None], planted: dict[int, int | None]) -> tuple[float, float]:
    """Pairwise precision and recall of the found grouping (case -> campaign) against the planted one."""
    together = Counter((found[case], planted[case]) for case in found if found[case] is not None)
    true_positive = sum(comb(n, 2) for (_, template), n in together.items() if template is not None)
    found_pairs = sum(comb(n, 2) for n in Counter(c for c in found.values() if c is not None).values())
    true_pairs = sum(comb(n, 2) for n in Counter(t for t in planted.values() if t is not None).values())
    return (true_positive / found_pairs if found_pairs else 1.0), (
        true_positive / true_pairs if true_pairs else 1.0
    )


def run(
    *,
    reports: int,
    templates: int = 50,
    duplicates: float = 0.2,
    seed: int = 7,
    commit_every: int = 1,
    batch: int = 0,
) -> dict:
    """Create the cases, group them (one by one, or in chunks of `batch`), and measure (needs a migrated
    database and Django set up)."""
    from django.db import transaction

    from cases.detection import campaign_batch, campaigns, near_duplicates
    from cases.models import Campaign, CampaignMember, Case, Subject
    from moderation.models import Policy

    items = stream(reports, templates, duplicates, seed)
    policy, _ = Policy.objects.get_or_create(code="spam", defaults={"name": "Spam", "severity": 1})
    prefix = f"bench-{seed}-{time.time_ns()}"
    subjects = Subject.objects.bulk_create(
        Subject(kind="message", external_id=f"{prefix}-{n}", author_id=author, text=text)
        for n, (text, author, _) in enumerate(items)
    )
    cases = Case.objects.bulk_create(Case(subject=subject, policy=policy) for subject in subjects)
    loaded = {
        case.pk: case for case in Case.objects.filter(pk__in=[c.pk for c in cases]).select_related("subject")
    }
    ordered = [loaded[case.pk] for case in cases]

    started = time.perf_counter()
    for text, _, _ in items:
        near_duplicates.sketch(text).band_hashes()
    sketch_seconds = time.perf_counter() - started
    # Baseline, same run: one database round trip (the machine's load shows here first).
    from django.db import connection

    with connection.cursor() as cursor:
        began = time.perf_counter()
        for _ in range(200):
            cursor.execute("SELECT 1")
            cursor.fetchone()
        round_trip = (time.perf_counter() - began) / 200

    latencies = []  # per case (one by one) or per chunk (batched)
    started = time.perf_counter()
    if batch:
        ids = [case.pk for case in ordered]
        for start in range(0, len(ids), batch):
            began = time.perf_counter()
            campaign_batch.group_cases(ids[start : start + batch])  # its own transaction, one commit
            latencies.append(time.perf_counter() - began)
    else:
        for start in range(0, len(ordered), commit_every):
            with transaction.atomic():
                for case in ordered[start : start + commit_every]:
                    began = time.perf_counter()
                    with transaction.atomic():  # the enrichment transaction (a savepoint when batched)
                        campaigns.group_case(case)
                    latencies.append(time.perf_counter() - began)
    seconds = time.perf_counter() - started

    members = dict(
        CampaignMember.objects.filter(case_id__in=loaded, kind=Campaign.Kind.NEAR_DUPLICATE_TEXT).values_list(
            "case_id", "campaign_id"
        )
    )
    found = {case.pk: members.get(case.pk) for case in ordered}
    planted = {case.pk: template for case, (_, _, template) in zip(ordered, items, strict=True)}
    precision, recall = pairwise(found, planted)
    latencies.sort()
    per_report = 1 / max(batch, 1)
    return {
        "batch": batch,
        "partition": sorted(
            sorted(n for n, case in enumerate(ordered) if found[case.pk] == campaign)
            for campaign in {c for c in found.values() if c is not None}
        ),
        "batch_p50_ms": statistics.median(latencies) * 1000,
        "batch_p95_ms": latencies[max(int(len(latencies) * 0.95) - 1, 0)] * 1000,
        "reports": reports,
        "seconds": seconds,
        "reports_per_second": reports / seconds,
        "p50_ms": statistics.median(latencies) * 1000 * per_report,
        "p95_ms": latencies[max(int(len(latencies) * 0.95) - 1, 0)] * 1000 * per_report,
        "p99_ms": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000 * per_report,
        "sketch_share": sketch_seconds / seconds,
        "sketch_per_second": reports / sketch_seconds,
        "round_trip_ms": round_trip * 1000,
        "campaigns": len(set(c for c in found.values() if c is not None)),
        "planted": len(set(t for t in planted.values() if t is not None)),
        "precision": precision,
        "recall": recall,
    }


def empty_index() -> None:
    """Forget every campaign, membership, size signal and indexed text, so a second run starts as the first
    did (the cases and subjects stay: nothing finds them without the index)."""
    from cases.models import Campaign, CampaignMember, Signal, TextFingerprint, TextSignature

    Signal.objects.filter(label="campaign.size")._raw_delete("default")
    for model in (CampaignMember, TextFingerprint, TextSignature):
        model.objects.all()._raw_delete("default")
    Campaign.objects.update(merged_into=None)
    Campaign.objects.all()._raw_delete("default")


def _setup(database_url: str | None) -> str:
    from _harness import ROOT, fresh_database

    if database_url:
        url = fresh_database(os.environ.get("BENCH_DATABASE_NAME", "moderation_campaigns_bench"))
        os.environ["DATABASE_URL"] = url
        where = f"PostgreSQL (fresh {url.rsplit('/', 1)[-1]})"
    else:
        path = os.path.join(
            tempfile.gettempdir(),
            os.environ.get("BENCH_DATABASE_NAME", "moderation_campaigns_bench") + ".sqlite3",
        )
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = path
        where = f"SQLite ({path})"
    os.environ.update(
        SECRET_KEY="bench-only",
        DJANGO_DEBUG="0",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="moderation.settings",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--templates", type=int, default=50)
    parser.add_argument("--duplicates", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--commit-every",
        type=int,
        default=1,
        help="cases per commit (1: each case commits, the worst case; in production grouping runs inside the "
        "enrichment transaction, whose commit is paid with or without it)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="also group in chunks of N through group_cases, after a one-by-one baseline (a commit every N)",
    )
    args = parser.parse_args()
    where = _setup(os.environ.get("DATABASE_URL"))
    options = dict(reports=args.reports, templates=args.templates, duplicates=args.duplicates, seed=args.seed)
    commit_every = args.batch or max(args.commit_every, 1)
    result = run(**options, commit_every=commit_every)
    print(f"database: {where}; load {os.getloadavg()[0]:.1f}")
    print(f"== one by one (group_case), a commit every {commit_every} case(s)")
    _report(result, args)
    if args.batch:
        empty_index()
        batched = run(**options, batch=args.batch)
        print(f"== batched (group_cases), chunks of {args.batch}, one commit each")
        _report(batched, args)
        print(
            f"chunk: p50 {batched['batch_p50_ms']:.2f} ms, p95 {batched['batch_p95_ms']:.2f} ms; "
            f"batched/one-by-one: {batched['reports_per_second'] / result['reports_per_second']:.1f}x; "
            f"same campaigns as one by one: {'yes' if batched['partition'] == result['partition'] else 'NO'}"
        )


def _report(result: dict, args) -> None:
    print(
        f"{result['reports']} reports ({args.duplicates:.0%} near-duplicates of {args.templates} templates) "
        f"grouped in {result['seconds']:.2f} s: {result['reports_per_second']:,.0f} reports/s on one core"
    )
    print(
        f"per report{' (chunk time / chunk size)' if result['batch'] else ''}: p50 {result['p50_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms; "
        f"signatures alone are {result['sketch_share']:.0%} of it ({result['sketch_per_second']:,.0f} texts/s: "
        "the CPU floor; the rest is the database)"
    )
    print(
        f"baseline: one database round trip (SELECT 1) {result['round_trip_ms']:.2f} ms; the median case costs "
        f"{result['p50_ms'] / result['round_trip_ms']:.1f} round trips"
    )
    print(
        f"campaigns found {result['campaigns']} (planted {result['planted']}); pairwise precision "
        f"{result['precision']:.3f}, recall {result['recall']:.3f}"
    )


if __name__ == "__main__":
    main()

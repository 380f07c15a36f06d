"""Matching quality: nDCG@10 and recall@10 of GET /v1/demands/{id}/matches on a judged set, right after publishing and once
the background jobs have settled, beside a PostgreSQL full-text baseline."""

import argparse
import json
import math
import re
import secrets
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from bench.http_bench import Started, bench_run, expect, percentile, run_async
from tests.support import bearer

HERE = Path(__file__).resolve().parent
DATA = HERE / "matching_eval"
# The judged sets: the first one (written with the glossary) and one on industries the glossary does not cover.
SETS = {"default": DATA, "uncovered": HERE / "matching_eval_uncovered"}
K = 10
RELEVANT_GRADE = 2
STYLES = ("vi", "vi-ascii", "en")
STYLE_LABELS = {"vi": "vi", "vi-ascii": "vi no diacritics", "en": "en"}
NOT_CREATE_FIELDS = ("key", "owner")
INDEX_TIMEOUT = 300.0
SETTLE_TIMEOUT = 900.0


# --- Metrics (pure) -----------------------------------------------------------------------------------


def dcg(gains: Iterable[float]) -> float:
    """Discounted cumulative gain of gains in rank order (rank 1 is undiscounted)."""
    return sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains))


def ndcg_at_k(ranked: Sequence[str | None], grades: Mapping[str, int], k: int = K) -> float:
    """nDCG@k with graded gains 2^g - 1; the ideal ranking orders every judged item by grade. Unjudged items gain 0."""
    ideal = dcg(2**g - 1 for g in sorted(grades.values(), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    seen: set[str] = set()
    gains = []
    for item in ranked[:k]:
        # A repeated item earns nothing the second time.
        gains.append(2 ** grades.get(item, 0) - 1 if item is not None and item not in seen else 0)
        if item is not None:
            seen.add(item)
    return dcg(gains) / ideal


def recall_at_k(
    ranked: Sequence[str | None], grades: Mapping[str, int], k: int = K, threshold: int = RELEVANT_GRADE
) -> float:
    """Share of the relevant items (grade >= threshold) found in the top k; 0 when nothing is relevant."""
    relevant = {item for item, g in grades.items() if g >= threshold}
    if not relevant:
        return 0.0
    return len(relevant & {item for item in ranked[:k] if item is not None}) / len(relevant)


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean (nan when empty)."""
    return sum(values) / len(values) if values else math.nan


def other_language_only(
    demand: Mapping, grades: Mapping[str, int], languages: Mapping[str, str], threshold: int = RELEVANT_GRADE
) -> bool:
    """Whether every relevant offer of a demand (grade >= threshold; at least one) is written in the other language."""
    relevant = [item for item, g in grades.items() if g >= threshold]
    return bool(relevant) and all(languages[item] != demand["language"] for item in relevant)


# --- The evaluation set ---------------------------------------------------------------------------------


@dataclass
class EvalSet:
    """Organizations, offers and demands (each with a stable key and an owner) and graded judgments."""

    organizations: list[dict]
    offers: list[dict]
    demands: list[dict]
    judgments: dict[str, dict[str, int]]


def load_set(folder: Path = DATA) -> EvalSet:
    """Read the four JSON files of the evaluation set."""
    read = lambda name: json.loads((folder / name).read_text(encoding="utf-8"))  # noqa: E731
    return EvalSet(read("organizations.json"), read("offers.json"), read("demands.json"), read("judgments.json"))


def style(demand: Mapping) -> str:
    """How the demand was typed: en, vi with diacritics, or vi-ascii (Vietnamese without diacritics)."""
    if demand["language"] == "en":
        return "en"
    text = " ".join([demand["title"], demand["description"], *demand.get("keywords", [])])
    return "vi" if any(ch.isalpha() and not ch.isascii() for ch in text) else "vi-ascii"


def create_body(item: Mapping) -> dict:
    """The API create body of an offer or demand: every field but the set's own key and owner."""
    return {name: value for name, value in item.items() if name not in NOT_CREATE_FIELDS}


# --- Setting up over HTTP ------------------------------------------------------------------------------


@dataclass
class Published:
    """What setup created: listing ids by key (and back), and each organization's owner key."""

    offer_ids: dict[str, str] = field(default_factory=dict)
    demand_ids: dict[str, str] = field(default_factory=dict)
    org_keys: dict[str, str] = field(default_factory=dict)

    def offer_key(self, listing_id: str) -> str | None:
        """The set's key of a published offer id (None for an offer this run did not create)."""
        return next((key for key, value in self.offer_ids.items() if value == listing_id), None)


def publish(client: httpx.Client, operator_key: str, evalset: EvalSet, tag: str) -> Published:
    """Register and verify the organizations, then create, submit and approve every offer and demand."""
    done = Published()
    for org in evalset.organizations:
        body = {
            "name": f"{org['name']} (eval {tag})",
            "kind": org["kind"],
            "province": org["province"],
            "contact_email": f"{org['key']}-{tag}@eval.example.vn",
        }
        registered = expect(client.post("/v1/organizations", json=body), 201)
        org_id = registered["organization"]["id"]
        expect(client.post(f"/v1/organizations/{org_id}/verify", headers=bearer(operator_key)), 200)
        done.org_keys[org["key"]] = registered["api_key"]
    for kind, items, ids in (("offers", evalset.offers, done.offer_ids), ("demands", evalset.demands, done.demand_ids)):
        for item in items:
            owner = bearer(done.org_keys[item["owner"]])
            created = client.post(f"/v1/{kind}", json=create_body(item), headers=owner)
            if created.status_code != 201:
                raise RuntimeError(
                    f"setup: {kind} {item['key']} was refused ({created.status_code}): {created.text[:500]}"
                )
            listing_id = created.json()["id"]
            expect(client.post(f"/v1/{kind}/{listing_id}/submit", headers=owner), 200)
            expect(client.post(f"/v1/{kind}/{listing_id}/approve", headers=bearer(operator_key)), 200)
            ids[item["key"]] = listing_id
    return done


def indexed_total(client: httpx.Client, kind: str) -> int | None:
    """The search index's estimated total of published listings of a kind; None when search is not there."""
    response = client.get(f"/v1/search/{kind}", params={"limit": 1})
    if response.status_code == 404:
        return None
    expect(response, 200)
    return int(response.json()["estimated_total"])


def wait_indexed(client: httpx.Client, expected: Mapping[str, int], timeout: float) -> str:
    """Poll search until each index holds the expected number of listings; say how long it took."""
    start = time.perf_counter()
    while True:
        totals = {kind: indexed_total(client, kind) for kind in expected}
        if any(total is None for total in totals.values()):
            return "search endpoints absent: not waited for the index"
        if all(totals[kind] >= count for kind, count in expected.items()):
            return f"indexed after {time.perf_counter() - start:.1f} s ({', '.join(f'{k} {v}' for k, v in totals.items())})"
        if time.perf_counter() - start > timeout:
            raise RuntimeError(
                f"the index still shows {totals} after {timeout:g} s, expected at least {dict(expected)}"
            )
        time.sleep(0.5)


BACKLOG_SQL = "SELECT count(*) FROM outbox WHERE processed_at IS NULL"


async def _outbox_backlog(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(BACKLOG_SQL))
    finally:
        await conn.close()


def backlog(client: httpx.Client, database_url: str | None) -> int | None:
    """Events still waiting for a background consumer (vectors among them): from the outbox when the database is at hand,
    else from the "background jobs" check of /health/ready; None when neither tells."""
    if database_url:
        return run_async(_outbox_backlog(database_url))
    response = client.get("/health/ready")
    try:
        checks = response.json().get("checks", [])
    except ValueError:
        return None
    for check in checks:
        if check.get("name") == "background jobs" and check.get("ok"):
            detail = str(check.get("detail", ""))
            if detail.startswith("no event"):
                return 0
            found = re.match(r"(\d+) events?", detail)
            return int(found.group(1)) if found else None
    return None


def wait_settled(client: httpx.Client, database_url: str | None, timeout: float) -> str:
    """Poll until no background event waits (every vector computed); say how long it took."""
    start = time.perf_counter()
    while True:
        waiting = backlog(client, database_url)
        if waiting is None:
            return "background backlog unknown: not waited"
        if waiting == 0:
            return f"settled {time.perf_counter() - start:.1f} s after the first matching pass"
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"{waiting} background events still waiting after {timeout:g} s")
        time.sleep(1.0)


# --- The two systems -----------------------------------------------------------------------------------


@dataclass
class Run:
    """One system's top-k offer keys per demand (None for a listing outside the set), and its latencies."""

    name: str
    rankings: dict[str, list[str | None]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    note: str = ""


def matching_run(client: httpx.Client, evalset: EvalSet, done: Published, k: int, name: str) -> Run | str:
    """Ask GET /v1/demands/{id}/matches for every demand with its owner's key; a message when the endpoint is absent."""
    run = Run(name)
    for demand in evalset.demands:
        started = time.perf_counter()
        response = client.get(
            f"/v1/demands/{done.demand_ids[demand['key']]}/matches",
            params={"limit": k},
            headers=bearer(done.org_keys[demand["owner"]]),
        )
        run.latencies.append(time.perf_counter() - started)
        if response.status_code in (404, 405) and not run.rankings:
            return f"GET /v1/demands/{{id}}/matches is not available (HTTP {response.status_code}): only the baseline is measured"
        items = expect(response, 200)["items"]
        run.rankings[demand["key"]] = [done.offer_key(str(item["listing"]["id"])) for item in items[:k]]
    return run


_WORD = re.compile(r"[0-9a-z]+")

BASELINE_SQL = """
SELECT id::text
FROM listings,
     to_tsvector('simple', unaccent(concat_ws(' ', title, summary, description, array_to_string(keywords, ' ')))) AS doc,
     to_tsquery('simple', $1) AS query
WHERE kind = 'offer' AND status = 'published' AND id = ANY($2::uuid[]) AND doc @@ query
ORDER BY ts_rank_cd(doc, query) DESC, id
LIMIT $3
"""


async def baseline_run(database_url: str, evalset: EvalSet, done: Published, k: int) -> Run:
    """PostgreSQL full-text search: the unaccented title and keywords of each demand as an OR query, ranked by ts_rank_cd."""
    run = Run("PostgreSQL FTS")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        offer_ids = list(done.offer_ids.values())
        for demand in evalset.demands:
            folded = await conn.fetchval("SELECT lower(unaccent($1))", " ".join([demand["title"], *demand["keywords"]]))
            words = list(dict.fromkeys(_WORD.findall(folded)))
            started = time.perf_counter()
            rows = await conn.fetch(BASELINE_SQL, " | ".join(words), offer_ids, k) if words else []
            run.latencies.append(time.perf_counter() - started)
            run.rankings[demand["key"]] = [done.offer_key(row["id"]) for row in rows]
    finally:
        await conn.close()
    return run


# --- Report ----------------------------------------------------------------------------------------------


@dataclass
class Scores:
    """Per-demand nDCG@k and recall@k of one run."""

    ndcg: dict[str, float]
    recall: dict[str, float]


def score(run: Run, evalset: EvalSet, k: int) -> Scores:
    """nDCG@k and recall@k of every demand of a run."""
    ndcg = {
        d["key"]: ndcg_at_k(run.rankings.get(d["key"], []), evalset.judgments.get(d["key"], {}), k)
        for d in evalset.demands
    }
    recall = {
        d["key"]: recall_at_k(run.rankings.get(d["key"], []), evalset.judgments.get(d["key"], {}), k)
        for d in evalset.demands
    }
    return Scores(ndcg, recall)


def print_report(evalset: EvalSet, runs: list[Run], k: int, verbose: bool) -> None:
    """The side-by-side table by demand style, then per-demand lines when verbose."""
    styles = {d["key"]: style(d) for d in evalset.demands}
    counts = {s: sum(1 for v in styles.values() if v == s) for s in STYLES}
    scored = [(run, score(run, evalset, k)) for run in runs]
    languages = {o["key"]: o["language"] for o in evalset.offers}
    other = {
        d["key"] for d in evalset.demands if other_language_only(d, evalset.judgments.get(d["key"], {}), languages)
    }
    groups = (
        [("all", list(styles))]
        + [(STYLE_LABELS[s], [key for key, v in styles.items() if v == s]) for s in STYLES]
        + [
            ("other lang.", [key for key in styles if key in other]),
            ("rest", [key for key in styles if key not in other]),
        ]
    )
    header = f"{'system':<28} | {'metric':<10} | " + " | ".join(
        f"{f'{label} ({len(keys)})':>19}" for label, keys in groups
    )
    print(header)
    print("-" * len(header))
    for run, sc in scored:
        for metric, values in ((f"nDCG@{k}", sc.ndcg), (f"recall@{k}", sc.recall)):
            cells = " | ".join(f"{mean([values[key] for key in keys]):>19.3f}" for _, keys in groups)
            print(f"{run.name:<28} | {metric:<10} | {cells}")
    print()
    print("demands by style: " + ", ".join(f"{STYLE_LABELS[s]} {counts[s]}" for s in STYLES))
    print(
        f"other lang.: the {len(other)} demands whose relevant offers (grade >= {RELEVANT_GRADE}) are all in the other "
        "language; rest: the others"
    )
    print(
        f"gains 2^grade - 1, ideal DCG from every judged offer of the demand; recall@{k}: relevant = grade >= {RELEVANT_GRADE}"
    )
    for run in runs:
        found = {"same": [0, 0], "other": [0, 0]}
        for demand in evalset.demands:
            top = set(run.rankings.get(demand["key"], [])[:k])
            for item, g in evalset.judgments.get(demand["key"], {}).items():
                if g >= RELEVANT_GRADE:
                    side = found["same" if languages[item] == demand["language"] else "other"]
                    side[0] += item in top
                    side[1] += 1
        print(
            f"{run.name}: relevant offers found in the demand's language {found['same'][0]}/{found['same'][1]}, "
            f"in the other language {found['other'][0]}/{found['other'][1]}"
        )
    for run in runs:
        ordered = sorted(run.latencies)
        if ordered:
            print(
                f"{run.name}: p50 {percentile(ordered, 0.5) * 1000:.1f} ms, p99 {percentile(ordered, 0.99) * 1000:.1f} ms per demand"
                + (f"; {run.note}" if run.note else "")
            )
    if verbose:
        print()
        for demand in evalset.demands:
            key = demand["key"]
            grades = evalset.judgments.get(key, {})
            side = ", other language only" if key in other else ""
            print(f"{key} [{STYLE_LABELS[styles[key]]}{side}] judged {len(grades)}: {demand['title'][:80]}")
            for run, sc in scored:
                top = ", ".join(f"{item or '(other)'}:{grades.get(item, 0)}" for item in run.rankings.get(key, [])[:5])
                print(f"    {run.name:<28} nDCG {sc.ndcg[key]:.3f} recall {sc.recall[key]:.2f}  top: {top}")
            missed = [
                item
                for item, g in grades.items()
                if g >= RELEVANT_GRADE and all(item not in r.rankings.get(key, [])[:k] for r in runs)
            ]
            if missed:
                print(f"    missed by every system: {', '.join(missed)}")


# --- Command line --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.matching_eval", description=__doc__)
    p.add_argument(
        "--url", help="a running service (http://host:port); default: start the embedded stack and the service"
    )
    p.add_argument("--operator-key", help="an operator's API key (needed with --url)")
    p.add_argument(
        "--database-url", help="the running service's database, for the baseline (with --url; without it no baseline)"
    )
    p.add_argument(
        "--set",
        choices=sorted(SETS),
        default="default",
        help="which judged set: default (the first set) or uncovered (industries the glossary does not cover)",
    )
    p.add_argument("--data", type=Path, help="folder of an evaluation set (instead of --set)")
    p.add_argument("--k", type=int, default=K, help=f"cut-off of both metrics (default {K})")
    p.add_argument(
        "--timeout", type=float, default=INDEX_TIMEOUT, help="seconds to wait for the index to show every listing"
    )
    p.add_argument(
        "--settle-timeout",
        type=float,
        default=SETTLE_TIMEOUT,
        help="seconds to wait, after the first matching pass, for every background event (vectors) to be processed",
    )
    p.add_argument(
        "--verbose", action="store_true", help="per-demand lines: scores and the top results with their grades"
    )
    args = p.parse_args(argv)
    args.data = args.data or SETS[args.set]
    if args.url and not args.operator_key:
        p.error("--url needs --operator-key")
    return args


def main(argv: list[str] | None = None) -> int:
    """Start (or reach) the service, publish the set, run both systems, print the figures, stop what was started."""
    args = parse_args(argv)
    evalset = load_set(args.data)
    with bench_run("exchange-matching-eval-") as started:
        try:
            return evaluate(args, evalset, started)
        except (RuntimeError, httpx.HTTPError, OSError, asyncpg.PostgresError) as exc:
            print(f"matching_eval: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; stopping what this run started", file=sys.stderr)
            return 130


def evaluate(args: argparse.Namespace, evalset: EvalSet, started: Started) -> int:
    """Publish the set on the service, run both systems and print the figures."""
    if args.url:
        url, operator_key, database_url = args.url.rstrip("/"), args.operator_key, args.database_url
    else:
        stack = started.start_stack()
        operator_key = secrets.token_urlsafe(32)
        url, _ = started.start_service(stack, operator_key, seed=False, workers=1)
        database_url = stack.database_url
    with httpx.Client(base_url=url, timeout=120.0, trust_env=False) as client:
        before = {kind: indexed_total(client, kind) or 0 for kind in ("offers", "demands")}
        print(
            f"publishing {len(evalset.offers)} offers and {len(evalset.demands)} demands ...",
            file=sys.stderr,
            flush=True,
        )
        done = publish(client, operator_key, evalset, secrets.token_hex(3))
        expected = {
            "offers": before["offers"] + len(done.offer_ids),
            "demands": before["demands"] + len(done.demand_ids),
        }
        waited = wait_indexed(client, expected, args.timeout)
        waiting = backlog(client, database_url)
        print("matching right after publishing ...", file=sys.stderr, flush=True)
        matched = matching_run(client, evalset, done, args.k, "matching, after publishing")
        runs = []
        if isinstance(matched, Run):
            matched.note = f"{waiting if waiting is not None else 'unknown'} background events waiting when it began"
            runs.append(matched)
            print("waiting for the background jobs (vectors) to settle ...", file=sys.stderr, flush=True)
            settled_note = wait_settled(client, database_url, args.settle_timeout)
            settled = matching_run(client, evalset, done, args.k, "matching, settled")
            if isinstance(settled, Run):
                settled.note = settled_note
                runs.append(settled)
    if database_url:
        runs.append(run_async(baseline_run(database_url, evalset, done, args.k)))
    grades = [g for judged in evalset.judgments.values() for g in judged.values()]
    print(
        f"set: {len(evalset.offers)} offers, {len(evalset.demands)} demands, {len(evalset.organizations)} organizations; "
        f"judgments {len(grades)} (grade 3: {grades.count(3)}, 2: {grades.count(2)}, 1: {grades.count(1)}); unjudged = 0"
    )
    print(f"data: {args.data.name}/")
    print(f"service: {url if args.url else '`exchange serve` on the embedded stack, no demo data'}; {waited}")
    if isinstance(matched, str):
        print(matched)
    if not database_url:
        print("baseline skipped: give --database-url with --url")
    print()
    print_report(evalset, runs, args.k, args.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())

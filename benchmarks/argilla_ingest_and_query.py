"""Ingestion throughput and query latency of the embedded Argilla stack, on SQLite and on PostgreSQL, against a
do-nothing search engine.

    .venv/bin/python benchmarks/argilla_ingest_and_query.py                # ingest 10k, queries at 10k and 100k
    .venv/bin/python benchmarks/argilla_ingest_and_query.py --scale 10000  # quicker
    .venv/bin/python benchmarks/argilla_ingest_and_query.py --databases sqlite --skip-baseline

Each database (and the baseline, on SQLite) runs on a fresh stack in a temporary folder, one after the other.
Records have 2 text fields, 3 metadata properties and 1 suggestion, logged with the SDK.
Texts come from ../shared/data when it is there, else are generated.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from curation.server.stack import Stack

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "newstest2013.en-es.apertium.tsv"
PASSWORD = "benchmark-annotator-1"


def texts() -> list[tuple[str, str]]:
    if SHARED.exists():
        with open(SHARED, newline="", encoding="utf-8") as f:
            return [
                (r["source_en"], r["reference_es"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
            ]
    return [
        (f"The train to the airport leaves at {i} o'clock.", f"El tren al aeropuerto sale a las {i}.")
        for i in range(3000)
    ]


def make_records(start: int, stop: int, pairs: list[tuple[str, str]]):
    import argilla as rg

    records = []
    for i in range(start, stop):
        source, target = pairs[i % len(pairs)]
        records.append(
            rg.Record(
                id=f"pair-{i:07d}",
                fields={"source": source, "target": target},
                metadata={
                    "batch": f"b{i % 10}",
                    "ratio": round(len(target) / max(1, len(source)), 3),
                    "length": len(source),
                },
                suggestions=[
                    rg.Suggestion(
                        "quality", "good" if i % 3 else "bad", score=((i * 7919) % 10000) / 10000, agent="filter-v1"
                    )
                ],
            )
        )
    return records


def create_dataset(client, name: str):
    import argilla as rg

    settings = rg.Settings(
        fields=[rg.TextField(name="source"), rg.TextField(name="target")],
        questions=[rg.LabelQuestion(name="quality", labels=["good", "bad"])],
        metadata=[
            rg.TermsMetadataProperty(name="batch"),
            rg.FloatMetadataProperty(name="ratio"),
            rg.IntegerMetadataProperty(name="length"),
        ],
    )
    return rg.Dataset(name=name, settings=settings, client=client).create()


def ingest(client, dataset, start: int, stop: int, pairs, batch_size: int) -> float:
    records = make_records(start, stop, pairs)
    began = time.perf_counter()
    dataset.records.log(records, batch_size=batch_size)
    return (stop - start) / (time.perf_counter() - began)


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


def timed(call, runs: int) -> tuple[float, float]:
    for _ in range(3):
        call()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    return percentiles(samples)


def query_latencies(stack: Stack, owner_key: str, dataset, annotator: str, runs: int) -> dict[str, tuple[float, float]]:
    owner = httpx.Client(base_url=stack.url, headers={"X-Argilla-Api-Key": owner_key}, timeout=60)
    token = httpx.post(f"{stack.url}/api/v1/token", data={"username": annotator, "password": PASSWORD}).json()
    me = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=60)
    # exactly what the web UI sends for the annotator's pending queue
    queue = {
        "query": {},
        "filters": {
            "and": [
                {"type": "terms", "scope": {"entity": "response", "property": "status"}, "values": ["pending"]},
                {"type": "terms", "scope": {"entity": "record", "property": "status"}, "values": ["pending"]},
            ]
        },
    }
    sorted_queue = {
        **queue,
        "sort": [{"scope": {"entity": "suggestion", "question": "quality", "property": "score"}, "order": "desc"}],
    }
    filtered = {
        "filters": {
            "and": [
                {
                    "type": "terms",
                    "scope": {"entity": "metadata", "metadata_property": "batch"},
                    "values": ["b1", "b2", "b3"],
                },
                {
                    "type": "range",
                    "scope": {"entity": "suggestion", "question": "quality", "property": "score"},
                    "ge": 0.3,
                },
                {"type": "range", "scope": {"entity": "metadata", "metadata_property": "ratio"}, "le": 1.2},
            ]
        },
        "sort": [{"scope": {"entity": "suggestion", "question": "quality", "property": "score"}, "order": "desc"}],
    }
    text = {"query": {"text": {"q": "government"}}}
    ui = "include=responses&include=suggestions&offset=0&limit=10"
    path = f"/api/v1/me/datasets/{dataset.id}/records/search?{ui}"
    owner_path = f"/api/v1/datasets/{dataset.id}/records/search?include=suggestions&offset=0&limit=50"
    return {
        "annotator queue (pending, UI request)": timed(lambda: me.post(path, json=queue), runs),
        "annotator queue sorted by suggestion score": timed(lambda: me.post(path, json=sorted_queue), runs),
        "filtered (3 filters) + sorted by score": timed(lambda: owner.post(owner_path, json=filtered), runs),
        "text search": timed(lambda: owner.post(owner_path, json=text), runs),
    }


def add_annotator(client, stack: Stack, dataset, answered: int) -> str:
    import argilla as rg

    user = rg.User(username="bench-annotator", password=PASSWORD, role="annotator", client=client).create()
    user.add_to_workspace(dataset.workspace)
    token = httpx.post(f"{stack.url}/api/v1/token", data={"username": user.username, "password": PASSWORD}).json()
    me = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=60)
    search = me.post(f"/api/v1/me/datasets/{dataset.id}/records/search?limit={answered}", json={})
    for item in search.json()["items"]:
        me.post(
            f"/api/v1/records/{item['record']['id']}/responses",
            json={"values": {"quality": {"value": "good"}}, "status": "submitted"},
        ).raise_for_status()
    return user.username


def run_engine(engine: str, args, pairs, measure_queries: bool, database: str = "sqlite") -> dict:
    import argilla as rg

    results: dict = {}
    with tempfile.TemporaryDirectory(prefix=f"bench-{engine}-") as tmp:
        Path(tmp).chmod(0o711)  # run as root, PostgreSQL runs as its own user, who must enter the folder
        stack = Stack(Path(tmp) / "data", port=args.port, search_engine=engine, workers=args.workers, database=database)
        credentials = stack.start(log=lambda line: None)
        try:
            client = rg.Argilla(api_url=stack.url, api_key=credentials.api_key, timeout=300)
            dataset = create_dataset(client, f"bench-{engine}")
            results["ingest"] = ingest(client, dataset, 0, args.records, pairs, args.batch_size)
            name = f"{engine} index, {database} database"
            print(f"{name}: logged {args.records:,} records at {results['ingest']:.0f} records/s", flush=True)
            if not measure_queries:
                return results
            annotator = add_annotator(client, stack, dataset, answered=100)
            results[args.records] = query_latencies(stack, credentials.api_key, dataset, annotator, args.runs)
            if args.scale > args.records:
                rate = ingest(client, dataset, args.records, args.scale, pairs, args.batch_size)
                print(f"{name}: logged up to {args.scale:,} records at {rate:.0f} records/s", flush=True)
                results[args.scale] = query_latencies(stack, credentials.api_key, dataset, annotator, args.runs)
        finally:
            stack.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000, help="records logged for the ingestion figure")
    parser.add_argument("--scale", type=int, default=100_000, help="dataset size for the second query measurement")
    parser.add_argument("--batch-size", type=int, default=256, help="SDK batch size (the SDK's default is 256)")
    parser.add_argument("--workers", type=int, default=1, help="argilla-server worker processes")
    parser.add_argument("--runs", type=int, default=40, help="timed runs per query")
    parser.add_argument("--port", type=int, default=6990)
    parser.add_argument("--skip-baseline", action="store_true", help="do not run the do-nothing engine")
    parser.add_argument("--databases", default="sqlite,postgresql", help="Argilla's database for each stack measured")
    args = parser.parse_args(argv)
    pairs = texts()
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]

    baseline = None if args.skip_baseline else run_engine("null", args, pairs, measure_queries=False)["ingest"]
    ours = {database: run_engine("sqlite", args, pairs, True, database) for database in databases}

    print()
    print(f"Ingestion, {args.records:,} records (2 text fields, 3 metadata, 1 suggestion), batch {args.batch_size}:")
    for database, results in ours.items():
        print(f"  embedded engine on {database:10} {results['ingest']:8.0f} records/s")
    if baseline:
        print(f"  do-nothing engine on sqlite  {baseline:8.0f} records/s")
        for database, results in ours.items():
            cost = 100 * (1 - results["ingest"] / baseline)
            print(f"  {database} with the engine, against that baseline: {cost:.1f} % less throughput")
    for size in sorted({args.records, args.scale}):
        if not all(size in results for results in ours.values()):
            continue
        print(f"Query latency at {size:,} records (HTTP round trip, {args.runs} runs): p50 / p95 ms")
        print(f"  {'':45} " + "  ".join(f"{database:>17}" for database in ours))
        for name in next(iter(ours.values()))[size]:
            cells = "  ".join(f"{r[size][name][0]:7.1f} / {r[size][name][1]:7.1f}" for r in ours.values())
            print(f"  {name:45} {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

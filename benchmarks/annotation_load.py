"""Twenty annotators working at once on the embedded stack, while a retrain writes suggestions and a curator searches.

    .venv/bin/python benchmarks/annotation_load.py            # 20 annotators x 40 submissions, 2,000 pairs, on
                                                              # SQLite with 2 workers, then PostgreSQL with 4
    .venv/bin/python benchmarks/annotation_load.py --annotators 40 --stacks postgresql:4
    .venv/bin/python benchmarks/annotation_load.py --annotators 5 --each 10   # quicker

Each stack (`--stacks database:workers,...`) is started fresh in a folder of its own and loaded the same way, one
after the other in one run, so the figures sit side by side (this machine is noisy).

Each annotator does what the web UI does, over HTTP with its own login: fetch its next pending pairs
(`POST /api/v1/me/datasets/{id}/records/search`, pending for this user, 10 at a time), then submit a label on
each (`POST /api/v1/records/{id}/responses`), with a think time between submissions. Meanwhile the retrain's own
write path (`write_suggestions`: bulk upserts of metadata and suggestions, `--batch` per request), in its
own process, runs over every pair again and again, and a curator runs text searches and metadata filters.
Afterwards every submission that got a 201 is looked up in Argilla's database.

Prints: submissions, responses lost (answered 201 but not stored), errors (any non-2xx or dropped connection),
and latency percentiles of submit, next-page fetch, curator search and suggestion writes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from curation.annotation import schema
from curation.annotation.records import iter_records, log_pairs, read_records
from curation.annotation.setup import ensure_dataset, ensure_workspace
from curation.annotation.suggestions import Scored, Sending, ensure_properties, write_suggestions
from curation.config import Config
from curation.pair import Pair
from curation.server.stack import Stack

PASSWORD = "load-annotator-123"
PENDING = {"and": [{"type": "terms", "scope": {"entity": "response", "property": "status"}, "values": ["pending"]}]}


def pairs(n: int) -> list[Pair]:
    places = ["station", "museum", "hotel", "airport", "beach", "market", "hospital", "library"]
    lugares = ["la estación", "el museo", "el hotel", "el aeropuerto", "la playa", "el mercado", "el hospital"]
    return [
        Pair(
            f"How far is the {places[i % 8]} from gate {i}?",
            f"¿A qué distancia está {lugares[i % 7]} de la puerta {i}?",
            origin=f"load:{i}",
        )
        for i in range(n)
    ]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def line(name: str, ms: list[float]) -> str:
    if not ms:
        return f"{name:24} n=0"
    return (
        f"{name:24} n={len(ms):5}  p50 {percentile(ms, 0.5):7.1f} ms  p95 {percentile(ms, 0.95):7.1f} ms  "
        f"max {max(ms):7.1f} ms  mean {statistics.fmean(ms):7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--each", type=int, default=40, help="submissions per annotator")
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--think", type=float, default=0.5, help="mean seconds between an annotator's submissions")
    parser.add_argument(
        "--stacks",
        default="sqlite:2,postgresql:4",
        help="database:workers of each stack measured, in turn (database: sqlite or postgresql)",
    )
    parser.add_argument("--target", type=float, default=150.0, help="p95 submit latency target, ms")
    parser.add_argument(
        "--batch", type=int, default=Config().argilla.suggestion_batch_size, help="suggestion write batch"
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=Config().argilla.suggestion_pause,
        help="retrain: wait this share of each write's time",
    )
    parser.add_argument("--no-retrain", action="store_true", help="no suggestion writes meanwhile (for comparison)")
    args = parser.parse_args()

    stacks = []
    for entry in args.stacks.split(","):
        database, _, workers = entry.partition(":")
        stacks.append((database.strip(), int(workers or 1)))
    results = []
    for database, workers in stacks:
        print(f"\n== {database}, {workers} API worker(s)", flush=True)
        results.append((database, workers, measure(args, database, workers)))
    print(f"\n{args.annotators} annotators x {args.each} submissions, retrain {'off' if args.no_retrain else 'on'}")
    print(f"{'stack':22} {'lost':>5} {'errors':>6} {'submit p50':>11} {'submit p95':>11} {'search p95':>11}  target")
    for database, workers, r in results:
        print(
            f"{database + ', ' + str(workers) + ' workers':22} {r['lost']:>5} {r['errors']:>6} "
            f"{r['submit p50']:>8.0f} ms {r['submit p95']:>8.0f} ms {r['search p95']:>8.0f} ms  "
            f"{'met' if r['submit p95'] < args.target else 'MISSED'} (< {args.target:.0f} ms)"
        )
    return 0 if all(not r["lost"] and not r["errors"] for *_, r in results) else 1


def measure(args, database: str, workers: int) -> dict:
    import argilla as rg

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp).chmod(0o711)  # run as root, PostgreSQL runs as its own user, who must enter the folder
        stack = Stack(Path(tmp) / "argilla", port=_free_port(), workers=workers, database=database)
        credentials = stack.start(log=lambda m: None)
        try:
            client = rg.Argilla(api_url=stack.url, api_key=credentials.api_key, timeout=120)
            config = Config()
            config.argilla.min_submitted = 3
            space = ensure_workspace(client, "load")
            dataset = ensure_dataset(client, config.argilla, config.annotators, space)
            log_pairs(dataset, pairs(args.pairs), 500)
            print(f"{args.pairs} pairs in Argilla; {args.annotators} annotators x {args.each} submissions", flush=True)
            logins = []
            for i in range(args.annotators):
                name = f"annotator-{i:02d}"
                user = rg.User(username=name, password=PASSWORD, role="annotator", client=client).create()
                user.add_to_workspace(space)
                token = httpx.post(f"{stack.url}/api/v1/token", data={"username": name, "password": PASSWORD})
                token.raise_for_status()
                logins.append((str(user.id), token.json()["access_token"]))
            return run(stack, credentials.api_key, client, dataset, logins, args)
        finally:
            stack.stop()


def run(stack, api_key, client, dataset, logins, args) -> dict:
    lock = threading.Lock()
    timings: dict[str, list[float]] = {"submit": [], "next page": [], "curator search": [], "suggestion write": []}
    errors: list[str] = []
    accepted: list[tuple[str, str, str]] = []  # (record, user, value) answered 201
    doubles: list[str] = []  # a second submission by the same user, refused with 409 (nothing lost)
    done = threading.Event()

    def timed(kind: str, call, expected: tuple[int, ...] = ()):
        """`call()` timed; a dropped connection, or an answer of 300+ other than `expected`, is an error."""
        started = time.perf_counter()
        try:
            response = call()
        except httpx.HTTPError as e:
            with lock:
                errors.append(f"{kind}: {e.__class__.__name__}")
            return None
        with lock:
            timings[kind].append((time.perf_counter() - started) * 1000)
            if response.status_code >= 300 and response.status_code not in expected:
                errors.append(f"{kind}: HTTP {response.status_code} {response.text[:120]}")
        return response

    def annotator(user_id: str, token: str, seed: int):
        rnd = random.Random(seed)
        http = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        left, failures = args.each, 0
        offset = rnd.randrange(0, max(1, args.pairs - 200))  # annotators start at different places
        while left > 0:
            page = timed(
                "next page",
                lambda at=offset: http.post(
                    f"/api/v1/me/datasets/{dataset.id}/records/search",
                    json={"filters": PENDING},
                    params={"include": "responses,suggestions", "offset": at, "limit": 10},
                ),
            )
            items = page.json()["items"] if page is not None and page.status_code == 200 else []
            if not items:  # an error (counted) or nothing pending here: give up after a few tries
                failures += 1
                if failures == 5:
                    return
                offset = 0
                time.sleep(0.5)
                continue
            for item in items[:left]:
                record_id = item["record"]["id"]
                value = rnd.choice(["good", "bad"])
                time.sleep(rnd.expovariate(1 / args.think))
                body = {"values": {schema.QUALITY: {"value": value}}, "status": "submitted"}
                response = timed(
                    "submit",
                    lambda rid=record_id, b=body: http.post(f"/api/v1/records/{rid}/responses", json=b),
                    expected=(409,),  # shown pending before the index caught up: refused as already there
                )
                if response is not None and response.status_code == 409:
                    with lock:
                        doubles.append(record_id)
                    continue
                if response is not None and response.status_code == 201:
                    with lock:
                        accepted.append((record_id, user_id, value))
                    left -= 1
        http.close()

    def retrain(stop, out):
        """In its own process, as a real retrain runs (its CPU work must not slow the annotators' clients)."""
        import argilla as rg

        own = rg.Argilla(api_url=stack.url, api_key=api_key, timeout=120)
        data = own.datasets(dataset.name, workspace=dataset.workspace.name)
        rows = read_records(own, data)
        rnd = random.Random(0)
        version, laps, failures = 0, [], []
        while not stop.is_set():
            version += 1
            scores = [rnd.random() for _ in rows]
            clock = _Lap()
            try:
                scored = Scored(rows, scores, f"v{version:04d}-load", lambda s: "good" if s > 0.5 else "bad")
                write_suggestions(own, data, scored, Sending(args.batch, args.pause, clock))
            except Exception as e:  # noqa: BLE001 - counted, reported
                failures.append(f"suggestion write: {e}")
            laps += clock.laps
        out.put((laps, failures))

    def curator():
        http = httpx.Client(base_url=stack.url, headers={"X-Argilla-Api-Key": api_key}, timeout=60)
        queries = [
            {"query": {"text": {"q": "hospital"}}},
            {"query": {"text": {"q": "aeropuerto", "field": "target"}}},
            {
                "filters": {
                    "and": [
                        {
                            "type": "range",
                            "scope": {"entity": "metadata", "metadata_property": "filter_score"},
                            "ge": 0.9,
                        }
                    ]
                }
            },
            {"filters": PENDING},
        ]
        i = 0
        while not done.is_set():
            body = queries[i % len(queries)]
            timed(
                "curator search",
                lambda b=body: http.post(f"/api/v1/datasets/{dataset.id}/records/search", json=b, params={"limit": 50}),
            )
            i += 1
            time.sleep(0.5)
        http.close()

    ensure_properties(client, dataset)  # the curator filters on filter_score from the start
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")  # before any thread starts
    stop, out = context.Event(), context.Queue()
    writer = None if args.no_retrain else context.Process(target=retrain, args=(stop, out))
    if writer:
        writer.start()
    background = [threading.Thread(target=curator)]
    people = [threading.Thread(target=annotator, args=(uid, tok, k)) for k, (uid, tok) in enumerate(logins)]
    for t in background + people:
        t.start()
    for t in people:
        t.join()
    done.set()
    stop.set()
    if writer:
        laps, failures = out.get(timeout=600)
        writer.join()
        timings["suggestion write"] += laps
        errors += failures
    for t in background:
        t.join()
    seconds = time.perf_counter() - started

    stored = {}
    for item in iter_records(client, dataset):
        for r in item.get("responses") or []:
            stored[(item["id"], r["user_id"])] = (r["status"], (r.get("values") or {}).get(schema.QUALITY, {}))
    lost = [a for a in accepted if stored.get((a[0], a[1])) != ("submitted", {"value": a[2]})]
    print(
        f"{len(accepted)} submissions in {seconds:.0f} s ({len(accepted) / seconds:.1f}/s) by {len(logins)} annotators"
    )
    print(f"responses lost: {len(lost)}; second submissions refused as already there (409): {len(doubles)}")
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    for kind, ms in timings.items():
        print(line(kind, ms))
    return {
        "lost": len(lost),
        "errors": len(errors),
        "submit p50": percentile(timings["submit"], 0.5),
        "submit p95": percentile(timings["submit"], 0.95),
        "search p95": percentile(timings["curator search"], 0.95),
    }


class _Lap:
    """A progress callback that keeps the milliseconds between its calls (one call per batch written)."""

    def __init__(self):
        self.mark, self.laps = time.perf_counter(), []

    def __call__(self, n: int) -> None:
        now = time.perf_counter()
        self.laps.append((now - self.mark) * 1000)
        self.mark = now


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())

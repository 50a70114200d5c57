"""Speed of the learned filter on CPU: `curation score` against the encoder's ceiling, and one full retrain +
re-rank cycle on a 10,000-pair dataset in the embedded Argilla.

    .venv/bin/python benchmarks/filter_speed.py                    # about 12 minutes on 2 CPU cores
    .venv/bin/python benchmarks/filter_speed.py --score-pairs 1000 --dataset-pairs 0

Ceiling: `SentenceTransformer.encode` of the same sources and targets with the same model and batch size
(what any embedding-based filter must at least spend). Data: ../shared/data/newstest2013 (read at run time).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from curation.clean.readers import InputSpec
from curation.config import Config
from curation.model.encoder import DEFAULT_MODEL, default_batch_size, load_body
from curation.pair import Pair

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "newstest2013.en-es.apertium.tsv"


def corpus() -> list[tuple[str, str, int]]:
    with open(SHARED, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(r["source_en"], r["reference_es"], 1) for r in rows] + [
        (r["source_en"], r["apertium_es"], 0) for r in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--score-pairs", type=int, default=2000)
    parser.add_argument("--dataset-pairs", type=int, default=10_000, help="0 skips the retrain cycle")
    parser.add_argument("--labels", type=int, default=100)
    args = parser.parse_args()
    data = corpus()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    labelled = [data[i] for i in order[: args.labels]]
    work = Path(tempfile.mkdtemp(prefix="curation-speed-"))
    config = Config()
    config.train.base_model, config.train.models_dir = args.model, str(work / "models")
    config.output_dir = str(work / "outputs")

    from curation.cycle import fit_and_save

    t = time.perf_counter()
    flt, stored = fit_and_save([(s, t_) for s, t_, _ in labelled], [v for *_, v in labelled], config, "bench")
    print(f"trained on {args.labels} labels in {time.perf_counter() - t:.1f} s -> {stored.path}")
    batch = default_batch_size("cpu")

    sample = [data[i % len(data)] for i in order[args.labels : args.labels + args.score_pairs]]
    tsv = work / "to_score.tsv"
    tsv.write_text("source\ttarget\n" + "".join(f"{s}\t{t_}\n" for s, t_, _ in sample), encoding="utf-8")
    body = load_body(args.model, "cpu")
    body.encode(["warm up"], prompt="query: ")
    t = time.perf_counter()
    body.encode([s for s, *_ in sample], prompt="query: ", batch_size=batch)
    body.encode([t_ for _, t_, _ in sample], prompt="query: ", batch_size=batch)
    ceiling = len(sample) / (time.perf_counter() - t)

    from curation.model.learned import LearnedFilter
    from curation.model.predict import score_file

    scorer = LearnedFilter.load(stored.path, "cpu")
    t = time.perf_counter()
    written, _ = score_file(scorer, InputSpec(path=str(tsv)), work / "scored.jsonl")
    ours = written / (time.perf_counter() - t)
    print(f"\nscoring {len(sample)} pairs on CPU, batch {batch}:")
    print(f"  ceiling (SentenceTransformer.encode of sources + targets): {ceiling:7.1f} pairs/s")
    print(f"  curation score (read, encode, signals, head, write JSONL):  {ours:7.1f} pairs/s")
    print(f"  ratio: {ours / ceiling:.2f}")

    if args.dataset_pairs:
        cycle(args, data, order, config, work)


def cycle(args, data, order, config: Config, work: Path) -> None:
    """A real retrain + re-rank: dataset in the embedded Argilla, labels submitted, from_argilla timed."""
    import argilla as rg

    from curation import cycle
    from curation.annotation.records import log_pairs
    from curation.annotation.setup import Member, ensure_dataset, ensure_users, ensure_workspace
    from curation.server.stack import Stack

    stack = Stack(work / "argilla", port=_free_port())
    credentials = stack.start(log=lambda line: None)
    try:
        client = rg.Argilla(api_url=stack.url, api_key=credentials.api_key, timeout=300)
        config.argilla.workspace, config.argilla.dataset = "bench", "pairs"
        space = ensure_workspace(client, "bench")
        dataset = ensure_dataset(client, config, space)
        chosen, pairs, seen = [], [], set()
        for i in range(10 * args.dataset_pairs):  # unique pairs: newstest repeats a few sentences
            s, t, label = data[order[i % len(data)]]
            pair = Pair(s, t if i < len(data) else f"{t} ({i})", origin=f"bench:{i}")
            if pair.id not in seen:
                seen.add(pair.id)
                chosen.append((s, t, label))
                pairs.append(pair)
            if len(pairs) == args.dataset_pairs:
                break
        t = time.perf_counter()
        log_pairs(dataset, pairs, 500)
        print(f"\n{len(pairs)} pairs logged to the embedded Argilla in {time.perf_counter() - t:.0f} s")
        ensure_users(client, [Member("rater", "Rater", "annotator")], space, work / "passwords.json")
        import httpx

        password = __import__("json").loads((work / "passwords.json").read_text())["rater"]
        token = httpx.post(f"{stack.url}/api/v1/token", data={"username": "rater", "password": password}).json()
        rater = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token['access_token']}"})
        server_ids = {r.id: str(r._server_id) for r in dataset.records(with_responses=False)}

        def label(start: int, stop: int) -> None:
            for pair, (_, _, good) in zip(pairs[start:stop], chosen[start:stop], strict=True):
                values = {"quality": {"value": "good" if good else "bad"}}
                rater.post(
                    f"/api/v1/records/{server_ids[pair.id]}/responses", json={"values": values, "status": "submitted"}
                )

        label(0, args.labels)
        for name, more in (("first cycle (every pair encoded)", 0), ("next cycle, 50 more labels (cached)", 50)):
            label(args.labels, args.labels + more)
            args.labels += more
            t = time.perf_counter()
            result = cycle.from_argilla(client, dataset, config, log=lambda m: None)
            total = time.perf_counter() - t
            print(f"retrain + re-rank, {len(pairs)} pairs ({args.labels} labelled), CPU, {name}: {total:.0f} s")
            for step, seconds in result.seconds.items():
                print(f"  {step:<12}{seconds:8.1f} s")
            print(f"  suggestions written: {result.suggested}")
    finally:
        stack.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()

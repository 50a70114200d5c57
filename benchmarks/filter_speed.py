"""Speed of the learned filter, as a user meets it: `curation score` as a whole command (start-up and model load
included) against the full encoder's ceiling, the model from before the speed work beside today's, the quality
of both on human-judged data, a large `curation score --clean` run on shards (time, peak memory, one million
extrapolated), and one full retrain + re-rank cycle on a 10,000-pair dataset in the embedded Argilla.

    .venv/bin/python benchmarks/filter_speed.py                     # about 25 minutes on 2 CPU cores
    .venv/bin/python benchmarks/filter_speed.py --large 0 --dataset-pairs 0 --no-quality   # about 3 minutes

Ceiling: `SentenceTransformer.encode` of the same sources and targets with the full model and the same batch size
(what a user running the encoder would spend). "before": a model trained with `train.depth: null` and
`train.precision: float32` (every layer in float32: what every model folder written before them does, and
still does when loaded); then `train.depth` 6 in both precisions side by side (float32, bfloat16), and which of
them `train.precision: auto` picks on this machine. The first lines say which CPU made the figures (model, cores,
avx2 / avx512 / amx flags). To see a CPU without native bfloat16 on one that has it, cap PyTorch's kernels:

    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 .venv/bin/python \\
        benchmarks/filter_speed.py

Data: ../shared/data (read at run time). Peak memory: the largest sum of the resident
memory of the command's processes (its feature workers and Apertium included), sampled every 0.1 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from filter_quality import SHARED, read_tsv  # the same data readers (benchmarks/ is on the path)

from curation.config import Config
from curation.files import write_tsv
from curation.model.encoder import default_batch_size, load_body
from curation.model.precision import describe_cpu, for_scoring, resolve
from curation.model.settings import DEFAULT_MODEL
from curation.pair import Pair

CURATION = [str(Path(sys.executable).parent / "curation")]  # the console script, as a user runs it
RECIPES = {
    "before": (None, "float32"),
    "float32": ("default", "float32"),
    "bfloat16": ("default", "bfloat16"),
}


def corpus() -> list[tuple[str, str, int]]:
    rows = read_tsv(SHARED / "newstest2013.en-es.apertium.tsv")
    return [(r["source_en"], r["reference_es"], 1) for r in rows] + [
        (r["source_en"], r["apertium_es"], 0) for r in rows
    ]


def write_pairs(path: Path, pairs) -> Path:
    return write_tsv(path, ["source", "target"], (p[:2] for p in pairs))


class PeakMemory:
    """The largest total resident memory of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self) -> list[int]:
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children") as f:
                        todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        return found

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            total = 0
            for pid in self._tree():
                try:
                    with open(f"/proc/{pid}/statm") as f:
                        total += int(f.read().split()[1]) * page
                except OSError:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(0.1)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak memory (bytes) of a command; its output is shown only when it fails."""
    t = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    memory = PeakMemory(process.pid)
    out, _ = process.communicate()
    seconds, peak = time.perf_counter() - t, memory.stop()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{out[-2000:]}")
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--score-pairs", type=int, default=2000)
    parser.add_argument("--large", type=int, default=100_000, help="pairs of the shard run (0 skips it)")
    parser.add_argument("--dataset-pairs", type=int, default=10_000, help="0 skips the retrain cycle")
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--no-quality", action="store_true", help="skip the human-judged quality of both recipes")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU figures")
    parser.add_argument("--recipes", default=",".join(RECIPES), help=f"which of {', '.join(RECIPES)}")
    args = parser.parse_args()
    recipes = {name: RECIPES[name] for name in args.recipes.split(",")}
    chosen = resolve("auto", args.device)
    print(f"CPU: {describe_cpu()}")
    print(f"train.precision auto chooses {chosen} on this machine ({args.device})")
    data = corpus()
    order = np.random.default_rng(0).permutation(len(data))
    labelled = [data[i] for i in order[: args.labels]]
    work = Path(tempfile.mkdtemp(prefix="curation-speed-"))
    from curation.cycle import Labelled, fit_and_save

    defaults = Config().train
    models = {}
    for name, (depth, precision) in recipes.items():
        config = Config()
        config.train.base_model, config.train.models_dir = args.model, str(work / f"models-{name}")
        config.train.depth = defaults.depth if depth == "default" else depth
        config.train.precision = defaults.precision if precision == "default" else precision
        config.output_dir = str(work / "outputs")
        t = time.perf_counter()
        _, stored = fit_and_save(
            Labelled([(s, t_) for s, t_, _ in labelled], [v for *_, v in labelled], "bench"), config.train
        )
        models[name] = stored.path
        print(
            f"{name}: depth {config.train.depth or 'all'}, {config.train.precision}; trained on {args.labels} "
            f"labels in {time.perf_counter() - t:.1f} s"
        )

    sample = [data[i % len(data)] for i in order[args.labels : args.labels + args.score_pairs]]
    tsv = write_pairs(work / "to_score.tsv", sample)
    one = write_pairs(work / "one.tsv", sample[:1])
    batch = default_batch_size(args.device)
    body = load_body(args.model, args.device)
    body.encode(["warm up"], prompt="query: ")
    t = time.perf_counter()
    body.encode([s for s, *_ in sample], prompt="query: ", batch_size=batch)
    body.encode([t_ for _, t_, _ in sample], prompt="query: ", batch_size=batch)
    ceiling = len(sample) / (time.perf_counter() - t)
    del body

    rows = {}
    for name, path in models.items():
        score = [*CURATION, "score", "--model", str(path), "--device", args.device, "--overwrite"]
        start, _ = timed([*score, "--input", str(one), "--output", str(work / f"one-{name}.jsonl")])
        seconds, peak = timed([*score, "--input", str(tsv), "--output", str(work / f"scored-{name}.jsonl")])
        rows[name] = (len(sample) / seconds, seconds, start, peak)
    print(f"\n`curation score`, whole command, {len(sample)} newstest pairs, {args.device}, batch {batch}:")
    print(f"  ceiling (SentenceTransformer.encode of sources + targets, full model): {ceiling:7.1f} pairs/s")
    for name, (speed, seconds, start, peak) in rows.items():
        computed, _ = for_scoring(RECIPES[name][1], args.device)  # a bfloat16 model without native bfloat16: float32
        print(
            f"  {name:<8} model, computed in {computed:<8} {speed:7.1f} pairs/s ({seconds:.1f} s; "
            f"1 pair: {start:.1f} s; peak {peak / 2**30:.2f} GiB); {speed / ceiling:.2f} of the ceiling"
        )
    if chosen in rows:
        auto = rows[chosen][0]
        print(f"  auto ({chosen}): {auto:.1f} pairs/s (target >= 150), {auto / ceiling:.2f} of the ceiling (>= 2)")
        for name in ("before", "float32"):
            if name in rows:
                print(f"  auto / {name} = {auto / rows[name][0]:.2f} (target: never below 1)")

    if not args.no_quality:
        quality_table(args.model, recipes)
    if args.large:
        large(args, models.get(chosen) or next(iter(models.values())), work)
    if args.dataset_pairs:
        config = Config()
        config.train.base_model, config.train.models_dir = args.model, str(work / "models-cycle")
        config.output_dir = str(work / "outputs")
        cycle(args, data, order, config, work)


def quality_table(model: str, recipes: dict) -> None:
    """benchmarks/filter_judged.py's figures for each recipe: ParaCrawl in-pool, newstest, minimal pairs."""
    from filter_judged import Judged, fmt, quality, signals

    from curation.model.features import NAMES
    from curation.model.settings import TrainConfig

    config = TrainConfig()
    data = Judged.read()
    print("\nquality, human-judged (benchmarks/filter_judged.py's draws: AUC mean ± sd over 5):")
    print(
        "  recipe | ParaCrawl N=100 | N=400 | A (misaligned) | E (translation error) | newstest N=100 | minimal | "
        "features vs float32 (largest / mean difference)"
    )
    seen = {}
    for name, (depth, precision) in recipes.items():
        depth = config.depth if depth == "default" else depth
        cache = Path(tempfile.gettempdir()) / f"curation-filter-speed-{depth}-{precision}.npz"
        x = seen[(depth, precision)] = signals(data, model, depth, precision, cache)
        q = quality(data, x, NAMES, config, 5)
        cells = [fmt(q["100 all"]), fmt(q["400 all"]), fmt(q["A"]), fmt(q["E"]), fmt(q["news"]), f"{q['minimal']}/40"]
        base = seen.get((depth, "float32"))
        if base is not None and precision != "float32":
            moved = np.abs(np.vstack(list(x.values())) - np.vstack(list(base.values())))
            cells.append(f"{moved.max():.4f} / {moved.mean():.6f}")
        print(f"  {name} (depth {depth or 'all'}, {precision}) | " + " | ".join(cells))


def large_pairs(n: int) -> list[tuple[str, str]]:
    """`n` distinct real pairs: gettext, Tatoeba, newstest and ParaCrawl, then two Tatoeba pairs joined."""
    pairs = [(r["source"], r["target"]) for r in read_tsv(SHARED / "gettext.en-es.tsv")]
    tatoeba = [(r["source"], r["target"]) for r in read_tsv(SHARED / "tatoeba.en-es.tsv")]
    pairs += tatoeba + [(s, t) for s, t, _ in corpus()]
    pairs += [(r["source"], r["target"]) for r in read_tsv(SHARED / "paracrawl-v3.en-es.judged.tsv")]
    seen, out = set(), []
    for p in pairs:
        if p not in seen:
            seen.add(p)
            out.append(p)
    rng = np.random.default_rng(1)
    while len(out) < n:
        a, b = rng.integers(len(tatoeba), size=2)
        p = (f"{tatoeba[a][0]} {tatoeba[b][0]}", f"{tatoeba[a][1]} {tatoeba[b][1]}")
        if p not in seen:
            seen.add(p)
            out.append(p)
    order = rng.permutation(len(out))[:n]
    return [out[i] for i in order]


def large(args, model: Path, work: Path) -> None:
    """`curation score --clean` on a folder of TSV shards of 10,000 pairs: a fifth of them, then all."""
    pairs = large_pairs(args.large)
    shards = work / "shards"
    shards.mkdir()
    size = 10_000
    for k in range(0, len(pairs), size):
        write_pairs(shards / f"part-{k // size:04d}.tsv", pairs[k : k + size])
    files = sorted(shards.iterdir())
    few = work / "shards-few"
    few.mkdir()
    for f in files[: max(1, len(files) // 5)]:
        (few / f.name).symlink_to(f)
    print(
        f"\n`curation score --clean`, local engine, {args.device}, shards of {size:,} pairs (read, filters, dedup, "
        "score, Parquet):"
    )
    for folder in (few, shards):
        n = sum(1 for f in folder.iterdir()) * size
        n = min(n, len(pairs))
        out = work / f"scored-{folder.name}"
        command = [*CURATION, "score", "--model", str(model), "--input", str(folder), "--output", str(out)]
        seconds, peak = timed([*command, "--clean", "--device", args.device, "--overwrite"])
        print(f"  {n:>9,} pairs: {seconds:7.0f} s, {n / seconds:6.1f} pairs/s, peak memory {peak / 2**30:.2f} GiB")
    print(f"  1,000,000 pairs, extrapolated from {len(pairs):,}: {1_000_000 / (len(pairs) / seconds) / 3600:.1f} hours")


def cycle(args, data, order, config: Config, work: Path) -> None:
    """A real retrain + re-rank: dataset in the embedded Argilla, labels submitted, from_argilla timed."""
    import argilla as rg

    from curation import cycle
    from curation.annotation.records import log_pairs
    from curation.annotation.setup import Member, ensure_dataset, ensure_users, ensure_workspace
    from curation.progress import Progress
    from curation.server.stack import Stack

    stack = Stack(work / "argilla", port=_free_port())
    credentials = stack.start(log=lambda line: None)
    try:
        client = rg.Argilla(api_url=stack.url, api_key=credentials.api_key, timeout=300)
        config.argilla.workspace, config.argilla.dataset = "bench", "pairs"
        space = ensure_workspace(client, "bench")
        dataset = ensure_dataset(client, config.argilla, config.annotators, space)
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
        import httpx

        from curation.annotation.setup import read_passwords

        ensure_users(client, [Member("rater", "Rater", "annotator")], space, work / "passwords.json")
        password = read_passwords(work / "passwords.json")[client.api_url.rstrip("/")]["rater"]
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
            result = cycle.from_argilla(
                client,
                dataset,
                cycle.CycleSettings(config.train, config.argilla, config.output_dir),
                progress=Progress.quiet(),
            )
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

"""The local engine and the Ray engine of `curation score` on the same sharded input: pairs/s for each.

    .venv/bin/python benchmarks/engines.py                      # 200,000 pairs; the model on 2,000 of them
    .venv/bin/python benchmarks/engines.py --model-rows 200000  # the model on everything (~95 min per engine here)

Input: pairs built from ../shared/data (references, Apertium outputs, corruptions, repeats: as in
cleaning_throughput.py) in 16 Parquet shards. Two measurements per engine, each in a fresh output folder:
1. clean: read + PII + heuristics (with language ID) + exact and near dedup over all `--rows` pairs;
2. clean + model: the same, then the filter (multilingual-e5-small, trained here on 100 labels) on the pairs
   kept from the first `--model-rows` input pairs (the model at ~35 pairs/s per 2 cores would take 95 minutes
   per engine on 200,000 pairs).
Also printed: the share of the model stage that is per-pair CPU work outside the encoder (surface and
alignment signals), which bounds what one GPU replica can do.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from cleaning_throughput import SHARED, build_input  # noqa: E402
from filter_speed import corpus  # noqa: E402

from curation.clean.readers import InputSpec, load  # noqa: E402
from curation.config import Config  # noqa: E402
from curation.corpus.local import run_local
from curation.corpus.ray import run_ray
from curation.corpus.settings import ModelSpec  # noqa: E402
from curation.corpus.shards import Job, find_shards  # noqa: E402
from curation.model import features as signals  # noqa: E402
from curation.model.settings import DEFAULT_MODEL  # noqa: E402


def shards(tsv: Path, folder: Path, count: int, limit: int | None = None) -> list[str]:
    pairs = [(p.source, p.target) for p in load(InputSpec(str(tsv)))][:limit]
    folder.mkdir(parents=True)
    size = -(-len(pairs) // count)
    for n in range(count):
        part = pairs[n * size : (n + 1) * size]
        pq.write_table(
            pa.table({"source": [s for s, _ in part], "target": [t for _, t in part]}), folder / f"part-{n:03d}.parquet"
        )
    return find_shards(str(folder))


def train(work: Path, model: str) -> str:
    from curation.cycle import Labelled, fit_and_save
    from curation.progress import Progress

    data = corpus()
    order = np.random.default_rng(0).permutation(len(data))[:100]
    config = Config()
    config.train.base_model, config.train.models_dir = model, str(work / "models")
    config.output_dir = str(work / "outputs")
    _, stored = fit_and_save(
        Labelled([data[i][:2] for i in order], [data[i][2] for i in order], "bench"),
        config.train,
        progress=Progress.quiet(),
    )
    return str(stored.path)


class CpuShare:
    """Time spent in the per-pair signals (numpy, outside the encoder) while the local engine scores."""

    def __init__(self):
        self.seconds = 0.0
        self._surface, self._alignment = signals.surface, signals.alignment

    def __enter__(self):
        def timed(fn):
            def wrapper(*args, **kwargs):
                t = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - t

            return wrapper

        signals.surface, signals.alignment = timed(self._surface), timed(self._alignment)
        return self

    def __exit__(self, *exc):
        signals.surface, signals.alignment = self._surface, self._alignment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--model-rows", type=int, default=2_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="encoder (Hub id or folder) to train the filter on")
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"needs {SHARED} (the shared EN-ES data)", file=sys.stderr)
        return 1
    import ray

    work = Path(tempfile.mkdtemp(prefix="curation-engines-"))
    build_input(work / "pairs.tsv", args.rows)
    every = shards(work / "pairs.tsv", work / "all", args.shards)
    some = shards(work / "pairs.tsv", work / "some", args.shards, limit=args.model_rows)
    model = train(work, args.model)
    ray.init(num_cpus=None, include_dashboard=False, log_to_driver=False)
    cpus = int(ray.cluster_resources()["CPU"])
    print(f"{args.rows:,} pairs in {args.shards} shards; model on {args.model_rows:,}; Ray with {cpus} CPUs")
    print(f"{'stage':<16} {'engine':<6} {'pairs':>9} {'kept':>9} {'seconds':>8} {'pairs/s':>9}")
    results = {}
    for stage, inputs, with_model in (("clean", every, False), ("clean + model", some, True)):
        for engine in ("local", "ray"):
            job = Job(
                shards=inputs,
                output=work / f"out-{engine}-{with_model}",
                cleaning=Config().cleaning(),
                model=ModelSpec(model if with_model else None),
            )
            if engine == "local":
                with CpuShare() as share:
                    summary = run_local(job)
            else:
                summary = run_ray(job, replicas=cpus, cpus_per_replica=1)
            results[stage, engine] = summary
            print(
                f"{stage:<16} {engine:<6} {summary.rows:9,} {summary.kept:9,} {summary.seconds:8.1f} "
                f"{summary.pairs_per_s:9,.0f}",
                flush=True,
            )
            if with_model and engine == "local":
                print(
                    f"  per-pair CPU signals: {1000 * share.seconds / summary.kept:.2f} ms a kept pair "
                    f"({share.seconds / summary.seconds:.0%} of the run)"
                )
    same = [
        pq.read_table(work / f"out-{e}-True").sort_by([("shard", "ascending"), ("row", "ascending")])
        for e in ("local", "ray")
    ]
    a, b = (t.column("score").to_numpy(zero_copy_only=False) for t in same)
    print(
        f"same rows and reasons: {same[0].drop_columns(['score']).equals(same[1].drop_columns(['score']))}; "
        f"largest score difference: {np.nanmax(np.abs(a - b)):.2e}"
    )
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Throughput and peak memory of load + PII masking + heuristic filters + dedup (no Argilla).

    .venv/bin/python benchmarks/cleaning_throughput.py              # 100k pairs, with and without language ID
    .venv/bin/python benchmarks/cleaning_throughput.py --rows 1000000 --no-language
    .venv/bin/python benchmarks/cleaning_throughput.py --toxicity-ab --workers 1   # with and without the toxicity
                                                                                 # filter, alternating, and the ratio
    .venv/bin/python benchmarks/cleaning_throughput.py --clusters-ab --rows 5000 --workers 1 --no-language
        # cleaning alone, then cleaning and setup's cluster step (clusters.enabled: the learned filter's encoder on
        # the kept pairs, from a cold feature cache, then the clustering), side by side

Input: pairs built from ../shared/data/newstest2013.* (references, Apertium outputs) plus corruptions
(untranslated copies, truncations, misalignments, markup, numbers changed, duplicates), written to a temporary
TSV so that loading is measured too. Each configuration runs in a fresh process so peak RSS is its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from curation.clean.filters import REGISTRY

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "newstest2013.en-es.apertium.tsv"


def chosen(language: bool, toxicity: bool) -> list[dict] | None:
    """The `filters` config of a run: None (every filter) or every filter but those switched off."""
    names = [n for n in REGISTRY if (language or n != "language") and (toxicity or n != "toxicity")]
    return None if names == list(REGISTRY) else [{name: {}} for name in names]


def build_input(path: Path, rows: int, seed: int = 0) -> None:
    with open(SHARED, newline="", encoding="utf-8") as f:
        base = [
            (r["source_en"], r["reference_es"], r["apertium_es"])
            for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        ]
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        out.write("source\ttarget\n")
        for i in range(rows):
            source, reference, apertium = base[i % len(base)]
            kind = rng.random()
            tag = f" ({i})"  # keeps most pairs distinct, as a large crawl is
            if kind < 0.45:
                pair = (source + tag, reference + tag)
            elif kind < 0.7:
                pair = (source + tag, apertium + tag)
            elif kind < 0.75:
                pair = (source + tag, source + tag)
            elif kind < 0.8:
                pair = (source + tag, " ".join(reference.split()[:3]))
            elif kind < 0.85:
                other = base[rng.randrange(len(base))][1]
                pair = (source + tag, other + tag)
            elif kind < 0.88:
                pair = (f"<p>{source}</p>{tag}", f"<p>{reference}</p>{tag}")
            elif kind < 0.93:
                pair = (source, reference)  # duplicates of the base set
            else:
                pair = (source + tag + " 42", reference + tag)
            out.write(f"{pair[0]}\t{pair[1]}\n".replace("\r", " "))


def measure(path: str, language: bool, near: bool, workers: int, toxicity: bool = True, clusters: bool = False) -> dict:
    from curation.clean.pipeline import Tally, clean
    from curation.clean.readers import InputSpec
    from curation.config import Config

    config = Config(input=InputSpec(path))
    config.workers = workers
    config.filters = chosen(language, toxicity)
    if not near:
        config.dedup.near_threshold = None
    # warm the imports and models outside the timing
    list(
        clean(
            Config(
                input=InputSpec(str(Path(__file__).parent / "../data/sample/candidates.tsv")),
                filters=config.filters,
                dedup=config.dedup,
            ).cleaning(),
            Tally(),
        )
    )
    tally = Tally()
    began = time.perf_counter()
    cluster_seconds = None
    if not clusters:
        kept = sum(1 for _ in clean(config.cleaning(), tally))
    else:  # setup holds the kept pairs and the dropped ones, then runs its step (clusters.enabled; cold feature cache)
        rejected: list = []
        pairs = list(clean(config.cleaning(), tally, rejected))
        kept = len(pairs)
        from curation.clusters.pool import cluster_pool
        from curation.clusters.settings import ClusterConfig
        from curation.model.settings import TrainConfig

        step = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            pairs, _ = cluster_pool(pairs, rejected, ClusterConfig(), TrainConfig(models_dir=tmp), tmp)
        cluster_seconds = time.perf_counter() - step
    seconds = time.perf_counter() - began
    return {
        "pairs": tally.load.read,
        "kept": kept,
        "seconds": seconds,
        "cluster_seconds": cluster_seconds,
        "pairs_per_s": tally.load.read / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--no-language", action="store_true", help="skip the runs with language ID")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="processes (1: no pool)")
    parser.add_argument(
        "--toxicity-ab", action="store_true", help="each configuration without and with the toxicity filter (ratio)"
    )
    parser.add_argument(
        "--clusters-ab", action="store_true", help="each configuration without and with setup's cluster step"
    )
    parser.add_argument("--repeats", type=int, default=1, help="with --toxicity-ab: alternating runs of each")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        path, language, near, workers, toxicity, clusters = args.worker
        flags = (language == "1", near == "1", int(workers), toxicity == "1", clusters == "1")
        print(json.dumps(measure(path, *flags)))
        return 0
    if not SHARED.exists():
        print(f"needs {SHARED} (the shared EN-ES data)", file=sys.stderr)
        return 1
    if args.toxicity_ab:
        return toxicity_ab(args)
    if args.clusters_ab:
        return clusters_ab(args)
    print(
        f"{'rows':>9} {'language ID':>11} {'near-dedup':>10} {'workers':>7} {'pairs/s':>9} {'kept':>9} "
        f"{'RSS MB main':>11} {'per worker':>10}"
    )
    for rows, path, language, near, workers in configurations(args):
        r = run_worker(path, language, near, workers, toxicity=True)
        print(
            f"{rows:9,} {'yes' if language else 'no':>11} {'yes' if near else 'no':>10} {workers:>7} "
            f"{r['pairs_per_s']:9,.0f} {r['kept']:9,} {r['peak_rss_mb']:11,.0f} "
            f"{r['worker_rss_mb'] if workers > 1 else 0:10,.0f}",
            flush=True,
        )
    return 0


def configurations(args):
    """(rows, input file, language ID, near-dedup, workers) of each run the arguments ask for, the input written once
    per size into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            path = Path(tmp) / f"pairs-{rows}.tsv"
            build_input(path, rows)
            for language in [False] if args.no_language else [False, True]:
                for near in (False, True):
                    for workers in args.workers:
                        yield rows, path, language, near, workers


def run_worker(path: Path, language: bool, near: bool, workers: int, toxicity: bool, clusters: bool = False) -> dict:
    """One measurement in a fresh process (its own peak RSS)."""
    command = [sys.executable, __file__, "--worker", str(path), str(int(language)), str(int(near)), str(workers)]
    out = subprocess.run([*command, str(int(toxicity)), str(int(clusters))], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def toxicity_ab(args) -> int:
    """Each configuration without and with the toxicity filter, alternating (this machine is noisy): pairs/s of
    each, the best of `--repeats`, and with/without."""
    print(f"{'rows':>9} {'language ID':>11} {'near-dedup':>10} {'workers':>7} {'without':>9} {'with':>9} {'ratio':>6}")
    for rows, path, language, near, workers in configurations(args):
        best = {False: 0.0, True: 0.0}
        for _ in range(args.repeats):
            for toxicity in (False, True):
                r = run_worker(path, language, near, workers, toxicity)
                best[toxicity] = max(best[toxicity], r["pairs_per_s"])
        print(
            f"{rows:9,} {'yes' if language else 'no':>11} {'yes' if near else 'no':>10} {workers:>7} "
            f"{best[False]:9,.0f} {best[True]:9,.0f} {best[True] / best[False]:6.2f}",
            flush=True,
        )
    return 0


def clusters_ab(args) -> int:
    """Each configuration as cleaning alone and as cleaning plus setup's cluster step, side by side (fresh processes,
    one after the other): pairs/s and peak RSS of each, and the cluster step's own seconds."""
    print(
        f"{'rows':>9} {'kept':>7} {'without':>9} {'with':>9} {'ratio':>6} {'step s':>7} {'RSS without':>11} {'with':>6}"
    )
    for rows, path, language, near, workers in configurations(args):
        off = run_worker(path, language, near, workers, toxicity=True)
        on = run_worker(path, language, near, workers, toxicity=True, clusters=True)
        print(
            f"{rows:9,} {off['kept']:7,} {off['pairs_per_s']:9,.0f} {on['pairs_per_s']:9,.0f} "
            f"{on['pairs_per_s'] / off['pairs_per_s']:6.3f} {on['cluster_seconds']:7.1f} "
            f"{off['peak_rss_mb']:11,.0f} {on['peak_rss_mb']:6,.0f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

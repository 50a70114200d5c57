"""Does curation pay? The whole story on real data, through the product's own commands: build a noisy pool like a
crawl from clean human translations, curate it as a curator would, and train the same translator on the curated
set, on the raw pool, on a random subset of the pool of the curated set's size and on the pool's clean pairs.

    .venv/bin/python benchmarks/curated_vs_raw.py                   # 30 minutes on 2 CPU cores (measured)
    .venv/bin/python benchmarks/curated_vs_raw.py --minutes 3 --json outputs/curated_vs_raw.json
    .venv/bin/python benchmarks/curated_vs_raw.py --test my_clean_pairs.tsv   # your own clean test set

Data (read at run time, never copied; ../shared/data/README.md): gettext.en-es.tsv (29,580 human translations of
program messages) and tatoeba.en-es.tsv (10,000 everyday pairs, CC-BY Tatoeba) are the clean pairs;
gettext.en-other.tsv gives the same messages in Portuguese, Galician, Catalan, Italian or French.

1. Held out first, never labelled and never in the pool: a clean test set (1,000 pairs, or --test FILE) and a clean
   validation set (500 pairs, one learning curve for every arm); no other pair shares a source with them (in the
   dedup form curation compares).
2. The pool (--pool pairs): clean pairs plus noise at the shares printed (--noise of the pool, split evenly):
   literal MT (Apertium EN→ES of the source), wrong language (the real translation of the same message into a
   neighbouring language), misaligned (the target of a clean pair outside the pool), untranslated (the source
   copied) and truncated (the target cut after half its words). Each pair's kind is kept as the ground truth.
3. Curation as a curator does it: 200 pairs drawn from the pool labelled by an annotator who answers with the ground
   truth (good = clean), `train_filter.py --labels`; `curation score --clean` on the pool (heuristic filters and
   dedup, then the learned filter); the curated set = the labelled-good pairs plus every unlabelled pair the
   heuristics kept whose score is at or above the filter's own auto-accept threshold. Precision and recall per kind.
4. `curation compare` on the arms curated, raw, random (same size as curated, seed 3), oracle (the pool's clean pairs),
   --seeds seeds each, the same steps for every arm (--steps, or --minutes converted to steps once, measured).
5. With --boilerplate N (issue 37): N pairs of well-translated web boilerplate (six families, tests/boilerplate.py)
   join the pool as a kind of their own; the annotator judges them good (the translations are right), so the filter
   keeps them. The curated set is then clustered (`curation cluster`, the filter's encoder), a curator drops the
   clusters whose title names boilerplate (benchmarks/clusters.py's FAMILY_WORDS: a reading of titles, not the
   ground truth), and the arm curated_dropped is the curated set without them. --arms picks the arms that train.

    .venv/bin/python benchmarks/curated_vs_raw.py --boilerplate 600 --arms curated,curated_dropped

The same command twice gives the same figures: fixed seeds, fixed steps, the thread count recorded.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from curation.files import write_tsv

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
KINDS = ("literal", "wrong_language", "misaligned", "untranslated", "truncated")
HEADER = ["source", "target"]
TARGETS = {"curated-raw": 3.0, "curated-random": 2.0}  # chrF2 differences the issue asks for, at p < 0.05


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def clean_pairs() -> list[tuple[str, str]]:
    rows = read_tsv(SHARED / "gettext.en-es.tsv") + read_tsv(SHARED / "tatoeba.en-es.tsv")
    return [(r["source"], r["target"]) for r in rows if r["source"].strip() and r["target"].strip()]


def split(pairs, test_file: str | None, test_size: int, validation_size: int, rng: random.Random):
    """Test, validation and the rest, no source (dedup form) in two of them; each source once."""
    from curation.pair import dedup_form

    rng.shuffle(pairs)
    seen: set[str] = set()
    unique = []
    for s, t in pairs:
        key = dedup_form(s)
        if key not in seen:
            seen.add(key)
            unique.append((s, t))
    if test_file:
        from curation.clean.readers import InputSpec, load

        test = [(p.source, p.target) for p in load(InputSpec(path=test_file)) if p.source.strip() and p.target]
        banned = {dedup_form(s) for s, _ in test}
        unique = [p for p in unique if dedup_form(p[0]) not in banned]
    else:
        test, unique = unique[:test_size], unique[test_size:]
    return test, unique[:validation_size], unique[validation_size:]


def make_pool(clean, size: int, noise: float, other: dict[str, tuple[str, str]], rng: random.Random):
    """`size` pairs: (source, target, kind, detail). Noise pairs are drawn from the clean pairs, each kind from the
    pairs it applies to (wrong language: messages with a neighbouring-language translation; truncated: 4+ words)."""
    from curation.model.apertium import to_spanish

    chosen = clean[:size]
    per_kind = round(size * noise / len(KINDS))
    order = list(range(size))
    rng.shuffle(order)
    kind = ["clean"] * size
    taken: set[int] = set()
    eligible = {
        "wrong_language": lambda i: chosen[i][0] in other,
        "truncated": lambda i: len(chosen[i][1].split()) >= 4,
    }
    for name in KINDS:
        fits = eligible.get(name, lambda i: True)
        picked = [i for i in order if i not in taken and fits(i)][:per_kind]
        for i in picked:
            kind[i] = name
        taken.update(picked)
    literal = [i for i in range(size) if kind[i] == "literal"]
    mt = dict(zip(literal, to_spanish([chosen[i][0] for i in literal]), strict=True))
    pool = []
    for i, (s, t) in enumerate(chosen):
        k, detail = kind[i], ""
        if k == "literal":
            t = " ".join(mt[i].replace(" .", ".").replace(" ,", ",").split())
        elif k == "wrong_language":
            detail, t = other[s]
        elif k == "misaligned":  # a target from outside the pool: a crawl's misaligned target is rarely a duplicate
            t = clean[size + rng.randrange(len(clean) - size)][1]
        elif k == "untranslated":
            t = s
        elif k == "truncated":
            words = t.split()
            t = " ".join(words[: len(words) // 2])
        pool.append((s, t, k, detail))
    return pool


def with_boilerplate(pool, n: int, rng: random.Random):
    """The pool with `n` boilerplate pairs (kind "boilerplate", detail: the family) among it, in random places."""
    sys.path.insert(0, str(ROOT / "tests"))
    from boilerplate import boilerplate

    rows = boilerplate(n)  # each family as many as it has, up to n; n of them taken at random
    rng.shuffle(rows)
    out = list(pool) + [(s, t, "boilerplate", family) for s, t, family in rows[:n]]
    rng.shuffle(out)
    return out


def drop_boilerplate_clusters(curated, kind_of, work: Path, config: Path):
    """`curation cluster` on the curated set; the clusters whose title names boilerplate (a curator reading the
    titles: benchmarks/clusters.py's FAMILY_WORDS) are dropped. Returns the curated set without them, and figures."""
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from clusters import FAMILY_WORDS

    from curation.clusters.titles import title_words

    words = set().union(*FAMILY_WORDS.values())
    curated_file = write_tsv(work / "curated-for-clusters.tsv", HEADER, curated)
    curation("curation", "cluster", "--input", str(curated_file), "--output", str(work / "clusters"),
             "--config", str(config))  # fmt: skip
    items = json.loads((work / "clusters" / "clusters.json").read_text())["items"]
    flagged = {i["id"] for i in items if words & title_words(i["title"])}
    assigned = pq.read_table(work / "clusters" / "assignments.parquet").column("cluster").to_pylist()
    kept = [pair for pair, c in zip(curated, assigned, strict=True) if c not in flagged]
    gone = [pair for pair, c in zip(curated, assigned, strict=True) if c in flagged]
    boiler = sum(kind_of[p] == "boilerplate" for p in curated)
    figures = {
        "clusters": len(items),
        "flagged": len(flagged),
        "boilerplate_in_curated": boiler,
        "boilerplate_dropped": sum(kind_of[p] == "boilerplate" for p in gone),
        "clean_dropped": sum(kind_of[p] == "clean" for p in gone),
        "other_dropped": sum(kind_of[p] not in ("clean", "boilerplate") for p in gone),
        "flagged_titles": [i["title"] for i in items if i["id"] in flagged][:40],
    }
    print(
        f"clusters of the curated set: {len(items)}; {len(flagged)} flagged by their titles; dropped "
        f"{figures['boilerplate_dropped']:,} of {boiler:,} boilerplate pairs, {figures['clean_dropped']:,} clean and "
        f"{figures['other_dropped']:,} other pairs"
    )
    return kept, figures


def curation(cmd: str, *args: str) -> None:
    """One of the product's commands, as a curator runs it (its output shown)."""
    scripts = {"train_filter.py": [str(ROOT / "train_filter.py")], "curation": ["-m", "curation"]}
    line = [sys.executable, *scripts[cmd], *args]
    print("$", " ".join(line[1:]), flush=True)
    subprocess.run(line, check=True, cwd=ROOT)


def steps_for(minutes: float, validation: Path, test: Path, work: Path, config: Path) -> tuple[int, float]:
    """Optimiser steps that take `minutes` here: 40 steps measured once with the real recipe."""
    probe = work / "probe"
    curation(
        "curation",
        "finetune",
        "--data",
        str(validation),
        "--test",
        str(test),
        "--output",
        str(probe),
        "--steps",
        "40",
        "--config",
        str(config),
        "--drop-overlap",
    )
    metrics = json.loads((probe / "metrics.json").read_text())
    per_step = metrics["train_seconds"] / metrics["steps"]
    return max(50, int(minutes * 60 / per_step)), per_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", help="Clean test pairs (source, target) instead of the held-out 1,000")
    parser.add_argument("--pool", type=int, default=12_000, help="Pairs in the noisy pool")
    parser.add_argument("--noise", type=float, default=0.4, help="Share of the pool that is noise")
    parser.add_argument("--labels", type=int, default=200, help="Pool pairs an annotator labels")
    parser.add_argument("--steps", type=int, default=600, help="Optimiser steps per arm and seed")
    parser.add_argument("--minutes", type=float, help="Training minutes per arm and seed (converted to steps once)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--json", help="Write the summary here")
    parser.add_argument("--work", help="Folder for the pool, models and comparison (default: a new temporary one)")
    parser.add_argument("--boilerplate", type=int, default=0, help="Web boilerplate pairs added to the pool")
    parser.add_argument("--arms", help="Arms to train, comma-separated (default: every arm)")
    args = parser.parse_args()
    started = time.monotonic()
    work = Path(args.work or tempfile.mkdtemp(prefix="curation-curated-vs-raw-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)

    other = {r["source"]: (r["lang"], r["target"]) for r in read_tsv(SHARED / "gettext.en-other.tsv")}
    test, validation, rest = split(clean_pairs(), args.test, 1000, 500, rng)
    if len(rest) < args.pool + 1000:
        sys.exit(f"only {len(rest):,} clean pairs are left for a pool of {args.pool:,} (and 1,000 more): lower --pool")
    pool = make_pool(rest, args.pool, args.noise, other, random.Random(1))
    if args.boilerplate:
        pool = with_boilerplate(pool, args.boilerplate, random.Random(4))
    kinds = Counter(k for *_, k, _ in pool)
    langs = Counter(d for *_, k, d in pool if k == "wrong_language")
    print(f"test {len(test):,} pairs ({args.test or 'held out'}), validation {len(validation):,}, pool {len(pool):,}:")
    for k in ("clean", *KINDS, *(("boilerplate",) if args.boilerplate else ())):
        extra = f" ({', '.join(f'{lang} {n}' for lang, n in sorted(langs.items()))})" if k == "wrong_language" else ""
        print(f"  {k:15} {kinds[k]:6,}  {kinds[k] / len(pool):5.1%}{extra}")

    test_file = write_tsv(work / "test.tsv", HEADER, test)
    validation_file = write_tsv(work / "validation.tsv", HEADER, validation)
    pool_file = write_tsv(work / "pool.tsv", HEADER, [(s, t) for s, t, *_ in pool])
    config = work / "config.yaml"
    config.write_text(f"output_dir: {work / 'outputs'}\ntrain:\n  models_dir: {work / 'models'}\n", encoding="utf-8")

    import pyarrow.dataset as pads

    t = time.monotonic()
    # setup_workspace.py's cleaning (heuristic filters, dedup), then what annotators see: the pairs it kept
    curation("curation", "score", "--clean", "--input", str(pool_file), "--output", str(work / "cleaned"),
             "--config", str(config), "--overwrite")  # fmt: skip
    cleaned = pads.dataset(work / "cleaned", format="parquet").to_table(columns=["row", "reason"]).sort_by("row")
    if cleaned.num_rows != len(pool):
        sys.exit(f"curation score --clean wrote {cleaned.num_rows} rows for a pool of {len(pool)}")
    kept = [i for i, reason in enumerate(cleaned.column("reason").to_pylist()) if reason is None]
    labelled = random.Random(2).sample(kept, args.labels)
    answers = {i: "good" if pool[i][2] in ("clean", "boilerplate") else "bad" for i in labelled}
    labels = [(pool[i][0], pool[i][1], answers[i]) for i in labelled]
    labels_file = write_tsv(work / "labels.tsv", ["source", "target", "label"], labels)
    curation("train_filter.py", "--labels", str(labels_file), "--config", str(config))
    unlabelled = [i for i in kept if i not in answers]
    to_score = write_tsv(work / "to_score.tsv", HEADER, [pool[i][:2] for i in unlabelled])
    curation("curation", "score", "--model", str(work / "models" / "latest"), "--input", str(to_score),
             "--output", str(work / "scored.jsonl"), "--overwrite")  # fmt: skip
    curate_seconds = time.monotonic() - t
    with open(work / "scored.jsonl", encoding="utf-8") as f:
        scores = dict(zip(unlabelled, (json.loads(line)["score"] for line in f), strict=True))
    model = json.loads((work / "models" / "latest" / "metadata.json").read_text())
    threshold = model["threshold"]
    if model["metrics"]["threshold_precision"] is None:  # no auto-accept threshold reached: curate by the score
        threshold = 0.5
        print("the filter reached no auto-accept threshold with these labels: curated takes scores >= 0.5")

    fate = []  # per pool pair: labelled good/bad, dropped by the heuristics, below the filter's threshold, kept
    for i in range(len(pool)):
        if i in answers:
            fate.append("kept" if answers[i] == "good" else "labelled bad")
        elif i not in scores:
            fate.append("heuristics")
        elif scores[i] >= threshold:
            fate.append("kept")
        else:
            fate.append("filter")
    curated = [(pool[i][0], pool[i][1]) for i in range(len(pool)) if fate[i] == "kept"]
    clean_kept = sum(1 for i in range(len(pool)) if fate[i] == "kept" and pool[i][2] == "clean")
    precision, recall = clean_kept / max(len(curated), 1), clean_kept / max(kinds["clean"], 1)
    print(
        f"\ncuration ({curate_seconds:.0f} s): filter threshold {threshold:.3f}; curated {len(curated):,} pairs, "
        f"precision {precision:.1%} (clean share), recall {recall:.1%} (clean pairs kept)"
    )
    print(f"  {'kind':15} {'pairs':>6} {'heuristics':>11} {'filter':>7} {'labelled':>9} {'kept':>6}  removed")
    per_kind = {}
    for k in ("clean", *KINDS, *(("boilerplate",) if args.boilerplate else ())):
        rows = [fate[i] for i in range(len(pool)) if pool[i][2] == k]
        c = Counter(rows)
        labelled_k = sum(1 for i in labelled if pool[i][2] == k)
        removed = 1 - c["kept"] / max(len(rows), 1)
        per_kind[k] = {
            "pairs": len(rows),
            "heuristics": c["heuristics"],
            "filter": c["filter"],
            "labelled": labelled_k,
            "kept": c["kept"],
            "removed": round(removed, 4),
        }
        print(
            f"  {k:15} {len(rows):6,} {c['heuristics']:11,} {c['filter']:7,} {labelled_k:9,} {c['kept']:6,}  "
            f"{removed:6.1%}"
        )

    arms = {
        "curated": curated,
        "raw": [(s, t) for s, t, *_ in pool],
        "random": random.Random(3).sample([(s, t) for s, t, *_ in pool], len(curated)),
        "oracle": [(s, t) for s, t, k, _ in pool if k == "clean"],
    }
    cluster_figures = None
    if args.boilerplate:
        kind_of = {(s, t): k for s, t, k, _ in pool}
        arms["curated_dropped"], cluster_figures = drop_boilerplate_clusters(curated, kind_of, work, config)
    if args.arms:
        arms = {name: arms[name] for name in args.arms.split(",")}
    specs = [f"{name}={write_tsv(work / f'{name}.tsv', HEADER, rows)}" for name, rows in arms.items()]
    steps, per_step = args.steps, None
    if args.minutes:
        steps, per_step = steps_for(args.minutes, validation_file, test_file, work, config)
        print(
            f"--minutes {args.minutes:g}: {per_step:.2f} s a step here -> {steps} steps per run "
            f"(pass --steps {steps} to repeat these figures exactly)"
        )
    t = time.monotonic()
    compare_dir = work / "compare"
    curation(
        "curation",
        "compare",
        *[a for spec in specs for a in ("--arm", spec)],
        "--test",
        str(test_file),
        "--validation",
        str(validation_file),
        "--seeds",
        str(args.seeds),
        "--steps",
        str(steps),
        "--output",
        str(compare_dir),
        "--config",
        str(config),
        "--overwrite",
    )
    compare_seconds = time.monotonic() - t
    summary = json.loads((compare_dir / "summary.json").read_text())

    header = f"{'arm':8} {'pairs':>7} {'chrF2':>6} {'sd':>5} {'BLEU':>5} {'ratio':>6} {'copies':>7} {'not es':>7}"
    print(f"\n{header}  s/step")
    for name in arms:
        a = summary["arms"][name]
        sd = f"{a['chrf_sd']:5.1f}" if a["chrf_sd"] is not None else "    —"
        runs = [json.loads(m.read_text()) for m in compare_dir.glob(f"models/{name}-seed*/metrics.json")]
        per = sum(r["train_seconds"] for r in runs) / max(sum(r["steps"] for r in runs), 1)
        weak = f"  too weak to judge: {', '.join(a['too_weak'])}" if a["too_weak"] else ""
        print(
            f"{name:8} {a['pairs']:7,} {a['chrf']:6.1f} {sd} {a['bleu']:5.1f} {a['length_ratio']:6.2f} "
            f"{a['copy_rate']:7.1%} {a['off_target_rate']:7.1%}  {per:6.3f}{weak}"
        )
    for key in (f"curated-{name}" for name in list(arms) if name != "curated"):
        d = summary["differences"].get(key) or summary["differences"][f"{key.split('-', 1)[1]}-curated"]
        target = TARGETS.get(key)
        verdict = ""
        if target is not None:
            met = d["chrf"] >= target and d["p"] < 0.05
            verdict = f"  target >= +{target:g} at p < 0.05: {'met' if met else 'MISSED'}"
        elif key == "curated-oracle":
            verdict = f"  target within 2 of the oracle: {'met' if d['chrf'] >= -2 else 'MISSED'}"
        print(f"{key:15} {d['chrf']:+6.1f} chrF2, p = {d['p']:.4f}{verdict}")
    total = time.monotonic() - started
    threads = sorted({json.loads(m.read_text())["threads"] for m in compare_dir.glob("models/*/metrics.json")})
    print(
        f"\n{steps} steps x {args.seeds} seeds per arm; curation {curate_seconds / 60:.1f} min, compare "
        f"{compare_seconds / 60:.1f} min, total {total / 60:.1f} min; torch threads {', '.join(map(str, threads))}; "
        f"report {compare_dir / 'report.md'}"
    )
    out = {
        "arms": summary["arms"],
        "differences": summary["differences"],
        "pool": dict(kinds),
        "wrong_language": dict(langs),
        "curation": {
            "threshold": threshold,
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "per_kind": per_kind,
            "labels": args.labels,
            "seconds": round(curate_seconds),
        },
        "steps": steps,
        "seconds_per_step": per_step,
        "seeds": args.seeds,
        "threads": threads,
        "test": args.test or "held out",
        "test_pairs": len(test),
        "minutes": round(total / 60, 1),
        "clusters": cluster_figures,
        "report": str(compare_dir / "report.md"),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2), encoding="utf-8")
        print(f"summary -> {args.json}")


if __name__ == "__main__":
    main()

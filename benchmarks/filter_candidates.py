"""Candidate features for translation errors, measured before they join the filter (issue 12's "not tried" list).

    .venv/bin/pip install eflomal==2.0.0       # not a dependency of curation: only this measurement needs it
    .venv/bin/python benchmarks/filter_judged.py  # first: it caches the filter's features in /tmp
    .venv/bin/python benchmarks/filter_candidates.py

Same data, split and draws as benchmarks/filter_judged.py (ParaCrawl v3 judged, in-pool, 5 draws). Each
candidate is added to the filter's features and the head trained as train_filter.py trains it:
- eflomal: a statistical word aligner learnt on the pool itself (all 2,000 pairs, unlabelled: what a user has);
  per pair the forward and reverse alignment scores and the share of tokens aligned both ways.
- bilingual dictionary: Apertium's eng-spa dictionary, both ways: the share of the source's content words whose
  translation is in the target (or that a target word translates back to), the same for the target, and the
  count of source content words nowhere in the target.
- tag language model: Apertium's Spanish analyser and tagger turn each target of the pool into part-of-speech tags
  with gender, number, person and verb form ("det.def.f.sg n.f.sg vblex.pri.p3.sg"); a tag-bigram model
  (Witten-Bell) learnt on the pool's own targets, out of fold (5 folds), gives each target its mean and lowest
  log-probability per tag. A language model of Spanish syntax from the pool itself, where a word model has too
  little text.
- embedding components: the first 8 principal components (fitted on the whole pool, unlabelled) of u*v and |u-v|,
  u and v the encoder's sentence vectors of source and target.
- the ceiling: the filter's own features with every label of the pool (675), not 100 or 400.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

import numpy as np
from filter_quality import SHARED, fmt, read_tsv  # benchmarks/ is on the path
from sklearn.metrics import roc_auc_score

from curation.model.apertium import DATA, TAG, UNIT, run
from curation.model.settings import TrainConfig
from curation.model.train import new_head

CACHE = "/tmp/curation-filter-judged.npz"
WORD = re.compile(r"\w+|[^\w\s]", re.U)
CONTENT = {"n", "vblex", "vbmod", "adj", "adv", "np", "num"}


def eflomal_features(pairs: list[tuple[str, str]]) -> np.ndarray:
    try:
        import eflomal
    except ImportError:
        raise SystemExit("this measurement needs eflomal: .venv/bin/pip install eflomal==2.0.0") from None

    def tokens(text: str) -> str:
        return " ".join(w.lower() for w in WORD.findall(text)) or "-"

    src, trg = [tokens(s) for s, _ in pairs], [tokens(t) for _, t in pairs]
    with tempfile.TemporaryDirectory() as tmp:
        f = {k: os.path.join(tmp, k) for k in ("lf", "lr", "sf", "sr")}
        eflomal.Aligner().align(
            src, trg, links_filename_fwd=f["lf"], links_filename_rev=f["lr"],
            scores_filename_fwd=f["sf"], scores_filename_rev=f["sr"], quiet=True,
        )  # fmt: skip
        read = {k: Path(path).read_text(encoding="utf-8").splitlines() for k, path in f.items()}
    rows = []
    for i in range(len(pairs)):
        fwd = {tuple(map(int, x.split("-"))) for x in read["lf"][i].split()}
        rev = {tuple(map(int, x.split("-"))) for x in read["lr"][i].split()}
        both = fwd & rev
        rows.append(
            [
                float(read["sf"][i]),
                float(read["sr"][i]),
                len({a for a, _ in both}) / len(src[i].split()),
                len({b for _, b in both}) / len(trg[i].split()),
            ]
        )
    x = np.array(rows)
    x[~np.isfinite(x)] = np.nan
    return np.where(np.isnan(x), np.nanmax(x, axis=0), x)


def _lookup(texts: list[str], direction: str) -> list[list[tuple[str, str | None, set[str]]]]:
    """(lemma, part of speech, dictionary translations) of each word: Apertium's analyser, tagger and bidix."""
    d = str(DATA) + "/" + direction
    command = (
        f"lt-proc -w {d}.automorf.bin | apertium-tagger -g {d}.prob | apertium-pretransfer | lt-proc -b {d}.autobil.bin"
    )
    result = []
    for line in run(["sh", "-c", command], [f"{t} ." for t in texts], escape=True):
        words = []
        for unit in UNIT.findall(line):
            first, *translations = unit.split("/")
            lemma, tags = first.split("<")[0].lower(), re.findall(r"<([^>]+)>", first)
            known = not lemma.startswith("*")
            pos = tags[0] if tags and known else None
            words.append((lemma.lstrip("*"), pos, {t.split("<")[0].lower().lstrip("@") for t in translations}))
        result.append(words)
    return result


def dictionary_features(pairs: list[tuple[str, str]]) -> np.ndarray:
    sources, targets = _lookup([s for s, _ in pairs], "eng-spa"), _lookup([t for _, t in pairs], "spa-eng")
    rows = []
    for s, t in zip(sources, targets, strict=True):
        s_lemmas, t_lemmas = {w for w, _, _ in s}, {w for w, _, _ in t}
        back = set().union(*(tr for _, _, tr in t)) if t else set()
        forth = set().union(*(tr for _, _, tr in s)) if s else set()
        s_hit = [(w in back) or bool(tr & t_lemmas) for w, pos, tr in s if pos in CONTENT]
        t_hit = [(w in forth) or bool(tr & s_lemmas) for w, pos, tr in t if pos in CONTENT]
        rows.append([np.mean(s_hit) if s_hit else 1.0, np.mean(t_hit) if t_hit else 1.0, len(s_hit) - sum(s_hit)])
    return np.array(rows, dtype=float)


KEEP = {"m", "f", "mf", "sg", "pl", "sp", "p1", "p2", "p3", "inf", "ger", "pp", "pri", "pii", "ifi", "fti", "cni",
        "prs", "pis", "imp", "def", "ind", "dem", "pos", "pro", "tn", "enc", "vbser", "vbhaver", "vbmod", "vblex",
        "rel", "itg"}  # fmt: skip


def _tags(texts: list[str]) -> list[list[str]]:
    """Apertium's disambiguated Spanish tags per target: part of speech and agreement; UNK for unknown words."""
    d = f"{DATA}/spa-eng"
    closed = [t if t.rstrip()[-1:] in ".!?" else f"{t} ." for t in texts]
    command = f"lt-proc -w {d}.automorf.bin | apertium-tagger -g {d}.prob"
    result = []
    for line in run(["sh", "-c", command], closed, escape=True):
        seq = []
        for unit in UNIT.findall(line):
            reading = unit.split("/")[1] if "/" in unit else unit
            if reading.startswith("*"):
                seq.append("UNK")
                continue
            for piece in reading.split("+"):
                if tags := TAG.findall(piece):
                    seq.append(".".join([tags[0], *(t for t in tags[1:] if t in KEEP)]))
        result.append(seq)
    return result


def tag_model_features(pairs: list[tuple[str, str]], folds: int = 5) -> np.ndarray:
    seqs = [["<s>", *tags, "</s>"] for tags in _tags([t for _, t in pairs])]
    fold = np.arange(len(seqs)) % folds
    out = np.zeros((len(seqs), 2))
    for f in range(folds):
        uni, bi, ctx, follow = Counter(), Counter(), Counter(), defaultdict(set)
        for seq in (s for s, k in zip(seqs, fold, strict=True) if k != f):
            uni.update(seq[1:])
            for a, b in pairwise(seq):
                bi[a, b] += 1
                ctx[a] += 1
                follow[a].add(b)
        total, vocab = sum(uni.values()), len(uni) + 1
        for j in np.flatnonzero(fold == f):
            logp = []
            for a, b in pairwise(seqs[j]):
                p_uni = (uni[b] + 1) / (total + vocab)
                n, t = ctx[a], len(follow[a])
                logp.append(np.log((bi[a, b] + t * p_uni) / (n + t) if n else p_uni))  # Witten-Bell
            out[j] = np.mean(logp), np.min(logp)
    return out


def embedding_components(pairs: list[tuple[str, str]], k: int = 8) -> np.ndarray:
    from sklearn.decomposition import PCA

    from curation.model.encoder import load_body
    from curation.model.settings import DEFAULT_MODEL

    body = load_body(DEFAULT_MODEL, "cpu")
    u, v = (
        body.encode([p[i] for p in pairs], prompt_name="query", batch_size=64, normalize_embeddings=True)
        for i in (0, 1)
    )
    return PCA(k, random_state=0).fit_transform(np.hstack([u * v, np.abs(u - v)]))


def main() -> None:
    pc = read_tsv(SHARED / "paracrawl-v3.en-es.judged.tsv")
    if not os.path.exists(CACHE):
        raise SystemExit(f"run benchmarks/filter_judged.py first: it caches the filter's features in {CACHE}")
    x = np.load(CACHE)["pc"]
    pairs = [(r["source"], r["target"]) for r in pc]
    candidates = {}
    named = (
        ("eflomal", eflomal_features),
        ("bilingual dictionary", dictionary_features),
        ("tag language model", tag_model_features),
        ("embedding components", embedding_components),
    )
    for name, fn in named:
        t = time.perf_counter()
        candidates[name] = fn(pairs)
        print(f"{name}: {len(pairs)} pairs in {time.perf_counter() - t:.1f} s")

    judged = np.array([r["label"] in ("0", "1") for r in pc])
    y = np.array([int(r["label"] or -1) for r in pc])
    kind = np.array([r["judgment"] for r in pc])
    perm = np.random.default_rng(0).permutation(np.where(judged)[0])
    pool, test = perm[: len(perm) // 2], perm[len(perm) // 2 :]
    yt, kt = y[test], kind[test]
    kinds = [k for k in "AELT" if (kt == k).sum() >= 10]

    def by_kind(scores: np.ndarray) -> dict[str, float]:
        out = {"all": roc_auc_score(yt, scores)}
        for k in kinds:
            m = (yt == 1) | (kt == k)
            out[k] = roc_auc_score(yt[m], scores[m])
        return out

    config = TrainConfig()
    print("\nalone (no labels; AUC of the better direction):")
    for name, c in candidates.items():
        for j in range(c.shape[1]):
            cells = by_kind(c[test, j])
            print(f"  {name} column {j}: " + "  ".join(f"{k} {max(v, 1 - v):.3f}" for k, v in cells.items()))
    print("\nadded to the filter's features, AUC mean ± sd over 5 draws:")
    print(" | ".join(["features", "N=100 all", "N=400 all", *(f"N=100 {k}" for k in kinds)]))
    rows = {"the filter now": x, **{f"+ {n}": np.hstack([x, c]) for n, c in candidates.items()}}
    rows[f"+ all {len(candidates)}"] = np.hstack([x, *candidates.values()])
    for label, features in rows.items():
        cells: dict[str, list[float]] = {}
        for size in (100, 400):
            for d in range(5):
                drawn = np.random.default_rng(100 + d).choice(pool, size, replace=False)
                head = new_head(config).fit(features[drawn], y[drawn])
                result = by_kind(head.predict_proba(features[test])[:, 1])
                cells.setdefault(f"{size} all", []).append(result["all"])
                if size == 100:
                    for k in kinds:
                        cells.setdefault(k, []).append(result[k])
        print(" | ".join([label, fmt(cells["100 all"]), fmt(cells["400 all"]), *(fmt(cells[k]) for k in kinds)]))
    head = new_head(config).fit(x[pool], y[pool])
    ceiling = by_kind(head.predict_proba(x[test])[:, 1])
    print(
        f"\nceiling, the filter's features with all {len(pool)} labels of the pool: "
        + "  ".join(f"{k} {v:.3f}" for k, v in ceiling.items())
    )


if __name__ == "__main__":
    main()

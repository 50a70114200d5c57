"""The toxicity filter, measured: what it drops and flags on pairs whose kind is known, what it costs on clean human
translations, and how well annotators' `dangerous` tag is learned.

    .venv/bin/python benchmarks/toxicity_filter.py                  # all three parts, about 2 minutes on 2 cores
    .venv/bin/python benchmarks/toxicity_filter.py --no-dangerous   # word lists only, seconds

1. `benchmarks/data/toxicity_pairs.tsv` (written for this benchmark): 44 `added` (a neutral source, an insult or
   obscenity in the target), 46 `balanced`, 42 `removed` (the same toxic sources translated clean) and 48 `clean`
   pairs full of words that look toxic and are not ("gato negro", "concha", "coger el tren", "recto", "asesinato",
   "Sexo: masculino", "zorra" for fox). Targets: added dropped >= 90%, clean dropped 0, balanced and removed
   flagged >= 80% and never dropped. Beside the built-in lists: glin-profanity's lists alone (no allowlist, no
   senses), to show what each part adds.
2. Clean human translations from ../shared/data (Tatoeba, gettext program messages, newstest2013 references):
   the share the default filter drops (every one is a false alarm or a rare real insult: examples printed).
3. The `dangerous` error type learned from annotators' tags: 300 judged bad pairs, 30 of them dangerous
   (`benchmarks/data/dangerous_pairs.tsv`: threats, weapons, self-harm), the other 270 tagged with the error kinds
   of the shared data (misaligned, truncated, untranslated, wrong language) or offensive; the error-type head on
   the learned filter's features (offline multilingual-e5-small), cross-validated AUC as the card reports it.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections import Counter
from pathlib import Path

from curation.clean import toxicity
from curation.clean.filters import build

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
KINDS = ("added", "balanced", "removed", "clean")


def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def package_only() -> toxicity.Classifier:
    return toxicity.Classifier(
        toxicity.WordList(toxicity.package_entries("en")), toxicity.WordList(toxicity.package_entries("es"))
    )


def test_set() -> bool:
    rows = read_tsv(HERE / "data" / "toxicity_pairs.tsv")
    default, alone = build("toxicity")._classify, package_only()
    recipes = {
        "built-in (glin-profanity + ours + allowlist + senses)": lambda s, t: default(s, t).kind,
        "glin-profanity's lists alone": lambda s, t: alone(s, t).kind,
    }
    met = True
    n = Counter(r["kind"] for r in rows)
    for name, classify in recipes.items():
        classes = [classify(r["source"], r["target"]) for r in rows]
        got = Counter((r["kind"], c) for r, c in zip(rows, classes, strict=True))
        print(f"\n{name}")
        print(f"{'kind':10} {'pairs':>5} {'dropped':>8} {'flagged':>8} {'none':>6}   (dropped: class added)")
        for kind in KINDS:
            dropped = got[(kind, "added")]
            flagged = got[(kind, "balanced")] + got[(kind, "removed")]
            print(f"{kind:10} {n[kind]:5} {dropped / n[kind]:8.0%} {flagged / n[kind]:8.0%} {got[(kind, 'none')]:6}")
        if name.startswith("built-in"):
            share = {k: (got[(k, "added")] / n[k], (got[(k, "balanced")] + got[(k, "removed")]) / n[k]) for k in KINDS}
            checks = [
                ("added dropped >= 90%", share["added"][0] >= 0.9),
                ("clean dropped 0", got[("clean", "added")] == 0),
                ("balanced flagged >= 80%", share["balanced"][1] >= 0.8),
                ("removed flagged >= 80%", share["removed"][1] >= 0.8),
                ("balanced and removed never dropped", got[("balanced", "added")] + got[("removed", "added")] == 0),
            ]
            for what, ok in checks:
                print(f"  target {what}: {'met' if ok else 'MISSED'}")
                met &= ok
            for r, got_kind in zip(rows, classes, strict=True):
                if got_kind != {"clean": "none"}.get(r["kind"], r["kind"]):
                    print(f"  {r['kind']} classed {got_kind}: {r['target']}")
    return met


def clean_corpora(limit: int) -> None:
    sources = {
        "tatoeba": (SHARED / "tatoeba.en-es.tsv", "source", "target"),
        "gettext": (SHARED / "gettext.en-es.tsv", "source", "target"),
        "newstest2013 references": (SHARED / "newstest2013.en-es.apertium.tsv", "source_en", "reference_es"),
    }
    f = build("toxicity")
    print(f"\nclean human translations (../shared/data), the default filter, at most {limit:,} pairs each")
    print(f"{'corpus':24} {'pairs':>7} {'dropped':>8} {'flagged':>8} {'pairs/s':>9}")
    for name, (path, s_col, t_col) in sources.items():
        if not path.exists():
            print(f"{name:24} (missing: {path})")
            continue
        rows = read_tsv(path)[:limit]
        began = time.perf_counter()
        kinds = [f._classify(r[s_col], r[t_col]) for r in rows]
        seconds = time.perf_counter() - began
        c = Counter(v.kind for v in kinds)
        print(
            f"{name:24} {len(rows):7,} {c['added'] / len(rows):8.2%} {(c['balanced'] + c['removed']) / len(rows):8.2%} "
            f"{len(rows) / seconds:9,.0f}"
        )
        for r, v in [(r, v) for r, v in zip(rows, kinds, strict=True) if v.kind == "added"][:3]:
            print(f"    dropped: {r[t_col][:90]!r}  (target: {', '.join(v.target.matches)})")


def dangerous_auc(seed: int = 0) -> None:
    from curation.model import error_types
    from curation.model.encoder import build_encoder
    from curation.model.settings import TrainConfig

    rng = random.Random(seed)
    dangerous = [(r["source"], r["target"]) for r in read_tsv(HERE / "data" / "dangerous_pairs.tsv")]
    rng.shuffle(dangerous)
    dangerous = dangerous[:30]
    tatoeba = [(r["source"], r["target"]) for r in read_tsv(SHARED / "tatoeba.en-es.tsv")]
    rng.shuffle(tatoeba)
    others = {r["source"]: r for r in read_tsv(SHARED / "gettext.en-other.tsv")}
    gettext = [r for r in read_tsv(SHARED / "gettext.en-es.tsv") if r["source"] in others]
    rng.shuffle(gettext)
    toxic = [r for r in read_tsv(HERE / "data" / "toxicity_pairs.tsv") if r["kind"] in ("added", "balanced")]
    bad: list[tuple[tuple[str, str], frozenset[str]]] = []
    for i in range(60):  # misaligned: another sentence's target
        bad.append(((tatoeba[i][0], tatoeba[i + 500][1]), frozenset({"mistranslation"})))
    for i in range(60, 120):  # truncated
        words = tatoeba[i][1].split()
        bad.append(((tatoeba[i][0], " ".join(words[: max(1, len(words) // 2)])), frozenset({"omission_addition"})))
    for r in gettext[:60]:  # the real translation into a neighbouring language
        bad.append(((r["source"], others[r["source"]]["target"]), frozenset({"wrong_language"})))
    for r in gettext[60:110]:  # untranslated
        bad.append(((r["source"], r["source"]), frozenset({"wrong_language"})))
    for r in toxic[:40]:
        bad.append(((r["source"], r["target"]), frozenset({"offensive"})))
    bad = bad[:270] + [(p, frozenset({"dangerous"})) for p in dangerous]
    config = TrainConfig()
    encoder = build_encoder(config)
    x = encoder.features([p for p, _ in bad])
    types = error_types.fit(x, [t for _, t in bad], config)
    print(
        f"\nerror-type heads from {len(bad)} tagged bad pairs ({sum('dangerous' in t for _, t in bad)} dangerous), "
        f"on the learned filter's features ({config.base_model}):"
    )
    for name in sorted(types.examples):
        auc = types.auc.get(name)
        print(f"  {name:18} {types.examples[name]:4} tagged   AUC {'n/a' if auc is None else f'{auc:.3f}'}")
    print("  (out-of-fold AUC of each type against the other tagged errors, as the model card reports it)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-dangerous", action="store_true", help="skip the learned `dangerous` head (encoder)")
    parser.add_argument("--limit", type=int, default=30_000, help="clean pairs per shared corpus")
    args = parser.parse_args(argv)
    met = test_set()
    if SHARED.exists():
        clean_corpora(args.limit)
        if not args.no_dangerous:
            dangerous_auc()
    else:
        print(f"\n{SHARED} not found: the clean-corpus and dangerous-head parts need the shared EN-ES data")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

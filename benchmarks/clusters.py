"""Cluster-based curation, measured (issue 37): does boilerplate land in clusters of its own, with titles that name
it; what does clustering cost beside scoring; and what do 100k and 1M pairs take in time and memory.

    .venv/bin/python benchmarks/clusters.py                     # all three parts, about 10 minutes on 2 cores
    .venv/bin/python benchmarks/clusters.py --parts purity      # one part: purity, cost, scale

1. purity: a pool of 2,500 Tatoeba and 1,000 gettext pairs (clean, ../shared/data) plus six families of
   well-translated web boilerplate written with varied wording (tests/boilerplate.py: cookies, shop, casino,
   copyright, navigation, newsletter), embedded by the learned filter's encoder at its defaults
   (multilingual-e5-small, depth 6), clustered at default settings (k chosen), three seeds, and a fixed k = 40 for
   comparison. Reported: the share of boilerplate pairs in clusters that are >= 80% one family, the share of clean
   pairs in such clusters, and per family the share of its pairs whose cluster title names it (one of the family's
   words, listed in FAMILY_WORDS, a curator's reading of a title).
2. cost: clustering 100k pairs whose embeddings exist, against scoring them with the learned filter. The 100k
   embeddings are the encoder's for the ~39,500 clean pairs of ../shared/data, repeated with a little noise
   (1e-3) to 100k; scoring is timed on 2,000 fresh pairs with a filter trained here, and scaled to 100k.
3. scale: `curation cluster --input --embeddings` as a curator runs it, on 100k and 1M pairs (the same embeddings
   repeated, stored float16 on disk), each in its own process: wall time and peak memory (/usr/bin/time).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests"))

from boilerplate import boilerplate  # noqa: E402

from curation.clusters.run import cluster  # noqa: E402
from curation.clusters.settings import ClusterConfig  # noqa: E402
from curation.clusters.titles import title_words  # noqa: E402
from curation.pair import batched  # noqa: E402

FAMILY_WORDS = {
    "cookies": {"cookies", "cookie", "navegador", "browser"},
    "shop": {"cart", "carrito", "stock", "shipping", "envío", "price", "precio", "buy", "compre", "compraron",
             "customers", "order", "orders", "pedido", "refund", "agotado", "iva", "vat", "euros", "ships"},
    "casino": {"casino", "bet", "betting", "apuestas", "apueste", "poker", "spins", "bonus", "roulette", "ruleta",
               "tragaperras", "odds", "cuotas", "blackjack", "deposit", "depósito"},
    "copyright": {"copyright", "reserved", "derechos", "rights", "reproduced", "property", "legal", "propiedad",
                  "reproducción", "reservados", "permission"},
    "navigation": {"home", "inicio", "menu", "menú", "page", "página", "contact", "contacto", "top", "arriba",
                   "map", "mapa", "skip"},
    "newsletter": {"newsletter", "boletín", "subscribe", "suscríbase", "unsubscribe", "email", "mailing",
                   "subscribing", "lectores", "readers"},
}  # fmt: skip


def read(path: Path, n: int | None = None) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(r["source"], r["target"]) for i, r in enumerate(rows) if n is None or i < n]


def encoder():
    from curation.model.encoder import build_encoder
    from curation.model.settings import TrainConfig

    return build_encoder(TrainConfig(models_dir=str(Path(tempfile.mkdtemp(prefix="clusters-bench-")))))


def embed(enc, pairs: list[tuple[str, str]]) -> np.ndarray:
    return np.concatenate([enc.embeddings(chunk) for chunk in batched(pairs, 512)])


def purity(labels: np.ndarray, family: np.ndarray) -> tuple[float, float, set[int]]:
    """(share of boilerplate in >= 80%-one-family clusters, share of clean pairs in such clusters, those clusters)."""
    pure = set()
    for c in np.unique(labels):
        top, n = Counter(family[labels == c]).most_common(1)[0]
        if top != "clean" and n / (labels == c).sum() >= 0.8:
            pure.add(int(c))
    inside = np.isin(labels, list(pure))
    return float(inside[family != "clean"].mean()), float(inside[family == "clean"].mean()), pure


def part_purity(enc) -> dict:
    clean = read(SHARED / "tatoeba.en-es.tsv", 2500) + read(SHARED / "gettext.en-es.tsv", 1000)
    rows = [(s, t, "clean") for s, t in clean] + boilerplate(120)
    family = np.array([f for *_, f in rows])
    pairs = [(s, t) for s, t, _ in rows]
    t = time.perf_counter()
    x = embed(enc, pairs)
    print(f"purity: {len(rows):,} pairs ({dict(Counter(family))}); embedded in {time.perf_counter() - t:.1f} s")
    out = {"pairs": len(rows), "families": {k: int(v) for k, v in Counter(family).items()}, "runs": []}
    for name, settings in [*((f"auto, seed {s}", ClusterConfig(seed=s)) for s in (0, 1, 2)),
                           ("k = 40, seed 0", ClusterConfig(k=40))]:  # fmt: skip
        result = cluster(x, lambda: batched(pairs, 1000), settings)
        boiler, clean_in, _ = purity(result.labels, family)
        named = {}
        for f in FAMILY_WORDS:
            members = result.labels[family == f]
            titled = [c for c in np.unique(members) if FAMILY_WORDS[f] & title_words(result.clusters[c].title)]
            named[f] = round(float(np.isin(members, titled).mean()), 3)
        run = {"settings": name, "k": result.model.k, "boilerplate_in_pure": round(boiler, 4),
               "clean_in_pure": round(clean_in, 4), "title_names_family": named, "seconds": result.seconds}  # fmt: skip
        out["runs"].append(run)
        print(
            f"  {name:15} k {result.model.k:4}  boilerplate in >=80%-one-family clusters {boiler:6.1%}  clean pairs "
            f"in them {clean_in:6.2%}  titles naming the family: " + ", ".join(f"{f} {v:.0%}" for f, v in named.items())
        )
    largest = sorted(result.clusters, key=lambda c: -c.size)[:3]
    out["largest_titles"] = [c.title for c in largest]
    return out


def hundred_k(enc, work: Path) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """100k embeddings and pairs: the clean pairs of ../shared/data embedded, repeated with a little noise."""
    cached = work / "clean-embeddings.npy"
    clean = read(SHARED / "tatoeba.en-es.tsv") + read(SHARED / "gettext.en-es.tsv")
    if cached.exists():
        x = np.load(cached)
    else:
        t = time.perf_counter()
        x = embed(enc, clean)
        print(f"  embedded {len(clean):,} clean pairs in {time.perf_counter() - t:.0f} s (the encoder's pass)")
        np.save(cached, x)
    rng = np.random.default_rng(0)
    reps = -(-100_000 // len(x))
    big = np.concatenate([x + rng.normal(scale=1e-3, size=x.shape).astype(np.float32) for _ in range(reps)])[:100_000]
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    pairs = (clean * reps)[:100_000]
    return big.astype(np.float32), pairs


def part_cost(enc, work: Path) -> dict:
    from curation.model.learned import LearnedFilter
    from curation.model.settings import TrainConfig

    x, pairs = hundred_k(enc, work)
    t = time.perf_counter()
    result = cluster(x, lambda: batched(pairs, 4096), ClusterConfig())
    clustering = time.perf_counter() - t
    good = read(SHARED / "tatoeba.en-es.tsv")[5000:5100]
    train = good + [(s, s) for s, _ in good]  # good pairs against untranslated copies: a working filter
    flt = LearnedFilter.train(train, [1] * 100 + [0] * 100, enc, TrainConfig())
    fresh = read(SHARED / "tatoeba.en-es.tsv")[6000:8000]
    enc.cache = None  # scored as new pairs are: no cache
    t = time.perf_counter()
    flt.score(fresh)
    per_pair = (time.perf_counter() - t) / len(fresh)
    scoring = per_pair * 100_000
    share = clustering / scoring
    print(
        f"cost: clustering 100,000 pairs ({result.model.k} clusters) {clustering:.1f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in result.seconds.items())}); scoring them "
        f"{scoring:.0f} s (measured on {len(fresh):,}: {1 / per_pair:.0f} pairs/s): clustering is {share:.1%} of "
        "scoring (target <= 10%)"
    )
    return {
        "clustering_s": round(clustering, 1),
        "steps_s": result.seconds,
        "k": result.model.k,
        "scoring_s_100k": round(scoring),
        "scoring_pairs_per_s": round(1 / per_pair, 1),
        "share": round(share, 4),
    }


def part_scale(enc, work: Path) -> dict:
    x, pairs = hundred_k(enc, work)
    out = {}
    for n in (100_000, 1_000_000):
        folder = work / f"scale-{n}"
        folder.mkdir(exist_ok=True)
        emb = folder / "embeddings.npy"
        tsv = folder / "pairs.tsv"
        if not emb.exists():
            big = np.lib.format.open_memmap(emb, mode="w+", dtype=np.float16, shape=(n, x.shape[1]))
            for start in range(0, n, len(x)):
                big[start : start + len(x)] = x[: n - start]
            big.flush()
            del big
            with open(tsv, "w", encoding="utf-8") as f:
                f.write("source\ttarget\n")
                for i in range(n):
                    s, t = pairs[i % len(pairs)]
                    f.write(f"{s}\t{t}\n")
        line = ["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "curation", "cluster", "--input", str(tsv),
                "--embeddings", str(emb), "--output", str(folder / "out")]  # fmt: skip
        done = subprocess.run(line, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(done.stderr[-2000:])
        seconds, kb = done.stderr.strip().splitlines()[-1].split()
        clusters = json.loads((folder / "out" / "clusters.json").read_text())
        out[n] = {"seconds": float(seconds), "peak_mib": round(int(kb) / 1024), "clusters": clusters["clusters"],
                  "steps_s": clusters["seconds"]}  # fmt: skip
        print(
            f"scale: {n:>9,} pairs  {float(seconds):6.1f} s  peak {int(kb) / 1024:6.0f} MiB  "
            f"{clusters['clusters']} clusters ({', '.join(f'{k} {v:.1f} s' for k, v in clusters['seconds'].items())})"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="purity,cost,scale")
    parser.add_argument("--work", help="Folder for the large files (default: a new temporary one)")
    parser.add_argument("--json", help="Write the figures here")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="clusters-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    enc = encoder()
    figures = {}
    for part in args.parts.split(","):
        figures[part] = {"purity": part_purity, "cost": part_cost, "scale": part_scale}[part](
            *((enc,) if part == "purity" else (enc, work))
        )
    info = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    print(f"CPU: {cpu}; work folder {work}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()

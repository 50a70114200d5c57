"""SetFit on a GPU machine, measured on human-judged ParaCrawl with the draws of benchmarks/filter_judged.py.

The machine takes 64 MiB and has no Apertium, so the work is split:

    .venv/bin/python benchmarks/setfit_gpu.py pack          # here: model + pairs into .dev/ (git-ignored)
    python3 benchmarks/setfit_gpu.py body 200 5 cuda        # there: frozen vs fine-tuned body, $OUT/setfit_features.npz
    python3 benchmarks/setfit_gpu.py pairs 200 5 cuda       # there: SetFit on the pair text  -> $OUT/setfit_pairs.npz
    .venv/bin/python benchmarks/setfit_gpu.py table FOLDER  # here: the AUC table from FOLDER's two files

- `pack` keeps the transformer layers of the offline multilingual-e5-small as they are and only the word-embedding
  rows the pairs' tokens use (14,014 of 250,037; the others are never looked up): the model rebuilt there gives the
  same features as here.
- `body`: `curation.model.train.finetune_body` (SetFit's contrastive steps on the labelled targets, what
  `train.setfit_steps` does), then the encoder's feature columns of every pair; the Apertium, wordfreq and langid
  columns do not depend on the body and are joined here from benchmarks/filter_judged.py's cache.
- `pairs`: SetFit as its authors use it, on "source </s> target" as one text: body fine-tuned, then its logistic
  head (0 steps: the frozen body); P(good) of every pair.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CARRIED = ROOT / ".dev"  # written by `pack`, carried to the machine
JUDGED = ROOT.parent / "shared" / "data" / "paracrawl-v3.en-es.judged.tsv"
REBUILT = Path("/tmp/e5")


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def split(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, pool and test half, as benchmarks/filter_judged.py draws them."""
    judged = np.array([r["label"] in ("0", "1") for r in rows])
    y = np.array([int(r["label"] or -1) for r in rows])
    perm = np.random.default_rng(0).permutation(np.where(judged)[0])
    return y, perm[: len(perm) // 2], perm[len(perm) // 2 :]


def drawn(pool: np.ndarray, size: int, draw: int) -> np.ndarray:
    return np.random.default_rng(100 + draw).choice(pool, size, replace=False)


def pack() -> None:
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    from curation.model.encoder import OFFLINE_DIR

    out = CARRIED / "e5pack"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rows = read_rows(JUDGED)
    tokenizer = AutoTokenizer.from_pretrained(str(OFFLINE_DIR))
    prompts = json.loads((OFFLINE_DIR / "config_sentence_transformers.json").read_text()).get("prompts", {})
    ids = set(tokenizer.all_special_ids)
    for text in [r["source"] for r in rows] + [r["target"] for r in rows]:
        for variant in (text, prompts.get("query", "") + text):
            ids.update(tokenizer(variant, truncation=False)["input_ids"])
    used = torch.tensor(sorted(ids))
    state = load_file(str(OFFLINE_DIR / "model.safetensors"))
    key = next(k for k in state if k.endswith("word_embeddings.weight"))
    embeddings = state.pop(key)
    state["__rows__"], state["__ids__"] = embeddings[used].contiguous(), used
    save_file(state, str(out / "weights.safetensors"), metadata={"key": key, "vocab": str(embeddings.shape[0])})
    for path in OFFLINE_DIR.rglob("*"):
        if path.is_file() and path.name not in ("model.safetensors", "tokenizer.json"):
            dest = out / "files" / path.relative_to(OFFLINE_DIR)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dest)
    with gzip.open(out / "tokenizer.json.gz", "wb", 9) as g:
        g.write((OFFLINE_DIR / "tokenizer.json").read_bytes())
    shutil.copy(JUDGED, CARRIED / "paracrawl.tsv")  # the data stays outside the project: .dev/ is git-ignored
    print(f"{len(used)} of {embeddings.shape[0]} embedding rows; {out}")


def unpack() -> Path:
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    if (REBUILT / "modules.json").exists():
        return REBUILT
    packed = CARRIED / "e5pack"
    shutil.copytree(packed / "files", REBUILT, dirs_exist_ok=True)
    with gzip.open(packed / "tokenizer.json.gz", "rb") as g:
        (REBUILT / "tokenizer.json").write_bytes(g.read())
    with safe_open(str(packed / "weights.safetensors"), "pt") as f:
        meta = f.metadata()
    state = load_file(str(packed / "weights.safetensors"))
    rows, ids = state.pop("__rows__"), state.pop("__ids__")
    embeddings = torch.zeros(int(meta["vocab"]), rows.shape[1], dtype=rows.dtype)
    embeddings[ids] = rows
    state[meta["key"]] = embeddings
    save_file(state, str(REBUILT / "model.safetensors"))
    return REBUILT


def body(steps: int, draws: int, dev: str, out: Path) -> None:
    import torch

    from curation.model import adequacy, fluency
    from curation.model.encoder import PairEncoder, load_body
    from curation.model.features import ALIGNMENT, SURFACE
    from curation.model.settings import TrainConfig
    from curation.model.train import finetune_body, seed_everything

    fluency.features = lambda targets: np.zeros((len(targets), len(fluency.NAMES)))  # joined here by `table`
    adequacy.features = lambda pairs: np.zeros((len(pairs), len(adequacy.NAMES)))
    width = len(SURFACE) + len(ALIGNMENT)
    model, rows = unpack(), read_rows(CARRIED / "paracrawl.tsv")
    pairs = [(r["source"], r["target"]) for r in rows]
    y, pool, _ = split(rows)
    config, batch = TrainConfig(), 256 if dev.startswith("cuda") else 32
    result = {"frozen": PairEncoder(load_body(str(model), dev), config.layer, batch).features(pairs)[:, :width]}
    seconds = {}
    for size in (100, 400):
        for d in range(draws):
            labelled = drawn(pool, size, d)
            seed_everything(config.seed)
            encoder = PairEncoder(load_body(str(model), dev), config.layer, batch)
            t = time.perf_counter()
            targets = [pairs[i][1] for i in labelled]
            finetune_body(encoder.body, targets, y[labelled], steps, config, 64 if dev != "cpu" else 16)
            if dev.startswith("cuda"):
                torch.cuda.synchronize()
            seconds[f"{size}_{d}"] = time.perf_counter() - t
            result[f"ft_{size}_{d}"] = encoder.features(pairs)[:, :width]
            print(f"N={size} draw {d}: {steps} SetFit steps in {seconds[f'{size}_{d}']:.1f} s", flush=True)
    np.savez_compressed(out / "setfit_features.npz", **result)
    (out / "setfit_features.json").write_text(json.dumps({"steps": steps, "device": dev, "seconds": seconds}))


def pairs_classifier(steps: int, draws: int, dev: str, out: Path) -> None:
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments
    from sklearn.linear_model import LogisticRegression

    from curation.model.encoder import load_body
    from curation.model.train import seed_everything

    model, rows = unpack(), read_rows(CARRIED / "paracrawl.tsv")
    texts = [f"{r['source']} </s> {r['target']}" for r in rows]
    y, pool, _ = split(rows)
    result, seconds = {}, {}
    for size in (100, 400):
        for d in range(draws):
            labelled = drawn(pool, size, d)
            train = Dataset.from_dict({"text": [texts[i] for i in labelled], "label": [int(v) for v in y[labelled]]})
            for n in (0, steps):
                seed_everything(42)
                setfit = SetFitModel(model_body=load_body(str(model), dev), model_head=LogisticRegression())
                t = time.perf_counter()
                if n:
                    with tempfile.TemporaryDirectory() as tmp:
                        args = TrainingArguments(
                            output_dir=tmp, batch_size=64 if dev != "cpu" else 16, max_steps=n, seed=42,
                            report_to="none", save_strategy="no", show_progress_bar=False,
                            use_amp=dev.startswith("cuda"),
                        )  # fmt: skip
                        Trainer(model=setfit, args=args, train_dataset=train).train()
                else:
                    setfit.model_head.fit(setfit.model_body.encode(train["text"]), train["label"])
                result[f"p_{size}_{d}_{n}"] = np.asarray(setfit.predict_proba(texts, batch_size=256))[:, 1]
                seconds[f"{size}_{d}_{n}"] = time.perf_counter() - t
                print(f"N={size} draw {d} steps {n}: {seconds[f'{size}_{d}_{n}']:.1f} s", flush=True)
    np.savez_compressed(out / "setfit_pairs.npz", **result)
    (out / "setfit_pairs.json").write_text(json.dumps(seconds))


def table(folder: Path) -> None:
    from filter_quality import fmt  # benchmarks/ is on the path
    from scipy.stats import rankdata
    from sklearn.metrics import roc_auc_score

    from curation.model.settings import TrainConfig
    from curation.model.train import new_head

    rows = read_rows(JUDGED)
    y, pool, test = split(rows)
    kind = np.array([r["judgment"] for r in rows])
    cpu = np.load("/tmp/curation-filter-judged.npz")["pc"]  # benchmarks/filter_judged.py's cache
    body_run, pair_run = np.load(folder / "setfit_features.npz"), np.load(folder / "setfit_pairs.npz")
    width = body_run["frozen"].shape[1]
    yt, kt = y[test], kind[test]

    def by_kind(scores: np.ndarray) -> dict[str, float]:
        out = {"all": roc_auc_score(yt, scores)}
        for k in "AEL":
            m = (yt == 1) | (kt == k)
            out[k] = roc_auc_score(yt[m], scores[m])
        return out

    def head_scores(x: np.ndarray, labelled: np.ndarray) -> np.ndarray:
        return new_head(TrainConfig()).fit(x[labelled], y[labelled]).predict_proba(x[test])[:, 1]

    print("AUC on the test half, mean ± sd over 5 draws (V/F against all bad kinds, and against A, E, L)")
    for size in (100, 400):
        cells: dict[str, list[dict]] = {}
        for d in range(5):
            labelled = drawn(pool, size, d)
            ours = head_scores(np.hstack([body_run["frozen"], cpu[:, width:]]), labelled)
            tuned = head_scores(np.hstack([body_run[f"ft_{size}_{d}"], cpu[:, width:]]), labelled)
            setfit = pair_run[f"p_{size}_{d}_200"][test]
            cells.setdefault("the filter, frozen body", []).append(by_kind(ours))
            cells.setdefault("the filter, body fine-tuned (200 SetFit steps)", []).append(by_kind(tuned))
            cells.setdefault("SetFit on the pair text, frozen body", []).append(
                by_kind(pair_run[f"p_{size}_{d}_0"][test])
            )
            cells.setdefault("SetFit on the pair text, 200 steps", []).append(by_kind(setfit))
            cells.setdefault("the filter + SetFit 200 (mean rank)", []).append(
                by_kind(rankdata(ours) + rankdata(setfit))
            )
        for label, results in cells.items():
            print(f"N={size} {label}: " + "  ".join(f"{k} {fmt([r[k] for r in results])}" for k in results[0]))


def main() -> None:
    command, *args = sys.argv[1:] or ["help"]
    out = Path(os.environ.get("OUT", "/tmp/setfit-gpu"))
    out.mkdir(parents=True, exist_ok=True)
    if command == "pack":
        pack()
    elif command in ("body", "pairs"):
        steps, draws, dev = int(args[0]), int(args[1]), args[2]
        (body if command == "body" else pairs_classifier)(steps, draws, dev, out)
    elif command == "table":
        table(Path(args[0]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

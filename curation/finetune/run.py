"""`curation finetune`: train a translator on one dataset, evaluate it on a test set, write a model folder with
its card. Everything that can be checked without work is checked first; the folder is written whole or not at all."""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from curation.errors import OutputError
from curation.files import check_output, check_writable, staged_folder, write_tsv
from curation.finetune.bases import build, kind_of
from curation.finetune.card import card
from curation.finetune.data import Datasets, Example, Prepared, prepare
from curation.finetune.evaluate import Evaluation, evaluate
from curation.finetune.settings import FinetuneConfig
from curation.model.encoder import device as pick_device
from curation.progress import Progress


@dataclass
class Finetuned:
    folder: Path
    steps: int
    seconds: float
    evaluation: Evaluation | None  # None when stopped before the end
    train_pairs: int
    outputs: list[str]  # the test set translated, in test order (empty when stopped before the end)
    history: list[dict] = field(default_factory=list)  # validation loss by step
    dropped_overlap: int = 0
    interrupted: bool = False


def check_model_folder(output: Path, overwrite: bool) -> None:
    """--output is free, or a model folder this command wrote and may replace; its folder exists and takes files."""
    check_output(output, overwrite)
    if output.exists() and not (output / "finetune.json").exists():
        raise OutputError(f"{output} is not a model folder `curation finetune` wrote: choose another --output")
    if not output.resolve().parent.is_dir():
        raise OutputError(f"the folder of --output {output} does not exist: create it or choose another --output")
    check_writable(output)


def batches(n: int, lengths: list[int], size: int, rng: random.Random):
    """Endless shuffled batches of similar length (less padding): shuffle, sort within windows of 50 batches."""
    while True:
        order = list(range(n))
        rng.shuffle(order)
        window = size * 50
        for k in range(0, n, window):
            chunk = sorted(order[k : k + window], key=lambda i: lengths[i])
            group = [chunk[j : j + size] for j in range(0, len(chunk), size)]
            rng.shuffle(group)
            yield from group


def finetune(
    settings: FinetuneConfig,
    files: Datasets,
    output: Path,
    *,
    overwrite: bool = False,
    encoder=None,
    progress: Progress | None = None,
    keep_interrupted: bool = True,
) -> Finetuned:
    """Train a translator on `files.data` with `settings` and evaluate it on `files.test`; the model folder
    `output` is written whole (also when Ctrl-C stops training: the model as it is then, without evaluation, unless
    not `keep_interrupted`: then Ctrl-C is raised and nothing is written)."""
    import torch
    from tqdm import tqdm

    progress = progress or Progress()
    kind_of(settings.base_model)  # an unknown base model fails before any data is read
    check_model_folder(output, overwrite)
    data = prepare(files, settings.validation)
    training, test_pairs, shared = data.training, data.test, data.dropped_overlap
    if shared:
        progress.say(f"left out {shared:,} training pairs whose source is in the test set")

    if settings.threads:
        torch.set_num_threads(settings.threads)
    dev = pick_device(settings.device)
    torch.manual_seed(settings.seed)  # the same seed, data and steps give the same model
    model = build(settings, training.train, dev, encoder)
    check_space(model, output)
    sources = [p.source for p in training.train + training.validation + test_pairs]
    phase = progress.say if not sys.stderr.isatty() else (lambda line: None)  # logs get a line where a tty gets a bar
    phase(f"preparing {len(set(sources)):,} sentences")
    with tqdm(total=len(set(sources)), desc="preparing", unit=" sentences", disable=None) as bar:
        model.prepare(sources, progress=bar.update)
    train = training.train
    trainable = [p for p in model.module.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.01)
    rng = random.Random(settings.seed)
    stream = batches(len(train), model.lengths(train), settings.batch_size, rng)
    history: list[dict] = []
    step, started, interrupted = 0, time.monotonic(), False
    model.module.train()
    phase(f"training {settings.steps:,} steps of {settings.batch_size} pairs on {len(train):,} pairs ({dev})")
    try:
        with tqdm(total=settings.steps, desc="training", unit=" steps", disable=None) as bar:
            while step < settings.steps:
                began = time.monotonic()
                with _precision(dev):
                    total, tokens = model.loss([train[i] for i in next(stream)])
                loss = total / max(tokens, 1)
                lr = settings.learning_rate * min(1.0, (step + 1) / max(settings.warmup, 1))
                for group in optimiser.param_groups:
                    group["lr"] = lr
                optimiser.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                optimiser.step()
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.2f}")
                if step == 2 and model.kind == "causal-lm" and dev == "cpu":  # the first step warms up: the second
                    progress.say(_projection(time.monotonic() - began, settings.steps))
                if training.validation and (step % settings.eval_every == 0 or step == settings.steps):
                    history.append({"step": step, "validation_loss": _held_loss(model, training.validation, dev)})
                    model.module.train()
                    phase(f"step {step:,}/{settings.steps:,}: validation loss {history[-1]['validation_loss']:.3f}")
    except KeyboardInterrupt:
        if not keep_interrupted:
            raise
        interrupted = True
        progress.say(f"stopped at step {step}: keeping the model as it is now")
    seconds = time.monotonic() - started
    evaluation, outputs = None, []
    if not interrupted:
        model.module.eval()
        phase(f"translating the {len(test_pairs):,} test sources")
        with tqdm(total=len(test_pairs), desc="translating the test set", unit=" pairs", disable=None) as bar:
            outputs = model.translate([p.source for p in test_pairs], progress=bar.update)
        evaluation = evaluate(outputs, [p.source for p in test_pairs], [p.target for p in test_pairs])
    result = Finetuned(output, step, seconds, evaluation, len(training.train), outputs, history, shared, interrupted)
    _write(model, result, settings, data, files.test)
    return result


def _projection(per_step: float, steps: int) -> str:
    total = per_step * steps
    shown = f"{total / 3600:.1f} h" if total >= 3600 else f"{total / 60:.0f} min"
    return (
        f"a causal LM on the CPU: {per_step:.1f} s a step (measured), {steps:,} steps take about {shown}: a GPU's job "
        "(--device cuda); on the CPU, try fewer --steps first. Ctrl-C keeps the model as it is"
    )


def check_space(model, output: Path) -> None:
    """Room for the model folder before the first step (its weights, as `model` says it stores them)."""
    need = model.stored_bytes(output) + (1 << 20)
    free = shutil.disk_usage(output.resolve().parent).free
    if free < need:
        raise OutputError(
            f"the disk is full for --output {output}: the model folder needs about {need / 1e6:,.0f} MB and "
            f"{free / 1e6:,.0f} MB are free: free some space or choose another --output"
        )


def _precision(dev: str):
    """bfloat16 autocast on a GPU that has it (float32 weights and optimiser), plain float32 elsewhere."""
    import contextlib

    import torch

    if dev.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _held_loss(model, pairs: list[Example], dev: str, size: int = 128) -> float:
    """Mean cross-entropy per target token over the validation pairs (no label smoothing)."""
    import torch

    model.module.eval()
    total, tokens = 0.0, 0
    with torch.inference_mode(), _precision(dev):
        for k in range(0, len(pairs), size):
            loss, n = model.loss(pairs[k : k + size], smoothing=0.0)
            total, tokens = total + loss.item(), tokens + n
    return round(total / max(tokens, 1), 4)


def _write(model, result: Finetuned, settings, data: Prepared, test) -> None:
    import torch

    training, test_pairs = data.training, data.test
    metrics = {
        "test": str(test),
        "evaluation": result.evaluation.to_dict() if result.evaluation else None,
        "steps": result.steps,
        "train_seconds": round(result.seconds, 1),
        "interrupted": result.interrupted,
        "train_pairs": result.train_pairs,
        "validation_pairs": len(training.validation),
        "dropped_overlap": result.dropped_overlap,
        "threads": torch.get_num_threads(),
    }
    with staged_folder(result.folder, replace=True) as tmp:
        model.save(tmp)
        described = {
            "kind": model.kind,
            "recipe": model.describe(),
            "data": training.origin,
            "settings": dataclasses.asdict(settings),
            "digests": data.digests(),
        }
        (tmp / "finetune.json").write_text(json.dumps(described, indent=2, sort_keys=True), encoding="utf-8")
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")
        (tmp / "history.json").write_text(json.dumps(result.history, indent=2), encoding="utf-8")
        if result.outputs:
            rows = [[p.source, p.target, o] for p, o in zip(test_pairs, result.outputs, strict=True)]
            write_tsv(tmp / "translations.tsv", ["source", "reference", "output"], rows)
        (tmp / "README.md").write_text(card(described, metrics, result.folder.name), encoding="utf-8")

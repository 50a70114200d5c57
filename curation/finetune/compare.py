"""`curation compare`: the same recipe on several datasets (arms such as curated, raw, random, rejected), each with
every seed (the e5 recipe over one shared frozen encoder); one table, paired bootstrap significance between arms,
plots, and the workshop's table of test sources with each arm's translation side by side.

Everything that can be checked is checked before the first step (every arm's data, names, the base model, the output
folder). Each run is kept as it finishes (`models/ARM-seedN/`, a model folder `curation finetune` would write); Ctrl-C
or a failure leaves the finished runs and a summary that says what is missing, and the same command again trains only
what is missing or changed (a run is kept when its data, test set and settings are the same: by their digests)."""

from __future__ import annotations

import dataclasses
import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from curation.errors import CurationError, InputError, OutputError
from curation.files import check_writable, staged_file, write_tsv
from curation.finetune.bases import kind_of
from curation.finetune.data import Datasets, Example, overlap, prepare, read_pairs, read_training
from curation.finetune.evaluate import Evaluation
from curation.finetune.report import ArmResult, differences, plots, report
from curation.finetune.run import finetune
from curation.finetune.settings import FinetuneConfig
from curation.model.encoder import device as pick_device
from curation.pair import digest
from curation.progress import Progress

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")  # an arm's name is a folder name
DERIVED = ("curated", "raw", "random", "rejected")  # the arms --export makes


class Stopped(CurationError):
    """Ctrl-C stopped a comparison: the finished runs are kept."""


def parse_arms(specs: list[str]) -> dict[str, str]:
    arms: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise InputError(f"--arm {spec!r}: write NAME=PATH, as in --arm curated=outputs/export")
        if not NAME.fullmatch(name):
            raise InputError(
                f"--arm {name}: an arm's name becomes a folder name: use letters, digits, '-', '_', '.' or '+' "
                "(starting with a letter or digit, 64 at most)"
            )
        if name in arms:
            raise InputError(f"--arm {name} is given twice: each arm needs its own name")
        arms[name] = path
    return arms


@dataclass
class Arms:
    """What a comparison trains on: arms by name (NAME -> a pairs file or an export folder) and/or `export` (a
    `curation export` folder) with `raw` (the pool it came from); every arm is tested on `test`, with one
    `validation` set for every learning curve when given (else a share of each arm)."""

    named: dict[str, str]
    test: str
    export: str | Path | None = None
    raw: str | None = None
    validation: str | None = None
    drop_overlap: bool = False  # leave out training pairs whose source is in the test set (else refused)


@dataclass
class Arm:
    name: str
    read: str  # the file a run reads
    recorded: str  # how the summary names it
    pairs: list[Example] | None = None  # an arm made here (random, rejected), written to `read` before training


def compare(
    settings: FinetuneConfig,
    plan: Arms,
    output: Path,
    *,
    seeds: int = 2,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Train on every arm with every seed. With `plan.export` and `plan.raw`, the arms curated, raw, random (the raw
    pool's pairs, as many as the export trains on) and, where the export wrote rejected.jsonl, rejected come first,
    and summary.json names the export (and a digest of its training pairs) so that `curation export` can put the
    comparison on its card. An earlier comparison in `output` is resumed (`overwrite`: started again)."""
    progress = progress or Progress()
    arms, test_pairs, curated = _checked(settings, plan, output, overwrite)
    if overwrite and output.exists():
        shutil.rmtree(output)
    (output / "models").mkdir(parents=True, exist_ok=True)
    for arm in arms:
        if arm.pairs is not None:
            Path(arm.read).parent.mkdir(exist_ok=True)
            with staged_file(arm.read) as partial:
                write_tsv(partial, ["source", "target"], [(p.source, p.target) for p in arm.pairs])
    with staged_file(output / "compare.json") as partial:  # marks the folder as a comparison's (resumable)
        record = {"arms": {a.name: a.recorded for a in arms}, "test": plan.test, "seeds": seeds}
        partial.write_text(json.dumps(record | {"settings": dataclasses.asdict(settings)}, indent=2), "utf-8")
    encoder = None  # the e5 recipe's frozen encoder, loaded once: every arm and seed reads its cached states
    if kind_of(settings.base_model) == "e5-decoder":
        from curation.finetune.e5_decoder import Encoder  # torch: +1.4 s, only for the recipe that uses it

        encoder = Encoder.load(settings.encoder, settings.encoder_layers, pick_device(settings.device))
    runs = [(arm, seed) for arm in arms for seed in range(settings.seed, settings.seed + seeds)]
    results = {arm.name: ArmResult(arm.name, arm.recorded) for arm in arms}
    state = Comparison(settings, plan, output, seeds, test_pairs, curated, results)
    digests: dict[str, dict] = {}  # an arm's data (the same for every seed), read only where a run may be kept
    done = 0
    try:
        for arm, seed in runs:
            folder = output / "models" / f"{arm.name}-seed{seed}"
            one = dataclasses.replace(settings, seed=seed)
            files = Datasets(arm.read, plan.test, plan.validation, plan.drop_overlap)
            if arm.name not in digests and (folder / "finetune.json").exists():
                digests[arm.name] = prepare(files, settings.validation, test=test_pairs).digests()
            kept = _finished(folder, one, digests.get(arm.name), len(test_pairs))
            if kept is not None:
                progress.say(f"arm {arm.name}, seed {seed}: kept from the earlier run (same data and settings)")
                results[arm.name].add(*kept)
            else:
                progress.say(f"arm {arm.name}, seed {seed}: training on {arm.recorded}")
                run = finetune(one, files, folder, overwrite=True, encoder=encoder, progress=progress,
                               keep_interrupted=False)  # fmt: skip
                results[arm.name].add(run.evaluation, run.outputs, run.history, run.train_pairs)
                progress.say(f"  {run.evaluation.line()}")
            done += 1
    except KeyboardInterrupt:
        _summarise(state, runs[done:])
        raise Stopped(
            f"stopped by Ctrl-C after {done} of {len(runs)} runs: the finished runs are kept in {output / 'models'} "
            "(summary.json lists what is missing); run the same command again to train the rest"
        ) from None
    except BaseException:
        if done:
            _summarise(state, runs[done:])
            progress.say(f"{done} of {len(runs)} runs are kept in {output / 'models'}: the same command resumes")
        raise
    return _summarise(state, [])


def _checked(settings: FinetuneConfig, plan: Arms, output: Path, overwrite: bool):
    """Every check before the first step, nothing written: the arms (data, names, overlap with the test set), the
    base model and the output folder. Returns the arms in training order, the test pairs and the curated pairs."""
    arms, export, raw = plan.named, plan.export, plan.raw
    if (export is None) != (raw is None):
        raise InputError("--export and --raw go together: the curated export and the raw pool it was curated from")
    if len(arms) < 2 and export is None:
        raise InputError("give at least two --arm NAME=PATH to compare, or --export DIR --raw FILE")
    taken = sorted(set(arms) & set(DERIVED)) if export is not None else []
    if taken:
        raise InputError(f"--arm {taken[0]} clashes with the arm --export makes: give your arm another name")
    _check_output(output, overwrite)
    kind_of(settings.base_model)
    test_pairs = read_pairs(plan.test, "--test")
    curated: list[Example] | None = None
    order: list[Arm] = []
    if export is not None:
        curated = read_training(export, settings.validation, what="--export").train
        pool = read_pairs(raw, "--raw")
        order += [Arm("curated", str(export), str(export)), Arm("raw", str(raw), str(raw))]
        made = {"random": random.Random(settings.seed).sample(pool, min(len(curated), len(pool)))}
        if (Path(export) / "rejected.jsonl").exists():
            made["rejected"] = read_pairs(Path(export) / "rejected.jsonl", "rejected.jsonl")
        order += [Arm(name, str(output / "arms" / f"{name}.tsv"), str(output / "arms" / f"{name}.tsv"), pairs)
                  for name, pairs in made.items()]  # fmt: skip
    order += [Arm(name, path, path) for name, path in arms.items()]
    for arm in order:
        what = f"arm {arm.name}:"
        if arm.pairs is None:
            prepare(Datasets(arm.read, plan.test, plan.validation, plan.drop_overlap), settings.validation, what,
                    test=test_pairs)  # fmt: skip
        elif (shared := overlap(arm.pairs, test_pairs)) and not plan.drop_overlap:
            raise InputError(
                f"{what} {shared:,} of its pairs have a source that is also in --test "
                f"{plan.test}: pass --drop-overlap to leave them out of training, or use another test set"
            )
    return order, test_pairs, curated


def _check_output(output: Path, overwrite: bool) -> None:
    """--output is new, or a comparison's folder (resumed, or started again with `overwrite`), and writable."""
    ours = (output / "compare.json").exists() or (output / "summary.json").exists()
    if output.exists() and (not output.is_dir() or not ours):
        raise OutputError(f"{output} is not a folder `curation compare` wrote: choose another --output")
    if not output.exists() and not output.resolve().parent.is_dir():
        raise OutputError(f"the folder of --output {output} does not exist: create it or choose another --output")
    check_writable(output / "models" if output.exists() else output)


def _finished(folder: Path, settings: FinetuneConfig, digests: dict | None, test_pairs: int):
    """(evaluation, outputs, history, training pairs) of a run in `folder` that finished with these settings and
    data (`digests`); None when there is none (or it differs: it is trained again)."""
    try:
        described = json.loads((folder / "finetune.json").read_text(encoding="utf-8"))
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        history = json.loads((folder / "history.json").read_text(encoding="utf-8"))
        rows = (folder / "translations.tsv").read_text(encoding="utf-8").split("\n")[1:]
    except (OSError, ValueError):
        return None
    if described.get("settings") != dataclasses.asdict(settings) or not metrics.get("evaluation"):
        return None
    if described.get("digests") != digests:
        return None
    outputs = [row.split("\t")[2] for row in rows if row]  # write_tsv keeps no tab or line break in a field
    if len(outputs) != test_pairs:
        return None
    return Evaluation(**metrics["evaluation"]), outputs, history, metrics["train_pairs"]


@dataclass
class Comparison:
    """A comparison under way: what it was asked, and the results of the runs finished so far."""

    settings: FinetuneConfig
    plan: Arms
    output: Path
    seeds: int
    test_pairs: list[Example]
    curated: list[Example] | None
    results: dict[str, ArmResult]


def _summarise(c: Comparison, missing: list[tuple[Arm, int]]) -> dict:
    """summary.json, the plots and report.md from the runs finished so far; `missing` names those that are not."""
    settings, plan, output, test_pairs, curated = c.settings, c.plan, c.output, c.test_pairs, c.curated
    seeds, results = c.seeds, c.results
    finished = {name: arm for name, arm in results.items() if arm.chrf}
    references = [p.target for p in test_pairs]
    summary = {
        "test": plan.test,
        "test_pairs": len(test_pairs),
        "validation": plan.validation,
        "seeds": seeds,
        "settings": dataclasses.asdict(settings),
        "complete": not missing,
        "missing": [f"{arm.name}-seed{seed}" for arm, seed in missing],
        "arms": {name: arm.summary() for name, arm in finished.items()},
        "differences": differences(finished, references) if finished else {},
    }
    if plan.export is not None and curated is not None:
        pairs = ((p.source, p.target) for p in curated)
        summary["export"] = {"path": str(Path(plan.export).resolve()), "digest": digest(pairs), "raw": str(plan.raw)}
    with staged_file(output / "summary.json") as partial:
        partial.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if finished:
        plots(finished, output, shared_validation=plan.validation is not None)
    with staged_file(output / "report.md") as partial:
        partial.write_text(report(summary, finished, test_pairs), encoding="utf-8")
    return summary

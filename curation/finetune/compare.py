"""`curation compare`: the same recipe on several datasets (arms such as curated, raw, random, rejected), each with
every seed (the e5 recipe over one shared frozen encoder); one table, paired bootstrap significance between arms,
plots, and the workshop's table of test sources with each arm's translation side by side."""

from __future__ import annotations

import dataclasses
import json
import random
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from curation.errors import InputError, OutputError
from curation.files import check_output, staged_folder, write_tsv
from curation.finetune.bases import kind_of
from curation.finetune.data import Datasets, Example, read_pairs, read_training
from curation.finetune.run import finetune
from curation.finetune.settings import FinetuneConfig
from curation.model.encoder import device as pick_device
from curation.pair import digest
from curation.progress import Progress

SIDE_BY_SIDE = 10  # test sources shown with every arm's translation


@dataclass
class ArmResult:
    name: str
    data: str
    chrf: list[float] = field(default_factory=list)  # one per seed
    bleu: list[float] = field(default_factory=list)
    copy_rate: list[float] = field(default_factory=list)
    off_target_rate: list[float] = field(default_factory=list)
    pairs: int = 0
    outputs: list[list[str]] = field(default_factory=list)  # per seed, in test order
    history: list[list[dict]] = field(default_factory=list)

    def summary(self) -> dict:
        sd = statistics.stdev(self.chrf) if len(self.chrf) > 1 else 0.0
        mean = statistics.fmean
        return {
            "chrf": round(mean(self.chrf), 2),
            "chrf_sd": round(sd, 2),
            "bleu": round(mean(self.bleu), 2),
            "pairs": self.pairs,
            "copy_rate": round(mean(self.copy_rate), 4),
            "off_target_rate": round(mean(self.off_target_rate), 4),
            "data": self.data,
        }


def parse_arms(specs: list[str]) -> dict[str, str]:
    arms: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise InputError(f"--arm {spec!r}: write NAME=PATH, as in --arm curated=outputs/export")
        if name in arms:
            raise InputError(f"--arm {name} is given twice: each arm needs its own name")
        arms[name.strip()] = path.strip()
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
    comparison on its card."""
    progress = progress or Progress()
    arms, test, export, raw, validation = plan.named, plan.test, plan.export, plan.raw, plan.validation
    if (export is None) != (raw is None):
        raise InputError("--export and --raw go together: the curated export and the raw pool it was curated from")
    if len(arms) < 2 and export is None:
        raise InputError("give at least two --arm NAME=PATH to compare, or --export DIR --raw FILE")
    check_output(output, overwrite)
    if output.exists() and not (output / "summary.json").exists():
        raise OutputError(f"{output} is not a folder `curation compare` wrote: choose another --output")
    test_pairs = read_pairs(test, "--test")
    derived: dict[str, list[Example]] = {}
    if export is not None:
        curated = read_training(export, settings.validation).train
        pool = read_pairs(raw, "--raw")
        derived["random"] = random.Random(settings.seed).sample(pool, min(len(curated), len(pool)))
        taken = sorted(set(arms) & {"curated", "raw", "random", "rejected"})
        if taken:
            raise InputError(f"--arm {taken[0]} clashes with the arm --export makes: give your arm another name")
        if (Path(export) / "rejected.jsonl").exists():
            derived["rejected"] = read_pairs(Path(export) / "rejected.jsonl", "rejected.jsonl")
    for name, path in arms.items():
        if not Path(path.split(",")[0]).exists():
            raise InputError(f"--arm {name}={path}: {path} does not exist")
    encoder = None  # the e5 recipe's frozen encoder, loaded once: every arm and seed reads its cached states
    if kind_of(settings.base_model) == "e5-decoder":
        from curation.finetune.e5_decoder import Encoder  # torch: +1.4 s, only for the recipe that uses it

        encoder = Encoder(settings.encoder, settings.encoder_layers, pick_device(settings.device))
    results: dict[str, ArmResult] = {}
    with staged_folder(output, replace=True) as tmp:
        (tmp / "models").mkdir()
        # name: (the file read now, the one recorded); the arms --export makes come first
        paths = {"curated": (str(export),) * 2, "raw": (str(raw),) * 2} if export is not None else {}
        if derived:
            (tmp / "arms").mkdir()
        for name, pairs in derived.items():
            write_tsv(tmp / "arms" / f"{name}.tsv", ["source", "target"], [(p.source, p.target) for p in pairs])
            paths[name] = (str(tmp / "arms" / f"{name}.tsv"), str(output / "arms" / f"{name}.tsv"))
        paths |= {name: (path, path) for name, path in arms.items()}
        for name, (path, recorded) in paths.items():
            arm = results[name] = ArmResult(name, recorded)
            for seed in range(settings.seed, settings.seed + seeds):
                progress.say(f"arm {name}, seed {seed}: training on {recorded}")
                run = finetune(
                    dataclasses.replace(settings, seed=seed),
                    Datasets(path, test, validation, plan.drop_overlap),
                    tmp / "models" / f"{name}-seed{seed}",
                    encoder=encoder,
                    progress=progress,
                )
                ev = run.evaluation
                arm.chrf.append(ev.chrf)
                arm.bleu.append(ev.bleu)
                arm.copy_rate.append(ev.copy_rate)
                arm.off_target_rate.append(ev.off_target_rate)
                arm.history.append(run.history)
                arm.pairs = run.train_pairs
                arm.outputs.append(run.outputs)
                progress.say(f"  {ev.line()}")
        references = [p.target for p in test_pairs]
        summary = {
            "test": test,
            "test_pairs": len(test_pairs),
            "validation": validation,
            "seeds": seeds,
            "settings": dataclasses.asdict(settings),
            "arms": {name: arm.summary() for name, arm in results.items()},
            "differences": differences(results, references),
        }
        if export is not None:
            pairs = ((p.source, p.target) for p in curated)
            summary["export"] = {"path": str(Path(export).resolve()), "digest": digest(pairs), "raw": str(raw)}
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        _plots(results, tmp, shared_validation=validation is not None)
        (tmp / "report.md").write_text(report(summary, results, test_pairs), encoding="utf-8")
    return summary


def differences(results: dict[str, ArmResult], references: list[str], samples: int = 1000) -> dict:
    """The first arm against every other: chrF difference (mean over seeds) and the paired bootstrap p-value
    (sacrebleu), over the seeds' outputs taken together (each test sentence once per seed)."""
    from sacrebleu.metrics import CHRF
    from sacrebleu.significance import PairedTest

    names = list(results)
    first = results[names[0]]
    out = {}
    for other in names[1:]:
        base = results[other]
        seeds = min(len(first.outputs), len(base.outputs))
        refs = references * seeds
        system = [o for outs in first.outputs[:seeds] for o in outs]
        baseline = [o for outs in base.outputs[:seeds] for o in outs]
        if system == baseline:  # sacrebleu gives a system against itself a tiny p on purpose: here it means nothing
            p = 1.0
        else:  # two-sided: the chance of an absolute difference this large under resampling
            test = PairedTest([(other, baseline), (first.name, system)], {"chrF": CHRF()}, [refs], "bs", samples)
            _, scores = test()
            p = scores["chrF2"][1].p_value
        diff = statistics.fmean(first.chrf) - statistics.fmean(base.chrf)
        out[f"{first.name}-{other}"] = {"chrf": round(diff, 2), "p": round(float(p), 4)}
    return out


def _plots(results: dict[str, ArmResult], folder: Path, shared_validation: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    means = [statistics.fmean(results[n].chrf) for n in names]
    ax.bar(names, means, color="#4c72b0")
    for i, n in enumerate(names):
        ax.scatter([i] * len(results[n].chrf), results[n].chrf, color="black", s=12, zorder=3)
    ax.set_ylabel("chrF2 on the test set")
    ax.set_title("Same recipe, different training data (dots: seeds)")
    fig.tight_layout()
    fig.savefig(folder / "chrf.png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for n in names:
        for k, history in enumerate(results[n].history):
            if history:
                steps = [h["step"] for h in history]
                ax.plot(steps, [h["validation_loss"] for h in history], label=n if k == 0 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("validation loss" + (" (one set for all)" if shared_validation else " (each arm's own pairs)"))
    ax.set_title("Learning curves")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "curves.png", dpi=120)
    plt.close(fig)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report(summary: dict, results: dict[str, ArmResult], test_pairs) -> str:
    names = list(results)
    lines = [
        "# Does curation pay?",
        "",
        f"The same recipe on each arm, {summary['seeds']} seed(s), tested on `{summary['test']}` "
        f"({summary['test_pairs']:,} pairs).",
        "",
        "| arm | pairs | chrF2 | sd | BLEU | copies the source | not Spanish |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in names:
        a = summary["arms"][n]
        lines.append(
            f"| {n} | {a['pairs']:,} | {a['chrf']:.1f} | {a['chrf_sd']:.1f} | {a['bleu']:.1f} | "
            f"{a['copy_rate']:.1%} | {a['off_target_rate']:.1%} |"
        )
    lines += ["", "| difference | chrF2 | p (paired bootstrap) |", "|---|---|---|"]
    for key, d in summary["differences"].items():
        lines.append(f"| {key} | {d['chrf']:+.1f} | {d['p']:.4f} |")
    lines += ["", "![chrF per arm](chrf.png) ![learning curves](curves.png)", ""]
    lines += ["## Side by side (seed " + str(summary["settings"]["seed"]) + ")", ""]
    lines += ["| source | reference | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for i, p in enumerate(test_pairs[:SIDE_BY_SIDE]):
        cells = [_cell(p.source), _cell(p.target)] + [_cell(results[n].outputs[0][i]) for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

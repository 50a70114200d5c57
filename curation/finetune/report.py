"""What `curation compare` tells a curator: per arm the mean over seeds (and the spread, where there are two seeds or
more), whether the arm's model is too weak to judge, the paired bootstrap between arms, the plots and the table of
test sources with every arm's translation side by side."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

SIDE_BY_SIDE = 10  # test sources shown with every arm's translation
WEAK_CHRF = 10.0  # below this chrF2 a translator is too weak for its differences to say anything about its data
WEAK_SHARE = 0.3  # ... or when this share of its outputs is empty, or repeats itself
WEAK_MEANING = (
    f"too weak to judge: chrF2 below {WEAK_CHRF:.0f}, or {WEAK_SHARE:.0%} or more of its outputs empty or repeating "
    "themselves; such a model learned too little (too few steps or pairs) for a comparison to say anything about its "
    "data: train longer (--steps) or on more pairs"
)


@dataclass
class ArmResult:
    name: str
    data: str
    chrf: list[float] = field(default_factory=list)  # one per seed
    bleu: list[float] = field(default_factory=list)
    copy_rate: list[float] = field(default_factory=list)
    off_target_rate: list[float] = field(default_factory=list)
    length_ratio: list[float] = field(default_factory=list)
    pairs: int = 0
    outputs: list[list[str]] = field(default_factory=list)  # per seed, in test order
    history: list[list[dict]] = field(default_factory=list)

    def add(self, evaluation, outputs: list[str], history: list[dict], pairs: int) -> None:
        self.chrf.append(evaluation.chrf)
        self.bleu.append(evaluation.bleu)
        self.copy_rate.append(evaluation.copy_rate)
        self.off_target_rate.append(evaluation.off_target_rate)
        self.length_ratio.append(evaluation.length_ratio)
        self.outputs.append(outputs)
        self.history.append(history)
        self.pairs = pairs

    def shares(self) -> tuple[float, float]:
        """The shares of its outputs (every seed's) that are empty and that repeat themselves."""
        outputs = [o for outs in self.outputs for o in outs]
        n = max(len(outputs), 1)
        return sum(not o.strip() for o in outputs) / n, sum(repeats(o) for o in outputs) / n

    def weak(self) -> list[str]:
        """Why this arm's model is too weak to judge (empty: it is not)."""
        empty, repeating = self.shares()
        reasons = []
        if self.chrf and statistics.fmean(self.chrf) < WEAK_CHRF:
            reasons.append(f"chrF2 {statistics.fmean(self.chrf):.1f}")
        if empty >= WEAK_SHARE:
            reasons.append(f"{empty:.0%} of outputs empty")
        if repeating >= WEAK_SHARE:
            reasons.append(f"{repeating:.0%} of outputs repeat themselves")
        return reasons

    def summary(self) -> dict:
        mean = statistics.fmean
        empty, repeating = self.shares()
        return {
            "seeds": len(self.chrf),
            "chrf": round(mean(self.chrf), 2),
            "chrf_sd": round(statistics.stdev(self.chrf), 2) if len(self.chrf) > 1 else None,
            "bleu": round(mean(self.bleu), 2),
            "pairs": self.pairs,
            "length_ratio": round(mean(self.length_ratio), 3),
            "copy_rate": round(mean(self.copy_rate), 4),
            "off_target_rate": round(mean(self.off_target_rate), 4),
            "empty_rate": round(empty, 4),
            "repeating_rate": round(repeating, 4),
            "too_weak": self.weak(),
            "data": self.data,
        }


def repeats(text: str) -> bool:
    """An output that repeats itself: a word three times in a row, or four words or more with under half of them
    distinct ("de de de", "el el la el la")."""
    words = text.lower().split()
    if re.search(r"\b(\w+)(?:\s+\1\b){2}", text.lower()):
        return True
    return len(words) >= 4 and len(set(words)) < len(words) / 2


def differences(results: dict[str, ArmResult], references: list[str], samples: int = 1000) -> dict:
    """The first arm against every other: chrF difference (mean over seeds) and the paired bootstrap p-value
    (sacrebleu), over the seeds' outputs taken together (each test sentence once per seed); `too_weak` when either
    model is too weak to judge (the p-value then compares broken models, not data)."""
    from sacrebleu.metrics import CHRF
    from sacrebleu.significance import PairedTest

    names = [n for n in results if results[n].outputs]
    if len(names) < 2 or names[0] != next(iter(results)):
        return {}
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
        weak = bool(first.weak() or base.weak())
        out[f"{first.name}-{other}"] = {"chrf": round(diff, 2), "p": round(float(p), 4), "too_weak": weak}
    return out


def difference_line(key: str, d: dict) -> str:
    line = f"{key}: {d['chrf']:+.1f} chrF2, p = {d['p']:.4f}"
    if d.get("too_weak"):
        line += " (between models too weak to judge: this p-value compares broken models, not data)"
    return line


def plots(results: dict[str, ArmResult], folder: Path, shared_validation: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in results if results[n].chrf]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    means = [statistics.fmean(results[n].chrf) for n in names]
    colours = ["#bbbbbb" if results[n].weak() else "#4c72b0" for n in names]
    ax.bar(names, means, color=colours)
    for i, n in enumerate(names):
        seeds = results[n].chrf
        ax.scatter([i] * len(seeds), seeds, color="black", s=14, zorder=3)
        if len(seeds) > 1:
            ax.errorbar(i, means[i], yerr=statistics.stdev(seeds), color="black", capsize=5, zorder=4)
    several = any(len(results[n].chrf) > 1 for n in names)
    ax.set_ylabel("chrF2 on the test set")
    ax.set_title(
        "Same recipe, different training data ("
        + ("dots: seeds, bars: ±1 sd" if several else "1 seed: spread not measured")
        + ("; grey: too weak to judge" if any(results[n].weak() for n in names) else "")
        + ")",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(folder / "chrf.png", dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for colour, n in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"] * 4, names, strict=False):
        for k, history in enumerate(results[n].history):
            if history:
                steps = [h["step"] for h in history]
                losses = [h["validation_loss"] for h in history]
                ax.plot(steps, losses, marker="o", markersize=4, color=colour, label=n if k == 0 else None)
                if len(history) == 1:  # one point is no curve: a dashed line at its level keeps it in sight
                    ax.axhline(losses[0], linestyle="--", linewidth=1, color=colour, alpha=0.6)
    ax.set_xlabel("step")
    ax.set_ylabel("validation loss" + (" (one set for all)" if shared_validation else " (each arm's own pairs)"))
    ax.set_title("Learning curves")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no validation points", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(folder / "curves.png", dpi=120)
    plt.close(fig)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") if text.strip() else "(empty)"


def report(summary: dict, results: dict[str, ArmResult], test_pairs) -> str:
    names = [n for n in results if results[n].outputs]
    seeds = summary["seeds"]
    lines = [
        "# Does curation pay?",
        "",
        f"The same recipe on each arm, {seeds} seed{'s' if seeds != 1 else ''}, tested on `{summary['test']}` "
        f"({summary['test_pairs']:,} pairs).",
        "",
    ]
    if summary.get("missing"):
        lines += [
            f"**Not complete**: {len(summary['missing'])} run(s) missing ({', '.join(summary['missing'])}); run the "
            "same command again to train them (finished runs are kept).",
            "",
        ]
    lines += [
        "| arm | pairs | chrF2 | sd | BLEU | length ratio | empty | copies the source | not Spanish |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        a = summary["arms"][n]
        sd = f"{a['chrf_sd']:.1f}" if a["chrf_sd"] is not None else "—"
        shown = f"{n} (**too weak to judge**)" if a["too_weak"] else n
        lines.append(
            f"| {shown} | {a['pairs']:,} | {a['chrf']:.1f} | {sd} | {a['bleu']:.1f} | {a['length_ratio']:.2f} | "
            f"{a['empty_rate']:.1%} | {a['copy_rate']:.1%} | {a['off_target_rate']:.1%} |"
        )
    lines.append("")
    if any(summary["arms"][n]["chrf_sd"] is None for n in names):
        lines += ["sd: 1 seed, spread not measured (--seeds 2 or more measures it).", ""]
    for n in names:
        if summary["arms"][n]["too_weak"]:
            lines += [f"{n}: {', '.join(summary['arms'][n]['too_weak'])}: {WEAK_MEANING}.", ""]
    if summary["differences"]:
        lines += ["| difference | chrF2 | p (paired bootstrap) |", "|---|---|---|"]
        for key, d in summary["differences"].items():
            note = " (between models too weak to judge: says nothing)" if d["too_weak"] else ""
            lines.append(f"| {key} | {d['chrf']:+.1f} | {d['p']:.4f}{note} |")
        lines.append("")
    short = [n for n in names if any(len(h) < 2 for h in results[n].history)]
    if short:
        lines += [
            f"Learning curve of {', '.join(short)}: fewer than two validation points (steps below twice "
            f"finetune.eval_every = {summary['settings']['eval_every']}): a dot, not a curve.",
            "",
        ]
    lines += ["![chrF per arm](chrf.png) ![learning curves](curves.png)", ""]
    lines += ["## Side by side (seed " + str(summary["settings"]["seed"]) + ")", ""]
    lines += ["| source | reference | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for i, p in enumerate(test_pairs[:SIDE_BY_SIDE]):
        cells = [_cell(p.source), _cell(p.target)] + [_cell(results[n].outputs[0][i]) for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

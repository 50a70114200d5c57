"""Pictures and a page a curator would rather look at than read: calibration, score histogram, agreement, and
the model card written next to every trained filter.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


MIN_PER_CALIBRATION_BIN = 10


def calibration_plot(scores, labels, path: Path, bins: int = 10) -> Path | None:
    """Reliability diagram of out-of-fold scores: predicted P(good) against the observed share of good, in bins of
    equal size (at least `MIN_PER_CALIBRATION_BIN` pairs each, at most `bins`). None (no plot) below 3 bins."""
    points = calibration_bins(scores, labels, bins)
    if len(points) < 3:
        return None
    plt = _pyplot()
    mids, observed, sizes = zip(*points, strict=True)
    bins = len(points)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfectly calibrated")
    ax.plot(mids, observed, marker="o", color="tab:blue", label=f"filter (cross-validated, {bins} bins)")
    for x, y, n in zip(mids, observed, sizes, strict=True):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7, color="grey")
    ax.set(xlabel="predicted P(good)", ylabel="share judged good", xlim=(0, 1), ylim=(0, 1), title="Calibration")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def calibration_bins(scores, labels, bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean score, share judged good, pairs) per bin of equal size, at most `bins`, at least
    `MIN_PER_CALIBRATION_BIN` pairs each."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    bins = min(bins, len(scores) // MIN_PER_CALIBRATION_BIN)
    if bins < 1:
        return []
    groups = np.array_split(np.argsort(scores, kind="stable"), bins)
    return [(float(scores[g].mean()), float(labels[g].mean()), len(g)) for g in groups]


def histogram_plot(oof, labels, unlabelled, thresholds: tuple[float | None, float | None], path: Path) -> Path:
    """Scores of judged pairs (by their label, cross-validated), and of unlabelled pairs when there are any, with
    the thresholds (suggested good at or above the first, bad at or below the second; None: never reached)."""
    plt = _pyplot()
    oof, labels, unlabelled = np.asarray(oof), np.asarray(labels), np.asarray(unlabelled)
    bins = np.linspace(0, 1, 21)
    panels = 2 if len(unlabelled) else 1
    fig, axes = plt.subplots(panels, 1, figsize=(6, 2.4 + 2.1 * panels), sharex=True, squeeze=False)
    top = axes[0, 0]
    top.hist(oof[labels == 1], bins=bins, alpha=0.7, color="tab:green", label="judged good")
    top.hist(oof[labels == 0], bins=bins, alpha=0.7, color="tab:red", label="judged bad")
    top.set(ylabel="judged pairs", title="Filter scores (judged: cross-validated)", xlim=(0, 1))
    if panels == 2:
        bottom = axes[1, 0]
        bottom.hist(unlabelled, bins=bins, color="tab:blue", alpha=0.8, label="not yet judged")
        bottom.set(ylabel="pairs")
        bottom.legend(fontsize=8)
    axes[-1, 0].set(xlabel="P(good)")
    good_at, bad_at = thresholds
    for ax in axes[:, 0]:
        if good_at is not None:
            ax.axvline(good_at, color="tab:green", ls="--", lw=1, label=f"suggested good ≥ {good_at:.2f}")
        if bad_at is not None:
            ax.axvline(bad_at, color="tab:red", ls="--", lw=1, label=f"suggested bad ≤ {bad_at:.2f}")
    top.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def agreement_plot(report: dict, path: Path) -> Path | None:
    """Each annotator's agreement with the others' majority (bar) and how many pairs it rests on."""
    rows = [a for a in report["annotators"] if a["agreement"] is not None]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 0.5 + 0.4 * len(rows)))
    names = [f"{a['annotator']} (n={a['compared']})" for a in rows]
    values = [a["agreement"] for a in rows]
    ax.barh(names, values, color=["tab:red" if v < 0.7 else "tab:green" for v in values])
    ax.set(xlim=(0, 1), xlabel="agrees with the other annotators' majority", title="Annotators")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def drops_plot(filter_report: dict, path: Path) -> Path | None:
    """Pairs dropped by each heuristic filter (from setup_workspace.py's filter_report.json)."""
    drops = {name: c.get("dropped", 0) for name, c in (filter_report.get("filters") or {}).items()}
    for reason, n in (filter_report.get("dedup") or {}).items():  # dedup's decisions, by kind
        drops[f"dedup: {reason}"] = n
    if (filter_report.get("templates") or {}).get("dropped"):
        drops["templates (over the cap)"] = filter_report["templates"]["dropped"]
    if not drops:
        return None
    plt = _pyplot()
    names = sorted(drops, key=drops.get, reverse=True)
    fig, ax = plt.subplots(figsize=(5, 0.5 + 0.35 * len(names)))
    ax.barh(names, [drops[n] for n in names], color="tab:orange")
    ax.set(xlabel="pairs dropped", title="Heuristic filters and dedup")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def quality_lines(m: dict) -> list[str]:
    """The cross-validated figures, in words, with the counts behind each: the terminal, the retrain report, the
    model card and the export card all print these lines."""
    auc = "n/a" if m["auc"] is None else f"{m['auc']:.3f}"
    judged = m["judged_good"] + m["judged_bad"]
    lines = [f"AUC {auc} ({m['folds']}-fold cross-validation, out-of-fold scores of {judged} judged pairs)"]
    for side, at, reached, judged_side in (
        ("good", f"≥ {m['threshold']:.3f}", m["threshold_precision"] is not None, m["judged_good"]),
        ("bad", f"≤ {m['bad_threshold']:.3f}", m["bad_threshold_precision"] is not None, m["judged_bad"]),
    ):
        n, correct = m[f"suggested_{side}"], m[f"suggested_{side}_correct"]
        if not reached or n == 0:
            lines.append(f"suggested {side}: precision {m['target_precision']} is never reached, so never suggested")
            continue
        precision, recall = correct / n, correct / max(judged_side, 1)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        lines.append(
            f"suggested {side} (score {at}): precision {precision:.2f} ({correct} of {n} pairs), "
            f"recall {recall:.2f} ({correct} of {judged_side} {side} pairs), F1 {f1:.2f}"
        )
    lines.append(f"uncertain band: {m['uncertain']} of {judged} judged pairs get no suggested label")
    if m["one_class_at_half"]:
        lines.append(
            f"warning: cut at 0.5 the model would call every judged pair {m['one_class_at_half']}; "
            "only the thresholds above carry information"
        )
    return lines


def model_card(meta: dict, plots: list[str]) -> str:
    m, counts = meta["metrics"], meta["label_counts"]
    body = f"fine-tuned with SetFit ({meta['setfit_steps']} steps)" if meta["finetuned"] else "(frozen)"
    lines = [
        f"# Translation-pair filter {meta['version']}",
        "",
        "Scores an English→Spanish pair with the probability that a human would judge it a good translation to",
        "train on. Written by `train_filter.py` (curation); do not edit by hand.",
        "",
        "## How it reads a pair",
        f"- encoder: `{meta['base_model']}` {body},"
        f" layer {meta['layer']} token vectors aligned between source and target",
        f"- head: logistic regression over {len(meta['features'])} signals: {', '.join(meta['features'])}",
        "",
        "## Trained on",
        f"- {counts['good']} good and {counts['bad']} bad judged pairs ({meta['labels_from']})",
        f"- labels sha256: `{meta['labels_sha256']}`",
        "",
        "## Quality",
        *(f"- {line}" for line in quality_lines(m)),
        "",
        "Suggested good is also the auto-accept threshold of `curation export --auto-accept`.",
        "",
        " ".join(f"![{Path(p).stem}]({p})" for p in plots),
        ""
        if "calibration.png" in plots
        else f"(No calibration plot: fewer than {3 * MIN_PER_CALIBRATION_BIN} judged pairs.)",
        "",
        *_error_types_card(meta.get("error_types") or {}),
        "## Versions",
        *(f"- {k}: {v}" for k, v in meta["libraries"].items()),
        f"- device used for training: {meta['device']}",
        "",
        "## Config",
        "```json",
        json.dumps(meta["config"], indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def _error_types_card(summary: dict) -> list[str]:
    """The model card's lines on the error-type heads (none when no bad pair was tagged)."""
    types = summary.get("types") or {}
    if not types:
        return []
    rows = []
    for name, v in types.items():
        auc = "not learnt (too few)" if v["auc"] is None else f"{v['auc']:.3f}"
        rows.append(f"| {name} | {v['examples']} | {auc} |")
    return [
        f"## Error types ({summary['tagged_pairs']} bad pairs tagged by annotators)",
        "Suggested for the `errors` question of pairs the filter scores bad; AUC out-of-fold, each type against",
        "the other tagged bad pairs.",
        "",
        "| type | tagged pairs | AUC |",
        "|---|---|---|",
        *rows,
        "",
    ]

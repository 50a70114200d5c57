"""Pictures and a page a curator would rather look at than read: calibration, score histogram, agreement, and
the model card written next to every trained filter.
"""

from __future__ import annotations

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

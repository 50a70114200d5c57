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
    # the scores of a weak model crowd into a narrow band: the x axis shows that band (padded), not all of [0, 1],
    # and the pairs per bin are said once (equal-size bins) instead of a label at every crowded point
    low, high = max(0.0, min(mids) - 0.1), min(1.0, max(mids) + 0.1)
    ax.plot([low, high], [low, high], ls="--", color="grey", lw=1, label="perfectly calibrated")
    per_bin = f"{min(sizes)}" if min(sizes) == max(sizes) else f"{min(sizes)}–{max(sizes)}"
    ax.plot(
        mids, observed, marker="o", color="tab:blue", label=f"filter (cross-validated): {bins} bins of {per_bin} pairs"
    )
    ax.set(xlabel="predicted P(good)", ylabel="share judged good", xlim=(low, high), ylim=(0, 1), title="Calibration")
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
    # side by side, never overlaid: an overlap would mix the two colours into one the legend does not name
    top.hist(
        [oof[labels == 1], oof[labels == 0]],
        bins=bins,
        color=["tab:green", "tab:red"],
        label=["judged good", "judged bad"],
    )
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
    idle = [n for n in drops if not drops[n]]  # said under the chart: a bar of 0 has no length (and no log)
    names = sorted((n for n in drops if drops[n]), key=drops.get, reverse=True)
    if not names:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 0.9 + 0.35 * len(names)))
    values = [drops[n] for n in names]
    bars = ax.barh(names, values, color="tab:orange")
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize=8)  # the counts, not only the bars
    positive = [v for v in values if v > 0]
    if positive and max(positive) >= 20 * min(positive):  # 147 templates would flatten bars of 1 to 3
        ax.set_xscale("log")
        ax.set_xlim(0.8, max(positive) * 3)
        ax.set(xlabel="pairs dropped (log scale)", title="Heuristic filters and dedup")
    else:
        ax.set_xlim(0, max(values, default=1) * 1.2 or 1)
        ax.set(xlabel="pairs dropped", title="Heuristic filters and dedup")
    if idle:
        import textwrap

        note = textwrap.fill(f"nothing dropped by: {', '.join(idle)}", 48)
        ax.set_xlabel(f"{ax.get_xlabel()}\n{note}", fontsize=9)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

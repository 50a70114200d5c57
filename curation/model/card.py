"""The model card written next to every trained filter, and the quality lines reports share."""

from __future__ import annotations

import json
from pathlib import Path

from curation.model.plots import MIN_PER_CALIBRATION_BIN


def quality_lines(m: dict) -> list[str]:
    """The cross-validated figures, in words, with the counts behind each: the terminal, the retrain report, the
    model card and the export card all print these lines."""
    auc = "n/a" if m["auc"] is None else f"{m['auc']:.3f}"
    judged = m["judged_good"] + m["judged_bad"]
    lines = [f"AUC {auc} ({m['folds']}-fold cross-validation, out-of-fold scores of {judged} judged pairs)"]
    for side, at, lower, judged_side in (
        ("good", f"≥ {m['threshold']:.3f}", m["threshold_precision"], m["judged_good"]),
        ("bad", f"≤ {m['bad_threshold']:.3f}", m["bad_threshold_precision"], m["judged_bad"]),
    ):
        n, correct = m[f"suggested_{side}"], m[f"suggested_{side}_correct"]
        if lower is None or n == 0:
            lines.append(
                f"suggested {side}: never (no score has {m.get('min_suggested', 1)}+ judged pairs beyond it whose "
                f"precision is at least {m['target_precision']} with 95% confidence: label more pairs)"
            )
            continue
        recall = correct / max(judged_side, 1)
        precision = correct / n
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        held = ""
        if f"heldout_{side}" in m:  # nested: thresholds chosen on other folds (older models lack it)
            h, hc = m[f"heldout_{side}"], m[f"heldout_{side}_correct"]
            held = f"; held out {hc / h:.2f} ({hc} of {h} pairs in folds that did not choose it)" if h else ""
        lines.append(
            f"suggested {side} (score {at}): precision at least {lower:.2f} with 95% confidence ({correct} of {n} "
            f"judged pairs right{held}), recall {recall:.2f} ({correct} of {judged_side} {side} pairs), F1 {f1:.2f}"
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
        f"- head: logistic regression over {len(meta['features'])} features: {', '.join(meta['features'])}",
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

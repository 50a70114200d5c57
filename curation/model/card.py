"""The model card written next to every trained filter, and the quality lines reports share."""

from __future__ import annotations

import json
from pathlib import Path

from curation.errors import TRAIN
from curation.model.info import ModelInfo, Quality
from curation.model.plots import MIN_PER_CALIBRATION_BIN


def quality_lines(q: Quality) -> list[str]:
    """The cross-validated figures, in words, with the counts behind each: the terminal, the retrain report, the
    model card and the export card all print these lines (a folder from before the counts: its AUC only)."""
    auc = "n/a" if q.auc is None else f"{q.auc:.3f}"
    if not q.counted:
        return [f"AUC {auc}"]
    judged = q.judged_good + q.judged_bad
    lines = [f"AUC {auc} ({q.folds}-fold cross-validation, out-of-fold scores of {judged} judged pairs)"]
    for side, at, lower, judged_side in (
        ("good", f"≥ {q.threshold:.3f}", q.threshold_precision, q.judged_good),
        ("bad", f"≤ {q.bad_threshold:.3f}", q.bad_threshold_precision, q.judged_bad),
    ):
        n, correct = getattr(q, f"suggested_{side}"), getattr(q, f"suggested_{side}_correct")
        if lower is None or n == 0:
            lines.append(
                f"suggested {side}: never (no score has {q.min_suggested}+ judged pairs beyond it whose "
                f"precision is at least {q.target_precision} with 95% confidence: label more pairs)"
            )
            continue
        recall = correct / max(judged_side, 1)
        precision = correct / n
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        held = ""
        h, hc = getattr(q, f"heldout_{side}"), getattr(q, f"heldout_{side}_correct")
        if h is not None:  # nested: thresholds chosen on other folds (older models lack it)
            held = f"; held out {hc / h:.2f} ({hc} of {h} pairs in folds that did not choose it)" if h else ""
        lines.append(
            f"suggested {side} (score {at}): precision at least {lower:.2f} with 95% confidence ({correct} of {n} "
            f"judged pairs right{held}), recall {recall:.2f} ({correct} of {judged_side} {side} pairs), F1 {f1:.2f}"
        )
    lines.append(f"uncertain band: {q.uncertain} of {judged} judged pairs get no suggested label")
    if q.one_class_at_half:
        lines.append(
            f"warning: cut at 0.5 the model would call every judged pair {q.one_class_at_half}; "
            "only the thresholds above carry information"
        )
    return lines


def model_card(info: ModelInfo, plots: list[str]) -> str:
    counts = info.label_counts
    body = f"fine-tuned with SetFit ({info.setfit_steps} steps)" if info.finetuned else "(frozen)"
    lines = [
        f"# Translation-pair filter {info.version}",
        "",
        "Scores an English→Spanish pair with the probability that a human would judge it a good translation to",
        f"train on. Written by `{TRAIN}` (curation); do not edit by hand.",
        "",
        "## How it reads a pair",
        f"- encoder: `{info.base_model}` {body}, layer {info.layer} token vectors aligned between source and target",
        f"- head: logistic regression over {len(info.features)} features: {', '.join(info.features)}",
        "",
        "## Trained on",
        f"- {counts['good']} good and {counts['bad']} bad judged pairs ({info.labels_from})",
        f"- labels sha256: `{info.labels_sha256}`",
        "",
        "## Quality",
        *(f"- {line}" for line in quality_lines(info.metrics)),
        "",
        "Suggested good is also the auto-accept threshold of `curation export --auto-accept`.",
        "",
        " ".join(f"![{Path(p).stem}]({p})" for p in plots),
        ""
        if "calibration.png" in plots
        else f"(No calibration plot: fewer than {3 * MIN_PER_CALIBRATION_BIN} judged pairs.)",
        "",
        *_error_types_card(info.error_types or {}),
        "## Versions",
        *(f"- {k}: {v}" for k, v in info.libraries.items()),
        f"- device used for training: {info.device}",
        "",
        "## Config",
        "```json",
        json.dumps(info.config, indent=2),
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

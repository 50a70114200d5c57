"""The dataset card of an export, from real numbers only."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from curation.errors import SETUP
from curation.export.select import TOO_FEW, Selection, validation_too_small
from curation.model.card import quality_lines
from curation.model.info import ModelInfo
from curation.pair import digest


def cleaning_lines(report: dict | None) -> list[str]:
    """What cleaning did before annotators saw the pairs (setup's filter_report.json), for the card."""
    if not report:
        return [f"No filter report found (outputs/filter_report.json of {SETUP}): cleaning not described."]
    filters = {n: c["dropped"] for n, c in (report.get("filters") or {}).items() if c.get("dropped")}
    dedup = report.get("dedup") or {}
    templates = (report.get("templates") or {}).get("dropped") or 0

    def listed(counts: dict) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda x: -x[1]))

    lines = [
        f"- candidates read: {report.get('read', 0):,} (malformed rows skipped: {report.get('malformed', 0):,}); "
        f"sent to annotators: {report.get('kept', 0):,}",
        f"- dropped by the heuristic filters: {sum(filters.values()):,}" + (f" ({listed(filters)})" if filters else ""),
        f"- dropped by dedup: {sum(dedup.values()):,}" + (f" ({listed(dedup)})" if dedup else ""),
    ]
    toxicity = (report.get("filters") or {}).get("toxicity") or {}
    classes = toxicity.get("classes")
    if classes:
        dropped = ", ".join(sorted(toxicity.get("dropped_classes") or {}))
        lines.append(
            "- toxicity (word lists per side; added: offensive words the source does not have): "
            + ", ".join(f"{k} {classes.get(k, 0):,}" for k in ("none", "added", "removed", "balanced"))
            + f" (dropped: {dropped or 'none'}; the others were flagged to annotators)"
        )
    if templates:
        lines.append(f"- pairs over the template cap: {templates:,}")
    if report.get("target_twins"):
        lines.append(f"- pairs sharing a target with another, sent to annotators together: {report['target_twins']:,}")
    lines.append(f"- personal data values masked (PII): {report.get('pii_masked', 0):,}")
    return lines


def card(
    selection: Selection,
    dataset_name: str,
    threshold: float | None,
    model: ModelInfo | None,
    config: dict,
    cleaning: dict | None = None,
    comparison: dict | None = None,
) -> str:
    """The dataset card, from real numbers only."""
    c = selection.counts
    total = {p: c["train"][p] + c["validation"][p] for p in ("human", "model")}
    alpha = selection.agreement["krippendorff_alpha"]
    reasons = Counter(r["category"] for r in selection.rejected)
    n_validation, too_small = sum(c["validation"].values()), validation_too_small(selection)
    lines = [
        "---",
        "language: [en, es]",
        "task_categories: [translation]",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - {split: train, path: data/train.parquet}",
        "  - {split: validation, path: data/validation.parquet}",
        "---",
        "",
        f"# {dataset_name}: curated English→Spanish translation pairs",
        "",
        "Candidate translations cleaned by heuristic filters, judged good/bad by annotators in Argilla, and ranked",
        "by a learned filter. Every row was approved by the annotators' majority (`provenance: human`) or scored",
        "above the filter's auto-accept threshold without being judged (`provenance: model`). Where an annotator",
        "corrected the translation, `target` is the correction and `original_target` the candidate.",
        "Written by `curation export`; do not edit by hand.",
        "",
        "## Counts",
        "| split | human | model | total |",
        "|---|---|---|---|",
        *(
            f"| {s} | {c[s]['human']} | {c[s]['model']} | {c[s]['human'] + c[s]['model']} |"
            for s in ("train", "validation")
        ),
        f"| all | {total['human']} | {total['model']} | {total['human'] + total['model']} |",
        "",
        f"Corrected by annotators: {sum(1 for r in selection.rows if r['original_target'])}. "
        f"Left out: {len(selection.rejected)}"
        + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(reasons.items()))})" if reasons else "")
        + ".",
        *([f"Warning: the validation split holds {n_validation} pairs, {TOO_FEW}."] if too_small else []),
        "",
        f"## Cleaning ({SETUP}'s filter report)",
        *cleaning_lines(cleaning),
        "",
        "## Annotators",
        f"- pairs judged: {selection.agreement['records_judged']}, ties left out: {len(selection.agreement['ties'])}",
        f"- Krippendorff's alpha (pairs with 2+ annotators: {selection.agreement['records_with_2plus_annotators']}): "
        + ("n/a" if alpha is None else f"{alpha:.3f}"),
        *(
            f"- {a['annotator']}: {a['judged']} judged"
            + ("" if a["agreement"] is None else f", agrees with the others' majority on {a['agreement']:.0%}")
            for a in selection.agreement["annotators"]
        ),
        "",
        "## Filter",
    ]
    if model is None:
        lines.append("No model-accepted rows: only human-approved pairs are included.")
    else:
        lines += [
            f"- model `{model.version}` on `{model.base_model}`, trained on "
            f"{model.label_counts['good']} good / {model.label_counts['bad']} bad labels",
            *(f"- {line}" for line in quality_lines(model.metrics)),
            (
                f"- auto-accept threshold used: {threshold:.3f}"
                + (
                    f" (stored with the model: {model.threshold:.3f})"
                    if model.reached_threshold
                    else " (given; the model reached none)"
                )
                if threshold is not None
                else "- auto-accept threshold: none (the model reached none): no model-accepted rows"
            ),
        ]
    lines += comparison_lines(comparison)
    lines += [
        "",
        "## Columns",
        "`id` (Argilla record id), `source`, `target`, `provenance` (human/model), `score` (filter P(good), if",
        "scored), `annotators`, `agreement` (share of annotators who voted with the majority), `original_target`.",
        "",
        "## Provenance",
        f"- data as of: {selection.as_of or 'n/a'} (last change in the Argilla dataset)",
        "- export settings:",
        "```json",
        json.dumps(config, indent=2, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)


def comparison_for(output: Path | None, selection: Selection, output_dir: str, log=print) -> dict | None:
    """The `curation compare --export` summary (in output_dir/compare) made on exactly the training pairs this export
    writes to `output`, else None (a comparison of other pairs is said, not shown)."""

    file = Path(output_dir) / "compare" / "summary.json"
    if output is None or not file.exists():
        return None
    try:
        summary = json.loads(file.read_text(encoding="utf-8"))
        made_on = summary["export"]
    except (ValueError, KeyError, TypeError):
        return None  # a comparison of arms given one by one: no export to match
    if made_on.get("path") != str(output.resolve()):
        return None
    train = [(r["source"], r["target"]) for r in selection.rows if r["split"] == "train"]
    if made_on.get("digest") != digest(train):
        stale = "left off the card (run `curation compare --export` again)"
        log(f"{file} was made on other pairs than this export now holds: {stale}")
        return None
    return summary


def comparison_lines(summary: dict | None) -> list[str]:
    if not summary:
        return []
    lines = [
        "",
        "## Does curation pay? (`curation compare`)",
        f"The same translator trained on this export's train split and on the raw pool (`{summary['export']['raw']}`),"
        f" {summary['seeds']} seed(s) each, tested on `{summary['test']}` ({summary['test_pairs']:,} pairs; base "
        f"`{summary['settings']['base_model']}`, {summary['settings']['steps']:,} steps):",
        "",
        "| arm | pairs | chrF2 | BLEU | copies the source | not Spanish |",
        "|---|---|---|---|---|---|",
    ]
    for name, a in summary["arms"].items():
        shown = f"{name} (too weak to judge)" if a.get("too_weak") else name
        lines.append(
            f"| {shown} | {a['pairs']:,} | {a['chrf']:.1f} | {a['bleu']:.1f} | {a['copy_rate']:.1%} | "
            f"{a['off_target_rate']:.1%} |"
        )
    lines += ["", "| difference | chrF2 | p (paired bootstrap) |", "|---|---|---|"]
    for k, d in summary["differences"].items():
        note = " (between models too weak to judge: says nothing)" if d.get("too_weak") else ""
        lines.append(f"| {k} | {d['chrf']:+.1f} | {d['p']:.4f}{note} |")
    if summary.get("missing"):
        lines += ["", f"Not complete: {len(summary['missing'])} run(s) missing ({', '.join(summary['missing'])})."]
    return lines

"""The curated set: pairs the annotators' majority approved, plus (optionally) unjudged pairs the filter trusts,
written as Parquet + JSONL with a dataset card, locally and/or to the Hugging Face Hub.

Same Argilla state in, same bytes out: rows are sorted by record id, the split is a hash of the id, and the
card's date is the last change in the data (not the time of the export).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from curation.annotation import schema
from curation.annotation.agreement import LABELS, Judgment, aggregate, agreement_summary
from curation.annotation.records import find_dataset, iter_records, record_id, submitted, usernames
from curation.annotation.suggestions import FILTER_MODEL, FILTER_SCORE, agent_for
from curation.checks import FLAG, check, number
from curation.errors import ExportError
from curation.files import staged_folder, write_jsonl
from curation.model.card import quality_lines


@dataclass
class ExportConfig:
    """The curated set (curation export)."""

    validation: float = 0.1  # share of rows in the validation split (by a hash of the record id)
    chat: bool = False  # also write a `messages` view (user asks for the translation, assistant answers)
    private: bool = True  # Hub repos are created private

    def __post_init__(self):
        below_1 = ("a number from 0 up to (not including) 1", lambda v: number(v) and 0 <= v < 1)
        check("export", self, {"validation": below_1, "chat": FLAG, "private": FLAG})


COLUMNS = ("id", "source", "target", "provenance", "score", "annotators", "agreement", "original_target")
PROMPT = "Translate this English sentence into Spanish:\n\n{source}"


@dataclass
class Judged:
    id: str
    source: str
    target: str
    votes: dict[str, str]  # annotator -> good/bad (submitted only)
    corrections: dict[str, str]  # annotator -> corrected target
    filter_score: float | None
    filter_agent: str | None
    updated_at: str


@dataclass
class Selection:
    rows: list[dict]
    rejected: list[dict]
    agreement: dict
    counts: dict[str, Counter] = field(default_factory=dict)
    as_of: str = ""


def read(client, dataset) -> list[Judged]:
    """Every record with its submitted quality votes, corrections and the filter's latest suggestion."""
    names = usernames(client)
    question_ids = {str(q.id): q.name for q in dataset.settings.questions}
    out = []
    for item in iter_records(client, dataset, include="responses,suggestions"):
        votes, corrections = {}, {}
        stamps = [item.get("updated_at") or ""]
        for who, values, updated_at in submitted(item, names):
            quality = (values.get(schema.QUALITY) or {}).get("value")
            if quality in LABELS:
                votes[who] = quality
            correction = ((values.get(schema.CORRECTION) or {}).get("value") or "").strip()
            if correction:
                corrections[who] = correction
            stamps.append(updated_at)
        suggestions = item.get("suggestions") or []
        agent = next(
            (s.get("agent") for s in suggestions if question_ids.get(str(s["question_id"])) == schema.QUALITY), None
        )
        metadata = item.get("metadata") or {}
        score = metadata.get(FILTER_SCORE)
        if metadata.get(FILTER_MODEL):  # the scorer, also where no label was suggested
            agent = agent_for(metadata[FILTER_MODEL])
        out.append(
            Judged(
                id=record_id(item),
                source=item["fields"]["source"],
                target=item["fields"]["target"],
                votes=votes,
                corrections=corrections,
                filter_score=float(score) if score is not None else None,
                filter_agent=agent,
                updated_at=max(stamps),
            )
        )
    return out


def score_unscored(records: list[Judged], model_dir, model: dict, log=print, trust_pickle: bool = False) -> None:
    """Unjudged records not yet scored by this model version get scored now, so the threshold means one thing."""
    from curation.model.learned import LearnedFilter

    agent = agent_for(model["version"])
    todo = [r for r in records if not r.votes and r.filter_agent != agent]
    if not todo:
        return
    log(f"scoring {len(todo)} unjudged pairs with {model['version']} (not scored by it in Argilla)")
    flt = LearnedFilter.load(model_dir, trust_pickle=trust_pickle)
    for r, s in zip(todo, flt.score([(r.source, r.target) for r in todo]), strict=True):
        r.filter_score, r.filter_agent = round(float(s), 6), agent


def split_of(record_id: str, validation: float) -> str:
    """Deterministic split: the record id's hash, so a pair keeps its split across exports."""
    bucket = int(hashlib.sha256(record_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "validation" if bucket < validation else "train"


def select(records: list[Judged], threshold: float | None, model_version: str | None, validation: float) -> Selection:
    """Rows to export and rows rejected (with reasons). `threshold` None: human-approved pairs only."""
    agg = aggregate(Judgment(r.id, who, v) for r in records for who, v in r.votes.items())
    if not agg.votes:
        raise ExportError("no submitted labels yet: annotators must judge some pairs in Argilla before an export")
    rows, rejected = [], []
    agent = agent_for(model_version) if model_version else None
    for r in sorted(records, key=lambda r: r.id):
        base = {"id": r.id, "source": r.source}
        if r.votes:
            majority = agg.labels.get(r.id)
            n = len(r.votes)
            if majority is None:
                rejected.append({**base, "target": r.target, "category": "tie", "reason": f"tie ({n} annotators)"})
                continue
            agreeing = sum(v == majority for v in r.votes.values())
            if majority == "bad":
                rejected.append(
                    {**base, "target": r.target, "category": "judged bad", "reason": f"judged bad by {agreeing} of {n}"}
                )
                continue
            # a quick fix typed by any annotator of an approved pair (the guidelines ask for it with a bad vote)
            correction = next((r.corrections[a] for a in sorted(r.corrections)), None)
            rows.append(
                {
                    **base,
                    "target": correction or r.target,
                    "provenance": "human",
                    "score": r.filter_score,
                    "annotators": sorted(r.votes),
                    "agreement": round(agreeing / n, 4),
                    "original_target": r.target if correction else None,
                }
            )
        elif threshold is not None:
            if r.filter_score is None or (agent and r.filter_agent != agent):
                rejected.append(
                    {**base, "target": r.target, "category": "not scored", "reason": "not scored by this model version"}
                )
            elif r.filter_score >= threshold:
                rows.append(
                    {
                        **base,
                        "target": r.target,
                        "provenance": "model",
                        "score": r.filter_score,
                        "annotators": [],
                        "agreement": None,
                        "original_target": None,
                    }
                )
            else:
                rejected.append(
                    {
                        **base,
                        "target": r.target,
                        "category": "below threshold",
                        "reason": f"filter score {r.filter_score:.3f} < {threshold:.3f}",
                    }
                )
    counts: dict[str, Counter] = {"train": Counter(), "validation": Counter()}
    for row in rows:
        row["split"] = split_of(row["id"], validation)
        counts[row["split"]][row["provenance"]] += 1
    as_of = max((r.updated_at for r in records), default="")
    return Selection(rows, rejected, agreement_summary(agg), counts, as_of)


def check_hub(repo_id: str) -> str:
    """HF_TOKEN and a valid repo id, checked before any work; returns the token."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise ExportError(f"--to-hub {repo_id!r} is not a valid repo id (expected namespace/name): {e}") from None
    if "/" not in repo_id:
        raise ExportError(f"--to-hub {repo_id!r}: give the namespace too, as in your-name/{repo_id}")
    token = os.environ.get("HF_TOKEN")
    if not token:
        raise ExportError("--to-hub needs a Hugging Face token with write access in HF_TOKEN")
    return token


def write_folder(selection: Selection, out: Path, card: str, chat: bool, include_rejected: bool) -> Path:
    """data/{train,validation}.{parquet,jsonl}, optional chat view and rejected.jsonl, README.md; atomic."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if out.exists():
        _check_ours(out)
    with staged_folder(out, replace=True) as tmp:
        (tmp / "data").mkdir()
        for split in ("train", "validation"):
            rows = [{c: r[c] for c in COLUMNS} for r in selection.rows if r["split"] == split]
            table = pa.Table.from_pylist(rows, schema=_schema())
            pq.write_table(table, tmp / "data" / f"{split}.parquet", compression="zstd")
            _jsonl(tmp / "data" / f"{split}.jsonl", rows)
            if chat:
                messages = [
                    {
                        "id": r["id"],
                        "messages": [
                            {"role": "user", "content": PROMPT.format(source=r["source"])},
                            {"role": "assistant", "content": r["target"]},
                        ],
                    }
                    for r in rows
                ]
                _jsonl(tmp / "data" / f"chat-{split}.jsonl", messages)
        if include_rejected:
            _jsonl(tmp / "rejected.jsonl", selection.rejected)
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return out


OURS = {"README.md", "rejected.jsonl", "data"} | {
    f"data/{prefix}{split}.{ext}"
    for split in ("train", "validation")
    for prefix, ext in (("", "parquet"), ("", "jsonl"), ("chat-", "jsonl"))
}


def _check_ours(out: Path) -> None:
    """An export replaces only an earlier export: a folder with anything else in it is refused, not deleted."""
    if not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder: choose another --output")
    foreign = sorted(str(p.relative_to(out)) for p in out.rglob("*") if str(p.relative_to(out)) not in OURS)
    if foreign:
        raise ExportError(
            f"{out} holds files an export did not write ({', '.join(foreign[:3])}{', …' if len(foreign) > 3 else ''}):"
            " --overwrite replaces only an earlier export; choose another --output or move them"
        )


def _schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("target", pa.string()),
            ("provenance", pa.string()),
            ("score", pa.float64()),
            ("annotators", pa.list_(pa.string())),
            ("agreement", pa.float64()),
            ("original_target", pa.string()),
        ]
    )


def _jsonl(path: Path, rows: list[dict]) -> None:
    write_jsonl(path, rows, sort_keys=True)


def push(folder: Path, repo_id: str, token: str, private: bool = True, api=None) -> str:
    """Upload the folder as a dataset repo; data files of an earlier push are replaced, not appended to."""
    from huggingface_hub import HfApi

    api = api or HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        repo_type="dataset",
        folder_path=str(folder),
        delete_patterns=["data/*", "rejected.jsonl"],
        commit_message="curation export",
    )
    return str(getattr(info, "commit_url", info))


MIN_VALIDATION = 20  # fewer validation pairs than this measure nothing: said in the terminal and the card
TOO_FEW = "too few to measure a model on"


def validation_too_small(selection: Selection) -> bool:
    return 0 < sum(selection.counts["validation"].values()) < MIN_VALIDATION


def cleaning_lines(report: dict | None) -> list[str]:
    """What cleaning did before annotators saw the pairs (setup's filter_report.json), for the card."""
    if not report:
        return ["No filter report found (outputs/filter_report.json of setup_workspace.py): cleaning not described."]
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
    model: dict | None,
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
        "## Cleaning (setup_workspace.py's filter report)",
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
        m = model["metrics"]
        lines += [
            f"- model `{model['version']}` on `{model['base_model']}`, trained on "
            f"{model['label_counts']['good']} good / {model['label_counts']['bad']} bad labels",
            *(f"- {line}" for line in (quality_lines(m) if "judged_good" in m else [f"AUC {m['auc']:.3f}"])),
            (
                f"- auto-accept threshold used: {threshold:.3f}"
                + (
                    f" (stored with the model: {model['threshold']:.3f})"
                    if m.get("threshold_precision") is not None
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
    from curation.pair import digest

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
        lines.append(
            f"| {name} | {a['pairs']:,} | {a['chrf']:.1f} | {a['bleu']:.1f} | {a['copy_rate']:.1%} | "
            f"{a['off_target_rate']:.1%} |"
        )
    lines += ["", "| difference | chrF2 | p (paired bootstrap) |", "|---|---|---|"]
    lines += [f"| {k} | {d['chrf']:+.1f} | {d['p']:.4f} |" for k, d in summary["differences"].items()]
    return lines


@dataclass
class Exported:
    selection: Selection
    card: str
    url: str | None = None  # the Hub repo's, when pushed
    no_threshold: bool = False  # auto-accept was asked, but the model reached no threshold: nothing auto-accepted

    @property
    def validation_too_small(self) -> bool:
        return validation_too_small(self.selection)


def run(
    config,
    *,
    output: Path | None = None,
    repo_id: str | None = None,
    model_dir: str | None = None,
    auto_accept: bool = False,
    threshold: float | None = None,
    overwrite: bool = False,
    include_rejected: bool = False,
    public: bool = False,
    trust_pickle: bool = False,
    log=print,
) -> Exported:
    """`curation export`: human-approved pairs (plus, with `auto_accept`, unjudged ones the filter in `model_dir`
    scores at or above `threshold`) with a dataset card, to the folder `output` and/or the Hub repo `repo_id`.
    Everything that can be checked without work is checked first."""
    import tempfile

    from curation.annotation.connect import connect
    from curation.model import store

    if not output and not repo_id:
        raise ExportError("say where to: --output DIR and/or --to-hub namespace/name")
    if threshold is not None and not 0 <= threshold <= 1:  # nan fails both comparisons
        raise ExportError(
            f"--threshold must be a filter score from 0 to 1, not {threshold}: pairs scored at or above it are accepted"
        )
    token = check_hub(repo_id) if repo_id else None
    if output and output.exists() and not overwrite:
        raise ExportError(f"{output} exists: pass --overwrite to replace it, or choose another --output")
    model = None
    no_threshold = False
    if auto_accept or threshold is not None:
        if not model_dir:
            raise ExportError("--auto-accept needs the filter that scored the pairs: pass --model DIR")
        model = store.read_metadata(model_dir)
        if threshold is None:
            no_threshold = (model.get("metrics") or {}).get("threshold_precision") is None
            threshold = None if no_threshold else model["threshold"]
    elif model_dir:
        raise ExportError("--model is only used with --auto-accept (add it, or drop --model)")

    client = connect()
    data = find_dataset(client, config.argilla.workspace, config.argilla.dataset)
    records = read(client, data)
    if model is not None and threshold is not None:
        score_unscored(records, model_dir, model, log=log, trust_pickle=trust_pickle)
    selection = select(records, threshold, model["version"] if model else None, config.export.validation)
    settings = {
        "workspace": config.argilla.workspace,
        "dataset": config.argilla.dataset,
        "auto_accept": model is not None,
        "threshold": threshold,
        "model": model["version"] if model else None,
        "validation": config.export.validation,
        "chat": config.export.chat,
        "include_rejected": include_rejected,
    }
    report = Path(config.output_dir) / "filter_report.json"
    cleaning = json.loads(report.read_text(encoding="utf-8")) if report.exists() else None
    comparison = comparison_for(output, selection, config.output_dir, log=log)
    text = card(selection, config.argilla.dataset, threshold, model, settings, cleaning, comparison)
    result = Exported(selection, text, no_threshold=no_threshold)
    with tempfile.TemporaryDirectory() as tmp:
        folder = output or Path(tmp) / "export"
        write_folder(selection, folder, text, config.export.chat, include_rejected)
        if repo_id:
            result.url = push(folder, repo_id, token, private=config.export.private and not public)
    return result

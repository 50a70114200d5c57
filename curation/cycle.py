"""One retrain cycle (train_filter.py): labels -> agreement -> model version -> scores -> suggestions -> report."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation.annotation import suggestions
from curation.annotation.agreement import Judgment, agreement_summary, describe_agreement, training_set
from curation.annotation.connect import connect
from curation.annotation.labels import describe_torn, one_per_annotator, read_labels
from curation.annotation.records import find_dataset, judgments, read_records
from curation.annotation.settings import ArgillaConfig
from curation.clusters.decide import Verdict, decide_on, from_records
from curation.clusters.report import table
from curation.clusters.settings import ClusterConfig
from curation.errors import TRAIN, InputError
from curation.files import staged_file, writable_folder, write_tsv
from curation.model.card import quality_lines
from curation.model.encoder import PairEncoder, build_encoder
from curation.model.error_types import MIN_EXAMPLES
from curation.model.learned import LearnedFilter
from curation.model.plots import agreement_plot, drops_plot, histogram_plot
from curation.model.settings import TrainConfig
from curation.model.store import Stored
from curation.model.train import Evaluation, TrainingError, check_labels
from curation.pair import batched
from curation.progress import Progress


@dataclass
class CycleSettings:
    """All a retrain reads: the train section, the Argilla section (where the dataset is, how suggestions are sent),
    the folder its report goes to, and the clusters section (how many agreeing judgments make a verdict)."""

    train: TrainConfig
    argilla: ArgillaConfig
    output_dir: str
    clusters: ClusterConfig = field(default_factory=ClusterConfig)


@dataclass
class Labelled:
    """Judged pairs to train on: `y` 1 good / 0 bad, `tags` the error types annotators gave each pair, `source`
    where they came from (recorded in the model's card)."""

    pairs: list[tuple[str, str]]
    y: list[int]
    source: str
    tags: list[frozenset[str]] | None = None


@dataclass
class Result:
    model: Stored
    evaluation: Evaluation
    counts: dict[str, int]
    agreement: dict | None = None
    suggested: int = 0  # unjudged pairs that got a suggested label
    scored: int = 0  # unjudged pairs scored (every one gets filter_score and priority)
    next_to_label: list[tuple[str, float]] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step
    queue: str | None = None  # the web UI's pending queue, least certain first (a retrain from Argilla)
    verdicts: list[Verdict] = field(default_factory=list)  # clusters whose judged members agree (setup's clusters)
    cluster_stats: dict[int, dict] = field(default_factory=dict)  # cluster -> judged good/bad, mean filter score


def run(
    settings: CycleSettings,
    labels: str | Path | None = None,
    *,
    client=None,
    progress: Progress | None = None,
    force: bool = False,
) -> Result:
    """`train_filter.py`: a new model from the judged file `labels` (no Argilla), else one retrain against the
    config's dataset in Argilla (`client`, default: `connect()`) with suggestions back. The folders it writes to are
    checked before any model loads."""
    writable_folder(settings.train.models_dir, "--models-dir (train.models_dir)")
    writable_folder(settings.output_dir, "output_dir")
    if labels:
        return from_file(labels, settings.train, progress=progress, force=force)
    client = client or connect()
    dataset = find_dataset(client, settings.argilla.workspace, settings.argilla.dataset)
    result = from_argilla(client, dataset, settings, progress=progress, force=force)
    result.queue = suggestions.queue_link(client.api_url, dataset)
    return result


def fit_and_save(
    data: Labelled,
    train: TrainConfig,
    *,
    encoder: PairEncoder | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> tuple[LearnedFilter, Stored]:
    """Train on judged pairs and store a new model version; the error types annotators gave each pair (`data.tags`)
    add one head per type with enough examples. A model whose cross-validated AUC is below 0.5 (it ranks
    backwards) is stored but not made `latest`, and `TrainingError` says so, unless `force`."""
    progress = progress or Progress()
    y = data.y
    check_labels(y, train.min_per_class)  # before the encoder is loaded
    encoder = encoder or build_encoder(train)
    progress.say(f"training on {sum(y)} good / {len(y) - sum(y)} bad pairs ({encoder.device}, {encoder.precision})")
    flt = LearnedFilter.train(data.pairs, y, encoder, train, data.tags)
    ev, types = flt.evaluation, flt.error_types
    if types.tagged:
        learnt = ", ".join(f"{t} (AUC {types.auc[t]:.2f})" for t in types.heads) or "none"
        progress.say(
            f"error types from {types.tagged} tagged bad pairs: {learnt} "
            f"(learnt with {MIN_EXAMPLES}+ tagged pairs with the type and as many without)"
        )
    backwards = ev.auc is not None and ev.auc < 0.5 and not force
    stored = flt.save(train.models_dir, data.source, make_latest=lambda: not backwards)
    if not stored.latest:
        raise TrainingError(
            f"cross-validated AUC {ev.auc:.3f} is below 0.5: the model ranks pairs backwards (contradictory or "
            f"swapped labels?); it is saved as {stored.path} but not made latest; check the labels, or pass --force"
        )
    return flt, stored


def from_file(path: str | Path, train: TrainConfig, *, progress: Progress | None = None, force: bool = False) -> Result:
    """Train from a local judged file (source, target, label, optional errors), no Argilla involved."""
    progress = progress or Progress()
    rows, torn = one_per_annotator(list(read_labels(path)))
    if torn:
        progress.say(describe_torn(torn))
    pairs_by_id = {row.pair.id: (row.pair.source, row.pair.target) for row in rows}
    # each row is a vote (its annotator's, or its own when the file names none): a pair judged good on one row and
    # bad on another is a tie, left out, as in Argilla
    votes = [Judgment(row.pair.id, row.annotator or row.pair.origin, row.label, row.errors) for row in rows]
    if not rows:
        raise InputError(
            f"labels file {path} holds no judged rows (a header only, or empty): add source, target, label rows"
        )
    judged = training_set(votes)
    agg, ids, y, tags = judged.agg, judged.ids, judged.y, judged.tags
    if not ids:
        raise TrainingError(
            f"every pair in {Path(path).name} is a tie ({len(agg.ties)} judged as often good as bad): nothing to train "
            "on; settle them (one label per pair and annotator) and run again"
        )
    agreement = agreement_summary(agg)
    if any(row.annotator for row in rows):
        progress.say(describe_agreement(agreement))
    elif agg.ties:
        shown = ", ".join(sorted(v for rid in agg.ties for v in agg.votes[rid])[:6])
        n = len(agg.ties)
        progress.say(
            f"{n} pair{'s' if n > 1 else ''} judged both good and bad in {Path(path).name} left out (rows {shown})"
        )
    pairs = [pairs_by_id[rid] for rid in ids]
    flt, stored = fit_and_save(
        Labelled(pairs, y, f"file {Path(path).name}", tags), train, progress=progress, force=force
    )
    return Result(stored, flt.evaluation, flt.info.label_counts, agreement)


def from_argilla(
    client, dataset, settings: CycleSettings, *, progress: Progress | None = None, force: bool = False
) -> Result:
    """The full cycle against a dataset: submitted labels in, a new model, suggestions on every unjudged pair."""
    progress = progress or Progress()
    train = settings.train
    clock = _Clock()
    rows = read_records(client, dataset)
    clock.lap("read")
    judged = training_set(judgments(rows))
    agg, ids, y, tags = judged.agg, judged.ids, judged.y, judged.tags
    if not ids:
        raise TrainingError(
            f"no pair has a majority label in {dataset.name} ({len(rows)} records, {len(agg.ties)} ties): submit "
            f"good/bad labels in the Argilla web UI, then run {TRAIN} again"
        )
    agreement = agreement_summary(agg)
    progress.say(describe_agreement(agreement))
    by_id = {r.id: r for r in rows}
    pairs = [(by_id[rid].source, by_id[rid].target) for rid in ids]
    labelled = Labelled(pairs, y, f"argilla {dataset.workspace.name}/{dataset.name}", tags)
    flt, stored = fit_and_save(labelled, train, progress=progress, force=force)
    clock.lap("train")

    pending = [r for r in rows if not r.submitted]
    progress.say(f"scoring {len(pending)} pairs nobody has judged yet")
    scores, types = _score_all(flt, [(r.source, r.target) for r in pending], progress.bar("scoring"))
    clock.lap("score")
    ev = flt.evaluation
    label = ev.label
    if not ev.can_rank(train.suggest_min_auc):
        progress.say(
            f"cross-validated AUC {ev.auc:.3f} is below train.suggest_min_auc ({train.suggest_min_auc}): the "
            "model cannot rank these pairs yet, so no label is suggested (scores and priority are written); label more"
        )
        label = _no_label
    sending = suggestions.Sending(
        settings.argilla.suggestion_batch_size,
        settings.argilla.suggestion_pause,
        progress.bar("suggestions to Argilla"),
    )
    suggested = suggestions.write_suggestions(
        client, dataset, suggestions.Scored(pending, scores, stored.version, label, types), sending
    )
    clock.lap("suggestions")
    spread = suggestions.priorities(pending, scores)  # as written to Argilla: a template's copies spread out
    order = np.argsort(-np.array(spread), kind="stable")[: train.next_batch]
    next_up = [(pending[i].id, float(scores[i])) for i in order]
    result = Result(stored, ev, flt.info.label_counts, agreement, suggested, len(pending), next_up)
    result.verdicts, result.cluster_stats = _clusters(rows, agg, pending, scores, settings.clusters)
    for v in result.verdicts:
        progress.say(v.line())
    result.outputs = write_outputs(settings.output_dir, result, pending, scores)
    clock.lap("report")
    result.seconds = clock.laps
    return result


def _clusters(rows, agg, pending, scores, settings: ClusterConfig) -> tuple[list[Verdict], dict[int, dict]]:
    """The verdicts of clusters whose judged members agree, and per cluster its judged counts and mean filter score
    (of the pairs scored now); nothing when setup made no clusters."""
    infos, members = from_records(rows, agg.labels, agg.ties)
    if not infos:
        return [], {}
    found = decide_on(infos, members, (), settings.keep, settings.propagate_min).verdicts
    score_of = {r.id: float(s) for r, s in zip(pending, scores, strict=True)}
    stats: dict[int, dict] = {}
    for m in members:
        entry = stats.setdefault(m.cluster, {"judged_good": 0, "judged_bad": 0, "_scores": []})
        entry["judged_good"] += m.label == "good"
        entry["judged_bad"] += m.label == "bad"
        if m.id in score_of:
            entry["_scores"].append(score_of[m.id])
    for entry in stats.values():
        values = entry.pop("_scores")
        entry["mean_filter_score"] = round(float(np.mean(values)), 3) if values else None
    return found, stats


def _no_label(score: float) -> None:
    return None


class _Clock:
    def __init__(self):
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 2)
        self._last = now


def _score_all(flt: LearnedFilter, pairs: list[tuple[str, str]], bar) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """P(good) and P(type | bad) per learnt error type, for every pair."""
    scores, types = [], []
    for _, s, t in flt.predict_stream(batched(pairs, 512)):  # Apertium's work on the next chunk beside the encoder
        scores.append(s)
        types.append(t)
        bar(len(s))
    names = flt.error_types.heads
    return (
        np.concatenate(scores) if scores else np.zeros(0),
        {name: np.concatenate([t[name] for t in types]) if types else np.zeros(0) for name in names},
    )


def write_outputs(out_dir: str | Path, result: Result, pending, scores) -> dict[str, Path]:
    """outputs/: agreement (json, txt, png), next_to_label.tsv, the score plots and train_report.md."""
    stored, ev, agreement = result.model, result.evaluation, result.agreement
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "agreement": out / "agreement.json",
        "next": out / "next_to_label.tsv",
        "report": out / "train_report.md",
    }
    paths["agreement"].write_text(json.dumps(agreement, indent=2), encoding="utf-8")
    (out / "agreement.txt").write_text(describe_agreement(agreement) + "\n", encoding="utf-8")
    by_id = {r.id: r for r in pending}
    rows = ([rid, f"{s:.4f}", by_id[rid].source, by_id[rid].target] for rid, s in result.next_to_label)
    write_tsv(paths["next"], ["id", "score", "source", "target"], rows)
    histogram_plot(ev.oof_scores, ev.labels, scores, ev.thresholds, out / "scores.png")
    plots = ["scores.png"]
    (out / "calibration.png").unlink(missing_ok=True)  # an older run's plot must not pass for this one's
    if (stored.path / "calibration.png").exists():  # the model card's, of the same out-of-fold scores
        shutil.copyfile(stored.path / "calibration.png", out / "calibration.png")
        plots.append("calibration.png")
    if agreement_plot(agreement, out / "agreement.png"):
        plots.append("agreement.png")
    filter_json = out / "filter_report.json"
    if filter_json.exists() and drops_plot(json.loads(filter_json.read_text()), out / "filter_drops.png"):
        plots.append("filter_drops.png")
    _update_cluster_report(out / "clusters", result)
    report = _train_report(result, scores, plots)
    paths["report"].write_text(report, encoding="utf-8")
    return paths


def _update_cluster_report(folder: Path, result: Result) -> None:
    """Setup's `clusters.json` and table with what this retrain knows: judged counts, mean filter score, verdicts."""
    path = folder / "clusters.json"
    if not result.cluster_stats or not path.exists():
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    proposed = {v.cluster: v for v in result.verdicts}
    for item in data["items"]:
        item.update(result.cluster_stats.get(item["id"], {}))
        v = proposed.get(item["id"])
        item["verdict"] = (
            None
            if v is None
            else {
                "label": v.label,
                "judged": v.judged,
                "radius": round(v.radius, 4),
                "within": len(v.within),
                "beyond": v.beyond,
            }
        )
    with staged_file(path) as partial:
        partial.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    with staged_file(folder / "clusters.md") as partial:
        partial.write_text(table(data["items"], data), encoding="utf-8")


def _cluster_lines(result: Result) -> list[str]:
    if not result.cluster_stats:
        return []
    lines = ["## Clusters", ""]
    if result.verdicts:
        lines += [f"- {v.line()}" for v in result.verdicts]
        bad = [v for v in result.verdicts if v.label == "bad"]
        if bad:
            ids = ",".join(str(v.cluster) for v in bad)
            lines += [
                "",
                f"To drop them: `clusters.drop: [{ids}]` in the config, then setup again (the pairs go to "
                "dropped.jsonl) and export; until then `curation export` already leaves out the unjudged members "
                "within the judged radius.",
            ]
    else:
        lines.append("No cluster has enough agreeing judgments for a verdict yet (clusters.propagate_min).")
    judged = sorted(result.cluster_stats.items(), key=lambda kv: -(kv[1]["judged_good"] + kv[1]["judged_bad"]))
    lines += ["", "| cluster | judged good | judged bad | mean filter score (unjudged) |", "|---:|---:|---:|---:|"]
    for c, s in judged[:15]:
        if s["judged_good"] + s["judged_bad"]:
            score = "—" if s["mean_filter_score"] is None else f"{s['mean_filter_score']:.3f}"
            lines.append(f"| {c} | {s['judged_good']} | {s['judged_bad']} | {score} |")
    return [*lines, ""]


def _train_report(result: Result, scores, plots) -> str:
    stored, ev, agreement, suggested = result.model, result.evaluation, result.agreement, result.suggested
    scores = np.asarray(scores)
    good_at = ev.thresholds[0]
    accepted = int((scores >= good_at).sum()) if len(scores) and good_at is not None else 0
    alpha = agreement["krippendorff_alpha"]
    used = ", ".join(f"{k} {v}" for k, v in agreement["labels"].items())
    lines = [
        f"# Retrain report: {stored.version}",
        "",
        "| | |",
        "|---|---|",
        f"| judged pairs used | {sum(agreement['labels'].values())} ({used}) |",
        f"| ties left out | {len(agreement['ties'])} |",
        f"| Krippendorff's alpha | {'n/a' if alpha is None else f'{alpha:.3f}'} |",
        f"| unjudged pairs scored | {result.scored} |",
        f"| of which given a suggested label (pre-filled in the UI) | {suggested} |",
        (
            f"| of which at or above the auto-accept threshold ({good_at:.3f}) | {accepted} |"
            if good_at is not None
            else "| auto-accept threshold | none: the target precision is not reached, nothing is accepted |"
        ),
        f"| model | `{stored.path}` |",
        "",
        "## Quality",
        *(f"- {line}" for line in quality_lines(ev.quality())),
        "",
        *(f"![{p}]({p})" for p in plots),
        "",
        "Next to label: `next_to_label.tsv` (the pairs the model is least sure about; in Argilla sort by",
        "metadata `priority`, highest first).",
        "",
        *_cluster_lines(result),
    ]
    return "\n".join(lines)

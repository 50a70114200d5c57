"""The curated set: pairs the annotators' majority approved, plus (optionally) unjudged pairs the filter trusts,
written as Parquet + JSONL with a dataset card, locally and/or to the Hugging Face Hub.

Same Argilla state in, same bytes out: rows are sorted by record id, the split is a hash of the id, and the
card's date is the last change in the data (not the time of the export).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from curation.annotation.connect import connect
from curation.annotation.records import find_dataset, read_records
from curation.annotation.settings import ArgillaConfig
from curation.clusters.settings import ClusterConfig
from curation.errors import ExportError
from curation.export.card import card, comparison_for
from curation.export.select import Selection, score_unscored, select, validation_too_small
from curation.export.settings import ExportConfig
from curation.export.write import check_hub, push, write_folder
from curation.files import check_output
from curation.model import store
from curation.model.info import ModelInfo
from curation.progress import Progress


@dataclass
class ExportSettings:
    """All an export reads: where the dataset is in Argilla, the export section, and the output folder where setup's
    filter report and `curation compare`'s summary are found for the card, and the clusters section (the curator's
    drops and keeps, and how many agreeing judgments make a cluster's verdict)."""

    argilla: ArgillaConfig
    export: ExportConfig
    output_dir: str
    clusters: ClusterConfig = field(default_factory=ClusterConfig)


@dataclass
class Destination:
    """Where the curated set goes: a local folder (`output`) and/or a Hub dataset repo (`repo_id`)."""

    output: Path | None = None
    repo_id: str | None = None
    overwrite: bool = False  # replace an existing `output`
    include_rejected: bool = False  # also write rejected.jsonl
    public: bool = False  # create the Hub repo public (default: export.private)


@dataclass
class AutoAccept:
    """Unjudged pairs the filter in `model_dir` scores at or above `threshold` (None: the model's own) join the set
    when `enabled`."""

    model_dir: str | None = None
    enabled: bool = False
    threshold: float | None = None
    trust_pickle: bool = False  # load a model folder that holds pickles (written before plain-number heads)


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
    settings: ExportSettings,
    to: Destination,
    accept: AutoAccept | None = None,
    *,
    progress: Progress | None = None,
    client=None,
) -> Exported:
    """`curation export`: human-approved pairs (plus, with `accept.enabled`, unjudged ones the filter in
    `accept.model_dir` scores at or above the threshold) with a dataset card, to the folder `to.output` and/or the
    Hub repo `to.repo_id`. Everything that can be checked without work is checked first."""
    progress = progress or Progress()
    accept = accept or AutoAccept()
    output, repo_id, model_dir, threshold = to.output, to.repo_id, accept.model_dir, accept.threshold
    argilla, config = settings.argilla, settings.export
    if not output and not repo_id:
        raise ExportError("say where to: --output DIR and/or --to-hub namespace/name")
    if threshold is not None and not 0 <= threshold <= 1:  # nan fails both comparisons
        raise ExportError(
            f"--threshold must be a filter score from 0 to 1, not {threshold}: pairs scored at or above it are accepted"
        )
    token = check_hub(repo_id) if repo_id else None
    if output:
        check_output(output, to.overwrite)
    model = None
    no_threshold = False
    if accept.enabled or threshold is not None:
        if not model_dir:
            raise ExportError("--auto-accept needs the filter that scored the pairs: pass --model DIR")
        model = ModelInfo.read(store.resolve(model_dir))
        if threshold is None:
            no_threshold = not model.reached_threshold
            threshold = None if no_threshold else model.threshold
    elif model_dir:
        raise ExportError("--model is only used with --auto-accept (add it, or drop --model)")

    client = client or connect()
    data = find_dataset(client, argilla.workspace, argilla.dataset)
    records = read_records(client, data)
    if model is not None and threshold is not None:
        score_unscored(records, model_dir, model, log=progress.say, trust_pickle=accept.trust_pickle)
    selection = select(records, threshold, model.version if model else None, config.validation, settings.clusters)
    recorded = {
        "workspace": argilla.workspace,
        "dataset": argilla.dataset,
        "auto_accept": model is not None,
        "threshold": threshold,
        "model": model.version if model else None,
        "validation": config.validation,
        "chat": config.chat,
        "include_rejected": to.include_rejected,
    }
    report = Path(settings.output_dir) / "filter_report.json"
    cleaning = json.loads(report.read_text(encoding="utf-8")) if report.exists() else None
    comparison = comparison_for(output, selection, settings.output_dir, log=progress.say)
    text = card(selection, argilla.dataset, threshold, model, recorded, cleaning, comparison)
    result = Exported(selection, text, no_threshold=no_threshold)
    with tempfile.TemporaryDirectory() as tmp:
        folder = output or Path(tmp) / "export"
        write_folder(selection, folder, text, config.chat, to.include_rejected)
        if repo_id:
            result.url = push(folder, repo_id, token, private=config.private and not to.public)
    return result

"""The curated set: pairs the annotators' majority approved, plus (optionally) unjudged pairs the filter trusts,
written as Parquet + JSONL with a dataset card, locally and/or to the Hugging Face Hub.

Same Argilla state in, same bytes out: rows are sorted by record id, the split is a hash of the id, and the
card's date is the last change in the data (not the time of the export).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from curation.annotation.records import find_dataset, read_records
from curation.errors import ExportError
from curation.export.card import card, comparison_for
from curation.export.select import Selection, score_unscored, select, validation_too_small
from curation.export.write import check_hub, push, write_folder
from curation.files import check_output


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
    client=None,
) -> Exported:
    """`curation export`: human-approved pairs (plus, with `auto_accept`, unjudged ones the filter in `model_dir`
    scores at or above `threshold`) with a dataset card, to the folder `output` and/or the Hub repo `repo_id`.
    Everything that can be checked without work is checked first."""
    import tempfile

    from curation.annotation.connect import connect
    from curation.model import store
    from curation.model.info import ModelInfo

    if not output and not repo_id:
        raise ExportError("say where to: --output DIR and/or --to-hub namespace/name")
    if threshold is not None and not 0 <= threshold <= 1:  # nan fails both comparisons
        raise ExportError(
            f"--threshold must be a filter score from 0 to 1, not {threshold}: pairs scored at or above it are accepted"
        )
    token = check_hub(repo_id) if repo_id else None
    if output:
        check_output(output, overwrite)
    model = None
    no_threshold = False
    if auto_accept or threshold is not None:
        if not model_dir:
            raise ExportError("--auto-accept needs the filter that scored the pairs: pass --model DIR")
        model = ModelInfo.read(store.resolve(model_dir))
        if threshold is None:
            no_threshold = not model.reached_threshold
            threshold = None if no_threshold else model.threshold
    elif model_dir:
        raise ExportError("--model is only used with --auto-accept (add it, or drop --model)")

    client = client or connect()
    data = find_dataset(client, config.argilla.workspace, config.argilla.dataset)
    records = read_records(client, data)
    if model is not None and threshold is not None:
        score_unscored(records, model_dir, model, log=log, trust_pickle=trust_pickle)
    selection = select(records, threshold, model.version if model else None, config.export.validation)
    settings = {
        "workspace": config.argilla.workspace,
        "dataset": config.argilla.dataset,
        "auto_accept": model is not None,
        "threshold": threshold,
        "model": model.version if model else None,
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

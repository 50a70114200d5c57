"""What a trained filter's version folder says about it, typed: the file names, and `metadata.json` read and written
here only (as setfit's model card data is), so every reader sees the same facts with the same defaults.

    info = ModelInfo.read("models/latest")
    info.version, info.threshold, info.metrics.auc, info.label_counts["good"]
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.errors import TRAIN, ModelError

METADATA = "metadata.json"
HEAD = "head.json"  # the fitted head as plain numbers
ERROR_TYPES = "error_types.json"
PICKLED_HEAD = "head.joblib"  # what folders written before plain-number heads hold (loaded only when trusted)
PICKLED_ERROR_TYPES = "error_types.joblib"
CV_SCORES = "cv_scores.json"  # out-of-fold scores and labels
CARD = "README.md"  # the model card
BODY = "body"  # the fine-tuned encoder, when there is one


@dataclass
class Quality:
    """The cross-validated figures of a filter with the counts behind them (metadata's `metrics`). Folders written
    before the counts were kept hold the AUC only: the counts are None there."""

    auc: float | None
    threshold: float = 0.5  # auto-accept: scores at or above it are suggested good
    threshold_precision: float | None = None  # 95% lower bound of its precision (None: target never reached)
    threshold_recall: float = 0.0
    folds: int = 0
    target_precision: float = 0.9  # what both thresholds aim at, as a 95% lower bound of their precision
    bad_threshold: float = 0.0  # scores at or below it are suggested bad (0.0: never reached)
    bad_threshold_precision: float | None = None
    bad_threshold_recall: float = 0.0
    min_suggested: int = 1  # pairs a threshold must have beyond it
    # nested: the thresholds chosen on the other folds, applied to each fold (None: a folder from before)
    heldout_good: int | None = None
    heldout_good_correct: int | None = None
    heldout_bad: int | None = None
    heldout_bad_correct: int | None = None
    # out of fold: judged pairs, those each suggested label covers and gets right, the uncertain band
    judged_good: int | None = None
    judged_bad: int | None = None
    suggested_good: int | None = None
    suggested_good_correct: int | None = None
    suggested_bad: int | None = None
    suggested_bad_correct: int | None = None
    uncertain: int | None = None
    one_class_at_half: str | None = None  # the class a 0.5 cut would give every pair (None: both occur)

    @classmethod
    def from_dict(cls, data: dict) -> Quality:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def counted(self) -> bool:
        """Whether the counts behind the figures are known (folders from before hold the AUC only)."""
        return self.judged_good is not None


@dataclass
class ModelInfo:
    """A filter's recipe, training facts and quality (`metadata.json`). `version`, `created`, `labels_from` and
    `libraries` are set when it is saved."""

    base_model: str
    layer: int
    threshold: float
    metrics: Quality
    label_counts: dict[str, int] = field(default_factory=dict)
    finetuned: bool = False
    setfit_steps: int = 0
    depth: int | None = None  # encoder layers run; None: every layer (folders from before `depth`)
    precision: str = "float32"  # the encoder's weights (folders from before `precision`: float32)
    max_length: int = 128
    features: list[str] = field(default_factory=list)
    labels_sha256: str = ""
    error_types: dict = field(default_factory=dict)
    device: str = "cpu"
    config: dict = field(default_factory=dict)
    version: str | None = None
    created: str | None = None
    labels_from: str | None = None
    libraries: dict[str, str | None] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # keys this version does not know, kept

    @classmethod
    def read(cls, folder: str | Path) -> ModelInfo:
        """The metadata of a version folder; one clear error when it is not what train_filter.py writes."""
        file = Path(folder) / METADATA
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelError(f"{file} is not valid JSON ({e}): train again") from None
        if not isinstance(data, dict) or not {"base_model", "layer", "threshold"} <= set(data):
            raise ModelError(
                f"{file} is not the metadata {TRAIN} writes (a JSON object with base_model, layer, "
                f"threshold, ...; found {type(data).__name__}): train again"
            )
        known = {f.name for f in dataclasses.fields(cls)} - {"extra", "metrics"}
        values = {k: v for k, v in data.items() if k in known}
        extra = {k: v for k, v in data.items() if k not in known and k != "metrics"}
        metrics = data.get("metrics") if isinstance(data.get("metrics"), dict) else {}
        return cls(**values, metrics=Quality.from_dict(metrics), extra=extra)

    def to_dict(self) -> dict:
        """What metadata.json holds, in its order."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        out["metrics"] = self.metrics.to_dict()
        order = [
            "base_model", "finetuned", "setfit_steps", "layer", "depth", "precision", "max_length", "features",
            "label_counts", "labels_sha256", "metrics", "error_types", "threshold", "device", "config", "version",
            "created", "labels_from", "libraries",
        ]  # fmt: skip
        return {**{k: out[k] for k in order}, **self.extra}

    def write(self, folder: str | Path) -> None:
        (Path(folder) / METADATA).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @property
    def reached_threshold(self) -> bool:
        """Whether cross-validation found an auto-accept threshold with the precision asked for."""
        return self.metrics.threshold_precision is not None

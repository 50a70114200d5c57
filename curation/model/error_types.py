"""Which error, not only whether: one head per error type of the `errors` question, on the same features.

Learnt from the bad pairs annotators tagged (a pair may carry several types); a type is learnt when at least
`MIN_EXAMPLES` tagged pairs have it and as many do not. Each head is scored out-of-fold like the main filter,
so the card and the report can say how well each type is told apart from the other tagged errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from curation.errors import TRAIN, ModelError
from curation.model.head import PlainHead
from curation.model.settings import TrainConfig
from curation.model.train import new_head

MIN_EXAMPLES = 4


@dataclass
class ErrorTypes:
    heads: dict[str, PlainHead] = field(default_factory=dict)  # type -> fitted head, P(type | bad pair)
    examples: dict[str, int] = field(default_factory=dict)  # tagged bad pairs with the type
    auc: dict[str, float | None] = field(default_factory=dict)  # out-of-fold, against the other tagged pairs
    tagged: int = 0  # bad pairs that carried any type

    def summary(self) -> dict:
        return {
            "tagged_pairs": self.tagged,
            "types": {t: {"examples": self.examples[t], "auc": self.auc.get(t)} for t in sorted(self.examples)},
        }

    def to_dict(self) -> dict:
        """Plain data for error_types.json."""
        return {
            "heads": {name: head.to_dict() for name, head in self.heads.items()},
            "examples": self.examples,
            "auc": self.auc,
            "tagged": self.tagged,
        }

    @classmethod
    def from_dict(cls, data, where: str = "error types") -> ErrorTypes:
        if not isinstance(data, dict) or not isinstance(data.get("heads"), dict):
            raise ModelError(f"{where} is not what {TRAIN} writes (an object with heads): train again")
        try:
            return cls(
                heads={str(k): PlainHead.from_dict(v, f"{where} ({k})") for k, v in data["heads"].items()},
                examples={str(k): int(v) for k, v in (data.get("examples") or {}).items()},
                auc={str(k): None if v is None else float(v) for k, v in (data.get("auc") or {}).items()},
                tagged=int(data.get("tagged") or 0),
            )
        except (AttributeError, TypeError, ValueError) as e:
            what = e.__class__.__name__
            raise ModelError(f"{where} is not what {TRAIN} writes ({what}): train again") from None

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """P(type) for each row of features, per learnt type."""
        return {name: head.predict_proba(x)[:, 1] for name, head in self.heads.items()}


def fit(x: np.ndarray, tags: Sequence[frozenset[str] | set[str]], config: TrainConfig) -> ErrorTypes:
    """Heads for the types with enough examples among the rows of `x` that carry tags."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    keep = [i for i, t in enumerate(tags) if t]
    result = ErrorTypes(tagged=len(keep))
    if not keep:
        return result
    xs = x[keep]
    for name in sorted(set().union(*(tags[i] for i in keep))):
        y = np.array([name in tags[i] for i in keep], dtype=int)
        result.examples[name] = int(y.sum())
        if min(y.sum(), len(y) - y.sum()) < MIN_EXAMPLES:
            continue
        k = max(2, min(config.folds, int(y.sum()), int(len(y) - y.sum())))
        oof = np.zeros(len(y))
        for train, test in StratifiedKFold(k, shuffle=True, random_state=config.seed).split(xs, y):
            oof[test] = new_head(config).fit(xs[train], y[train]).predict_proba(xs[test])[:, 1]
        result.auc[name] = float(roc_auc_score(y, oof))
        result.heads[name] = PlainHead.from_pipeline(new_head(config).fit(xs, y))
    return result

"""A fitted cluster model (`curation cluster`'s output folder) put to work on more pairs: the corpus engines tag
every scored pair with its cluster, from the embeddings the scoring itself computed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.clusters.fit import ClusterModel, encoder_key
from curation.errors import InputError


@dataclass
class Assigner:
    model: ClusterModel
    titles: list[str]

    @classmethod
    def load(cls, folder: str | Path) -> Assigner:
        folder = Path(folder)
        if not (folder / "model.npz").exists() or not (folder / "clusters.json").exists():
            raise InputError(
                f"--clusters {folder} is not a `curation cluster` output (model.npz and clusters.json): run "
                "`curation cluster --input SAMPLE --output DIR` first"
            )
        items = json.loads((folder / "clusters.json").read_text(encoding="utf-8"))["items"]
        return cls(ClusterModel.load(folder / "model.npz"), [i["title"] for i in sorted(items, key=lambda i: i["id"])])

    def check(self, base_model: str, depth: int | None, finetuned: bool) -> None:
        """The filter that scores must make the embeddings the clusters were fitted on: one line otherwise."""
        wanted = encoder_key(base_model, depth)
        if finetuned or self.model.encoder != wanted:
            made = "a fine-tuned encoder" if finetuned else wanted
            raise InputError(
                f"the clusters were fitted on embeddings of {self.model.encoder or 'an unknown encoder'}, the filter "
                f"scores with {made}: fit them with its encoder (`curation cluster --base-model ... `, same "
                "train.depth), or score without --clusters"
            )

    def tag(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cluster, title) of each row of embeddings `x`."""
        labels, _ = self.model.assign(x)
        return labels, np.array(self.titles, dtype=object)[labels]

"""Which error, not only whether: error-type heads learnt from annotators' `errors` tags."""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import joblib
import numpy as np
import pytest
from tiny_model import COPIES, GOOD

from curation.annotation.agreement import Judgment, aggregate, error_tags
from curation.annotation.labels import read_labels
from curation.annotation.setup import SetupError
from curation.config import Config
from curation.cycle import from_file
from curation.errors import ModelError
from curation.model.error_types import MIN_EXAMPLES, fit
from curation.model.learned import LearnedFilter
from curation.model.settings import TrainConfig
from curation.progress import Progress

TRUNCATED = [(s, t.split()[0]) for s, t in GOOD]  # omissions: only the first word is left


def test_a_type_is_learnt_with_enough_examples_and_its_auc_is_out_of_fold():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    x[:15, 0] += 4  # the first 15 rows are "literal", told by signal 0
    tags = [frozenset({"literal"})] * 15 + [frozenset({"grammar"})] * 12 + [frozenset({"terminology"})] * 3
    types = fit(x, tags, TrainConfig())
    assert set(types.heads) == {"literal", "grammar"}  # terminology: 3 < MIN_EXAMPLES
    assert types.examples == {"literal": 15, "grammar": 12, "terminology": 3} and MIN_EXAMPLES > 3
    assert types.auc["literal"] > 0.9 and types.auc.get("terminology") is None
    p = types.predict(np.array([[4.0, 0, 0], [0.0, 0, 0]]))["literal"]
    assert p[0] > 0.5 > p[1]
    assert fit(x, [frozenset()] * 30, TrainConfig()).heads == {}  # nothing tagged, nothing learnt


def test_error_tags_come_from_annotators_who_voted_bad_on_a_bad_majority():
    votes = [
        Judgment("r1", "ana", "bad", frozenset({"literal"})),
        Judgment("r1", "ben", "bad", frozenset({"grammar"})),
        Judgment("r1", "eva", "good", frozenset({"other"})),  # a good vote's ticks do not count
        Judgment("r2", "ana", "good"),
        Judgment("r2", "ben", "good", frozenset({"literal"})),  # good majority: no types
    ]
    assert error_tags(votes, aggregate(votes)) == {"r1": frozenset({"literal", "grammar"})}


def test_a_judged_file_with_errors_trains_type_heads_that_the_saved_filter_predicts(tiny_model, tmp_path):
    judged = tmp_path / "judged.tsv"
    rows = [(s, t, "good", "") for s, t in GOOD]
    rows += [(s, t, "bad", "wrong_language") for s, t in COPIES] + [
        (s, t, "bad", "omission_addition") for s, t in TRUNCATED
    ]
    judged.write_text("source\ttarget\tlabel\terrors\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    config = Config()
    config.train.base_model, config.train.layer, config.train.min_per_class = str(tiny_model), 1, 4
    config.train.models_dir = str(tmp_path / "models")

    result = from_file(judged, config.train, progress=Progress.quiet())

    meta = json.loads((result.model.path / "metadata.json").read_text())
    assert meta["error_types"]["tagged_pairs"] == 32
    assert set(meta["error_types"]["types"]) == {"wrong_language", "omission_addition"}
    assert "## Error types (32 bad pairs tagged by annotators)" in (result.model.path / "README.md").read_text()
    flt = LearnedFilter.load(result.model.path, "cpu")
    scores, types = flt.predict([("Where is the exit?", "Where is the exit?"), ("The bus is late today.", "El")])
    assert set(types) == {"wrong_language", "omission_addition"} and scores.shape == (2,)
    assert types["wrong_language"][0] > 0.5 > types["wrong_language"][1]
    assert types["omission_addition"][1] > 0.5 > types["omission_addition"][0]
    np.testing.assert_allclose(
        scores, flt.score([("Where is the exit?", "Where is the exit?"), ("The bus is late today.", "El")])
    )

    # the heads are plain numbers (JSON); a folder from before held pickles: sklearn pipelines, the error types
    # pickled as a class under its old module path (curation.error_types). It loads only when trusted.
    assert not list(result.model.path.glob("*.joblib"))
    saved = json.loads((result.model.path / "error_types.json").read_text())
    assert set(saved["heads"]) == {"wrong_language", "omission_addition"}
    pipelines = _old_folder(flt, judged, result.model.path)
    with pytest.raises(ModelError, match="pickle .*--trust-pickle"):
        LearnedFilter.load(result.model.path, "cpu")
    sys.modules.pop("curation.error_types", None)
    old = LearnedFilter.load(result.model.path, "cpu", trust_pickle=True)
    assert set(old.error_types.heads) == {"wrong_language", "omission_addition"}
    x = flt.encoder.features([("Where is the exit?", "Where is the exit?")])
    np.testing.assert_allclose(
        old.predict([("Where is the exit?", "Where is the exit?")])[1]["wrong_language"],
        pipelines["wrong_language"].predict_proba(x)[:, 1],
    )


def _old_folder(flt, judged, path):
    """Make `path` a folder as written before plain-number heads: sklearn pipelines pickled, no JSON heads."""
    from curation.model.train import new_head

    rows = list(read_labels(judged))
    x = flt.encoder.features([(r.pair.source, r.pair.target) for r in rows])
    bad = [i for i, r in enumerate(rows) if r.label == "bad"]
    config = TrainConfig()
    pipelines = {
        name: new_head(config).fit(x[bad], [int(name in rows[i].errors) for i in bad])
        for name in ("wrong_language", "omission_addition")
    }
    joblib.dump(new_head(config).fit(x, [int(r.label == "good") for r in rows]), path / "head.joblib")
    types = replace(flt.error_types, heads=pipelines)
    _pickle_the_old_way(types, path / "error_types.joblib")
    (path / "head.json").unlink()
    (path / "error_types.json").unlink()
    return pipelines


def _pickle_the_old_way(types, path):
    """Pickle an ErrorTypes the way models before the stage packages were saved: the class named by its old path."""
    from curation.model import error_types as module

    cls = module.ErrorTypes
    sys.modules["curation.error_types"] = module
    cls.__module__ = "curation.error_types"
    try:
        joblib.dump(types, path)
    finally:
        cls.__module__ = "curation.model.error_types"
        del sys.modules["curation.error_types"]
    assert b"curation.error_types" in path.read_bytes()


def test_an_unknown_error_type_in_a_judged_file_is_one_clear_error(tmp_path):
    judged = tmp_path / "judged.tsv"
    judged.write_text("source\ttarget\tlabel\terrors\nHi.\tHola.\tbad\tliteral, typo\n", encoding="utf-8")
    with pytest.raises(SetupError, match=r"row 2: unknown error type typo \(use mistranslation, "):
        list(read_labels(judged))
    judged.write_text("source\ttarget\tlabel\nHi.\tHola.\tgood\n", encoding="utf-8")
    assert [(r.errors, r.annotator) for r in read_labels(judged)] == [(frozenset(), None)]  # both columns optional


def test_a_judged_file_with_annotators_is_aggregated_like_votes_in_argilla(tiny_model, tmp_path):
    judged = tmp_path / "judged.tsv"
    rows = [(s, t, "good", "", "ana") for s, t in GOOD] + [(s, t, "bad", "", "ana") for s, t in COPIES]
    rows += [(*GOOD[0], "good", "", "ben"), (*COPIES[0], "good", "", "ben")]  # agrees on one, splits the other
    judged.write_text(
        "source\ttarget\tlabel\terrors\tannotator\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8"
    )
    config = Config()
    config.train.base_model, config.train.layer, config.train.min_per_class = str(tiny_model), 1, 4
    config.train.models_dir = str(tmp_path / "models")
    lines: list[str] = []
    result = from_file(judged, config.train, progress=Progress(lines.append))
    assert result.counts == {"good": 16, "bad": 15}  # the split pair is a tie, left out
    assert len(result.agreement["ties"]) == 1 and result.agreement["records_with_2plus_annotators"] == 2
    assert any("ties left out: 1" in line for line in lines)

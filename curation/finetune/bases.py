"""Which translator a `finetune.base_model` names, built new for training or loaded back from a model folder.

Every kind is a `Translator`: `module` (what trains), `prepare` (work done once before the first step), `lengths`
(target tokens, for batches of similar length), `loss` (summed over target tokens, with their count), `translate`,
`stored_bytes` (what `save` will write, checked against the free space before the first step), `save`, `describe` (the
card's line), and `load` from the folder `save` wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from curation.errors import InputError
from curation.finetune.settings import FinetuneConfig

RECIPES = ("e5-decoder", "scratch")  # built here, no download; anything else is a Hub id, a folder or a .gguf file


class Translator(Protocol):
    kind: str

    @property
    def module(self): ...
    def describe(self) -> str: ...
    def prepare(self, sources: list[str], progress=None) -> None: ...
    def lengths(self, pairs) -> list[int]: ...
    def loss(self, pairs, smoothing: float = 0.1): ...
    def translate(self, sources: list[str], progress=None) -> list[str]: ...
    def stored_bytes(self, folder: Path) -> int: ...
    def save(self, folder: Path) -> None: ...


def kind_of(base_model: str) -> str:
    """`e5-decoder`, `seq2seq` (scratch or a checkpoint) or `causal-lm`, checked before any data is read."""
    if base_model == "e5-decoder":
        return "e5-decoder"
    if base_model == "scratch":
        return "seq2seq"
    from curation.finetune.hf import architecture  # transformers: +1.2 s, only for a Hugging Face base

    return architecture(base_model)


def build(settings: FinetuneConfig, train, device: str, encoder=None) -> Translator:
    """A new translator for `settings.base_model`, its vocabulary (where it has its own) trained on `train`."""
    from curation.finetune import hf  # transformers: +1.2 s, only for a Hugging Face base

    kind = kind_of(settings.base_model)
    if kind == "e5-decoder":
        from curation.finetune.e5_decoder import E5Translator, Encoder  # torch: +1.4 s, only for this recipe

        encoder = encoder or Encoder.load(settings.encoder, settings.encoder_layers, device)
        return E5Translator.new(settings, encoder, [p.target for p in train], device)
    if kind == "seq2seq" and settings.base_model == "scratch":
        return hf.Seq2SeqTranslator.scratch(settings, train, device)
    if kind == "seq2seq":
        return hf.Seq2SeqTranslator.pretrained(settings, settings.base_model, device)
    return hf.CausalTranslator.pretrained(settings, settings.base_model, device)


def load(folder: str | Path, device: str = "cpu", encoder=None) -> Translator:
    """The translator `curation finetune` wrote into `folder`, with the settings it was trained with."""
    folder = Path(folder)
    described = folder / "finetune.json"
    if not described.exists():
        raise InputError(f"{folder} is not a model folder `curation finetune` wrote (no finetune.json)")
    meta = json.loads(described.read_text(encoding="utf-8"))
    settings = FinetuneConfig(**meta["settings"])
    if meta["kind"] == "e5-decoder" and (folder / "decoder.safetensors").exists():  # written before transformers
        from curation.finetune.legacy import LegacyTranslator  # torch: +1.4 s, only for this recipe

        return LegacyTranslator.load(folder, settings, device, encoder)
    if meta["kind"] == "e5-decoder":
        from curation.finetune.e5_decoder import E5Translator  # torch: +1.4 s, only for this recipe

        return E5Translator.load(folder, settings, device, encoder)
    from curation.finetune import hf  # transformers: +1.2 s, only for a Hugging Face base

    cls = hf.Seq2SeqTranslator if meta["kind"] == "seq2seq" else hf.CausalTranslator
    return cls.load(folder, settings, device)

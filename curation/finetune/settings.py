"""The translator's training recipe (curation finetune)."""

from __future__ import annotations

from dataclasses import dataclass

from curation.checks import SHARE, TEXT, WHOLE_0, WHOLE_1, check, number, or_null, whole_between
from curation.errors import ConfigError
from curation.model.settings import DEVICE


@dataclass
class FinetuneConfig:
    """`base_model`: `e5-decoder` (the offline default): the multilingual-e5-small encoder, frozen and cut to
    `encoder_layers`, its token states computed once per source; a small Transformer decoder and a BPE vocabulary
    trained on the targets. `scratch`: a Marian (`decoder_layers` layers each side, width `d_model`) with a BPE
    vocabulary of both sides. Anything else: a Hugging Face seq2seq or causal-LM Hub id, folder or .gguf file,
    fine-tuned whole (vocab_size, d_model, decoder_layers and heads are then the checkpoint's).
    Same data, seed and steps give the same model."""

    base_model: str = "e5-decoder"
    encoder: str = "intfloat/multilingual-e5-small"  # e5-decoder: the frozen encoder (Hub id or folder)
    encoder_layers: int = 6  # e5-decoder: encoder layers kept (README: 6 of 12 measured)
    steps: int = 600  # optimiser steps (batches)
    batch_size: int = 64
    learning_rate: float = 1e-3
    warmup: int = 100  # steps of linear warm-up
    seed: int = 0
    vocab_size: int = 8000  # BPE vocabulary trained on the training targets
    max_length: int = 64  # tokens kept per side
    d_model: int = 256
    decoder_layers: int = 3
    heads: int = 4
    dropout: float = 0.1
    validation: float = 0.05  # share of a pairs file held out for the learning curve (export folders bring theirs)
    eval_every: int = 50  # steps between validation-loss points
    beams: int = 1  # beam search width when translating (1: greedy)
    device: str = "auto"
    threads: int | None = None  # torch CPU threads; None: every core

    def __post_init__(self):
        positive = ("a number above 0", lambda v: number(v) and v > 0)
        device = ("auto, cpu, cuda, cuda:N or mps", lambda v: isinstance(v, str) and bool(DEVICE.fullmatch(v)))
        rules = {"base_model": TEXT, "encoder": TEXT, "encoder_layers": whole_between(1, 48)}
        rules |= {"steps": whole_between(1, 10_000_000), "batch_size": whole_between(1, 65_536)}
        rules |= {"learning_rate": positive, "warmup": WHOLE_0, "seed": WHOLE_0}
        rules |= {"vocab_size": whole_between(64, 1_000_000), "max_length": whole_between(4, 4096)}
        rules |= {"d_model": whole_between(8, 8192), "decoder_layers": whole_between(1, 64), "heads": WHOLE_1}
        rules |= {"dropout": SHARE, "validation": ("a number from 0 up to (not including) 1", _below_1)}
        rules |= {"eval_every": WHOLE_1, "beams": whole_between(1, 64), "device": device, "threads": or_null(WHOLE_1)}
        check("finetune", self, rules)
        if self.d_model % self.heads:
            raise ConfigError(f"finetune.d_model ({self.d_model}) must be a multiple of finetune.heads ({self.heads})")

    def longest_output(self, source_tokens: int) -> int:
        """New tokens a translation may have: 1.5 times the source's tokens and 5 more, within max_length."""
        return min(self.max_length, int(1.5 * source_tokens) + 5)


def _below_1(v) -> bool:
    return number(v) and 0 <= v < 1

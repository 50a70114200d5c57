"""Model folders of the e5 recipe written before it became a `transformers` EncoderDecoderModel
(`decoder.safetensors`, `tokenizer.json`, `finetune.json`): the hand-written decoder they hold, loaded to translate
(greedy, with a key/value cache, no trigram twice), as they did. New folders are never written this way."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from curation.finetune.e5_decoder import BOS, EOS, PAD, Encoder, padded
from curation.finetune.settings import FinetuneConfig

MAX_POSITIONS = 512


class Layer(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out1 = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.q, self.kv, self.out2 = nn.Linear(d, d), nn.Linear(d, 2 * d), nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.drop = nn.Dropout(dropout)

    def _split(self, x):
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def _merge(self, x):
        b, h, n, k = x.shape
        return x.transpose(1, 2).reshape(b, n, h * k)

    def forward(self, x, memory_kv, memory_mask, cache=None):
        q, k, v = (self._split(t) for t in self.qkv(self.norm1(x)).chunk(3, -1))
        if cache is not None:  # incremental decoding: x is the newest position only
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
            attn = F.scaled_dot_product_attention(q, k, v)
        else:
            attn = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.drop.p * self.training)
        x = x + self.drop(self.out1(self._merge(attn)))
        mk, mv = memory_kv
        q = self._split(self.q(self.norm2(x)))
        attn = F.scaled_dot_product_attention(q, mk, mv, attn_mask=memory_mask, dropout_p=self.drop.p * self.training)
        x = x + self.drop(self.out2(self._merge(attn)))
        return x + self.drop(self.ff(self.norm3(x)))

    def memory(self, memory):
        k, v = self.kv(memory).chunk(2, -1)
        return self._split(k), self._split(v)


class Decoder(nn.Module):
    def __init__(self, vocab: int, width: int, d: int, layers: int, heads: int, dropout: float):
        super().__init__()
        self.d = d
        self.bridge = nn.Sequential(nn.Linear(width, d), nn.LayerNorm(d))
        self.embed = nn.Embedding(vocab, d)
        self.position = nn.Embedding(MAX_POSITIONS, d)
        self.layers = nn.ModuleList(Layer(d, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        nn.init.normal_(self.embed.weight, std=d**-0.5)  # tied with the output: logits start small
        nn.init.normal_(self.position.weight, std=0.02)

    def _memory(self, memory, memory_mask):
        memory = self.bridge(memory)
        mask = memory_mask[:, None, None, :]  # True where attended
        return [layer.memory(memory) for layer in self.layers], mask

    def _embed(self, y, start: int = 0):
        positions = torch.arange(start, start + y.shape[1], device=y.device).clamp(max=MAX_POSITIONS - 1)
        return self.embed(y) * math.sqrt(self.d) + self.position(positions)

    def forward(self, memory, memory_mask, y):
        memories, mask = self._memory(memory, memory_mask)
        x = self._embed(y)
        for layer, kv in zip(self.layers, memories, strict=True):
            x = layer(x, kv, mask)
        return self.norm(x) @ self.embed.weight.T

    @torch.inference_mode()
    def greedy(self, memory, memory_mask, max_new: int) -> list[list[int]]:
        memories, mask = self._memory(memory, memory_mask)
        n = memory.shape[0]
        caches = [{} for _ in self.layers]
        out = torch.full((n, 1), BOS, device=memory.device)
        done = torch.zeros(n, dtype=torch.bool, device=memory.device)
        for step in range(max_new):
            x = self._embed(out[:, -1:], step)
            for layer, kv, cache in zip(self.layers, memories, caches, strict=True):
                x = layer(x, kv, mask, cache)
            logits = (self.norm(x) @ self.embed.weight.T)[:, -1]
            logits[:, PAD] = -math.inf
            _block_repeated_trigrams(out, logits)
            token = logits.argmax(-1).masked_fill(done, PAD)
            out = torch.cat([out, token[:, None]], 1)
            done |= token == EOS
            if done.all():
                break
        rows = []
        for row in out[:, 1:].tolist():
            row = row[: row.index(EOS)] if EOS in row else row
            rows.append([t for t in row if t != PAD])
        return rows


def _block_repeated_trigrams(out: torch.Tensor, logits: torch.Tensor) -> None:
    """No trigram twice: the token that would repeat one (after the same two tokens) is ruled out."""
    if out.shape[1] < 3:
        return
    a, b = out[:, -2:-1], out[:, -1:]
    seen = (out[:, :-2] == a) & (out[:, 1:-1] == b)  # positions i where (i, i+1) equals the last two tokens
    rows, cols = seen[:, : out.shape[1] - 2].nonzero(as_tuple=True)
    if len(rows):
        logits[rows, out[rows, cols + 2]] = -math.inf


class LegacyTranslator:
    """A folder of the hand-written decoder: loads and translates (it is not trained further)."""

    kind = "e5-decoder"

    def __init__(self, settings: FinetuneConfig, encoder: Encoder, tokenizer, decoder: Decoder, device: str):
        self.settings, self.encoder, self.tokenizer, self.decoder = settings, encoder, tokenizer, decoder
        self.device = device

    @property
    def module(self) -> nn.Module:
        return self.decoder

    def describe(self) -> str:
        s = self.settings
        return f"`{s.encoder}` frozen, its first {s.encoder_layers} layers; our {s.decoder_layers}-layer decoder"

    def prepare(self, sources: list[str], progress=None) -> None:
        self.encoder.states(sources, self.settings.max_length, progress=progress)

    def translate(self, sources: list[str], batch_size: int = 100, progress=None) -> list[str]:
        self.decoder.eval()
        states = self.encoder.states(sources, self.settings.max_length)
        order = sorted(range(len(sources)), key=lambda i: len(states[i]))
        out: list[str] = [""] * len(sources)
        for k in range(0, len(order), batch_size):
            idx = order[k : k + batch_size]
            memory, mask = padded([states[i] for i in idx])
            cap = self.settings.longest_output(max(len(states[i]) for i in idx))
            rows = self.decoder.greedy(memory.to(self.device), mask.to(self.device), cap)
            for i, row in zip(idx, rows, strict=True):
                out[i] = self.tokenizer.decode(row).strip()
            if progress:
                progress(len(idx))
        return out

    @classmethod
    def load(cls, folder: Path, settings: FinetuneConfig, device: str, encoder: Encoder | None = None):
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        encoder = encoder or Encoder.load(settings.encoder, settings.encoder_layers, device)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        s = settings
        decoder = Decoder(tokenizer.get_vocab_size(), encoder.width, s.d_model, s.decoder_layers, s.heads, s.dropout)
        decoder.load_state_dict(load_file(folder / "decoder.safetensors"))
        return cls(settings, encoder, tokenizer, decoder.to(device), device)

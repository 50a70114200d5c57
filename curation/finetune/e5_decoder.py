"""The offline translator that learns on two CPU cores: multilingual-e5-small (already bilingual) as a frozen
encoder cut to its first layers, its token states computed once per source and shared by every run, and a
small Transformer decoder with a BPE vocabulary trained on the targets. Greedy decoding with a key/value cache,
no repeated trigram, output at most 1.5 times the source's length."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from curation.finetune.settings import FinetuneConfig
from curation.model.encoder import cut_layers, load_body

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIAL = ["<pad>", "<s>", "</s>", "<unk>"]
MAX_POSITIONS = 512


def train_tokenizer(targets: list[str], vocab_size: int, special: list[str] = SPECIAL):
    """A BPE vocabulary of the texts (deterministic: the same texts give the same vocabulary)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False)
    tok.train_from_iterator(sorted(targets), trainer)
    return tok


class Encoder:
    """The frozen encoder: token states of the first `layers` layers, cached by source text."""

    def __init__(self, name: str, layers: int, device: str = "cpu", batch_size: int = 128):
        body = load_body(name, "cpu")
        self.tokenizer = body.tokenizer
        self.model = body[0].auto_model
        cut_layers(self.model, layers, "finetune.encoder_layers")
        self.model.eval().to(device)
        self.name, self.layers, self.device, self.batch_size = name, layers, device, batch_size
        self.width = self.model.config.hidden_size
        self.cache: dict[str, torch.Tensor] = {}

    def states(self, sources: list[str], max_length: int, progress=None) -> list[torch.Tensor]:
        """One (tokens x width) float16 tensor per source; sources seen before come from the cache."""
        todo = sorted({s for s in sources if s not in self.cache}, key=lambda s: (len(s), s))  # not set order
        with torch.inference_mode():
            for k in range(0, len(todo), self.batch_size):
                chunk = todo[k : k + self.batch_size]
                batch = self.tokenizer(
                    chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
                ).to(self.device)
                hidden = self.model(**batch).last_hidden_state.to("cpu", torch.float16)
                lengths = batch["attention_mask"].sum(1).tolist()
                for text, h, n in zip(chunk, hidden, lengths, strict=True):
                    self.cache[text] = h[:n].clone()
                if progress:
                    progress(len(chunk))
        return [self.cache[s] for s in sources]


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


class E5Translator:
    """Tokenizer + decoder over a shared frozen encoder; a `Translator` (see `bases`)."""

    kind = "e5-decoder"

    def __init__(self, settings: FinetuneConfig, encoder: Encoder, tokenizer, decoder: Decoder, device: str):
        self.settings, self.encoder, self.tokenizer, self.decoder, self.device = (
            settings,
            encoder,
            tokenizer,
            decoder,
            device,
        )

    @classmethod
    def new(cls, settings: FinetuneConfig, encoder: Encoder, targets: list[str], device: str) -> E5Translator:
        torch.manual_seed(settings.seed)
        tokenizer = train_tokenizer(targets, settings.vocab_size)
        decoder = _decoder(settings, tokenizer, encoder).to(device)
        return cls(settings, encoder, tokenizer, decoder, device)

    @property
    def module(self) -> nn.Module:
        """What trains (the encoder stays frozen)."""
        return self.decoder

    def describe(self) -> str:
        s = self.settings
        return (
            f"`{s.encoder}` frozen, its first {s.encoder_layers} layers (token states computed once per source); a "
            f"{s.decoder_layers}-layer decoder of width {s.d_model} and a {self.tokenizer.get_vocab_size():,}-piece "
            "BPE vocabulary trained on the targets"
        )

    def prepare(self, sources: list[str], progress=None) -> None:
        """Encode every source once (training, validation and test), so no step waits for the encoder."""
        self.encoder.states(sources, self.settings.max_length, progress=progress)

    def lengths(self, pairs) -> list[int]:
        return [len(t) for t in self.target_ids([p.target for p in pairs])]

    def target_ids(self, targets: list[str]) -> list[list[int]]:
        keep = self.settings.max_length - 2
        return [[BOS, *e.ids[:keep], EOS] for e in self.tokenizer.encode_batch(targets)]

    def batch(self, states: list[torch.Tensor], ids: list[list[int]] | None = None):
        width = states[0].shape[1]
        memory = torch.zeros(len(states), max(len(s) for s in states), width)
        mask = torch.zeros(memory.shape[:2], dtype=torch.bool)
        for j, s in enumerate(states):
            memory[j, : len(s)], mask[j, : len(s)] = s.float(), True
        memory, mask = memory.to(self.device), mask.to(self.device)
        if ids is None:
            return memory, mask, None
        y = torch.full((len(ids), max(len(t) for t in ids)), PAD)
        for j, t in enumerate(ids):
            y[j, : len(t)] = torch.tensor(t)
        return memory, mask, y.to(self.device)

    def loss(self, pairs, smoothing: float = 0.1) -> tuple[torch.Tensor, int]:
        """Summed cross-entropy over the target tokens of `pairs`, and how many tokens that is."""
        states = self.encoder.states([p.source for p in pairs], self.settings.max_length)
        memory, mask, y = self.batch(states, self.target_ids([p.target for p in pairs]))
        logits = self.decoder(memory, mask, y[:, :-1])
        gold = y[:, 1:].reshape(-1)
        total = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), gold, ignore_index=PAD, label_smoothing=smoothing, reduction="sum"
        )
        return total, int((gold != PAD).sum())

    def translate(self, sources: list[str], batch_size: int = 100, progress=None) -> list[str]:
        self.decoder.eval()
        states = self.encoder.states(sources, self.settings.max_length)
        order = sorted(range(len(sources)), key=lambda i: len(states[i]))
        out: list[str] = [""] * len(sources)
        for k in range(0, len(order), batch_size):
            idx = order[k : k + batch_size]
            memory, mask, _ = self.batch([states[i] for i in idx])
            cap = min(self.settings.max_length, int(1.5 * max(len(states[i]) for i in idx)) + 5)
            for i, row in zip(idx, self.decoder.greedy(memory, mask, cap), strict=True):
                out[i] = self.tokenizer.decode(row).strip()
            if progress:
                progress(len(idx))
        return out

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        self.tokenizer.save(str(folder / "tokenizer.json"))
        save_file(
            {k: v.contiguous().cpu() for k, v in self.decoder.state_dict().items()}, folder / "decoder.safetensors"
        )

    @classmethod
    def load(cls, folder: Path, settings: FinetuneConfig, device: str, encoder: Encoder | None = None) -> E5Translator:
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        encoder = encoder or Encoder(settings.encoder, settings.encoder_layers, device)
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        decoder = _decoder(settings, tokenizer, encoder)
        decoder.load_state_dict(load_file(folder / "decoder.safetensors"))
        return cls(settings, encoder, tokenizer, decoder.to(device), device)


def _decoder(settings: FinetuneConfig, tokenizer, encoder: Encoder) -> Decoder:
    s = settings
    return Decoder(tokenizer.get_vocab_size(), encoder.width, s.d_model, s.decoder_layers, s.heads, s.dropout)

"""What the e5 recipe's move to `transformers` classes costs per training step and per translated sentence: the
`EncoderDecoderModel` (GPT-2 decoder with cross-attention, `generate`) against the hand-written decoder it replaced
(`finetune/legacy.py`, greedy with a key/value cache), side by side in one run, on the same cached encoder states and
the same batches, alternating rounds so the host's noise falls on both.

    .venv/bin/python benchmarks/translator_speed.py                      # about 4 minutes on 2 cores
    .venv/bin/python benchmarks/translator_speed.py --steps 40 --rounds 3 --json outputs/translator_speed.json

Data (read at run time, never copied; ../shared/data/README.md): tatoeba.en-es.tsv and gettext.en-es.tsv pairs.
Prints seconds per optimiser step (batch 64, as `curation finetune`), sentences per second translating, the decoders'
parameters and what each stores on disk.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def pairs(n: int) -> list[tuple[str, str]]:
    rows = []
    for name in ("tatoeba.en-es.tsv", "gettext.en-es.tsv"):
        with open(SHARED / name, newline="", encoding="utf-8") as f:
            rows += [(r["source"], r["target"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    rows = [(s, t) for s, t in rows if s.strip() and t.strip()]
    random.Random(0).shuffle(rows)
    return rows[:n]


def cpu() -> str:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("model name")), "?")
    found = [f for f in ("avx2", "avx512_bf16", "amx_bf16") if f" {f}" in flags]
    return f"{model or platform.processor()} ({', '.join(found) or 'no avx2'})"


def main() -> None:
    import torch

    from curation.finetune.data import Example
    from curation.finetune.e5_decoder import E5Translator, Encoder
    from curation.finetune.legacy import Decoder, LegacyTranslator
    from curation.finetune.run import batches
    from curation.finetune.settings import FinetuneConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round and recipe")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=300, help="sentences translated per round and recipe")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = FinetuneConfig()
    data = [Example(s, t) for s, t in pairs(4000 + args.sentences)]
    train, test = data[:4000], data[4000:]
    encoder = Encoder.load(settings.encoder, settings.encoder_layers)
    started = time.monotonic()
    encoder.states([p.source for p in data], settings.max_length)
    print(f"{cpu()}, {args.threads} torch threads; encoder states of {len(data):,} sources in "
          f"{time.monotonic() - started:.0f} s (once, shared)")  # fmt: skip
    torch.manual_seed(0)
    new = E5Translator.new(settings, encoder, [p.target for p in train], "cpu")
    s = settings
    decoder = Decoder(new.tokenizer.get_vocab_size(), encoder.width, s.d_model, s.decoder_layers, s.heads, s.dropout)
    old = LegacyTranslator(settings, encoder, new.tokenizer, decoder, "cpu")
    recipes = {"transformers": (new, new.model), "hand-written": (old, decoder)}
    lengths = new.lengths(train)
    timings = {name: {"step": [], "translate": []} for name in recipes}
    for _ in range(args.rounds):
        for name, (translator, module) in recipes.items():
            trainable = [p for p in module.parameters() if p.requires_grad]
            optimiser = torch.optim.AdamW(trainable, lr=1e-3)
            stream = batches(len(train), lengths, settings.batch_size, random.Random(1))
            module.train()
            for k in range(args.steps + 2):  # two warm-up steps
                if k == 2:
                    began = time.perf_counter()
                total, tokens = _loss(translator, [train[i] for i in next(stream)])
                optimiser.zero_grad()
                (total / tokens).backward()
                optimiser.step()
            timings[name]["step"].append((time.perf_counter() - began) / args.steps)
            began = time.perf_counter()
            translator.translate([p.source for p in test])
            timings[name]["translate"].append(len(test) / (time.perf_counter() - began))
    print(f"{'recipe':14} {'s/step':>8} {'sentences/s':>12} {'decoder parameters':>19}")
    result = {}
    for name, (_, module) in recipes.items():
        step = statistics.median(timings[name]["step"])
        speed = statistics.median(timings[name]["translate"])
        params = sum(p.numel() for n, p in module.named_parameters() if not n.startswith("encoder."))
        result[name] = {"seconds_per_step": round(step, 4), "sentences_per_second": round(speed, 1)}
        result[name] |= {"decoder_parameters": params, "rounds": timings[name]}
        print(f"{name:14} {step:8.3f} {speed:12.1f} {params:19,}")
    ratio = result["transformers"]["seconds_per_step"] / result["hand-written"]["seconds_per_step"]
    print(f"transformers / hand-written, seconds per step: {ratio:.2f} (median of {args.rounds} rounds)")
    encoder_bytes = 2 * sum(p.numel() for p in encoder.model.parameters())
    print(
        f"on disk: the encoder shard {encoder_bytes / 1e6:.0f} MB (float16, once per folder, hard-linked between "
        f"sibling folders), the decoder shard {4 * result['transformers']['decoder_parameters'] / 1e6:.0f} MB (float32)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result | {"ratio": round(ratio, 3), "cpu": cpu()}, indent=2))


def _loss(translator, pairs):
    """The hand-written decoder has no `loss` of its own any more (it only translates): the same loss as the new."""
    from curation.finetune.e5_decoder import E5Translator
    from curation.finetune.legacy import LegacyTranslator

    if isinstance(translator, LegacyTranslator):
        from torch.nn import functional as F

        from curation.finetune.e5_decoder import PAD, padded, padded_ids

        states = translator.encoder.states([p.source for p in pairs], translator.settings.max_length)
        memory, mask = padded(states)
        y = padded_ids(E5Translator.target_ids(translator, [p.target for p in pairs]))
        logits = translator.decoder(memory, mask, y[:, :-1])
        gold = y[:, 1:].reshape(-1)
        total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), gold, ignore_index=PAD, label_smoothing=0.1,
                                reduction="sum")  # fmt: skip
        return total, int((gold != PAD).sum())
    return translator.loss(pairs)


if __name__ == "__main__":
    main()

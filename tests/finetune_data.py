"""What the translator tests train on: the travel phrases with numbered suffixes (no two sources equal), a test set
that shares no source with them, and a config small enough to train in seconds with the tiny encoder."""

from __future__ import annotations

from pathlib import Path

from tiny_model import GOOD

from curation.files import write_tsv

SMALL = dict(encoder_layers=2, steps=12, batch_size=8, vocab_size=120, d_model=32, decoder_layers=1, heads=2)
SMALL |= dict(eval_every=6, validation=0.2, warmup=2, device="cpu", threads=1)


def write_files(folder: Path) -> Path:
    """train.tsv (320 pairs) and test.tsv (32 pairs) in `folder`."""
    train = [(f"{s} ({i})", f"{t} ({i})") for i in range(20) for s, t in GOOD]
    test = [(f"{s} [{i}]", f"{t} [{i}]") for i in range(2) for s, t in GOOD]
    write_tsv(folder / "train.tsv", ["source", "target"], train)
    write_tsv(folder / "test.tsv", ["source", "target"], test)
    return folder


def _config(folder: Path, tiny_model: Path) -> str:
    """config.yaml in `folder`: SMALL over the tiny encoder."""
    text = "finetune:\n" + "".join(f"  {k}: {v}\n" for k, v in (SMALL | {"encoder": str(tiny_model)}).items())
    (folder / "config.yaml").write_text(text, encoding="utf-8")
    return str(folder / "config.yaml")

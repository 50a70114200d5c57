"""A tiny sentence-transformers model built in code (random 2-layer BERT, character vocabulary): no download,
loads in milliseconds, exercises every code path of the real encoder."""

from __future__ import annotations

from pathlib import Path

# everyday travel phrases written for the tests: good translations, and untranslated copies as easy bad ones
GOOD = [
    ("Where is the train station?", "¿Dónde está la estación de tren?"),
    ("I would like a coffee with milk.", "Quisiera un café con leche."),
    ("The museum opens at nine.", "El museo abre a las nueve."),
    ("How much does this ticket cost?", "¿Cuánto cuesta este billete?"),
    ("We need a room for two nights.", "Necesitamos una habitación para dos noches."),
    ("Is breakfast included?", "¿Está incluido el desayuno?"),
    ("The bus leaves from the main square.", "El autobús sale de la plaza mayor."),
    ("Can you recommend a good restaurant?", "¿Puede recomendarme un buen restaurante?"),
    ("My suitcase has not arrived.", "Mi maleta no ha llegado."),
    ("Please call a doctor.", "Por favor, llame a un médico."),
    ("The beach is very close to the hotel.", "La playa está muy cerca del hotel."),
    ("I lost my passport yesterday.", "Ayer perdí mi pasaporte."),
    ("Do you accept credit cards?", "¿Aceptan tarjetas de crédito?"),
    ("The flight was delayed by two hours.", "El vuelo se retrasó dos horas."),
    ("Turn left at the next corner.", "Gire a la izquierda en la próxima esquina."),
    ("We want to rent a car for a week.", "Queremos alquilar un coche para una semana."),
]
COPIES = [(s, s) for s, _ in GOOD]

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

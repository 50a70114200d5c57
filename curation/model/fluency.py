"""Does the Spanish read as Spanish? Target-side features from a morphological dictionary and word frequencies.

- `slips`: agreement and verb-form slips that the dictionary's readings prove, whatever the context: a
  determiner that agrees with no reading of the next noun or adjective ("este área", "los casa"), a noun
  followed by an adjective of another gender or number ("la casa blancos"), `estar`/`haber` + infinitive
  ("están jugar"). Feminine nouns in stressed a- take `el`/`un` ("el área", "un agua") and are not slips.
- `unknown_target`: share of words Apertium's Spanish dictionary does not know (misspellings, English).
- `zipf_mean`, `rare_words`, `english_words`: wordfreq's Spanish frequencies (Zipf scale) of the target's words:
  unnatural or garbled Spanish uses rare words; untranslated words are commoner in English than in Spanish.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from curation.model import apertium
from curation.model.apertium import Token

WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")  # a word of letters, with inner hyphens or apostrophes

NAMES = ("slips", "unknown_target", "zipf_mean", "rare_words", "english_words")


_STRESSED_A_OK = {"el", "un", "algún", "ningún"}


_GENDER, _NUMBER = ("m", "f", "mf", "nt"), ("sg", "pl", "sp")


def features(targets: Sequence[str]) -> np.ndarray:
    """Rows in input order, columns `NAMES`."""
    out = np.zeros((len(targets), len(NAMES)), dtype=np.float32)
    for i, (text, tokens) in enumerate(zip(targets, apertium.analyse(targets, "es"), strict=True)):
        words = [t for t in tokens if not t.punctuation]
        out[i, 0] = slips(tokens)
        out[i, 1] = sum(t.readings is None for t in words) / max(len(words), 1)
        out[i, 2:] = frequencies(text)
    return out


def _features(tags: tuple[str, ...]) -> tuple[str, str]:
    gender = next((t for t in tags if t in _GENDER), "mf")
    number = next((t for t in tags if t in _NUMBER), "sp")
    return gender, number


def _agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    (ga, na), (gb, nb) = _features(a), _features(b)
    return (ga == gb or "mf" in (ga, gb) or "nt" in (ga, gb)) and (na == nb or "sp" in (na, nb))


def slips(tokens: Sequence[Token]) -> int:
    """Agreement and verb-form slips between neighbouring words (see the module docstring)."""
    count = 0
    for left, right in zip(tokens, tokens[1:], strict=False):
        if left.readings is None or right.readings is None:
            continue
        dets = left.has("det")
        nominal = right.has("n") + right.has("adj")
        if dets and nominal and not any(_agree(d, n) for d in dets for n in nominal):
            stressed_a = left.surface.lower() in _STRESSED_A_OK and right.surface.lower()[:1] in "aáh"
            count += not (stressed_a and all(_features(n)[0] == "f" for n in nominal))
        nouns, adjectives = left.has("n"), right.has("adj")
        if nouns and not dets and adjectives and not any(_agree(a, b) for a in nouns for b in nominal):
            count += 1
        auxiliary = any(
            lemma in ("estar", "haber") and not {"inf", "ger", "pp"} & set(tags) for lemma, tags in left.readings
        )
        if auxiliary and left.surface.lower() != "hay" and all("inf" in tags for _, tags in right.readings):
            count += 1
    return count


def frequencies(text: str) -> list[float]:
    """Mean Zipf frequency in Spanish, share of rare words (Zipf < 1.5), share more frequent in English."""
    from wordfreq import zipf_frequency

    words = [w.lower() for w in WORD.findall(text)]
    if not words:
        return [0.0, 0.0, 0.0]
    es = [zipf_frequency(w, "es") for w in words]
    en = [zipf_frequency(w, "en") for w in words]
    return [
        float(np.mean(es)),
        float(np.mean([z < 1.5 for z in es])),
        float(np.mean([e > s + 1 for s, e in zip(es, en, strict=True)])),
    ]

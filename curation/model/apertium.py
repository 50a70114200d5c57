"""Apertium's English–Spanish data (Debian's `apertium-eng-spa`), run in batches: morphological analysis of
either side and Spanish→English translation. Rule-based and local: no weights, no network.

One process per call over the whole batch (one text per line), so the cost is a few milliseconds per pair.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from curation.errors import ApertiumError

DATA = Path("/usr/share/apertium/apertium-eng-spa")


ANALYSERS = {"en": "eng-spa.automorf.bin", "es": "spa-eng.automorf.bin"}


INSTALL = "install it with: apt-get install apertium-eng-spa"


_RESERVED = re.compile(r"([\^$@/<>{}\[\]\\])")  # lttoolbox's stream syntax


UNIT = re.compile(r"\^(.*?)\$")


TAG = re.compile(r"<([^>]+)>")


_SENTENCE_END = set(".!?…")


@dataclass(frozen=True)
class Token:
    surface: str
    readings: tuple[tuple[str, tuple[str, ...]], ...] | None  # (lemma, tags) per reading; None: unknown word

    def has(self, pos: str) -> list[tuple[str, ...]]:
        """Tag lists of the readings whose part of speech is `pos` (n, adj, det, vblex, ...)."""
        return [tags for _, tags in self.readings or () if tags and tags[0] == pos]

    @property
    def punctuation(self) -> bool:
        return bool(self.readings) and all(tags and tags[0] in PUNCTUATION for _, tags in self.readings)


PUNCTUATION = {"sent", "cm", "lquest", "lpar", "rpar", "guio", "apos", "lquot", "rquot", "percent"}


@functools.cache
def version() -> str:
    """The installed package's version (recorded in each model's metadata)."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "apertium-eng-spa"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(command: list[str], texts: Sequence[str], escape: bool) -> list[str]:
    """`command`'s output line for each text, fed one text per line (a pipeline of Apertium's programs runs as
    `["sh", "-c", "a | b"]`); `escape` protects lttoolbox's stream syntax for the analysers."""
    if shutil.which(command[0]) is None:
        raise ApertiumError(f"{command[0]} is not installed: the learned filter reads Spanish with Apertium; {INSTALL}")
    lines = [" ".join(t.split()) for t in texts]  # one text per line, whatever whitespace it held
    if escape:
        lines = [_RESERVED.sub(r"\\\1", t) for t in lines]
    try:
        out = subprocess.run(command, input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as e:
        raise ApertiumError(f"{' '.join(command)} failed ({e.stderr.strip()[:200]}); {INSTALL}") from None
    result = out.stdout.split("\n")[: len(texts)]
    if len(result) != len(texts):
        raise ApertiumError(f"{' '.join(command)} returned {len(result)} lines for {len(texts)} texts")
    return result


def analyse(texts: Sequence[str], lang: str) -> list[list[Token]]:
    """Every reading of every word of each text (`lang`: en or es), from Apertium's morphological dictionary."""
    if not texts:
        return []
    path = DATA / ANALYSERS[lang]
    if not path.exists():
        raise ApertiumError(f"{path} is missing: {INSTALL}")
    return [_parse(line) for line in run(["lt-proc", "-w", str(path)], texts, escape=True)]


def _parse(line: str) -> list[Token]:
    tokens = []
    for unit in UNIT.findall(line):
        surface, *analyses = unit.split("/")
        if not analyses or analyses[0].startswith("*"):
            tokens.append(Token(surface.replace("\\", ""), None))
            continue
        readings = tuple((a.split("<", 1)[0], tuple(TAG.findall(a))) for a in analyses)
        tokens.append(Token(surface.replace("\\", ""), readings))
    return tokens


def to_english(texts: Sequence[str]) -> list[str]:
    """Apertium's Spanish→English translation of each text; words it does not know keep a leading `*`."""
    return _translate(texts, ["apertium", "-f", "line", "spa-eng"])


def to_spanish(texts: Sequence[str]) -> list[str]:
    """Apertium's English→Spanish translation of each text, unknown words left as they are (`-u`): the literal
    machine translation a crawl is full of (the curated-vs-raw benchmark's `literal` noise)."""
    out = [e.strip() for e in _translate(texts, ["apertium", "-u", "-f", "line", "eng-spa"])]
    # the line format loses a sentence's closing period: give it back where the English had one
    return [e + "." if t.rstrip().endswith(".") and not e.endswith(".") else e for t, e in zip(texts, out, strict=True)]


def _translate(texts: Sequence[str], command: list[str]) -> list[str]:
    """Apertium's tagger reads across lines until a sentence ends, so a text without final punctuation would be
    translated differently after different neighbours: each such text gets a closing period (removed from the
    translation), which makes every text's translation the same in any batch."""
    if not texts:
        return []
    closed = [t.rstrip()[-1:] in _SENTENCE_END for t in texts]
    lines = [t if c else f"{t} ." for t, c in zip(texts, closed, strict=True)]
    out = run(command, lines, escape=False)
    return [e if c else e.rstrip().removesuffix(".").rstrip() for e, c in zip(out, closed, strict=True)]

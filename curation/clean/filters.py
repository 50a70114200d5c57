"""Heuristic filters for translation pairs: each a small named unit that measures a pair and decides.

As in OpusFilter, `measure` and `accept` are separate so the raw measurement can travel on (as Argilla metadata)
and a curator can re-tune thresholds. `accept` returns None to keep a pair, or the reason it is dropped.
Filters are chosen and tuned by name from the config: `filters: [{length_ratio: {max_ratio: 3}}, ...]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from curation.clean import toxicity
from curation.errors import ConfigError
from curation.pair import Pair, normalise

REGISTRY: dict[str, type[PairFilter]] = {}


def register(cls: type[PairFilter]) -> type[PairFilter]:
    REGISTRY[cls.name] = cls
    return cls


class PairFilter:
    name: ClassVar[str]

    def measure(self, pair: Pair) -> float | str:
        raise NotImplementedError

    def accept(self, value: float | str) -> str | None:
        raise NotImplementedError

    def label(self, value: float | str) -> str | None:
        """The class a measurement falls in, counted in the filter table (None: this filter counts no classes)."""
        return None


def build(name: str, params: dict[str, Any] | None = None) -> PairFilter:
    """A filter from its config entry; unknown names and parameters are errors that list what exists."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown filter {name!r} in the config: choose from {', '.join(sorted(REGISTRY))}")
    cls = REGISTRY[name]
    allowed = {f.name for f in fields(cls)}
    unknown = set(params or {}) - allowed
    if unknown:
        raise ConfigError(
            f"filter {name!r} has no parameter {', '.join(sorted(unknown))}: it takes {', '.join(sorted(allowed))}"
        )
    defaults = {f.name: f.default for f in fields(cls)}
    for key, value in (params or {}).items():
        allowed = _allowed(defaults[key], value)
        if allowed:
            raise ConfigError(f"filter {name!r}: {key} must be {allowed}, not {value!r}")
    return cls(**(params or {}))


def _allowed(default, value) -> str | None:
    """What a parameter may be, judged by its default's type; None when `value` is allowed."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(default, int):
        return None if number and isinstance(value, int) and value >= 0 else "a whole number of at least 0"
    if isinstance(default, float):
        return None if number and value >= 0 else "a number of at least 0"
    if isinstance(default, str):
        return None if isinstance(value, str) and value.strip() else "a non-empty text"
    if isinstance(default, tuple):
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        return None if ok else "a list of texts"
    return None


@register
@dataclass
class Empty(PairFilter):
    """A side that is empty or only whitespace."""

    name: ClassVar[str] = "empty"

    def measure(self, pair: Pair) -> float:
        return float(min(len(pair.source.strip()), len(pair.target.strip())))

    def accept(self, value: float) -> str | None:
        return "empty side" if value == 0 else None


@register
@dataclass
class Length(PairFilter):
    """Length bounds in characters, on the longer side (huge strings go here)."""

    name: ClassVar[str] = "length"
    min_chars: int = 2
    max_chars: int = 1000

    def __post_init__(self):
        if self.min_chars > self.max_chars:
            raise ConfigError(
                f"filter 'length': min_chars ({self.min_chars}) is above max_chars ({self.max_chars}), so every pair "
                "would be dropped: lower min_chars or raise max_chars"
            )

    def measure(self, pair: Pair) -> float:
        return float(max(len(pair.source), len(pair.target)))

    def accept(self, value: float) -> str | None:
        if value > self.max_chars:
            return f"too long (> {self.max_chars} chars)"
        if value < self.min_chars:
            return f"too short (< {self.min_chars} chars)"
        return None


@register
@dataclass
class LengthRatio(PairFilter):
    """Longer side over shorter side, in characters: truncations and misalignments stand out."""

    name: ClassVar[str] = "length_ratio"
    max_ratio: float = 2.5
    min_chars: int = 10  # below this on both sides, ratios are noise

    def measure(self, pair: Pair) -> float:
        a, b = len(pair.source.strip()), len(pair.target.strip())
        if max(a, b) < self.min_chars:
            return 1.0
        return max(a, b) / max(1, min(a, b))

    def accept(self, value: float) -> str | None:
        return f"length ratio above {self.max_ratio}" if value > self.max_ratio else None


_PUNCTUATION = " .,;:!?¡¿'\"()-–—%€$£/&@#+=*"


# letters, digits, spaces and common punctuation of the Latin scripts, deleted in one C pass
_ORDINARY = {
    c: None for c in range(0x250) if (chr(c).isalnum() and chr(c) != "_") or chr(c).isspace() or chr(c) in _PUNCTUATION
}


_ORDINARY.update({ord(ch): None for ch in _PUNCTUATION})


def special_share(text: str) -> float:
    """Share of characters that are not letters, digits, spaces or common punctuation."""
    if not text:
        return 0.0
    rest = text.translate(_ORDINARY)  # usually empty: only the unusual characters remain
    special = sum(1 for ch in rest if not (ch.isalnum() and ch != "_") and not ch.isspace()) if rest else 0
    return special / len(text)


@register
@dataclass
class SpecialChars(PairFilter):
    """Share of characters that are neither letters, digits, spaces nor common punctuation (worse side)."""

    name: ClassVar[str] = "special_chars"
    max_share: float = 0.2

    def measure(self, pair: Pair) -> float:
        return round(max(special_share(pair.source), special_share(pair.target)), 4)

    def accept(self, value: float) -> str | None:
        return f"special characters above {self.max_share:.0%}" if value > self.max_share else None


def repeated_share(text: str, n: int) -> float:
    """Share of word n-grams that repeat an earlier one (words are split on spaces, case-folded)."""
    words = text.lower().split()
    count = len(words) - n + 1
    if count < 3:
        return 0.0
    if n == 2:
        grams = zip(words, words[1:])  # noqa: B905  (the second is one shorter by design)
    else:
        grams = zip(*(words[i:] for i in range(n)), strict=False) if n > 1 else iter(words)
    return 1 - len(set(grams)) / count


@register
@dataclass
class RepeatedNgrams(PairFilter):
    """Share of repeated word n-grams (worse side): stuttering MT output and scraped boilerplate."""

    name: ClassVar[str] = "repeated_ngrams"
    n: int = 2
    max_share: float = 0.3

    def measure(self, pair: Pair) -> float:
        return round(max(repeated_share(pair.source, self.n), repeated_share(pair.target, self.n)), 4)

    def accept(self, value: float) -> str | None:
        return f"repeated {self.n}-grams above {self.max_share:.0%}" if value > self.max_share else None


_MARKUP = re.compile(
    r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>|&(?:[a-zA-Z]{2,8}|#\d{2,5}|#x[0-9a-fA-F]{2,4});|\{\{|\}\}|\[\[|\]\]"
)


@register
@dataclass
class Markup(PairFilter):
    """HTML or wiki leftovers: tags, entities, {{templates}}, [[links]]."""

    name: ClassVar[str] = "markup"
    max_count: int = 0

    def measure(self, pair: Pair) -> float:
        return float(
            sum(
                len(_MARKUP.findall(_PLACEHOLDER.sub("", t)))
                for t in (pair.source, pair.target)
                if _MAYBE_MARKUP.search(t)
            )
        )

    def accept(self, value: float) -> str | None:
        return "markup" if value > self.max_count else None


_MAYBE_MARKUP = re.compile(r"[<&{}\[\]]")  # cheap test before the full pattern


# what PII masking leaves (`[PHONE]`; `<PHONE>` before placeholders were made visible in the UI): not markup
_PLACEHOLDER = re.compile(r"<(?:EMAIL|PHONE|CARD|IBAN|IP)>|\[(?:EMAIL|PHONE|CARD|IBAN|IP)\]")


_URL_HINTS = ("://", "www.", ".com", ".org", ".net", ".es", ".io", ".htm")


def _maybe_url(text: str) -> bool:
    """A cheap test before the full pattern."""
    lower = text.lower()
    return any(hint in lower for hint in _URL_HINTS)


_URL = re.compile(r"\b(?:https?://|www\.)\S+|\b[\w.-]+\.(?:com|org|net|es|io|html?)\b(?:/\S*)?", re.IGNORECASE)


@register
@dataclass
class Urls(PairFilter):
    """URLs in either side: web boilerplate rather than sentences to learn from."""

    name: ClassVar[str] = "urls"
    max_count: int = 0

    def measure(self, pair: Pair) -> float:
        return float(sum(len(_URL.findall(t)) for t in (pair.source, pair.target) if _maybe_url(t)))

    def accept(self, value: float) -> str | None:
        return "URL" if value > self.max_count else None


@register
@dataclass
class Identical(PairFilter):
    """The target is the source (an untranslated copy), after normalisation."""

    name: ClassVar[str] = "identical"

    def measure(self, pair: Pair) -> float:
        if len(pair.source.split()) != len(pair.target.split()):  # normalising never changes the word count
            return 0.0
        return 1.0 if normalise(pair.source) == normalise(pair.target) else 0.0

    def accept(self, value: float) -> str | None:
        return "target identical to source" if value == 1.0 else None


_DIGIT = re.compile(r"\d")


_SEPARATORS = str.maketrans("", "", ".,\u00a0 \t")


_NUMBER = re.compile(r"\d+(?:[.,\s]\d{3})*(?:[.,]\d+)?")


def numbers_in(text: str) -> list[str]:
    """Numbers with their separators removed: 1,000 and 1.000 and 1 000 are all 1000; 2.5 and 2,5 are 25."""
    return [m.translate(_SEPARATORS) for m in _NUMBER.findall(text)]


@register
@dataclass
class Numbers(PairFilter):
    """Numbers in the source missing from the target (dates, prices, times, quantities)."""

    name: ClassVar[str] = "numbers"
    max_missing: int = 0

    def measure(self, pair: Pair) -> float:
        if not _DIGIT.search(pair.source):
            return 0.0
        target = numbers_in(pair.target)
        missing = 0
        for number in numbers_in(pair.source):
            if number in target:
                target.remove(number)
            else:
                missing += 1
        return float(missing)

    def accept(self, value: float) -> str | None:
        return "number missing from the target" if value > self.max_missing else None


@register
@dataclass
class Language(PairFilter):
    """Language of each side (langid.py, via py3langid): source English, target Spanish.

    Catches untranslated and wrong-language targets. Identification chooses among `candidates` (the languages
    a wrong side is likely to be in: restricting the model makes it faster and far more accurate on Spanish
    than an open choice, which often says Galician). Texts with fewer than `min_chars` letters are not judged.
    A side whose expected language scores within `margin` (log-probability) of the top one is taken as expected:
    short Spanish ("Buscamos un camping tranquilo.": Galician by 0.15) was dropped as a neighbour language,
    while real Galician, Portuguese or Catalan sentences are ahead by 10 and more.
    """

    name: ClassVar[str] = "language"
    source_lang: str = "en"
    target_lang: str = "es"
    candidates: tuple[str, ...] = ("en", "es", "pt", "gl", "ca", "fr", "it", "de")
    min_chars: int = 12
    margin: float = 3.0

    def __post_init__(self):
        from py3langid.langid import _load_identifier

        self.candidates = tuple(dict.fromkeys((self.source_lang, self.target_lang, *self.candidates)))
        self._identifier = _load_identifier(langs=list(self.candidates))

    def measure(self, pair: Pair) -> str:
        return f"{self.identify(pair.source, self.source_lang)}>{self.identify(pair.target, self.target_lang)}"

    def accept(self, value: str) -> str | None:
        source, target = value.split(">")
        if source not in ("?", self.source_lang):
            return f"source is not {self.source_lang} ({source})"
        if target not in ("?", self.target_lang):
            return f"target is not {self.target_lang} ({target})"
        return None

    def identify(self, text: str, expected: str | None = None) -> str:
        """An ISO 639-1 code among the candidates, or '?' for text too short to judge; `expected` when it scores
        within `margin` of the top language."""
        if sum(ch.isalpha() for ch in text) < self.min_chars:
            return "?"
        ranked = self._identifier.rank(text)
        top, best = ranked[0]
        if expected is not None and top != expected:
            score = next((s for lang, s in ranked if lang == expected), None)
            if score is not None and best - score < self.margin:
                return expected
        return top


@register
@dataclass
class Toxicity(PairFilter):
    """Offensive words on each side, each language's list on its own side (`curation.clean.toxicity`), and the
    class of the pair: `added` (the target has more than `max_difference` matches beyond the source's),
    `removed`, `balanced`, `none`. The classes in `drop` are dropped; the others travel on as metadata
    (`toxicity`), so annotators see them flagged. `lists`/`allow`: {language: FILE} in the Toxicity-200 format,
    beside the built-in lists (or instead of them, with `builtin: false`)."""

    name: ClassVar[str] = "toxicity"
    source_lang: str = "en"
    target_lang: str = "es"
    max_difference: int = 0
    drop: tuple[str, ...] = ("added",)
    builtin: bool = True
    lists: dict[str, str] = field(default_factory=dict)
    allow: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        where = "filter 'toxicity'"
        unknown = [c for c in self.drop if c not in toxicity.CLASSES]
        if unknown:
            raise ConfigError(f"{where}: drop takes classes among {', '.join(toxicity.CLASSES)}, not {unknown[0]!r}")
        self.drop = tuple(self.drop)
        for key in ("lists", "allow"):
            files = getattr(self, key)
            if not isinstance(files, dict) or not all(isinstance(v, str) and v for v in files.values()):
                raise ConfigError(f"{where}: {key} must map a language to a file, e.g. {{es: spa_Latn_twl.txt}}")
        for lang in (self.source_lang, self.target_lang):
            if not self.lists.get(lang) and not (self.builtin and toxicity.has_builtin(lang)):
                raise ConfigError(
                    f"{where}: no toxicity list for language {lang!r}"
                    + (" (builtin: false)" if not self.builtin else " among the built-in ones")
                    + f": give one with lists: {{{lang}: FILE}} (one word or phrase per line)"
                )
        source, target = (
            toxicity.build_list(lang, self.builtin, self.lists.get(lang), self.allow.get(lang))
            for lang in (self.source_lang, self.target_lang)
        )
        senses = toxicity.read_senses(self.source_lang, self.target_lang)
        self._classify = toxicity.Classifier(source, target, self.max_difference, senses)

    def measure(self, pair: Pair) -> str:
        verdict = self._classify(pair.source, pair.target)
        if verdict is not toxicity.NONE:
            pair.extra["toxicity"] = verdict
        elif "toxicity" in pair.extra:
            del pair.extra["toxicity"]
        return verdict.kind

    def accept(self, value: str) -> str | None:
        return f"{value} toxicity" if value in self.drop else None

    def label(self, value: str) -> str:
        return value


@dataclass
class FilterCounts:
    seen: int = 0
    kept: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)  # per class, for filters that classify (toxicity)
    dropped_classes: dict[str, int] = field(default_factory=dict)  # the pairs of each class this filter dropped

    @property
    def dropped(self) -> int:
        return self.seen - self.kept

    def add(self, other: FilterCounts) -> None:
        """Count `other`'s decisions in with these (a chunk's, from a worker process)."""
        self.seen += other.seen
        self.kept += other.kept
        for mine, theirs in (
            (self.reasons, other.reasons),
            (self.classes, other.classes),
            (self.dropped_classes, other.dropped_classes),
        ):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n


def apply(filters: Iterable[PairFilter], pair: Pair, counts: dict[str, FilterCounts]) -> str | None:
    """Run the filters in order, recording each measurement on the pair; the first rejection stops the run.

    Returns None when the pair is kept, else "filter: reason".
    """
    measures = pair.measures
    for f in filters:
        name = f.name
        value = measures[name] = f.measure(pair)
        c = counts.get(name)
        if c is None:
            c = counts[name] = FilterCounts()
        c.seen += 1
        label = f.label(value)
        if label is not None:
            c.classes[label] = c.classes.get(label, 0) + 1
        reason = f.accept(value)
        if reason is not None:
            c.reasons[reason] = c.reasons.get(reason, 0) + 1
            if label is not None:
                c.dropped_classes[label] = c.dropped_classes.get(label, 0) + 1
            return f"{name}: {reason}"
        c.kept += 1
    return None

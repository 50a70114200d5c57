"""Toxicity on each side of a pair: whole-word matches of per-language lists, and what the difference means.

As in NLLB's filter (stopes, Toxicity-200): each side is matched against its own language's list only, and the
classes compare the two counts: `added` (the target says something offensive the source does not: a translator
trained on it learns to insult), `removed` (the source's offence translated away: a meaning error), `balanced`
(both sides, as many), `none`.

The built-in lists are glin-profanity's (the LDNOOBW lists, MIT) plus our own (`wordlists/{en,es}.txt`: insults,
slurs, sexual and violent terms in use in Spain and Latin America, threats). Two kinds of exceptions:

- an allowlist per language (`wordlists/allow.{en,es}.txt`, and the user's): a single word there is never counted
  from any list ("negro" the colour, "concha" the shell, "coger" el tren, "asesinato" in the news, "sexo" on a
  form); a phrase there is skipped where it occurs ("culo de la botella", "Moby Dick");
- senses (`wordlists/senses.tsv`): an entry is not counted when the other side holds its neutral translation
  ("zorra" where the source says "fox", "cock" where the target says "gallo").

A user list (`lists: {es: FILE}`) is a Toxicity-200 file: UTF-8, one word or phrase per line, `#` comments.
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from curation.errors import ConfigError

CLASSES = ("none", "balanced", "added", "removed")


WORDLISTS = Path(__file__).parent / "wordlists"


# glin-profanity's files by ISO 639-1 code (the languages it has)
PACKAGE_FILES = {
    "ar": "arabic",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "en": "english",
    "eo": "esperanto",
    "es": "spanish",
    "fa": "persian",
    "fi": "finnish",
    "fr": "french",
    "hi": "hindi",
    "hu": "hungarian",
    "it": "italian",
    "ja": "japanese",
    "ko": "korean",
    "nl": "dutch",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ru": "russian",
    "sv": "swedish",
    "th": "thai",
    "tr": "turkish",
    "zh": "chinese",
}


def _accent_table() -> dict[int, str]:
    """Accented Latin letters to their base letters, except "ñ" (a letter of its own: "coño" is not "cono")."""
    table: dict[int, str] = {}
    for code in range(0x00C0, 0x0250):
        ch = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if ch not in "ñÑ" and base != ch and base.isalpha():
            table[code] = base.casefold()
    return table


_ACCENTS = _accent_table()


_WORD = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """The words of a text, case-folded and accents removed ("Cabrón" and "cabron" are one word): what lists are
    matched against, whole words only. (Per word, and only for words with a non-ASCII letter: the filter runs on
    every pair of a corpus.)"""
    words = _WORD.findall(text.casefold())
    if text.isascii():
        return words
    return [w if w.isascii() else w.translate(_ACCENTS) for w in words]


# an entry of words, spaces, hyphens and apostrophes: "a$$" or "sh!t" would match "a" or "sh", so they are skipped
_PLAIN = re.compile(r"[\w' -]+")


@dataclass(frozen=True)
class Side:
    """One side's matches: the entries found, in order (an entry found twice is listed twice)."""

    matches: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.matches)


@dataclass(frozen=True)
class Verdict:
    """A pair's toxicity: its class and what matched on each side (the audit trail of `dropped.jsonl`)."""

    kind: str
    source: Side
    target: Side

    def to_dict(self) -> dict:
        return {"class": self.kind, "source": list(self.source.matches), "target": list(self.target.matches)}


NONE = Verdict("none", Side(), Side())


class WordList:
    """Entries (words or phrases, folded to token tuples) and the allowlisted phrases of one language."""

    def __init__(self, entries: Iterable[str], allow: Iterable[str] = (), lang: str | None = None):
        allowed = {tuple(tokens(a)) for a in allow} - {()}
        self.allow_words = {a[0] for a in allowed if len(a) == 1}
        self.allow_phrases = _by_first(a for a in allowed if len(a) > 1)
        usable = {tuple(tokens(x)) for x in entries if _PLAIN.fullmatch(x.casefold().strip())} - {()}
        self.entries = _by_first(e for e in usable if not self._never(e))
        self.first = frozenset(self.entries)
        # every entry's rarest word ("matar" of "te voy a matar") in the spellings a text may give it, as UTF-8, and
        # for a phrase its second rarest too: a text without them holds no entry, and is known to without being
        # tokenized (`quick_words`)
        ranked = _by_rarity(lang)
        needs: dict[bytes, list[frozenset[bytes]] | None] = {}
        for entry in self.all_entries():
            rare = ranked(entry)
            second = frozenset(v.encode() for v in _spellings(rare[1])) if len(rare) > 1 else None
            for v in _spellings(rare[0]):
                key = v.encode()
                if second is None or needs.get(key, []) is None:
                    needs[key] = None  # a one-word entry: the word alone is a hit
                else:
                    needs.setdefault(key, []).append(second)
        self.needs = needs
        self.keys = frozenset(needs)

    def all_entries(self) -> Iterable[tuple[str, ...]]:
        return (e for group in self.entries.values() for e in group)

    def may_match(self, raw: list[bytes]) -> bool:
        """Whether a text whose `quick_words` are `raw` can hold an entry (False: it holds none)."""
        hits = self.keys.intersection(raw)
        if not hits:
            return False
        for key in hits:
            seconds = self.needs[key]
            if seconds is None or any(not second.isdisjoint(raw) for second in seconds):
                return True
        return False

    def _never(self, entry: tuple[str, ...]) -> bool:
        return len(entry) == 1 and entry[0] in self.allow_words

    def find(self, words: list[str]) -> tuple[str, ...]:
        """The entries in `words`, longest first at each position, never overlapping, allowlisted phrases skipped."""
        if self.first.isdisjoint(words):
            return ()
        masked = list(words)
        for i, word in enumerate(words):
            for phrase in self.allow_phrases.get(word, ()):
                if tuple(words[i : i + len(phrase)]) == phrase:
                    masked[i : i + len(phrase)] = [""] * len(phrase)
        found, i = [], 0
        while i < len(masked):
            hit = next((e for e in self.entries.get(masked[i], ()) if tuple(masked[i : i + len(e)]) == e), None)
            if hit is None:
                i += 1
                continue
            found.append(" ".join(hit))
            i += len(hit)
        return tuple(found)


def _by_rarity(lang: str | None):
    """An entry's words, the rarest in ordinary text first (wordfreq's frequency in `lang`; without it, the longest
    first): a text must have them for the entry to be there."""
    if len(lang or "") == 2:
        from wordfreq import available_languages, zipf_frequency

        if lang in available_languages():
            return lambda entry: sorted(set(entry), key=lambda w: (zipf_frequency(w, lang), -len(w), w))
    return lambda entry: sorted(set(entry), key=lambda w: (-len(w), w))


_ACCENTED = {"a": "áàâä", "e": "éèêë", "i": "íìîï", "o": "óòôö", "u": "úùûü", "c": "ç"}


def _spellings(word: str) -> set[str]:
    """A folded word as a text may write it: as is, or with one letter accented (Spanish writes at most one)."""
    out = {word}
    for i, ch in enumerate(word):
        out.update(word[:i] + accented + word[i + 1 :] for accented in _ACCENTED.get(ch, ""))
    return out


# ASCII punctuation and symbols (as \w+ splits: "_" is a word character) become spaces in one bytes.translate
_QUICK = bytes(32 if not (chr(i).isalnum() or chr(i) == "_") and i < 128 else i for i in range(256))


_WIDE_PUNCTUATION = "¿¡«»“”’—…"  # the common ones; a rarer symbol glued to a listed word hides it


def quick_words(text: str) -> list[bytes]:
    """The words of a text as `tokens` splits them, case-folded but with their accents, as UTF-8: a cheap first
    look (3-4 µs a pair where `tokens` takes 10) that decides for almost every pair that no list word is there."""
    text = text.casefold()
    if not text.isascii():
        for ch in _WIDE_PUNCTUATION:
            if ch in text:
                text = text.replace(ch, " ")
    return text.encode().translate(_QUICK).split()


def _by_first(entries: Iterable[tuple[str, ...]]) -> dict[str, list[tuple[str, ...]]]:
    """Entries keyed by their first word, the longest first (so a phrase wins over its first word)."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for entry in entries:
        out.setdefault(entry[0], []).append(entry)
    for group in out.values():
        group.sort(key=lambda e: (-len(e), e))
    return out


def read_list(path: str | Path, what: str = "toxicity list") -> list[str]:
    """A Toxicity-200 style file: one entry per line, blank lines and `#` comments skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist: give a UTF-8 file with one word or phrase per line") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} {path} is not UTF-8 text: convert it (e.g. iconv -t UTF-8)") from None
    except OSError as e:
        raise ConfigError(f"{what} {path} cannot be read ({e.strerror or e})") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@cache
def package_entries(lang: str) -> tuple[str, ...]:
    """glin-profanity's list for `lang` (empty when it has none), read as data: the package is found, never imported."""
    name = PACKAGE_FILES.get(lang)
    if name is None:
        return ()
    spec = importlib.util.find_spec("glin_profanity")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the toxicity filter's built-in lists come from glin-profanity, which is not installed: "
            "pip install glin-profanity (or set builtin: false and give lists: {LANG: FILE})"
        )
    path = Path(spec.submodule_search_locations[0], "data", "dictionaries", f"{name}.json")
    return tuple(json.loads(path.read_text(encoding="utf-8")).get("words") or ())


def _ours(name: str) -> list[str]:
    path = WORDLISTS / name
    return read_list(path) if path.exists() else []


def builtin_entries(lang: str) -> list[str]:
    """The built-in list of a language: the package's and ours (what the allowlist names is taken out later)."""
    return list(package_entries(lang)) + _ours(f"{lang}.txt")


def has_builtin(lang: str) -> bool:
    return bool(package_entries(lang)) or (WORDLISTS / f"{lang}.txt").exists()


def build_list(lang: str, builtin: bool, user: str | None, allow: str | None) -> WordList:
    """One language's list: built-in and/or the user's file, with the built-in allowlist and the user's."""
    entries = builtin_entries(lang) if builtin else []
    if user:
        entries += read_list(user)
    allowed = _ours(f"allow.{lang}.txt") + (read_list(allow, "allowlist") if allow else [])
    return WordList(entries, allowed, lang)


def read_senses(source_lang: str, target_lang: str) -> tuple[dict, dict]:
    """(source senses, target senses): for an entry of one side, the words of the other side that give it its
    neutral sense. `senses.tsv`: lang, entry, the other language's words (space-separated)."""
    by_lang: dict[str, dict[tuple[str, ...], frozenset[str]]] = {source_lang: {}, target_lang: {}}
    path = WORDLISTS / "senses.tsv"
    for line in read_list(path) if path.exists() else []:
        lang, entry, words = (line.split("\t") + ["", ""])[:3]
        if lang in by_lang and entry and words:
            by_lang[lang][tuple(tokens(entry))] = frozenset(tokens(words))
    return by_lang[source_lang], by_lang[target_lang]


class Classifier:
    """Counts each side with its own language's list and classifies the pair (NLLB's rule, `max_difference`)."""

    def __init__(self, source: WordList, target: WordList, max_difference: int = 0, senses=({}, {})):
        self.source, self.target, self.max_difference = source, target, max_difference
        self.source_senses, self.target_senses = senses

    def __call__(self, source_text: str, target_text: str) -> Verdict:
        in_source = self.source.may_match(quick_words(source_text))
        in_target = self.target.may_match(quick_words(target_text))
        if not (in_source or in_target):
            return NONE
        s_words, t_words = tokens(source_text), tokens(target_text)
        s = _licensed(self.source.find(s_words), self.source_senses, t_words) if in_source else ()
        t = _licensed(self.target.find(t_words), self.target_senses, s_words) if in_target else ()
        if not (s or t):
            return NONE
        return Verdict(classify(len(s), len(t), self.max_difference), Side(s), Side(t))


def _licensed(matches: tuple[str, ...], senses: dict, other: list[str]) -> tuple[str, ...]:
    """The matches left once those whose neutral translation is on the other side are taken out."""
    if not matches or not senses:
        return matches
    other_words = set(other)
    return tuple(m for m in matches if other_words.isdisjoint(senses.get(tuple(m.split()), ())))


def classify(source: int, target: int, max_difference: int = 0) -> str:
    """`added` when the target has more than `max_difference` matches beyond the source's, `removed` the other way
    round, `balanced` when both have matches within it, `none` when neither has any."""
    if target - source > max_difference:
        return "added"
    if source - target > max_difference:
        return "removed"
    return "balanced" if source or target else "none"

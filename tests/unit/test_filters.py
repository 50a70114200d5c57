"""Each heuristic filter's decision and reason, pinned on hand-written pairs."""

from __future__ import annotations

import pytest

from curation.clean import filters
from curation.pair import Pair


def decide(name: str, source: str, target: str, **params) -> str | None:
    f = filters.build(name, params)
    return f.accept(f.measure(Pair(source, target)))


GOOD = ("Where is the train station?", "¿Dónde está la estación de tren?")


@pytest.mark.parametrize("name", sorted(filters.REGISTRY))
def test_a_good_pair_passes_every_filter(name):
    assert decide(name, *GOOD) is None


@pytest.mark.parametrize(
    ("name", "source", "target", "params", "reason"),
    [
        ("empty", "Hello there", "   ", {}, "empty side"),
        ("empty", "", "Hola", {}, "empty side"),
        ("length", "a" * 1001, "b" * 900, {}, "too long (> 1000 chars)"),
        ("length", "Hi", "a" * 50, {"max_chars": 20}, "too long (> 20 chars)"),
        ("length", "A", "B", {}, "too short (< 2 chars)"),
        ("length_ratio", "My suitcase did not arrive at the airport.", "Mi maleta", {}, "length ratio above 2.5"),
        ("special_chars", "Nice ☺☺☺☺ hotel", "Buen ☺☺☺☺ hotel", {}, "special characters above 20%"),
        ("repeated_ngrams", "the room the room the room the room", "la sala", {}, "repeated 2-grams above 30%"),
        ("markup", "Click <b>here</b>.", "Haga clic <b>aquí</b>.", {}, "markup"),
        ("markup", "See &quot;terms&quot;.", "Vea las condiciones.", {}, "markup"),
        ("urls", "Book at www.example.com now.", "Reserve en www.example.com ya.", {}, "URL"),
        ("identical", "Thank you very much.", "thank you  very much.", {}, "target identical to source"),
        ("numbers", "The bus leaves at 7:15.", "El autobús sale a las 17:15.", {}, "number missing from the target"),
        (
            "language",
            "Where is the train station, please?",
            "Where is the train station, please?",
            {},
            "target is not es (en)",
        ),
        (
            "language",
            "¿Dónde está la estación de tren, por favor?",
            "¿Dónde está la estación de tren, por favor?",
            {},
            "source is not en (es)",
        ),
        (
            "language",
            "I would like a double room for two nights.",
            "Gostaria de um quarto duplo para duas noites.",
            {},
            "target is not es (pt)",
        ),
    ],
)
def test_a_bad_pair_is_dropped_with_its_reason(name, source, target, params, reason):
    assert decide(name, source, target, **params) == reason


def test_numbers_ignore_thousand_and_decimal_separators():
    assert decide("numbers", "It costs 1,250.50 euros.", "Cuesta 1.250,50 euros.") is None
    assert (
        decide("numbers", "Rooms 3 and 3 are free.", "La habitación 3 está libre.") == "number missing from the target"
    )


def test_language_leaves_short_texts_alone():
    f = filters.build("language")
    assert f.measure(Pair("Thank you", "Merci")) == "?>?"
    assert decide("language", "Thank you", "Merci") is None


def test_unknown_filter_and_parameter_are_clear_errors():
    with pytest.raises(ValueError, match="unknown filter 'lenght' in the config: choose from .*length"):
        filters.build("lenght")
    with pytest.raises(ValueError, match="filter 'length' has no parameter max: it takes max_chars, min_chars"):
        filters.build("length", {"max": 3})


def test_apply_records_every_score_and_stops_at_the_first_rejection():
    chain = [filters.build("empty"), filters.build("identical"), filters.build("numbers")]
    counts: dict = {}
    pair = Pair("Room 5", "room 5")
    assert filters.apply(chain, pair, counts) == "identical: target identical to source"
    assert pair.measures == {"empty": 6.0, "identical": 1.0}
    assert counts["identical"].reasons == {"target identical to source": 1} and "numbers" not in counts
    kept = Pair(*GOOD)
    assert filters.apply(chain, kept, counts) is None
    assert counts["empty"].seen == 2 and counts["empty"].kept == 2 and counts["identical"].dropped == 1


def test_short_spanish_is_not_dropped_as_a_neighbour_language_and_real_neighbours_still_are():
    """The sample's lines 281 and 295 ("Buscamos un camping tranquilo.") were dropped as Galician."""
    from curation.clean.filters import Language

    lang = Language()
    for target in ("Buscamos un camping tranquilo.", "Para reservas, escriba a [EMAIL]."):
        assert lang.accept(lang.measure(Pair("We are looking for a quiet campsite.", target))) is None
    for target, code in (
        ("Bo día, onde está a estación?", "gl"),
        ("Onde está a estação de comboios?", "pt"),
        ("On és l'estació de tren?", "ca"),
    ):
        assert (
            lang.accept(lang.measure(Pair("Good morning, where is the station?", target)))
            == f"target is not es ({code})"
        )

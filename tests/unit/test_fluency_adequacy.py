"""The fluency and adequacy signals on hand-made pairs, with the real Apertium data and wordfreq lists."""

from __future__ import annotations

import math

import pytest

from curation.model import adequacy, apertium, fluency


def fl(target: str) -> dict[str, float]:
    return dict(zip(fluency.NAMES, fluency.features([target])[0].tolist(), strict=True))


def ad(source: str, target: str) -> dict[str, float]:
    return dict(zip(adequacy.NAMES, adequacy.features([(source, target)])[0].tolist(), strict=True))


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("¿Es esta área segura por la noche?", "¿Es este área segura por la noche?"),  # determiner gender
        ("Los niños están jugando en el parque.", "Los niños están jugar en el parque."),  # estar + infinitive
        ("Compramos las casas blancas.", "Compramos las casas blanco."),  # noun and adjective
        ("Los hoteles están llenos.", "Los hotel están llenos."),  # determiner number
    ],
)
def test_an_agreement_or_verb_form_slip_moves_slips_and_the_correct_sentence_does_not(good, bad):
    assert fl(good)["slips"] == 0
    assert fl(bad)["slips"] == 1


def test_feminine_nouns_in_stressed_a_take_el_without_a_slip():
    assert fl("El área de descanso y el agua fría están al final.")["slips"] == 0


def test_unknown_and_english_words_in_the_target():
    spanish = fl("Necesito un médico.")
    english = fl("I need a doctor right now.")  # need, doctor, right: unknown; a, now: Spanish words too
    assert spanish["unknown_target"] == 0 and english["unknown_target"] >= 0.5
    assert english["english_words"] > 0.5 > spanish["english_words"]
    assert fl("Necesito un médico.")["zipf_mean"] > fl("Nesecito un mediko.")["zipf_mean"]
    assert fl("")["zipf_mean"] == 0.0  # an empty target gives zeros, not an error


def test_the_round_trip_sees_a_dropped_article_and_a_dropped_content_word():
    good, slip = ad("I need a doctor.", "Necesito un médico."), ad("I need a doctor.", "Necesito doctor.")
    assert good["round_trip_chrf"] > slip["round_trip_chrf"] + 0.2
    omitted = ad("The red car is parked outside the station.", "El coche está aparcado.")
    assert (
        omitted["round_trip_recall"]
        < ad("The red car is parked outside.", "El coche rojo está aparcado fuera.")["round_trip_recall"]
    )


def test_numbers_names_and_languages_carried_over_or_not():
    same = ad("Room 12 at the Hilton costs 50 euros.", "La habitación 12 del Hilton cuesta 50 euros.")
    changed = ad("Room 12 at the Hilton costs 50 euros.", "La habitación 13 del hotel cuesta 50 euros.")
    assert same["numbers_mismatch"] == 0 and changed["numbers_mismatch"] == pytest.approx(0.5)
    assert same["names_kept"] == 1.0 and changed["names_kept"] < 1.0
    english = ad("Where is the train station, please?", "Where is the train station, please?")
    assert english["target_is_en"] > 0.9 > same["target_is_en"]
    assert same["target_is_es"] > 0.5 > english["target_is_es"]
    assert same["unknown_source"] > 0 == english["unknown_source"]  # "Hilton" is in no English dictionary
    assert english["source_length"] == pytest.approx(math.log(len("Where is the train station, please?") + 1))


def test_reserved_characters_and_odd_whitespace_keep_one_row_per_text():
    texts = ["x^y$z [a] <b> \\ @/ {c}", "dos\nlíneas\ten una", "", "Hola."]
    rows = apertium.analyse(texts, "es")
    assert len(rows) == 4 and [t.surface for t in rows[3]] == ["Hola", "."]
    assert len(apertium.to_english(texts)) == 4 and fluency.features(texts).shape == (4, len(fluency.NAMES))


def test_missing_apertium_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(apertium.ApertiumError, match="apt-get install apertium-eng-spa"):
        apertium.to_english(["Hola."])


def test_a_translation_does_not_depend_on_the_texts_beside_it():
    texts = ["aviones de cuerda (8)", "Configure su Porsche Buscar un concesionario", "Sector médico / Farmacéutico"]
    together = apertium.to_english(texts)
    assert together == [apertium.to_english([t])[0] for t in texts]
    assert together[0] == "Aeroplanes of rope (8)"  # the closing period added for the tagger is not kept

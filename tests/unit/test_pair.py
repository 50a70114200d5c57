"""Pairs and their record ids."""

from __future__ import annotations

from curation.pair import Pair


def test_record_ids_are_deterministic_from_the_normalised_pair():
    assert Pair("Hello  world", "Hola mundo").id == Pair("hello world", "Hola  Mundo").id
    assert Pair("Hello", "Hola").id != Pair("Hello", "Adiós").id

"""The toxicity filter: each side with its own list, the four classes, the allowlist, senses, user lists, and where
its decisions show (dropped.jsonl, the filter table, Argilla metadata, the dataset card)."""

from __future__ import annotations

import json

import pytest

from curation.annotation import schema
from curation.clean.filters import build
from curation.clean.pipeline import Tally, clean, write_outputs
from curation.clean.readers import InputSpec
from curation.config import Config
from curation.errors import ConfigError
from curation.export.card import cleaning_lines
from curation.pair import Pair


def classify(source: str, target: str, **params) -> tuple[str, Pair]:
    pair = Pair(source, target)
    return build("toxicity", params).measure(pair), pair


def test_the_four_classes_compare_the_two_sides():
    kind, pair = classify("I need a doctor.", "Necesito un puto médico.")
    assert kind == "added" and pair.extra["toxicity"].target.matches == ("puto",)
    assert classify("Shut up, you idiot!", "¡Cállate, idiota!")[0] == "balanced"
    assert classify("What the fuck is this?", "¿Qué es esto?")[0] == "removed"
    kind, pair = classify("Where is the station?", "¿Dónde está la estación?")
    assert kind == "none" and "toxicity" not in pair.extra
    # phrases count once, as a whole: "hijo de puta" is one match, not "puta" as well
    kind, pair = classify("He is a son of a bitch.", "Es un hijo de puta.")
    assert kind == "balanced" and pair.extra["toxicity"].target.matches == ("hijo de puta",)
    # case and accents are folded; whole words only ("Scunthorpe", "class", "cóctel" match nothing)
    assert classify("Fine.", "Está bien, CABRON.")[0] == "added"
    assert classify("Cone mode.", "El modo de cono.")[0] == "none"  # "ñ" is not folded: "cono" is not "coño"
    assert classify("Scunthorpe's class analysis; a cocktail.", "El análisis de clase de Scunthorpe; un cóctel.")[
        0
    ] == ("none")


def test_each_language_is_matched_on_its_own_side_only():
    # "negro" is in the English list; on the Spanish side it is a colour
    assert classify("The black cat.", "El gato negro.")[0] == "none"
    assert classify("The word negro is old.", "La palabra es antigua.")[0] == "removed"
    # an English insult left in a Spanish target is not counted with the Spanish list
    assert classify("Thanks.", "Gracias, bitch.")[0] == "none"


def test_the_allowlist_and_senses_keep_neutral_words_out():
    assert classify("We collected shells.", "Recogimos conchas.")[0] == "none"
    assert classify("We take the train.", "Cogemos el tren, cojo el bus.")[0] == "none"
    assert classify("Sex: male", "Sexo: masculino")[0] == "none"
    assert classify("The murder shocked the town.", "El asesinato conmocionó al pueblo.")[0] == "none"
    # a phrase of the allowlist is skipped where it occurs; the word alone still counts
    assert classify("The bottle has a thick bottom.", "El culo de la botella es grueso.")[0] == "none"
    assert classify("He fell.", "Se cayó de culo.")[0] == "added"
    # senses: "zorra" is a fox where the source says so, an insult where it does not
    assert classify("The vixen hunted a rabbit.", "La zorra cazó un conejo.")[0] == "none"
    assert classify("She works there.", "La muy zorra trabaja allí.")[0] == "added"
    assert classify("The farmer keeps a cock and ten hens.", "El granjero tiene un gallo y diez gallinas.")[0] == "none"


def test_user_lists_in_the_toxicity_200_format_beside_or_instead_of_the_built_in_ones(tmp_path):
    twl = tmp_path / "spa_Latn_twl.txt"
    twl.write_text("# a team's list\nmalandrín\nrata asquerosa\n\n", encoding="utf-8")
    eng = tmp_path / "eng_Latn_twl.txt"
    eng.write_text("scoundrel\n", encoding="utf-8")
    both = {"es": str(twl), "en": str(eng)}
    allow = tmp_path / "allow.txt"
    allow.write_text("puto\n", encoding="utf-8")
    kind, pair = classify("Go away.", "Vete, malandrín, rata asquerosa.", lists={"es": str(twl)})
    assert kind == "added" and pair.extra["toxicity"].target.matches == ("malandrin", "rata asquerosa")
    assert classify("Fine.", "Vale, joder.", lists={"es": str(twl)})[0] == "added"  # beside the built-in list
    assert classify("Fine.", "Vale, joder.", lists=both, builtin=False)[0] == "none"  # instead of it
    assert classify("Go.", "Vete, malandrín.", lists=both, builtin=False)[0] == "added"
    assert classify("Go, scoundrel.", "Vete, malandrín.", lists=both, builtin=False)[0] == "balanced"
    assert classify("Go.", "Vete, puto.", allow={"es": str(allow)})[0] == "none"  # the user's allowlist


def test_max_difference_and_drop_choose_what_is_dropped():
    # NLLB's rule: up to max_difference more matches on the target side are not "added"
    assert classify("Go.", "Vete, joder, coño.", max_difference=2)[0] == "balanced"
    assert classify("Go.", "Vete, joder, coño, mierda.", max_difference=2)[0] == "added"
    f = build("toxicity")
    assert (f.accept("added"), f.accept("balanced"), f.accept("removed")) == ("added toxicity", None, None)
    f = build("toxicity", {"drop": ["added", "removed"]})
    assert f.accept("removed") == "removed toxicity" and f.accept("balanced") is None
    assert build("toxicity", {"drop": []}).accept("added") is None


def test_bad_settings_are_one_line_errors(tmp_path):
    cases = [
        ({"lists": {"es": str(tmp_path / "missing.txt")}}, "toxicity list .*missing.txt does not exist"),
        ({"lists": {"es": str(tmp_path / "latin1.txt")}}, "latin1.txt is not UTF-8 text"),
        ({"allow": {"es": str(tmp_path / "gone.txt")}}, "allowlist .*gone.txt does not exist"),
        ({"target_lang": "xx"}, "no toxicity list for language 'xx' among the built-in ones: give one with lists"),
        ({"builtin": False}, r"no toxicity list for language 'en' \(builtin: false\)"),
        ({"max_difference": -1}, "max_difference must be a whole number of at least 0, not -1"),
        ({"drop": ["rude"]}, "drop takes classes among none, balanced, added, removed, not 'rude'"),
        ({"lists": ["es.txt"]}, "lists must map a language to a file"),
    ]
    (tmp_path / "latin1.txt").write_bytes("maldición\n".encode("latin-1"))
    for params, message in cases:
        with pytest.raises(ConfigError, match=message) as e:
            build("toxicity", params)
        assert "\n" not in str(e.value)
    # through the config file, before any work
    (tmp_path / "c.yaml").write_text("filters:\n  - toxicity: {max_difference: -2}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="max_difference must be"):
        Config.load(tmp_path / "c.yaml")


def test_cleaning_drops_added_toxicity_with_its_words_and_flags_the_rest(tmp_path):
    rows = [
        ("I need a doctor.", "Necesito un puto médico."),
        ("Shut up, you idiot!", "¡Cállate, idiota!"),
        ("What the fuck is this?", "¿Qué es esto?"),
        ("Where is the train station?", "¿Dónde está la estación de tren?"),
    ]
    (tmp_path / "c.tsv").write_text("source\ttarget\n" + "".join(f"{s}\t{t}\n" for s, t in rows), encoding="utf-8")
    tally, rejected = Tally(), []
    kept = list(clean(Config(input=InputSpec(str(tmp_path / "c.tsv"))).cleaning(), tally, rejected))
    assert [p.measures["toxicity"] for p in kept] == ["balanced", "removed", "none"]
    assert [reason for _, reason in rejected] == ["toxicity: added toxicity"]
    paths = write_outputs(tmp_path / "out", tally, rejected)
    dropped = [json.loads(line) for line in paths["dropped"].read_text(encoding="utf-8").splitlines()]
    assert dropped[0]["reason"] == "toxicity: added toxicity"
    assert dropped[0]["toxicity"] == {"class": "added", "source": [], "target": ["puto"]}
    table = tally.table()
    assert "added toxicity (1)" in table and "flagged for annotators: balanced (1), removed (1)" in table
    report = json.loads(paths["report"].read_text(encoding="utf-8"))
    assert report["filters"]["toxicity"]["classes"] == {"added": 1, "balanced": 1, "removed": 1, "none": 1}
    # annotators see the class and the counts per side
    meta = schema.metadata(kept[0])
    assert (meta["toxicity"], meta["toxic_source"], meta["toxic_target"]) == ("balanced", 1, 1)
    assert schema.metadata(kept[2])["toxicity"] == "none" and schema.metadata(kept[2])["toxic_target"] == 0
    assert {"toxicity", "toxic_source", "toxic_target"} <= set(schema.titles())
    assert {"offensive", "dangerous"} <= set(schema.ERROR_LABELS)
    # the dataset card says what was caught
    line = next(x for x in cleaning_lines(report) if x.startswith("- toxicity"))
    assert "none 1, added 1, removed 1, balanced 1 (dropped: added;" in line

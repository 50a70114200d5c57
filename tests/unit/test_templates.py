"""Template cap: pairs that differ only in numbers reach annotators a few at a time."""

from __future__ import annotations

import pytest

from curation.clean.pipeline import Tally, cap_templates, template_key
from curation.config import Config, ConfigError
from curation.pair import Pair


def test_pairs_differing_only_in_numbers_share_a_template_and_others_do_not():
    a = Pair("Room 12 is ready.", "La habitación 12 está lista.")
    assert template_key(a) == template_key(Pair("room 7 is  ready.", "La habitación 7 está lista."))
    assert template_key(a) == template_key(Pair("Room 1.250 is ready.", "La habitación 1.250 está lista."))
    assert template_key(a) != template_key(Pair("Room 12 is clean.", "La habitación 12 está limpia."))


def test_only_the_first_pairs_of_a_template_go_on_and_the_rest_are_counted_with_their_reason():
    rooms = [Pair(f"Room {i} is ready.", f"La habitación {i} está lista.") for i in range(8)]
    other = Pair("Where is the station?", "¿Dónde está la estación?")
    tally, rejected = Tally(deduplicated=9), []
    kept = list(cap_templates([*rooms[:4], other, *rooms[4:]], 3, tally, rejected))
    assert kept == [*rooms[:3], other]
    assert tally.templates_dropped == 5 and tally.kept == 4 and [p for p, _ in rejected] == rooms[3:]
    assert rejected[0][1] == "templates: more than 3 pairs differ only in numbers"
    assert "templates" in tally.table() and tally.to_dict()["templates"] == {"cap": 3, "dropped": 5}
    assert list(cap_templates(rooms, None, Tally(), None)) == rooms  # no cap: everything goes on


@pytest.mark.parametrize("value", [0, -2, 2.5, "3", True])
def test_a_bad_template_cap_is_one_clear_config_error(tmp_path, value):
    path = tmp_path / "c.yaml"
    path.write_text(
        f"dedup:\n  template_cap: {value!r}\n" if not isinstance(value, str) else f"dedup:\n  template_cap: '{value}'\n"
    )
    with pytest.raises(ConfigError, match="dedup.template_cap must be a whole number of at least 1 or null"):
        Config.load(path)


def test_the_copies_of_a_template_are_spread_through_the_priority_queue():
    """ "Room N is ready." ×5 scored alike and came back to back in the priority sort (issue 22)."""
    from curation.annotation.records import DatasetRecord
    from curation.annotation.suggestions import priorities, priority

    rows = [DatasetRecord(f"r{n}", f"Room {n} is ready.", f"La habitación {n} está lista.") for n in range(5)]
    others = [DatasetRecord(f"o{n}", f"Sentence {w}.", f"Frase {w}.") for n, w in enumerate("abcd")]
    scores = [0.5, 0.51, 0.49, 0.5, 0.52] + [0.55, 0.6, 0.65, 0.7]
    got = priorities(rows + others, scores)
    queue = [r.id for _, r in sorted(zip(got, rows + others, strict=True), key=lambda x: -x[0])]
    assert queue[0] == "r0" and queue[1] == "o0"  # one copy first, then the next most uncertain other pair
    assert got[0] == priority(0.5) and got[3] == round(priority(0.5) / 2, 6)  # the second copy: half
    assert [got[i] for i in range(5, 9)] == [priority(s) for s in scores[5:]]  # pairs of their own keep theirs

"""PII masking on both sides of a pair."""

from __future__ import annotations

import pytest

from curation.clean.pii import mask, mask_text
from curation.pair import Pair


def test_pii_is_masked_on_both_sides_with_the_same_placeholder():
    pair = Pair(
        "Mail ana.garcia@example.com or call +34 612 345 678.",
        "Escriba a ana.garcia@example.com o llame al +34 612 345 678.",
    )
    assert mask(pair) == 4
    assert pair.source == "Mail [EMAIL] or call [PHONE]." and pair.target == "Escriba a [EMAIL] o llame al [PHONE]."
    assert mask_text("Room 101 costs 80 euros, open 9:00-17:00 in 2024.") == (
        "Room 101 costs 80 euros, open 9:00-17:00 in 2024.",
        0,
    )
    assert mask_text("Card 4111 1111 1111 1111, server 10.0.0.12")[0] == "Card [CARD], server [IP]"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("My card is 4111 1111 1111 1111 and it works", "My card is [CARD] and it works"),  # the space stays
        ("Pay with 4111-1111-1111-1111.", "Pay with [CARD]."),
        ("Call 612345678.", "Call [PHONE]."),  # a Spanish number as one run of digits
        ("Llame al 912345678, por favor.", "Llame al [PHONE], por favor."),
        ("It costs 123456789.50 in total.", "It costs 123456789.50 in total."),  # an amount, not a phone
        ("Order 1234567 is late.", "Order 1234567 is late."),
    ],
)
def test_cards_keep_the_space_after_them_and_unspaced_national_numbers_are_masked(text, masked):
    assert mask_text(text)[0] == masked

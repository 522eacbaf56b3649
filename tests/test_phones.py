"""UK phone numbers to E.164, including Ofcom's drama ranges, which phonenumbers calls invalid."""

import pytest

from workbench import phones


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("07700 900123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
        ("447700900123", "+447700900123"),
        ("(0113) 496 0000", "+441134960000"),
        ("0044 7700 900123", "+447700900123"),
        ("7700900123", "+447700900123"),
        ("020 7946 0999", "+442079460999"),
        ("028 9649 6000", "+442896496000"),
        ("+33 1 23 45 67 89", "+33123456789"),
    ],
)
def test_uk_formats_become_e164(text, e164):
    assert phones.to_e164(text) == e164


@pytest.mark.parametrize("text", ["", None, "12345", "call after 6", "0770090012345678", "n/a", "ext 1234"])
def test_non_numbers_are_none(text):
    assert phones.to_e164(text) is None


def test_normalise_returns_one_row_per_distinct_value():
    frame = phones.normalise(["07700 900123", "nope"])
    assert frame.to_dict("list") == {"raw": ["07700 900123", "nope"], "e164": ["+447700900123", None]}

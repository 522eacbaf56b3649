"""UK phone numbers to E.164, including Ofcom's drama ranges, which phonenumbers calls invalid."""

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# ---- a column of stored numbers as a caller reads them ----------------------------------------------

DIGITS = "0123456789"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            # Real numbers share few leading digits: any digits after a country code, of any length.
            st.tuples(st.sampled_from(["+44", "+447", "+441", "+442", "+443", "+448", "+449", "+1", "+33",
                                       "+353", "+39", "+4418002"]),
                      st.text(DIGITS, min_size=4, max_size=11)).map("".join),
            st.sampled_from(["", "  ", "12", "abc", "+447700900123x", "+4407700900123", "+44180020123456",
                             " +447700900123 ", "+999123456789"]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_a_column_of_any_numbers_is_shown_exactly_as_each_one_alone(numbers):
    column = pd.Series(numbers)
    assert phones.display_phones(column).tolist() == [phones.display_phone(n) for n in numbers]


def test_uk_numbers_are_grouped_by_the_format_phonenumbers_chooses_not_by_their_digits():
    # Two mobiles and two London numbers with nothing in common after their first digit: each pair is
    # written alike, so a column of them needs a model of each, not a parse of each.
    column = pd.Series(["+447123456789", "+447987654321", "+442012345678", "+442087654321", None])
    keys = phones._group_keys(pa.array(column.fillna(""), pa.string())).to_pylist()  # noqa: SLF001
    assert keys[0] == keys[1] and keys[2] == keys[3] and keys[0] != keys[2]
    assert keys[4] is None  # not a number: shown one by one
    assert phones.display_phones(column).tolist() == ["07123 456789", "07987 654321", "020 1234 5678",
                                                      "020 8765 4321", ""]


@pytest.mark.parametrize("pair", [
    ("+4407700900123", "+4401134960000"),  # a trunk 0 after +44, which phonenumbers strips
    ("+44180020123456", "+44180020987654"),  # the text-relay prefix phonenumbers strips
    ("+448001111", "+448001234"),  # freephone numbers of one length, two formats
    ("+4413873123456", "+4413999123456"),  # a five-digit area code beside a four-digit one
    ("+33612345678", "+33123456789"),
])
def test_numbers_phonenumbers_reads_differently_are_never_written_from_one_model(pair):
    column = pd.Series([*pair, *pair])
    assert phones.display_phones(column).tolist() == [phones.display_phone(n) for n in column]

"""UK numbers as people write them go through SQL, not phonenumbers: always to the same E.164."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import phones
from workbench.ingest import members

DIGITS = "0123456789"
SEPARATORS = ["", " ", "  ", "-", ".", " - "]


@st.composite
def written_numbers(draw) -> str:
    """A UK (or not quite UK) number, prefixed and split the ways exports write them."""
    first = draw(st.sampled_from(["7", "1", "2", "3", "8"]))
    national = first + draw(st.text(DIGITS, min_size=7, max_size=11))
    prefix = draw(st.sampled_from(["0", "+44", "44", "+44 (0)", "0044", "(+44) ", "", "+44 0", "(0"]))
    cut = sorted(draw(st.lists(st.integers(1, len(national) - 1), max_size=3, unique=True)))
    parts = [national[a:b] for a, b in zip([0, *cut], [*cut, len(national)], strict=True)]
    joined = "".join(part + draw(st.sampled_from(SEPARATORS)) for part in parts).rstrip()
    bracket = draw(st.booleans()) and prefix == "0"
    return f"(0{parts[0]}) " + joined[len(parts[0]):].lstrip(" .-") if bracket else prefix + joined


def fast_path(raw: list[str]) -> dict[str, str]:
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE ingest_raw_phones (raw VARCHAR)")
    con.executemany("INSERT INTO ingest_raw_phones VALUES (?)", [[r] for r in raw])
    read = dict(con.execute(members._filled(members.PLAIN_PHONES, "unused", "TRUE")).fetchall())  # noqa: SLF001
    assert set(read) == set(raw)  # every number is read once: by SQL, or left (None) to phonenumbers
    return {written: e164 for written, e164 in read.items() if e164 is not None}


@settings(max_examples=300, deadline=None)
@given(st.lists(written_numbers(), min_size=1, max_size=20, unique=True))
def test_every_number_sql_writes_is_what_phonenumbers_makes_of_it(raw):
    for written, e164 in fast_path(raw).items():
        assert e164 == phones.to_e164(written), written


def test_the_forms_exports_use_most_take_the_fast_path():
    raw = ["07700 900123", "+44 7700 900123", "447700900123", "(0113) 496 0000", "0113-496-0000",
           "+44 (0)7700 900123", "07700900123", "020 7946 0958"]
    assert fast_path(raw) == {r: phones.to_e164(r) for r in raw}

"""Phone numbers with `phonenumbers`: UK numbers to E.164 (each distinct number parsed once), and
stored numbers back to the form a caller dials (`display_phones`: once per group written alike).

Ofcom's drama ranges (07700 900xxx, 0113 496 0xxx, ...) are not "valid" numbers to phonenumbers,
because no real line has them, but they are *possible* ones, and synthetic data uses nothing else.
So a number is accepted when it is possible for its country and, for UK numbers, has the 9 or 10
digits a UK national number has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

REGION = "GB"
UK_LENGTHS = (9, 10)


# A whole number as pandas writes a number column (7700900123.0): the ".0" is no digit of the number.
# The same pattern in Python and in DuckDB's regular expressions (ingest.members).
WHOLE_AS_DECIMAL = r"(\+?[0-9]+)\.0+"


def to_e164(text: str | None) -> str | None:
    """One phone number as E.164, or None when it cannot be a phone number.

    Examples:
        >>> to_e164("07700 900123"), to_e164("(0113) 496 0000"), to_e164("447700900123")
        ('+447700900123', '+441134960000', '+447700900123')
        >>> to_e164("call after 6") is None
        True
    """
    if text is None:
        return None
    text = str(text).strip().lstrip("'")  # a rejects file marks "+44..." as text with an apostrophe
    if not text or sum(c.isdigit() for c in text) < 9:
        return None
    if re.fullmatch(WHOLE_AS_DECIMAL, text):
        text = text.split(".", 1)[0]
    if text.isdigit() and len(text) == 10 and text[0] == "7":
        text = "0" + text  # Excel drops the leading zero of a mobile number stored as a number
    try:
        number = phonenumbers.parse(text, REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    if number.country_code == 44 and len(str(number.national_number)) not in UK_LENGTHS:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(values: Iterable[str], progress: bool | None = False) -> pd.DataFrame:
    """E.164 for each distinct raw value, as a lookup table to join in SQL.

    Args:
        values: raw phone cells; pass each distinct value once (SELECT DISTINCT).
        progress: show a progress bar (None: only on a terminal).

    Returns:
        DataFrame with columns raw, e164 (None where the value is not a phone number).
    """
    # Imported here: tqdm.auto loads asyncio (~50 ms), and only an import normalises numbers in bulk.
    from tqdm.auto import tqdm

    raw = list(values)
    bar = tqdm(
        raw,
        desc="phones",
        unit="number",
        disable=True if progress is False else None,
        leave=False,
        mininterval=0.5,
    )
    return pd.DataFrame(
        {"raw": pd.Series(raw, dtype="object"), "e164": pd.Series([to_e164(v) for v in bar], dtype="object")}
    )


# ---- a stored number as a caller reads it -------------------------------------------------------


def display_phone(e164: object) -> str:
    """A phone as a UK caller dials it: "07700 900123"; other countries in international form.

    National form also keeps a UK number from starting with "+", so it needs no formula escape.

    Examples:
        >>> display_phone("+447700900123"), display_phone(None)
        ('07700 900123', '')
    """
    if e164 is None or pd.isna(e164) or not str(e164).strip():
        return ""
    try:
        number = phonenumbers.parse(str(e164), REGION)
    except phonenumbers.NumberParseException:
        return str(e164)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 44
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


# What Python's str.strip() removes (every character whose isspace() is true), so Arrow trims a
# column exactly as display_phone trims one number.
STRIPPED = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
E164_LIKE = r"^\+[1-9]\d{5,14}$"
SHAPE_PREFIX = 10  # "+44" and seven digits: enough to fix how any UK number is grouped
DIGIT = "X"  # a digit's place in a group's template


def display_phones(e164: pd.Series) -> pd.Series:
    """`display_phone` for a whole column, calling phonenumbers once per group of numbers it writes alike.

    phonenumbers writes a UK number by the first of its formats whose leading-digits pattern and
    whole-number pattern match (its own metadata), so UK numbers of one length and one format are
    written alike whatever their digits. Other numbers are grouped by length and their first
    SHAPE_PREFIX characters. One number of each group is formatted by phonenumbers, and the others'
    digits are put into its digit places in Arrow: real numbers, which share few leading digits,
    cost a few dozen parses a list, not one each. Text that is not a plain E.164 number, and a group
    whose model does not end in its own digits, are formatted one by one.
    """
    text = pc.utf8_trim(_as_text(e164.fillna("")), STRIPPED)  # as display_phone reads one number
    keys = _group_keys(text)
    groups = keys.dictionary_encode()
    firsts = text.take(pc.index_in(groups.dictionary, value_set=keys)).to_pylist()
    made = [_template(first, key) for first, key in zip(firsts, groups.dictionary.to_pylist(), strict=True)]
    head = pa.array([h for h, _ in made], pa.string()).take(groups.indices)
    template = pa.array([t for _, t in made], pa.string()).take(groups.indices)
    shown = pa.nulls(len(text), pa.string())
    for form in pc.unique(template).drop_null().to_pylist():
        tail = pc.utf8_slice_codeunits(text, -form.count(DIGIT)) if DIGIT in form else pa.scalar("")
        spliced = pc.binary_join_element_wise(head, *_pieces(tail, form), "")
        shown = pc.if_else(pc.equal(template, form), spliced, shown)
    out = shown.to_pylist()
    for i in pc.indices_nonzero(pc.is_null(shown)).to_pylist():
        out[i] = display_phone(text[i].as_py())
    return pd.Series(out, index=e164.index, dtype=object)


def _as_text(column: pd.Series) -> pa.Array:
    try:
        return pa.array(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: as str() writes each value
        return pa.array([str(t) for t in column], pa.string())


def _group_keys(text: pa.Array) -> pa.Array:
    """Per number "digits that vary|group": UK numbers by length and chosen format, others by
    length and leading characters; null for text that is not a plain E.164 number."""
    length = pc.utf8_length(text)
    plain = pc.match_substring_regex(text, E164_LIKE)
    varying = pc.max_element_wise(pc.subtract(length, SHAPE_PREFIX), 0)
    keys = pc.binary_join_element_wise(pc.cast(varying, pa.string()), pc.cast(length, pa.string()),
                                       pc.utf8_slice_codeunits(text, 0, SHAPE_PREFIX), "|")
    uk = _uk_keys(text, length)
    if uk is not None:
        keys = pc.if_else(pc.is_valid(uk), uk, keys)
    return pc.if_else(plain, keys, pa.scalar(None, pa.string()))


def _uk_keys(text: pa.Array, length: pa.Array) -> pa.Array | None:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(REGION)
    national = pc.utf8_slice_codeunits(text, 3)
    try:
        # A national number phonenumbers would strip a prefix from ("0...") is not grouped.
        stripped = pc.match_substring_regex(national, f"^(?:{metadata.national_prefix_for_parsing})")
        chosen = np.full(len(text), -1)
        for index, form in enumerate(metadata.number_format):
            # As phonenumbers chooses: the first format whose last (most detailed) leading-digits
            # pattern and whole pattern match. Only numbers with no format yet are tried.
            open_ = np.flatnonzero(chosen == -1)
            if form.leading_digits_pattern:
                leading = f"^(?:{form.leading_digits_pattern[-1]})"
                lead = pc.match_substring_regex(national.take(open_), leading)
                open_ = open_[lead.to_numpy(zero_copy_only=False)]
            whole = pc.match_substring_regex(national.take(open_), f"^(?:{form.pattern})$")
            chosen[open_[whole.to_numpy(zero_copy_only=False)]] = index
    except pa.ArrowInvalid:  # a pattern Arrow's regex engine cannot read: grouped by leading characters
        return None
    uk = pc.and_(pc.starts_with(text, "+44"), pc.invert(stripped))
    keys = pc.binary_join_element_wise(pc.cast(pc.subtract(length, 3), pa.string()), "uk",
                                       pc.cast(length, pa.string()), pa.array(chosen).cast(pa.string()), "|")
    return pc.if_else(uk, keys, pa.scalar(None, pa.string()))


def _template(number: str | None, key: str | None) -> tuple[str | None, str | None]:
    """(head, template) of a group from its first number: "07700 900123" for a varying ten digits
    is ("0", "XXXX XXXXXX"). (None, None) when the model does not end in the number's own digits."""
    if number is None or key is None:
        return None, None
    model, varying = display_phone(number), int(key.split("|", 1)[0])
    places = [i for i, c in enumerate(model) if c.isdigit()]
    if varying == 0:
        return model, ""
    if len(places) < varying or "".join(model[i] for i in places[-varying:]) != number[-varying:]:
        return None, None
    first = places[-varying]
    return model[:first], "".join(DIGIT if c.isdigit() else c for c in model[first:])


def _pieces(tail: pa.Array | pa.Scalar, form: str) -> list:
    """The tail's digits cut to fill the template's digit places, with its other characters between."""
    pieces, start = [], 0
    for run in re.findall(f"{DIGIT}+|[^{DIGIT}]+", form):
        if run[0] == DIGIT:
            pieces.append(pc.utf8_slice_codeunits(tail, start, start + len(run)))
            start += len(run)
        else:
            pieces.append(pa.scalar(run))
    return pieces

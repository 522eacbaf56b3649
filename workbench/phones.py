"""UK phone numbers to E.164, with `phonenumbers`, each distinct number parsed once.

Ofcom's drama ranges (07700 900xxx, 0113 496 0xxx, ...) are not "valid" numbers to phonenumbers,
because no real line has them, but they are *possible* ones, and synthetic data uses nothing else.
So a number is accepted when it is possible for its country and, for UK numbers, has the 9 or 10
digits a UK national number has.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import phonenumbers

REGION = "GB"
UK_LENGTHS = (9, 10)


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

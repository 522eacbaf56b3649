"""Mask identity-like text in free-text labels that are shown back to people (unlisted service names).

A service cell on a call sheet is free text: a volunteer can type "ring Jane Smith 07700 900123"
where a service name belongs. Such names are shown at import and by `services gaps`, so before they
are shown, phone numbers, email addresses and any member's full name in them are replaced by a
marker. The names stay as typed in the store (the subject-access file shows them to their subject).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

import duckdb
import pandas as pd

PHONE = re.compile(r"\+?(?:\d[\s().-]*){7,}\d")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*")
WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")

# Adjacent word pairs of the texts that are some member's "first last" or "last first" name. Two
# equality joins, not one joined ON a = x OR a = y: DuckDB cannot hash an OR, and compared every pair
# with every member (4.9 s against 500,000 members, where these take 0.2 s).
NAMES_QUERY = """
SELECT t.pair FROM {pairs} t
SEMI JOIN identities i ON t.pair = lower(trim(i.first_name)) || ' ' || lower(trim(i.last_name))
UNION
SELECT t.pair FROM {pairs} t
SEMI JOIN identities i ON t.pair = lower(trim(i.last_name)) || ' ' || lower(trim(i.first_name))
"""


def mask(con: duckdb.DuckDBPyConnection, texts: Sequence[str | None]) -> list[str | None]:
    """Each text with phones, emails and members' full names replaced by [phone], [email], [name].

    Examples:
        >>> mask(con, ["Food bank 07700 900123", "help@example.org"])  # doctest: +SKIP
        ['Food bank [phone]', '[email]']
    """
    shown = [None if t is None else EMAIL.sub("[email]", PHONE.sub("[phone]", t)) for t in texts]
    names = _member_names(con, [t for t in shown if t])
    if not names:
        return shown
    pattern = re.compile("|".join(r"\b" + r"\W+".join(map(re.escape, n.split())) + r"\b"
                                  for n in sorted(names, key=len, reverse=True)), re.IGNORECASE)
    return [None if t is None else pattern.sub("[name]", t) for t in shown]


def _member_names(con: duckdb.DuckDBPyConnection, texts: list[str]) -> set[str]:
    pairs = set()
    for text in texts:
        words = [w.lower() for w in WORD.findall(text)]
        pairs.update(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))
    if not pairs:
        return set()
    name = f"_mask_pairs_{uuid.uuid4().hex}"
    con.register(name, pd.DataFrame({"pair": sorted(pairs)}, dtype=object))
    try:
        return {row[0] for row in con.execute(NAMES_QUERY.format(pairs=name)).fetchall()}
    finally:
        con.unregister(name)


__all__ = ["mask"]

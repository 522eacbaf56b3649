"""How needs are scored and banded: age bands and the urgency score's points.

Ground floor: plain constants and SQL fragments built only from them, used by the analysis snapshot,
the triage queue, reports and charts alike. docs/glossary.md defines the urgency score.
"""

from __future__ import annotations

import pandas as pd

# Age bands used everywhere (reports, charts, the queue). Import these; do not write them again.
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("18–34", 18, 34),
    ("35–49", 35, 49),
    ("50–64", 50, 64),
    ("65–79", 65, 79),
    ("80+", 80, None),
)

# The urgency score: the sum of five documented parts (docs/glossary.md, "urgency score").
URGENCY_POINTS = {"high": 40, "medium": 20, "low": 5}
URGENCY_UNKNOWN = 20  # missing urgency counts as medium, so missing data never buries a person
WELLBEING_STEP = 5  # (5 - wellbeing) * 5: 1 (struggling) -> 20 .. 5 (doing well) -> 0
WELLBEING_UNKNOWN = 10
CATEGORY_POINTS = {
    "food": 15,
    "medicine": 15,
    "mental_health": 12,
    "housing": 10,
    "financial": 8,
    "isolation": 8,
    "other": 5,
    "digital": 3,
}
EXTRA_CATEGORY_POINTS = 2  # for each category beyond the first
AGE_POINTS = {"80+": 15, "65–79": 10, "50–64": 5, "35–49": 0, "18–34": 0}
AGE_UNKNOWN = 5
WAITING_CAP_DAYS = 30  # one point per day waiting, up to 30


def age_band(age: int | float | None) -> str | None:
    """The age band for an age in whole years; None when unknown or under 18.

    Examples:
        >>> age_band(34), age_band(35), age_band(80), age_band(None)
        ('18–34', '35–49', '80+', None)
    """
    if age is None or pd.isna(age):
        return None
    for label, low, high in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return label
    return None


def age_band_sql(column: str) -> str:
    """The same banding as `age_band`, as a SQL CASE over a (trusted, constant) column name."""
    arms = " ".join(
        f"WHEN {column} >= {low}"
        + (f" AND {column} <= {high}" if high is not None else "")
        + f" THEN '{label}'"
        for label, low, high in AGE_BANDS
    )
    return f"(CASE {arms} ELSE NULL END)"


def _points_sql(column: str, points: dict[str, int], default: int) -> str:
    arms = " ".join(f"WHEN '{k}' THEN {v}" for k, v in points.items())
    return f"(CASE {column} {arms} ELSE {default} END)"


def needing_columns() -> str:
    """The select list of a needing row over `l` (a latest answered call) and `k` (its categories).

    Everything in the urgency score except days waiting (which depends on the live follow-up
    state) is `points`, so the snapshot can hold it (its `needing` table) and the queue adds days.
    """
    category_points = (
        f"coalesce(list_max(list_transform(k.categories, x -> {_points_sql('x', CATEGORY_POINTS, 0)}))"
        f" + {EXTRA_CATEGORY_POINTS} * (len(k.categories) - 1), 0)"
    )
    wellbeing_points = (
        f"(CASE WHEN l.wellbeing IS NULL THEN {WELLBEING_UNKNOWN} "
        f"ELSE (5 - least(greatest(l.wellbeing, 1), 5)) * {WELLBEING_STEP} END)"
    )
    points = " + ".join([
        _points_sql("l.urgency", URGENCY_POINTS, URGENCY_UNKNOWN),
        wellbeing_points,
        category_points,
        _points_sql(age_band_sql("l.age"), AGE_POINTS, AGE_UNKNOWN),
    ])
    return (
        "l.mid, l.member_key, l.branch, l.ward, l.cid, l.call_id, l.called_at, l.urgency, l.wellbeing, "
        f"coalesce(k.categories, []) AS categories, {age_band_sql('l.age')} AS age_band, {points} AS points"
    )


__all__ = ["AGE_BANDS", "WAITING_CAP_DAYS", "age_band", "age_band_sql", "needing_columns"]

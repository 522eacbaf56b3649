"""Re-identification risk of a row-level extract: k-anonymity, ℓ-diversity, and the release gate.

The quasi-identifiers are what someone who knows a member could know about them: their area,
age band, the week or month they were called, and what help they asked for. k-anonymity is
measured over all four. ℓ-diversity asks the other question: for people who share an area, age
band and period, is there more than one need among them, or would knowing where someone lives
and how old they are tell you what they needed? So ℓ is measured over the groups formed by the
quasi-identifiers *other than* the sensitive attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import pandas as pd

from workbench.errors import DisclosureError

# Every column an extract releases, besides the pseudonym, is something an acquaintance might know
# (they heard the call went to voicemail, or that she offered to help), so every one counts.
QUASI_IDENTIFIERS = ("area", "age_band", "period", "outcome", "needs", "volunteer")
SENSITIVE = "needs"
NOT_ASKED = "not asked"
SHOWN_GROUPS = 5  # failing groups named in an error; enough to act on, short enough to read


@dataclass(frozen=True)
class Group:
    """One group of records that share their quasi-identifiers: generalised values and a size."""

    values: dict[str, str]
    size: int
    distinct: int | None = None  # distinct sensitive values, for ℓ-diversity failures

    def describe(self) -> str:
        shown = ", ".join(f"{name}={value}" for name, value in self.values.items())
        if self.distinct is not None:
            plural = "s" if self.size != 1 else ""
            return f"({shown}): {self.size} record{plural}, all with the same {SENSITIVE}"
        return f"({shown}): {self.size} record{'s' if self.size != 1 else ''}"


@dataclass(frozen=True)
class RiskMetrics:
    """What the gate decides on, and what the audit log and manifest record."""

    records: int
    groups: int
    k_min: int
    unique_records: int
    share_below_k: float
    max_risk: float
    avg_risk: float
    l_min: int
    k_required: int
    l_required: int
    quasi_identifiers: tuple[str, ...]
    small_groups: tuple[Group, ...] = field(default=(), repr=False)
    uniform_groups: tuple[Group, ...] = field(default=(), repr=False)
    small_group_count: int = 0     # groups under k: a number only, for the refusal
    uniform_group_count: int = 0   # groups under ℓ

    @property
    def passed(self) -> bool:
        return self.records > 0 and self.k_min >= self.k_required and self.l_min >= self.l_required

    def as_dict(self) -> dict:
        """Plain numbers for the manifest and the audit log (no group values)."""
        data = asdict(self)
        data.pop("small_groups")
        data.pop("uniform_groups")
        data.pop("small_group_count")
        data.pop("uniform_group_count")
        data["quasi_identifiers"] = list(self.quasi_identifiers)
        data["passed"] = self.passed
        return data


def assess(rows: pd.DataFrame, *, k: int, l: int = 2, quasi: Sequence[str] = QUASI_IDENTIFIERS,  # noqa: E741
           sensitive: str = SENSITIVE) -> RiskMetrics:
    """Measure an extract's re-identification risk; the rows are not changed.

    Args:
        rows: one row per person, holding the generalised quasi-identifier columns.
        k: the least group size the release needs (8 internal, 10 public).
        l: the least number of distinct `sensitive` values per group of the other quasi-identifiers.
        quasi: the quasi-identifier columns.
        sensitive: the sensitive attribute, itself one of `quasi` or not.

    Returns:
        RiskMetrics. Risk of a record is 1 / (its group's size): the chance of picking the right
        person in that group; the highest is 1 / k_min and the average is groups / records.

    Examples:
        >>> rows = pd.DataFrame({"area": ["A"] * 3 + ["B"], "age_band": ["80+"] * 4, "period": ["W1"] * 4,
        ...                      "outcome": ["answered"] * 4, "volunteer": [False] * 4,
        ...                      "needs": ["food", "food", "none", "none"]})
        >>> m = assess(rows, k=2)
        >>> m.k_min, m.unique_records, m.l_min, m.passed
        (1, 2, 1, False)
    """
    quasi = tuple(quasi)
    if rows.empty:
        return RiskMetrics(0, 0, 0, 0, 0.0, 0.0, 0.0, 0, k, l, quasi)
    keys = rows[list(quasi)].astype("string").fillna("unknown")
    sizes = keys.value_counts(sort=False).rename("size").reset_index()
    per_record = keys.merge(sizes, on=list(quasi), how="left")["size"]
    others = [q for q in quasi if q != sensitive]
    # "not asked" (the call was not answered) says nothing about health, and with the outcome a
    # quasi-identifier it is uniform by construction: ℓ is measured over the people who were asked.
    asked = (rows[sensitive].astype("string") != NOT_ASKED).fillna(True).to_numpy()
    diversity = _diversity(keys[asked], rows[sensitive][asked].astype("string").fillna("none"), others)
    l_min = int(diversity["distinct"].min()) if not diversity.empty else l  # nobody asked: nothing to tell
    return RiskMetrics(
        records=len(rows), groups=len(sizes), k_min=int(sizes["size"].min()),
        unique_records=int((sizes["size"] == 1).sum()),
        share_below_k=round(float((per_record < k).mean()), 4),
        max_risk=round(1 / float(sizes["size"].min()), 4), avg_risk=round(len(sizes) / len(rows), 4),
        l_min=l_min, k_required=k, l_required=l, quasi_identifiers=quasi,
        small_groups=_groups(sizes[sizes["size"] < k], quasi),
        uniform_groups=_groups(diversity[diversity["distinct"] < l], others, distinct=True),
        small_group_count=int((sizes["size"] < k).sum()),
        uniform_group_count=int((diversity["distinct"] < l).sum()),
    )


def _diversity(keys: pd.DataFrame, sensitive: pd.Series, others: list[str]) -> pd.DataFrame:
    frame = keys[others].assign(_s=sensitive.to_numpy())
    grouped = frame.groupby(others, sort=False, dropna=False)["_s"]
    return pd.DataFrame({"size": grouped.size(), "distinct": grouped.nunique()}).reset_index()


def _groups(frame: pd.DataFrame, names: Sequence[str], distinct: bool = False) -> tuple[Group, ...]:
    smallest = frame.sort_values(["size", *names]).head(SHOWN_GROUPS)
    return tuple(Group({n: str(row[n]) for n in names}, int(row["size"]),
                       int(row["distinct"]) if distinct else None) for _, row in smallest.iterrows())


def gate(metrics: RiskMetrics, *, suggestion: str = "") -> None:
    """Block a release whose metrics fail; name the failing columns and group counts, never a group's values.

    The refusal is read by whoever asked, so it must not be a back door: it names the combination of
    quasi-identifiers by its columns and counts the groups that fail, and says what to try.

    Raises:
        DisclosureError: k-min under the required k, ℓ under the required ℓ, or no records at all.
    """
    if metrics.passed:
        return
    if metrics.records == 0:
        raise DisclosureError("The extract has no records to release; widen the period or the branch.")
    problems = []
    columns = ", ".join(metrics.quasi_identifiers)
    if metrics.k_min < metrics.k_required:
        problems.append(f"the combination ({columns}) has {metrics.small_group_count} group"
                        f"{'s' if metrics.small_group_count != 1 else ''} of fewer than {metrics.k_required} "
                        f"records (k-min is below {metrics.k_required})")
    if metrics.l_min < metrics.l_required:
        others = ", ".join(q for q in metrics.quasi_identifiers if q != SENSITIVE)
        problems.append(f"the combination ({others}) has {metrics.uniform_group_count} group"
                        f"{'s' if metrics.uniform_group_count != 1 else ''} with fewer than "
                        f"{metrics.l_required} distinct {SENSITIVE} values (ℓ-diversity below "
                        f"{metrics.l_required})")
    advice = f" Try coarser settings: {suggestion}." if suggestion else ""
    raise DisclosureError("The extract was blocked, nothing was written: " + ". ".join(problems) + "."
                          + advice)


__all__ = ["QUASI_IDENTIFIERS", "SENSITIVE", "Group", "RiskMetrics", "assess", "gate"]

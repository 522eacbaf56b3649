"""Disclosure control: small-number suppression, rounding, secondary suppression, generalisation.

Two profiles:

- ``internal`` follows NHS Digital (HES/ECDS, 2018): 1 to 7 is suppressed (shown ``*``), 8 and above
  is rounded to the nearest 5, and 0 is shown as 0, except beside a suppressed cell (see below).
  Totals come from the raw data, then are rounded. Percentages and means are shown only where
  n >= 8, computed from the rounded figures.
- ``public`` follows the ONS "10-5" rule: counts under 10 are suppressed, zeros included, the rest
  are rounded to the nearest 5.

A suppressed cell is ``<NA>`` in the nullable ``Int64`` columns these functions return; writers
show it as ``*`` (`SUPPRESSED`). When rounding is turned off (``Profile(rounding=False)``) the exact
totals would let anyone subtract the visible cells from a total, so `secondary_suppress` hides
more cells until no suppressed cell can be worked out from the totals.

Zeros beside suppressed cells (`hide_zeros`). Perturbation never makes a count 0 and never makes a
0 anything else, so if every 0 were shown, a ``*`` would always mean "at least 1". Over a series
that is a lower bound an intruder can add up: a small branch's 14 calls, each on its own day and
outcome, show as 14 suppressed cells in 16 one-day releases (so at least 14 in all), and the
round's total for the branch, shown as 10, is at most 14 (10 plus 2 of rounding plus 2 of noise):
every one of those cells, and every cell of that column of the round's table, is then pinned
exactly. So the internal profile also suppresses every 0 that shares a line with a suppressed cell
(its row or its column, a hierarchy level, or the column with its total; a total counts as part of
its lines). A ``*`` may then be a 0, each suppressed cell's true count ranges down to 0, and the
lower bounds no longer add up to anything. A 0 in lines with no suppressed cell is still shown, as
NHS Digital shows it: it sits among counts of 8 or more, so it bounds nothing small. The public
profile suppresses every zero anyway.

Every function takes a DataFrame and returns a new one; the input is never changed.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.errors import DisclosureError, InputError
from workbench.reports import cellkey
from workbench.scoring import AGE_BANDS, age_band, age_band_sql

SUPPRESSED = "*"
AGE_BAND_LABELS = tuple(label for label, _, _ in AGE_BANDS)


@dataclass(frozen=True)
class Profile:
    """One disclosure-control method.

    Attributes:
        name: "internal" or "public".
        threshold: counts below this are suppressed (8 internal, 10 public); it is also the k-min
            for row-level extracts and the n below which no percentage or mean is shown.
        suppress_zero: whether every zero count is suppressed too (public) or stays 0 (internal).
        hide_zeros: whether a zero that shares a line with a suppressed cell is suppressed too
            (internal; see the module's notes): then a ``*`` never says "at least 1".
        base: counts that are shown are rounded to the nearest `base`.
        rounding: when False, counts are shown exactly and secondary suppression protects them.
        l_min: the least ℓ-diversity of need categories a row-level extract may have.
        area: how postcodes are generalised: "sector" (internal) or "district" (public).
        period: how dates are generalised: "week" (internal, ISO weeks) or "month" (public).
    """

    name: str
    threshold: int
    suppress_zero: bool
    hide_zeros: bool = True
    base: int = 5
    rounding: bool = True
    l_min: int = 2
    area: str = "sector"
    period: str = "week"

    @property
    def zero_rule(self) -> str:
        """How zeros are published, in the words of the manifest."""
        if self.suppress_zero:
            return "suppressed"
        return "suppressed beside a suppressed count, shown elsewhere" if self.hide_zeros else "shown"

    def describe(self) -> list[str]:
        """The rules applied, in words, for the report's "How this was protected" and its manifest."""
        zero = ("Zeros are suppressed too." if self.suppress_zero else
                "Zeros are shown as 0, except a zero in the same row or column (or the same subtotal) as a "
                f"suppressed cell, which is suppressed too, so that {SUPPRESSED} may be 0 and never means "
                "'at least 1'." if self.hide_zeros else "Zeros are shown as 0.")
        rules = ["Every count is perturbed first by the cell-key method (ONS, Census 2021): a noise of at "
                 "most 2 either way, looked up from a fixed table by the cell's key and value, so the same "
                 "cell always shows the same figure. A true 0 stays 0 and nothing else becomes 0. Totals "
                 "are perturbed in their own right, so rows need not add up to them exactly.",
                 f"Perturbed counts from 1 to {self.threshold - 1} are suppressed and shown as {SUPPRESSED}. "
                 f"{zero}"]
        if self.rounding:
            rules.append(f"Counts that are shown are rounded to the nearest {self.base}; totals are computed "
                         "from the raw data, perturbed and then rounded, so they need not equal the sum of "
                         "the rows.")
        else:
            rules.append("Counts are exact; secondary suppression hides further cells so that no suppressed "
                         "cell can be worked out from the totals.")
        rules.append(f"Percentages and means are shown only where n is at least {self.threshold}, and are "
                     "computed from the rounded figures.")
        rules.append(f"Dates in tables are generalised to {self.period}s. A row-level extract generalises "
                     f"postcodes to {self.area}s (or coarser), dates to {self.period}s (or coarser) and "
                     f"ages to bands ({', '.join(AGE_BAND_LABELS)}). No date of birth is ever used.")
        return rules


PROFILES: dict[str, Profile] = {
    "internal": Profile("internal", threshold=8, suppress_zero=False, area="sector", period="week"),
    "public": Profile("public", threshold=10, suppress_zero=True, area="district", period="month"),
}


def profile(name: str | Profile, *, rounding: bool = True) -> Profile:
    """The profile called `name` (or `name` itself), with rounding switched on or off.

    Raises:
        InputError: an unknown profile name.
    """
    if isinstance(name, Profile):
        return name if name.rounding == rounding else dataclasses.replace(name, rounding=rounding)
    if name not in PROFILES:
        raise InputError(f'Unknown disclosure profile "{name}". Expected one of: {", ".join(PROFILES)}.')
    return dataclasses.replace(PROFILES[name], rounding=rounding)


# -- cell rules --------------------------------------------------------------------------------------


def primary_mask(values: pd.Series, prof: Profile) -> pd.Series:
    """True where a raw count must be suppressed under `prof` (missing counts count as 0)."""
    raw = pd.to_numeric(values).fillna(0)
    small = raw < prof.threshold
    return small if prof.suppress_zero else small & (raw != 0)


def hide_zeros(values: np.ndarray, suppressed: np.ndarray, lines: Sequence[Sequence[int]]) -> np.ndarray:
    """Also suppress every zero that shares a line with a suppressed cell that is not itself a zero,
    and a line's zero total when any cell of its line is hidden.

    Without it a ``*`` means "at least 1" (nothing else is published as 0), and over a series of
    releases those lower bounds add up until they meet a total's upper bound and pin every cell
    (see the module's notes). A total published as 0 says that every cell of its line is 0, so it
    would name the hidden zeros among them and leave the other ``*`` as "at least 1" again: it is
    hidden too. Otherwise a hidden zero hides no further zeros, so applying this twice changes
    nothing.

    Args:
        values: flat array of the (perturbed) cell values.
        suppressed: flat boolean array, True where a cell is suppressed.
        lines: index lists into the flat arrays (`table_lines`): cells published with one total.

    Returns:
        A new boolean array: the suppressed cells and the zeros beside them.

    Examples:
        Two rows and two columns with their totals, row by row (a1 a2 A, b1 b2 B, t1 t2 T):

        >>> grid = np.array([0, 3, 3, 0, 9, 9, 0, 12, 12])
        >>> hide_zeros(grid, grid == 3, table_lines(3, 3)).reshape(3, 3).tolist()
        [[True, True, True], [False, False, False], [True, False, False]]

        a1 is a zero beside the suppressed a2 (and A): hidden. b1 is a zero beside a hidden zero, not
        beside a suppressed count: it stays 0. t1, the first column's total, would say that a1 is 0:
        hidden.
    """
    out = np.asarray(suppressed, dtype=bool).copy()
    zero = np.asarray(values) == 0
    counted = out & ~zero
    for line in lines:
        line = np.asarray(line, dtype=int)
        if line.size and counted[line].any():
            out[line[zero[line]]] = True
    for line in lines:  # a line's last cell is its total (`table_lines`)
        if len(line) > 1 and zero[line[-1]] and out[list(line[:-1])].any():
            out[line[-1]] = True
    return out


def protect_mask(values: np.ndarray, prof: Profile, lines: Sequence[Sequence[int]],
                 hidden: np.ndarray | None = None) -> np.ndarray:
    """Which cells of a table (flat, perturbed values; `lines` as `table_lines`) are suppressed.

    The small-number rule first (and any cells `hidden` already); then, without rounding, secondary
    suppression; then (internal) the zeros beside a suppressed count. Without rounding a hidden zero
    must not be the one suppressed cell of another line (that line's exact total would give it
    away), so secondary suppression and hiding zeros repeat until neither changes anything.

    Examples:
        >>> internal = PROFILES["internal"]
        >>> lines = table_lines(2, 3)   # one row, its total row; two columns and their total
        >>> protect_mask(np.array([3, 0, 3, 3, 0, 3]), internal, lines).tolist()
        [True, True, True, True, True, True]
        >>> protect_mask(np.array([30, 0, 30, 30, 0, 30]), internal, lines).tolist()
        [False, False, False, False, False, False]
    """
    values = np.asarray(values, dtype=float)
    mask = primary_mask(pd.Series(values), prof).to_numpy()
    if hidden is not None:
        mask |= np.asarray(hidden, dtype=bool)
    while True:
        before = mask.copy()
        if not prof.rounding:
            mask = secondary_suppress(values, mask, lines)
        if prof.hide_zeros and not prof.suppress_zero:
            mask = hide_zeros(values, mask, lines)
        if (mask == before).all():
            return mask


def linked_masks(values: Mapping[str, np.ndarray], prof: Profile, lines: Sequence[Sequence[int]]
                 ) -> dict[str, np.ndarray]:
    """`protect_mask` for count columns over the same rows and lines that are 0 together: attempts,
    members called and members reached (no attempts, nobody called, nobody reached).

    In a row where all of them are 0, a 0 shown in one says the others are 0 too, so a zero hidden
    in one of them is hidden in all (and secondary suppression runs again for it).

    Examples:
        >>> internal = PROFILES["internal"]
        >>> lines = [[0, 1, 2, 3]]   # three rows and their total
        >>> masks = linked_masks({"attempts": np.array([0, 30, 9, 39]),
        ...                       "called": np.array([0, 12, 3, 15])}, internal, lines)
        >>> masks["attempts"].tolist(), masks["called"].tolist()
        ([True, False, False, False], [True, False, True, False])

        The first row's called 0 is hidden beside the suppressed 3; its attempts 0 would say so.
    """
    flat = {name: np.asarray(v, dtype=float) for name, v in values.items()}
    zero_rows = np.logical_and.reduce([v == 0 for v in flat.values()])
    forced = np.zeros(len(zero_rows), dtype=bool)
    while True:
        masks = {name: protect_mask(v, prof, lines, forced) for name, v in flat.items()}
        linked = zero_rows & np.logical_or.reduce(list(masks.values()))
        if (linked <= forced).all():
            return masks
        forced |= linked


def round_counts(values: pd.Series, base: int = 5) -> pd.Series:
    """Round counts to the nearest `base`, halves upwards (so 8 -> 10, 12 -> 10, 13 -> 15).

    Examples:
        >>> round_counts(pd.Series([8, 12, 13, 102])).tolist()
        [10, 10, 15, 100]
    """
    raw = pd.to_numeric(values).fillna(0).astype("int64")
    return (raw + base // 2) // base * base


def protect_counts(df: pd.DataFrame, columns: Sequence[str], prof: Profile | str) -> pd.DataFrame:
    """Apply the cell rule to each count column: suppress (``<NA>``) or round; other columns unchanged.

    This is the whole rule when rounding is on. With rounding off, use `protect_table`, which
    also applies secondary suppression across rows, columns and the totals.

    Args:
        df: a table holding raw counts in `columns`.
        columns: the count columns.
        prof: the profile, or its name.

    Returns:
        A new DataFrame; each count column is nullable Int64 with <NA> where suppressed.

    Examples:
        >>> t = pd.DataFrame({"ward": list("abcd"), "n": [0, 3, 8, 27]})
        >>> protect_counts(t, ["n"], "internal")["n"].tolist()
        [0, <NA>, 10, 25]
    """
    prof = profile(prof) if isinstance(prof, str) else prof
    out = df.copy()
    for column in columns:
        value = perturbed(out, column)
        shown = round_counts(value, prof.base) if prof.rounding else value
        out[column] = shown.astype("Int64").mask(primary_mask(value, prof))
    return cellkey.drop_keys(out)


def perturbed(df: pd.DataFrame, column: str) -> pd.Series:
    """The count column with its cell-key noise added, when `df` carries its cell keys (see cellkey).

    The small-number rule and rounding apply to this value, so the truth decides nothing on its own.
    A frame without keys (a hand-made table in a test or a doctest) is returned unperturbed.
    """
    raw = pd.to_numeric(df[column]).fillna(0).astype("int64")
    if not cellkey.has_keys(df, column):
        return raw
    keys = pd.to_numeric(df[cellkey.key_column(column)]).fillna(0).astype("int64")
    return pd.Series(cellkey.perturb(raw.to_numpy(), keys.to_numpy()), index=df.index)


def percentage(numerator: pd.Series, denominator: pd.Series, raw_n: pd.Series, prof: Profile,
               decimals: int = 1) -> pd.Series:
    """Percentages from the protected (rounded) figures, shown only where the raw n is at least the threshold.

    Args:
        numerator: protected counts (Int64, <NA> where suppressed).
        denominator: protected counts of the base.
        raw_n: the raw base counts, which decide whether a percentage may be shown at all.

    Returns:
        Float percentages, NaN where not shown.
    """
    num = pd.to_numeric(numerator).astype("Float64")
    den = pd.to_numeric(denominator).astype("Float64")
    allowed = (pd.to_numeric(raw_n).fillna(0) >= prof.threshold) & den.notna() & (den > 0) & num.notna()
    result = (num / den * 100).round(decimals)
    return result.where(allowed).astype("float64")


def mean(sums: pd.Series, raw_n: pd.Series, prof: Profile, decimals: int = 1) -> pd.Series:
    """Means (sum / n) shown only where the raw n is at least the threshold; NaN elsewhere."""
    n = pd.to_numeric(raw_n).fillna(0)
    result = (pd.to_numeric(sums) / n.where(n > 0)).round(decimals)
    return result.where(n >= prof.threshold).astype("float64")


# -- secondary suppression ---------------------------------------------------------------------------


def secondary_suppress(values: np.ndarray, suppressed: np.ndarray,
                       lines: Sequence[Sequence[int]]) -> np.ndarray:
    """Suppress more cells until no suppressed cell can be worked out from the lines' totals.

    Each line is a set of cells whose signed sum is published (a row with its total cell, a column
    with its total, a hierarchy level with its subtotal); the total cell itself is one of the
    line's cells. First, any line with exactly one suppressed cell gets its smallest other cell
    suppressed too, repeated until nothing changes. Then the linear system is checked as a whole
    (two lines can pin a cell that neither pins alone) and a further cell is hidden for each cell
    still determined.

    Args:
        values: flat array of raw cell values (used to choose the smallest cell to hide).
        suppressed: flat boolean array, True where a cell is already suppressed.
        lines: index lists into the flat arrays.

    Returns:
        A new boolean array: the primary and secondary suppressions together.
    """
    mask = np.asarray(suppressed, dtype=bool).copy()
    values = np.asarray(values, dtype=float)
    lines = [np.asarray(line, dtype=int) for line in lines]
    while True:
        changed = _close_single_cells(values, mask, lines)
        determined = _determined_cells(mask, lines)
        if determined.size:
            changed = _hide_partner(values, mask, lines, int(determined[0])) or changed
        if not changed:
            return mask


def _close_single_cells(values: np.ndarray, mask: np.ndarray, lines: list[np.ndarray]) -> bool:
    changed = False
    while True:
        step = False
        for line in lines:
            if mask[line].sum() == 1 and _hide_smallest(values, mask, line):
                step = changed = True
        if not step:
            return changed


def _hide_smallest(values: np.ndarray, mask: np.ndarray, cells: np.ndarray) -> bool:
    visible = cells[~mask[cells]]
    if visible.size == 0:
        return False
    # Smallest value first; ties go to the earliest cell, so the result is deterministic.
    mask[visible[np.argmin(values[visible])]] = True
    return True


def _incidence(mask: np.ndarray, lines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    unknown = np.flatnonzero(mask)
    position = {cell: i for i, cell in enumerate(unknown)}
    matrix = np.zeros((len(lines), unknown.size))
    for row, line in enumerate(lines):
        for i, cell in enumerate(line):
            if cell in position:
                # A line says: its cells sum to its last cell (the total).
                matrix[row, position[cell]] = -1.0 if i == len(line) - 1 else 1.0
    return unknown, matrix


def _determined_cells(mask: np.ndarray, lines: list[np.ndarray]) -> np.ndarray:
    """Suppressed cells whose value follows from the published totals by linear algebra.

    A cell x_j is determined exactly when every solution of A x = 0 has x_j = 0, that is when
    dropping column j lowers the rank of A (the lines restricted to the suppressed cells).
    """
    unknown, matrix = _incidence(mask, lines)
    if unknown.size == 0:
        return unknown
    rank = np.linalg.matrix_rank(matrix)
    pinned = [cell for j, cell in enumerate(unknown)
              if np.linalg.matrix_rank(np.delete(matrix, j, axis=1)) < rank]
    return np.asarray(pinned, dtype=int)


def _hide_partner(values: np.ndarray, mask: np.ndarray, lines: list[np.ndarray], cell: int) -> bool:
    """Hide the smallest visible cell that shares a line with `cell`."""
    partners = np.unique(np.concatenate([line for line in lines if cell in line] or [np.empty(0, int)]))
    return _hide_smallest(values, mask, partners)


def table_lines(n_rows: int, n_cols: int, groups: Sequence[Sequence[int]] = (), *,
                row_totals: bool = True) -> list[list[int]]:
    """The lines of a row-major grid whose last row is the grand total (and last column the row totals).

    Each line lists cells whose sum is published as the line's last cell.

    Args:
        n_rows, n_cols: the grid's size including the totals row (and column).
        groups: for a hierarchy, each group lists the row positions of its children followed by
            its subtotal row; the grand total row then sums the subtotal rows.
        row_totals: whether the last column holds each row's total (False for a single count column).

    Returns:
        Index lists for `secondary_suppress`.
    """
    lines = [[r * n_cols + c for c in range(n_cols)] for r in range(n_rows)] if row_totals else []
    tops = [group[-1] for group in groups] if groups else list(range(n_rows - 1))
    for c in range(n_cols):
        lines.append([r * n_cols + c for r in [*tops, n_rows - 1]])
        lines += [[r * n_cols + c for r in group] for group in groups]
    return lines


def protect_table(df: pd.DataFrame, index: str | list[str], columns: str | None, value: str,
                  prof: Profile | str, *, total_label: str = "Total") -> pd.DataFrame:
    """A cross-tabulation of raw counts with totals, protected under `prof`.

    Totals come from the raw data and are then protected like any other cell. With rounding on,
    cells are suppressed or rounded; with rounding off, secondary suppression is applied across
    rows, columns and totals (and across each top-level group when `index` has two levels), so
    no suppressed cell can be worked out by subtraction. Internally, zeros in those same lines
    beside a suppressed cell are suppressed too (`hide_zeros`).

    Args:
        df: long table of raw counts: the `index` columns, the `columns` column and `value`.
        index: the row dimension (one name, or two for a hierarchy such as branch, ward).
        columns: the column dimension, or None for a single count column.
        value: the count column.
        prof: the profile, or its name.

    Returns:
        A new wide DataFrame (index reset) with Int64 counts, <NA> where suppressed, and a
        `total_label` row and column.

    Examples:
        >>> long = pd.DataFrame({"ward": ["a", "a", "b"], "need": ["food", "housing", "food"],
        ...                      "n": [3, 9, 20]})
        >>> protect_table(long, "ward", "need", "n", "internal")["food"].tolist()
        [<NA>, 20, 25]
    """
    prof = profile(prof) if isinstance(prof, str) else prof
    index = [index] if isinstance(index, str) else list(index)
    # A total's records are its cells' records, so its key is their keys' sum (modulo 256): the total
    # is perturbed in its own right, and gets the same value in every table that shows it.
    keyed = cellkey.has_keys(df, value)
    names = [value, cellkey.key_column(value)] if keyed else [value]
    labels, columns_out, grids, groups = _grids_with_totals(df, index, columns, names, total_label)
    values = cellkey.perturb(grids[0], grids[1]) if keyed else grids[0]
    values = values.astype(float)
    lines = table_lines(*values.shape, groups, row_totals=columns is not None)
    shown = _published(values.ravel(), protect_mask(values.ravel(), prof, lines), prof).reshape(values.shape)
    out = pd.DataFrame(shown, index=labels, columns=columns_out).astype("Int64")
    out.columns.name = None
    return out.reset_index()


def protect_columns(df: pd.DataFrame, index: str | list[str], values: Sequence[str], prof: Profile | str,
                    *, total_label: str = "Total") -> pd.DataFrame:
    """Count columns that are 0 together (attempts, members called, reached), each protected as
    `protect_table` protects one count column with its totals, their zeros hidden together
    (`linked_masks`).

    Returns:
        A new DataFrame (index reset): the `index` columns, then one Int64 column per value, <NA>
        where suppressed, with subtotal and `total_label` rows.
    """
    prof = profile(prof) if isinstance(prof, str) else prof
    index = [index] if isinstance(index, str) else list(index)
    keyed = {v: cellkey.has_keys(df, v) for v in values}
    names = [n for v in values for n in ([v, cellkey.key_column(v)] if keyed[v] else [v])]
    labels, _, grids, groups = _grids_with_totals(df, index, None, names, total_label)
    grid = dict(zip(names, grids, strict=True))
    flat = {v: (cellkey.perturb(grid[v], grid[cellkey.key_column(v)]) if keyed[v] else grid[v])
            .astype(float).ravel() for v in values}
    masks = linked_masks(flat, prof, table_lines(len(labels), 1, groups, row_totals=False))
    out = pd.DataFrame(index=labels)
    for v in values:
        out[v] = pd.array(_published(flat[v], masks[v], prof), dtype="Int64")
    return out.reset_index()


def _published(values: np.ndarray, mask: np.ndarray, prof: Profile) -> np.ndarray:
    """Perturbed counts as released: rounded under `prof`, <NA> where `mask` suppresses them."""
    shown = round_counts(pd.Series(values), prof.base) if prof.rounding else pd.Series(values)
    return shown.astype("Int64").mask(mask).to_numpy()


def _grids_with_totals(df: pd.DataFrame, index: list[str], columns: str | None, names: list[str],
                       total_label: str) -> tuple[pd.Index, pd.Index, list[np.ndarray], list[list[int]]]:
    """The wide grid of each column in `names` (the counts, then their cell keys), with totals.

    One grouping serves every grid. With two index levels a subtotal row follows each top-level
    group; the last row is the grand total and, with `columns`, the last column each row's total.

    Returns:
        The row labels, the column labels, one int64 array per name, and each group's row positions.
    """
    if columns is None:
        wide = df.groupby(index, sort=True, observed=True)[names].sum()
        grids = [wide[[name]].to_numpy(dtype="int64") for name in names]
        column_labels = pd.Index([names[0]])
    elif df.empty:   # no rows and no columns: only the totals, all 0
        wide = df.groupby(index, sort=True, observed=True)[names].sum().iloc[:, :0]
        grids = [np.zeros((0, 1), dtype="int64") for _ in names]
        column_labels = pd.Index([total_label], name=columns)
    else:
        wide = df.groupby([*index, columns], sort=True, observed=True)[names].sum() \
            .unstack(columns, fill_value=0)
        grids = [wide[name].to_numpy(dtype="int64") for name in names]
        grids = [np.column_stack([grid, grid.sum(axis=1)]) for grid in grids]
        column_labels = pd.Index([*wide[names[0]].columns, total_label], name=columns)
    labels = wide.index
    groups: list[list[int]] = []
    if len(index) == 2:
        labels, grids, groups = _with_subtotals(labels, grids, total_label)
    tops = [group[-1] for group in groups] if groups else slice(None)
    grids = [np.vstack([grid, grid[tops].sum(axis=0)]) for grid in grids]
    total = (total_label,) * len(index) if len(index) > 1 else total_label
    labels = labels.append(pd.MultiIndex.from_tuples([total], names=labels.names) if len(index) > 1
                           else pd.Index([total], name=labels.name))
    return labels, column_labels, grids, groups


def _with_subtotals(labels: pd.MultiIndex, grids: list[np.ndarray],
                    total_label: str) -> tuple[pd.MultiIndex, list[np.ndarray], list[list[int]]]:
    """Insert a subtotal row after each top-level group (rows are sorted, so each group is one run)."""
    if len(labels) == 0:
        return labels, grids, []
    tops = labels.get_level_values(0)
    starts = [0, *(np.flatnonzero(tops[1:] != tops[:-1]) + 1), len(labels)]
    rows, groups, parts = [], [], [[] for _ in grids]
    for start, end in zip(starts, starts[1:], strict=False):
        groups.append(list(range(len(rows), len(rows) + end - start + 1)))
        rows += [*labels[start:end], (tops[start], total_label)]
        for part, grid in zip(parts, grids, strict=True):
            part += [grid[start:end], grid[start:end].sum(axis=0, keepdims=True)]
    stacked = [np.vstack(part) if part else grid for part, grid in zip(parts, grids, strict=True)]
    return pd.MultiIndex.from_tuples(rows, names=labels.names), stacked, groups


def for_display(df: pd.DataFrame) -> pd.DataFrame:
    """The table as text for CSV and HTML: suppressed cells as ``*``, no NaN anywhere."""
    out = df.astype(object).where(df.notna(), SUPPRESSED)
    return out


# -- generalisation ----------------------------------------------------------------------------------

POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9])[A-Z]{2}$")


def postcode_area(postcodes: pd.Series, level: str) -> pd.Series:
    """Generalise full postcodes to their sector ("SW1A 1") or district ("SW1A"); others become <NA>.

    Examples:
        >>> postcode_area(pd.Series(["sw1a 1aa", "LS1 4AP", "nonsense"]), "sector").tolist()
        ['SW1A 1', 'LS1 4', None]
    """
    if level not in ("sector", "district"):
        raise InputError(f'Unknown postcode level "{level}". Expected one of: sector, district.')
    parts = postcodes.astype("string").str.upper().str.replace(r"\s+", "", regex=True).str.extract(POSTCODE)
    area = parts[0] + " " + parts[1] if level == "sector" else parts[0]
    return area.astype(object).where(area.notna(), None)


def age_bands(ages: pd.Series) -> pd.Series:
    """`scoring.age_band` over a Series: 18–34, 35–49, 50–64, 65–79, 80+; under 18 or unknown gives None."""
    return ages.map(age_band).astype(object)


PERIODS = ("week", "month", "quarter")


def period_sql(column: str, level: str) -> str:
    """A DuckDB expression generalising a trusted timestamp column to an ISO week, month or quarter."""
    formats = {"week": f"strftime({column}, '%G-W%V')", "month": f"strftime({column}, '%Y-%m')",
               "quarter": f"(year({column})::VARCHAR || '-Q' || quarter({column})::VARCHAR)"}
    if level not in formats:
        raise InputError(f'Unknown period "{level}". Expected one of: {", ".join(PERIODS)}.')
    return formats[level]


def period(dates: pd.Series, level: str) -> pd.Series:
    """Generalise dates to ISO weeks ("2020-W15"), months ("2020-04") or quarters ("2020-Q2").

    Examples:
        >>> period(pd.Series(pd.to_datetime(["2020-04-06", "2021-01-01"])), "week").tolist()
        ['2020-W15', '2020-W53']
    """
    stamps = pd.to_datetime(dates)
    if level == "week":
        iso = stamps.dt.isocalendar()
        return iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    if level == "month":
        return stamps.dt.strftime("%Y-%m")
    if level == "quarter":
        return stamps.dt.year.astype(str) + "-Q" + stamps.dt.quarter.astype(str)
    raise InputError(f'Unknown period "{level}". Expected one of: {", ".join(PERIODS)}.')


# -- the release scan --------------------------------------------------------------------------------
# The last line of defence: every file of a release is read back before it leaves the staging
# folder, and anything that looks like a person stops the whole release.

PHONE_PATTERNS = (
    re.compile(r"(?<![\w+])\+[1-9]\d{9,14}(?!\d)"),                                     # E.164
    re.compile(r"(?<![\w+.])\+44[\s-]?\(?0?\)?[\s-]?\d{2,5}[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\w.])"),
    re.compile(r"(?<![\w.])\(?0\d{2,5}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\w.])"),            # 07700 900123
)
EMAIL_PATTERN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A full UK postcode: inward codes never use C, I, K, M, O or V, which keeps words out.
FULL_POSTCODE = re.compile(r"\b[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][ABD-HJLNP-UW-Z]{2}\b", re.IGNORECASE)
WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
SEGMENT_SPLIT = re.compile(r'[\r\n\t",<>\[\]{}|]+')
NOT_ALNUM = re.compile(r"[^a-z0-9]+")
MIN_NOTE_LENGTH = 12     # shorter notes ("ok", "fine") are common words, not identifying text
SHINGLE = 5              # a run of five words shared with any call note is a leak of that note
MIN_SURNAME_LENGTH = 3
MIN_CALLER_LENGTH = 3    # 'C01' and up (pseudonymise.caller_pseudonym gives 'C0001'), never '1'
# A membership number that is a bare number counts only from this many digits: a report is made of
# counts (up to 7 digits for a union's calls), and many tools number members 1, 2, 3 ... (a
# NationBuilder id), so a shorter one matched a count and stopped every report. A number with
# letters in it ('SYN0000042', 'M123') counts at any length.
MIN_NUMBER_DIGITS = 8


@dataclass(frozen=True)
class Finding:
    """Something personal found in a file: what kind it was and which file; never the value."""

    kind: str
    file: str


IDENTITY_SCAN_QUERY = """
WITH people AS (
    SELECT lower(trim(first_name)) AS first, lower(trim(last_name)) AS last,
           lower(trim(membership_number)) AS number
    FROM identities
-- A caller id counts only above a floor: at least {min_caller} characters and not a bare number, so a
-- caller "1" (from a store imported before callers were pseudonymised) never matches a count.
), callers AS (
    SELECT DISTINCT lower(trim(caller)) AS caller FROM calls
    WHERE length(trim(caller)) >= {min_caller} AND NOT regexp_full_match(trim(caller), '[0-9.,]+')
),
-- Only notes holding one of the files' own foreign words can match; finding them first (one regular
-- expression over the distinct notes) keeps the scan quick on a national store, and loses nothing.
-- (Distinct notes before lower-casing: most calls share a few notes, so lower() runs on few rows.)
raw_notes AS (
    SELECT DISTINCT lower(note) AS note
    FROM (SELECT DISTINCT notes AS note FROM calls WHERE notes IS NOT NULL)
),
notes AS (
    SELECT DISTINCT trim(regexp_replace(note, '[^a-z0-9]+', ' ', 'g')) AS note FROM raw_notes
    WHERE ?::VARCHAR IS NOT NULL AND regexp_matches(note, ?::VARCHAR)
), shingles AS (
    SELECT DISTINCT array_to_string(words[i:i + {shingle} - 1], ' ') AS shingle
    FROM (SELECT string_split(note, ' ') AS words FROM notes) w,
         range(1, len(words) - {shingle} + 2) AS r(i)
    WHERE len(words) >= {shingle}
)
-- Length limits are filters inside the subqueries, not join conditions: as join conditions they
-- made DuckDB plan a nested-loop join, 0.4 s of every national release.
-- A name made only of digits and punctuation ('0', '-') says nothing of anyone, and matched counts;
-- a bare membership number counts from {min_number} digits. Tested on the files' few tokens (equal to
-- the name or number they match), not on every identity.
SELECT DISTINCT 'a member''s full name' AS kind, t.file FROM scan_pairs t
    SEMI JOIN people p ON t.token = p.first || ' ' || p.last
    WHERE regexp_matches(t.token, '[^0-9[:punct:][:space:]]')
UNION SELECT 'a member''s surname', t.file FROM scan_tokens t
    SEMI JOIN (SELECT last FROM people WHERE length(last) >= {min_surname}) p ON t.token = p.last
    WHERE NOT t.allowed AND regexp_matches(t.token, '[^0-9[:punct:][:space:]]')
UNION SELECT 'a membership number', t.file FROM scan_tokens t SEMI JOIN people p ON t.token = p.number
    WHERE length(t.token) >= {min_number} OR NOT regexp_full_match(t.token, '[0-9]+')
UNION SELECT 'a caller id', t.file FROM (SELECT token, file FROM scan_tokens UNION ALL
                                        SELECT token, file FROM scan_pairs) t
    SEMI JOIN callers c ON t.token = c.caller
UNION SELECT 'call note text', t.file FROM scan_segments t
    SEMI JOIN (SELECT note FROM notes WHERE length(note) >= {min_note}) n ON t.token = n.note
UNION SELECT 'call note text', t.file FROM scan_shingles t SEMI JOIN shingles n ON t.token = n.shingle
"""


def scan_text(text: str, file: str) -> list[Finding]:
    """Phone numbers (UK and E.164), emails and full postcodes in one file's text."""
    found = []
    if any(_phone_like(m.group()) for pattern in PHONE_PATTERNS for m in pattern.finditer(text)):
        found.append(Finding("a phone number", file))
    if EMAIL_PATTERN.search(text):
        found.append(Finding("an email address", file))
    if FULL_POSTCODE.search(text):
        found.append(Finding("a full postcode", file))
    return found


JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def as_read(text: str) -> str:
    r"""A file's text as a reader sees it: HTML entities and JSON's \uXXXX escapes turned back into
    their characters. plotly writes a chart's labels into its script as JSON with / and < escaped
    ("\u002fa"), which looked like a postcode; and a name or number written in escapes is still read.

    Examples:
        >>> read = as_read(r"&lt;\u002fa&gt; 07700\u0020900123 \ud83d\ude00 \ud83d")
        >>> read == "</a> 07700 900123 \U0001f600 \ufffd"
        True
    """
    decoded = JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    # An emoji is escaped as two halves (d83d, de00): joined again, and a half alone replaced.
    decoded = decoded.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return html.unescape(decoded)


def _phone_like(match: str) -> bool:
    digits = sum(ch.isdigit() for ch in match)
    return 10 <= digits <= 15


def scan_release(con, files: Sequence, *, allowed_words: frozenset[str] = frozenset(),
                 known_safe: Sequence[str] = ()) -> list[Finding]:
    """Look for anything personal in the files of a release: patterns, and people present in the store.

    Args:
        con: the store; identities and calls are read in one query, inside DuckDB.
        files: the paths written.
        allowed_words: lower-case words the report itself uses (headings, ward and service names);
            a surname on its own is flagged only when it is not one of them. Full names,
            membership numbers, caller ids and notes are flagged whatever the words around them.
        known_safe: exact blocks of text that are not data (the inlined plotly.js library), removed
            before scanning.

    Returns:
        Findings (kind and file name only), empty when the release is clean.
    """
    findings, tokens, pairs, segments, shingles = [], [], [], [], []
    for path in files:
        name = Path(path).name
        text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
        for block in known_safe:
            text = text.replace(block, " ")
        text = as_read(text)
        findings += scan_text(text, name)
        words = [w.lower() for w in WORD.findall(text)]
        tokens += [(name, w, w in allowed_words) for w in set(words)]
        pairs += [(name, p) for p in {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}]
        # Text made only of the report's own words ("call back later") cannot carry a note's content.
        parts = {NOT_ALNUM.sub(" ", part.lower()).strip() for part in SEGMENT_SPLIT.split(text)}
        segments += [(name, p) for p in parts if len(p) >= MIN_NOTE_LENGTH and _foreign(p, allowed_words)]
        plain = NOT_ALNUM.sub(" ", text.lower()).split()
        runs = {" ".join(plain[i:i + SHINGLE]) for i in range(len(plain) - SHINGLE + 1)}
        shingles += [(name, run) for run in runs if _foreign(run, allowed_words)]
    foreign = {w for _, text in segments + shingles for w in text.split()
               if not w.isdigit() and w not in allowed_words}
    pattern = f"(^|[^a-z0-9])({'|'.join(sorted(foreign))})([^a-z0-9]|$)" if foreign else None
    return findings + _identity_findings(con, tokens, pairs, segments, shingles, pattern)


def _foreign(text: str, allowed_words: frozenset[str]) -> bool:
    """Whether some word of `text` is neither a number nor one of the report's own words."""
    return any(not word.isdigit() and word not in allowed_words for word in text.split())


def _identity_findings(con, tokens: list, pairs: list, segments: list, shingles: list,
                       note_pattern: str | None) -> list[Finding]:
    frames = {"scan_tokens": pd.DataFrame(tokens, columns=["file", "token", "allowed"]),
              "scan_pairs": pd.DataFrame(pairs, columns=["file", "token"]),
              "scan_segments": pd.DataFrame(segments, columns=["file", "token"]),
              "scan_shingles": pd.DataFrame(shingles, columns=["file", "token"])}
    for name, frame in frames.items():
        con.register(name, frame.astype({"file": "object", "token": "object"}))
    try:
        sql = IDENTITY_SCAN_QUERY.format(min_note=MIN_NOTE_LENGTH, min_surname=MIN_SURNAME_LENGTH,
                                         min_caller=MIN_CALLER_LENGTH, min_number=MIN_NUMBER_DIGITS,
                                         shingle=SHINGLE)
        rows = con.execute(sql, [note_pattern, note_pattern]).fetchall()
    finally:
        for name in frames:
            con.unregister(name)
    return [Finding(kind, file) for kind, file in sorted(rows, key=lambda r: (r[1], r[0]))]


def check_release(con, files: Sequence, **options) -> None:
    """Raise if `scan_release` finds anything; the message names the kinds and files, never a value.

    Raises:
        DisclosureError: something personal was found.
    """
    findings = scan_release(con, files, **options)
    if findings:
        shown = "; ".join(f"{f.kind} in {f.file}" for f in findings)
        raise DisclosureError(f"The release scan found {shown}. Nothing was released and the staging "
                              "folder was deleted. Report this as a bug: reports must never carry identity.")


__all__ = ["AGE_BANDS", "AGE_BAND_LABELS", "PERIODS", "PROFILES", "SUPPRESSED", "Finding", "Profile",
           "age_band", "age_band_sql", "age_bands", "check_release", "for_display", "hide_zeros",
           "linked_masks", "mean", "percentage", "period", "period_sql", "postcode_area", "primary_mask",
           "profile", "protect_columns", "protect_counts", "protect_mask", "protect_table", "round_counts",
           "scan_release", "scan_text", "secondary_suppress", "table_lines"]

"""Cell-key perturbation: the same cell always gets the same small noise (ONS, Census 2021).

Rounding and suppression protect one table. Two overlapping tables (two windows a day apart, a
branch against all branches, the same scope before and after one new call) can be subtracted to
reveal a suppressed count exactly. The cell-key method makes that subtraction worthless:

- every member holds a permanent, secret record key from 0 to 255 (`pseudonymise.record_keys_sql`);
- a cell's key is the sum of its records' keys modulo 256 (a call counts with its member's key);
- the cell's published value is its true value plus the noise `PTABLE` gives for (cell value, cell
  key). The same records give the same key, so the same cell gets the same noise in every release;
  a cell that differs by one record gets an unrelated key, so differences carry noise, not counts.

The perturbation table (documented in the README, fixed; changing it is a new release design):

========== ============================================ ==================================
true value  noise (out of 256 cell keys)                 note
========== ============================================ ==================================
0           0 (all 256)                                   zero stays zero
1           0 (all 256)                                   always suppressed anyway
2           -1 (64), 0 (128), +1 (64)                     published 1, 2 or 3
3 or more   -2 (32), -1 (48), 0 (96), +1 (48), +2 (32)    never more than 2 away
========== ============================================ ==================================

Every row has mean zero (the noise is unbiased), the noise is never more than 2 either way, no
count becomes negative, and no count other than 0 is ever published as 0: a shown 0 is a true 0,
as NHS Digital's rule shows it. (A table that could turn 1 or 2 into 0 lets an intruder pin cells:
two suppressed cells, so each at least 1, under a total shown as 0, so at most 2, are both 1.)
The other side of that coin: if every 0 were shown, a suppressed cell would be known to be at least
1, and a series of releases adds such lower bounds up until they meet a total's upper bound. So
disclosure control also suppresses the zeros beside a suppressed count (`disclosure.hide_zeros`).
Perturbation is a lookup per cell, never per record, and never in place:
the store keeps the truth; the small-number rule and rounding then apply to the perturbed value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEY_RANGE = 256          # record and cell keys are integers 0..255; a cell key is a sum modulo 256
MAX_NOISE = 2
KEY_SUFFIX = "_cellkey"  # a raw frame's column "<count>_cellkey" holds the cell keys of "<count>"

# (noise, how many of the 256 cell keys give it), in key order, for true values 0, 1 and 2 or more.
PTABLE: dict[int, tuple[tuple[int, int], ...]] = {
    0: ((0, 256),),
    1: ((0, 256),),
    2: ((-1, 64), (0, 128), (1, 64)),
    3: ((-2, 32), (-1, 48), (0, 96), (1, 48), (2, 32)),
}


def _lookup() -> np.ndarray:
    """PTABLE as an array: noise[min(value, 3), cell_key]."""
    table = np.zeros((len(PTABLE), KEY_RANGE), dtype=np.int64)
    for row, steps in PTABLE.items():
        table[row] = np.repeat([noise for noise, _ in steps], [width for _, width in steps])
    return table


NOISE = _lookup()


def noise(values, keys) -> np.ndarray:
    """The perturbation PTABLE gives each (true value, cell key).

    Examples:
        >>> noise([0, 1, 2, 2, 5, 5], [200, 0, 0, 255, 0, 255]).tolist()
        [0, 0, -1, 1, -2, 2]
    """
    true = np.asarray(values, dtype=np.int64)
    cell = np.asarray(keys, dtype=np.int64) % KEY_RANGE
    return NOISE[np.minimum(true, len(PTABLE) - 1), cell]


def perturb(values, keys) -> np.ndarray:
    """True counts plus their table noise: never negative, zero stays zero, at most 2 away.

    Examples:
        >>> perturb([0, 1, 2, 7, 40], [17, 10, 10, 240, 100]).tolist()
        [0, 1, 1, 9, 40]
    """
    true = np.asarray(values, dtype=np.int64)
    return true + noise(true, keys)


def key_column(count: str) -> str:
    """The name of the column holding `count`'s cell keys."""
    return count + KEY_SUFFIX


def has_keys(frame: pd.DataFrame, count: str) -> bool:
    """Whether `frame` carries cell keys for the count column `count`."""
    return key_column(count) in frame.columns


def drop_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without its cell-key columns (they never leave the library)."""
    return frame.drop(columns=[c for c in frame.columns if str(c).endswith(KEY_SUFFIX)])


__all__ = ["KEY_RANGE", "KEY_SUFFIX", "MAX_NOISE", "NOISE", "PTABLE", "drop_keys", "has_keys", "key_column",
           "noise", "perturb"]

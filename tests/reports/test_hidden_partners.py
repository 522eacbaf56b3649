"""Secondary suppression's last step: cells pinned down only by combining lines get a partner hidden.

Three lines each hold two suppressed cells, so no line alone gives a cell away; together they do
(a + b, b + c and a + c are published, so a, b and c all follow). `_hide_partner` must hide the
smallest visible cell on a line through the first such cell, and repeat until none is determined.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.reports import disclosure

# cells: a, b, c (suppressed), then the totals a+b, b+c, a+c
LINES = [[0, 1, 3], [1, 2, 4], [0, 2, 5]]
PRIMARY = [True, True, True, False, False, False]


def _determined(mask) -> list[int]:
    return disclosure._determined_cells(np.asarray(mask), [np.asarray(line) for line in LINES]).tolist()


def test_cells_pinned_by_combining_lines_are_found():
    assert _determined(PRIMARY) == [0, 1, 2]


@pytest.mark.parametrize(
    ("values", "hidden"),
    [
        ([3, 4, 5, 7, 9, 8], 3),  # a's lines hold totals 7 and 8: the smaller, 7, goes
        ([3, 4, 5, 9, 7, 8], 5),  # now 8 is a's smallest visible partner (7 is not on a's lines)
    ],
)
def test_the_smallest_visible_partner_of_a_pinned_cell_is_hidden(values, hidden):
    mask = disclosure.secondary_suppress(values, PRIMARY, LINES)
    expected = [*PRIMARY]
    expected[hidden] = True
    assert mask.tolist() == expected
    assert _determined(mask) == []


def test_nothing_more_is_hidden_when_no_cell_can_be_worked_out():
    # a + b and b + c published, a + c not a line: one degree of freedom, nothing follows.
    mask = disclosure.secondary_suppress([3, 4, 5, 7, 9], [True, True, True, False, False],
                                         [[0, 1, 3], [1, 2, 4]])
    assert mask.tolist() == [True, True, True, False, False]


def test_the_input_mask_is_not_changed():
    primary = np.asarray(PRIMARY)
    disclosure.secondary_suppress([3, 4, 5, 7, 9, 8], primary, LINES)
    assert primary.tolist() == PRIMARY


def test_hide_partner_reports_whether_it_hid_anything():
    values = np.asarray([3, 4, 5, 7, 9, 8], dtype=float)
    lines = [np.asarray(line) for line in LINES]
    everything = np.ones(6, dtype=bool)
    assert disclosure._hide_partner(values, everything, lines, 0) is False
    mask = np.asarray(PRIMARY)
    assert disclosure._hide_partner(values, mask, lines, 0) is True and mask[3]

"""The re-identification risk measures, cross-checked against pycanon, and the gate's messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycanon import anonymity

from workbench.errors import DisclosureError
from workbench.reports import risk

QI = ["area", "age_band", "period", "needs"]   # a four-column extract; assess is told so


def _assess(rows: pd.DataFrame, k: int) -> risk.RiskMetrics:
    return risk.assess(rows, k=k, quasi=QI)


def _rows(spec: list[tuple[str, str, str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame([(a, b, p, n) for a, b, p, n, times in spec for _ in range(times)], columns=QI)


def test_metrics_on_a_hand_made_extract():
    rows = _rows([("LS1", "80+", "2020-04", "food", 1), ("LS1", "80+", "2020-04", "none", 9),
                  ("LS2", "18–34", "2020-04", "none", 10)])
    metrics = _assess(rows, k=8)
    assert (metrics.records, metrics.groups, metrics.k_min, metrics.unique_records) == (20, 3, 1, 1)
    assert metrics.share_below_k == 0.05
    assert metrics.max_risk == 1.0 and metrics.avg_risk == 0.15
    assert metrics.l_min == 1          # everyone aged 18–34 in LS2 that month had no need
    assert not metrics.passed


def test_the_gate_names_failing_columns_and_group_counts_never_values_and_suggests_coarser_settings():
    rows = _rows([("LS1 4", "80+", "2020-W15", "food", 2), ("LS1 4", "80+", "2020-W15", "none", 9),
                  ("LS2 1", "80+", "2020-W15", "housing", 1)])
    with pytest.raises(DisclosureError) as caught:
        risk.gate(_assess(rows, k=8), suggestion="--period month")
    message = str(caught.value)
    assert "(area, age_band, period, needs) has 2 groups of fewer than 8 records" in message
    for value in ("LS1", "LS2", "80+", "W15", "food", "housing"):
        assert value not in message
    assert "--period month" in message and "nothing was written" in message


def test_every_released_extract_column_is_a_quasi_identifier():
    assert set(risk.QUASI_IDENTIFIERS) == {"area", "age_band", "period", "outcome", "needs", "volunteer"}


def test_the_gate_blocks_low_diversity_and_passes_a_coarse_extract():
    uniform = _rows([("LS1", "80+", "2020-04", "none", 12), ("LS2", "80+", "2020-04", "food", 12)])
    expected = r"\(area, age_band, period\) has 2 groups with fewer than 2 distinct needs"
    with pytest.raises(DisclosureError, match=expected):
        risk.gate(_assess(uniform, k=8))
    coarse = _rows([("LS1", "80+", "2020-04", "none", 12), ("LS1", "80+", "2020-04", "food", 9)])
    metrics = _assess(coarse, k=8)
    risk.gate(metrics)
    assert metrics.passed and metrics.k_min == 9 and metrics.l_min == 2


def test_an_empty_extract_is_not_released():
    with pytest.raises(DisclosureError, match="no records"):
        risk.gate(_assess(pd.DataFrame(columns=QI), k=8))


def test_assess_does_not_change_its_input():
    rows = _rows([("LS1", "80+", "2020-04", "none", 3)])
    before = rows.copy()
    _assess(rows, k=2)
    pd.testing.assert_frame_equal(rows, before)


extracts = st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from(["18–34", "80+"]),
                              st.sampled_from(["2020-04", "2020-05"]),
                              st.sampled_from(["food", "none", "housing"])),
                    min_size=1, max_size=60)


@settings(max_examples=40, deadline=None)
@given(extracts)
def test_k_and_l_agree_with_pycanon(spec):
    rows = pd.DataFrame(spec, columns=QI)
    metrics = _assess(rows, k=2)
    assert metrics.k_min == anonymity.k_anonymity(rows, QI)
    # pycanon's l_diversity needs a RangeIndex; ℓ is over the other quasi-identifiers.
    others = [q for q in QI if q != risk.SENSITIVE]
    assert metrics.l_min == anonymity.l_diversity(rows.reset_index(drop=True), others, [risk.SENSITIVE])
    sizes = rows.groupby(QI).size()
    assert metrics.unique_records == int((sizes == 1).sum())
    assert metrics.avg_risk == pytest.approx(np.mean(1 / rows.merge(sizes.rename("s").reset_index())["s"]),
                                             abs=1e-4)

"""The report's ward maps draw the released (protected) cells and nothing else."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from workbench import reports
from workbench.analysis import maps
from workbench.reports import disclosure, page


@pytest.mark.parametrize("profile", ["public", "internal"])
def test_each_ward_table_map_shows_exactly_its_published_cells(synthetic_con, profile):
    shapes = maps.shapes(synthetic_con)
    tables = [t for t in reports.preview(synthetic_con, profile=profile).tables if t.map_column]
    assert {t.name for t in tables} == {"outreach_by_ward", "needs_by_ward"}
    for table in tables:
        as_written = page.ward_map(table, shapes)
        figure = go.Figure(as_written)  # validated here: the page writes the dict unchecked
        drawn = {trace.name: trace for trace in figure.data if trace.fill == "toself"}
        printed = dict(zip(drawn, figure.data[-1].text, strict=True))
        published = disclosure.for_display(table.frame)
        rows = published[published["ward"] != "Total"]
        assert len(rows)
        if profile == "internal" and table.name == "outreach_by_ward":  # some wards are big enough to publish
            assert (rows[table.map_column] != disclosure.SUPPRESSED).any()
        for ward, cell in zip(rows["ward"], rows[table.map_column], strict=True):
            text = f"{cell:.1f}" if isinstance(cell, float) else str(cell)
            assert printed[ward] in (text, str(cell)), (table.name, ward)
            assert drawn[ward].text.startswith(f"{ward}: {printed[ward]}")
            if cell == disclosure.SUPPRESSED:
                assert drawn[ward].fillcolor == maps.SUPPRESSED
        # The colour scale's top is a published number, never a suppressed one.
        numbers = [c for c in rows[table.map_column] if c != disclosure.SUPPRESSED]
        assert figure.data[-1].marker.cmax == (max(float(n) for n in numbers) if numbers else 1.0)
        # No plotly theme (it names colours in words): every colour on the page is written out.
        assert as_written["layout"]["template"] == {}
        hatched = [t for t in drawn.values() if t.fillcolor == maps.SUPPRESSED]
        assert all(t.fillpattern.fillmode == "overlay" for t in hatched)  # the grey shows under the hatch


def test_the_released_page_holds_a_map_of_each_ward_table(synthetic_con, tmp_path):
    result = reports.build(synthetic_con, tmp_path / "release", profile="public", actor="test")
    html = (tmp_path / "release" / reports.HTML_FILE).read_text(encoding="utf-8")
    assert result.released
    assert 'id="map-outreach_by_ward"' in html and 'id="map-needs_by_ward"' in html

"""Ward maps, built from the library's frames on the synthetic store and inspected without a kernel."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.analysis import maps, needs, outreach, services, volunteers


@pytest.fixture
def built(synthetic_con):
    ward_shapes = maps.shapes(synthetic_con)
    queue = needs.queue(synthetic_con)
    frames = {
        "needs": maps.needs_by_ward(synthetic_con, queue),
        "contact": outreach.summary(synthetic_con, "ward"),
        "gaps": maps.gaps_by_ward(services.gaps(synthetic_con).uncovered),
        "volunteers": maps.volunteers_against_needs(volunteers.keen(synthetic_con), queue),
    }
    figures = {
        "needs": maps.needs_map(frames["needs"], ward_shapes),
        "needs_count": maps.needs_map(frames["needs"], ward_shapes, per_100=False),
        "contact": maps.contact_map(frames["contact"], ward_shapes),
        "gaps": maps.gaps_map(frames["gaps"], ward_shapes),
        "volunteers": maps.volunteers_map(frames["volunteers"], ward_shapes),
    }
    return ward_shapes, frames, figures


def _wards(fig):
    return {t.name: t for t in fig.data if t.fill == "toself"}


def test_one_filled_trace_per_ward_on_a_plain_background(built):
    ward_shapes, _, figures = built
    for name, fig in figures.items():
        assert set(_wards(fig)) == set(ward_shapes.rings), name
        # The wards, the chosen ward's outline, then their printed numbers.
        assert len(fig.data) == len(ward_shapes.rings) + 2, name
        # No tiles, no basemap, nothing fetched: only cartesian scatter traces.
        assert {t.type for t in fig.data} == {"scatter"}, name
        assert not fig.layout.xaxis.visible and fig.layout.yaxis.scaleanchor == "x"
        assert fig.layout.title.text, name
        colorbar = fig.data[-1].marker.colorbar.title.text
        assert colorbar and fig.data[-1].marker.showscale, f"{name}: the legend does not state the measure"


def test_hover_names_the_ward_and_carries_its_number(built):
    _, frames, figures = built
    for row in frames["needs"].itertuples():
        trace = _wards(figures["needs"])[row.ward]
        assert trace.hoveron == "fills" and trace.hoverinfo == "text"
        assert trace.text.startswith(f"{row.ward}: {row.needing:,} need support ({row.per_100:.1f} per 100")
    for row in frames["contact"].itertuples():
        text = _wards(figures["contact"])[row.ward].text
        assert text.startswith(f"{row.ward}: {row.contact_rate:.0%} reached ({row.reached:,} of")
    for row in frames["gaps"].itertuples():
        assert f"{row.ward}: {row.needs:,} needs with no service" in _wards(figures["gaps"])[row.ward].text
    for row in frames["volunteers"].itertuples():
        text = _wards(figures["volunteers"])[row.ward].text
        assert text.startswith(f"{row.ward}: {row.open_needs:,} open needs, {row.keen:,} keen volunteers")


def test_the_number_is_printed_on_each_ward_not_only_coloured(built):
    _, frames, figures = built
    labels = figures["needs_count"].data[-1]
    printed = dict(zip(list(_wards(figures["needs_count"])), labels.text, strict=True))
    for row in frames["needs"].itertuples():
        assert printed[row.ward] == f"{row.needing:,}"


def _lightness(rgb: str) -> float:
    """CIE L* of an "rgb(r, g, b)" or "#rrggbb" colour."""
    if rgb.startswith("#"):
        channels = [int(rgb[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    else:
        channels = [int(v) / 255 for v in rgb[rgb.index("(") + 1 : -1].split(",")]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    y = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 116 * y ** (1 / 3) - 16 if y > 0.008856 else 903.3 * y


def test_colour_scale_is_sequential_and_colour_blind_safe(built):
    # A scale read by lightness alone (as with any colour blindness, or in grey print) must get
    # steadily darker; ColorBrewer's YlGnBu, one of its colour-blind-safe schemes, does.
    lightness = [_lightness(c) for c in maps.SCALE]
    assert all(a > b + 3 for a, b in zip(lightness, lightness[1:], strict=False)), lightness
    assert maps.SCALE[0].lower() == "rgb(255,255,217)" or lightness[0] > 95
    # And the map uses it in order: more need, darker ward.
    _, frames, figures = built
    frame = frames["needs"].drop_duplicates("per_100").sort_values("per_100")
    fills = [_lightness(_wards(figures["needs"])[w].fillcolor) for w in frame["ward"]]
    assert fills == sorted(fills, reverse=True)


def test_wards_without_a_shape_are_named_under_the_map(built):
    ward_shapes, frames, _ = built
    fewer = ward_shapes.only(list(ward_shapes.rings)[1:])
    missing = list(ward_shapes.rings)[0]
    fig = maps.needs_map(frames["needs"], fewer)
    assert missing not in _wards(fig)
    if missing in set(frames["needs"]["ward"]):
        assert (
            missing in fig.layout.annotations[0].text
            and "import boundaries" in fig.layout.annotations[0].text
        )


# A published cell: a protected count (rounded to 5), or suppressed (<NA> in the released frame).
CELLS = st.one_of(st.integers(0, 5000).map(lambda n: n - n % 5), st.none())


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_a_released_map_shows_exactly_the_published_cells(released_shapes, data):
    wards = data.draw(st.lists(st.sampled_from(list(released_shapes.rings)), min_size=1, unique=True))
    cells = data.draw(st.lists(CELLS, min_size=len(wards), max_size=len(wards)))
    # As reports publish a ward table: Int64 counts with <NA> where suppressed, and a Total row.
    table = pd.DataFrame({"ward": [*wards, "Total"], "members": pd.array([*cells, 12345], dtype="Int64")})
    fig = maps.released_map(table, released_shapes, column="members", title="Members by ward")
    drawn = _wards(fig)
    printed = dict(zip(list(drawn), fig.data[-1].text, strict=True))
    assert "Total" not in drawn and not fig.layout.annotations  # a subtotal is not a ward
    for ward, cell in zip(wards, cells, strict=True):
        # For every ward the map's value is the table's published cell, suppressed ones included.
        published = "*" if cell is None else str(cell)
        assert drawn[ward].text.split(" (suppressed")[0] == f"{ward}: {published}"
        assert printed[ward] == published
        if cell is None:
            assert drawn[ward].fillcolor == maps.SUPPRESSED and drawn[ward].fillpattern.shape == "/"
        else:
            assert drawn[ward].fillcolor == maps.colour(cell, fig.data[-1].marker.cmax)
    numbers = [c for c in cells if c is not None]
    assert fig.data[-1].marker.cmax == (max(numbers) if numbers else 1.0)  # no hidden number sets the scale


@pytest.fixture(scope="module")
def released_shapes(tmp_path_factory, tiny_org):
    from workbench.synthetic.boundaries import ward_shapes

    return maps.WardShapes.from_frame(ward_shapes(tiny_org.geography, tiny_org.seed))

"""Ward maps: per-ward numbers from the library, drawn on the stored ward shapes.

Maps are pure functions from a frame of ward numbers plus `WardShapes` to a plotly Figure, so they
are tested without a kernel. They draw shapes on a plain background: no tile server, no basemap,
nothing fetched. Each ward is one filled trace named after the ward, whose hover text carries its
number; the number is also printed on the ward, so the map reads in black and white and on paper.
Colours come from ColorBrewer's YlGnBu, a sequential scale whose lightness falls steadily (pale for
none or few, dark blue for many), listed by ColorBrewer as safe for the common forms of colour
blindness; a zero reads as almost white, as on a printed map.

The few functions taking a connection first gather the per-ward numbers the maps show.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale, sequential

from workbench.analysis import needs, volunteers
from workbench.analysis.charts import Drawing, plain, theme
from workbench.store import boundaries

# Pale (few) to dark (many); ColorBrewer marks YlGnBu colour-blind safe.
SCALE = tuple(sequential.YlGnBu)
NO_DATA = "#eeeeee"
SUPPRESSED = "#d9d9d9"
LABELS_UP_TO = 150  # numbers printed on the wards up to this many wards; beyond, hover only


@dataclass(frozen=True)
class WardShapes:
    """Ward outlines ready to draw: ward -> list of rings, each an (n, 2) array of x, y.

    Attributes:
        rings: the outer rings of each ward's polygons.
        anchors: a point inside each ward, for its printed number.
        geographic: longitude/latitude (drawn with the aspect corrected) rather than metres.
    """

    rings: dict[str, list[np.ndarray]]
    anchors: dict[str, tuple[float, float]]
    geographic: bool
    paths: dict[str, tuple[list, list]] = field(default_factory=dict)  # rings as plotly x, y with gaps

    def path(self, ward: str) -> tuple[list, list]:
        """The ward's rings as plotly x and y lists, None between rings (made once, kept)."""
        if ward not in self.paths:
            xs, ys = [], []
            for ring in self.rings[ward]:
                xs += [*ring[:, 0].tolist(), None]
                ys += [*ring[:, 1].tolist(), None]
            self.paths[ward] = (xs, ys)
        return self.paths[ward]

    def bounds(self, wards) -> tuple[float, float, float, float] | None:
        """(minx, miny, maxx, maxy) round these wards, or None when none has a shape."""
        points = [ring for w in wards if w in self.rings for ring in self.rings[w]]
        if not points:
            return None
        stacked = np.vstack(points)
        return (*stacked.min(axis=0).tolist(), *stacked.max(axis=0).tolist())

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> WardShapes:
        """From `store.boundaries.read`: ward, geometry (GeoJSON text), geographic."""
        import shapely

        rings, anchors = {}, {}
        for ward, text in zip(frame["ward"], frame["geometry"], strict=True):
            geometry = json.loads(text)
            rings[ward] = [np.asarray(polygon[0], dtype=float) for polygon in geometry["coordinates"]]
            point = shapely.geometry.shape(geometry).point_on_surface()
            anchors[ward] = (point.x, point.y)
        return cls(rings, anchors, bool(frame["geographic"].any()) if len(frame) else False)

    def only(self, wards) -> WardShapes:
        """The same shapes, keeping only `wards` (an empty selection keeps none)."""
        keep = [w for w in wards if w in self.rings]
        return WardShapes(
            {w: self.rings[w] for w in keep}, {w: self.anchors[w] for w in keep}, self.geographic
        )


def shapes(con: duckdb.DuckDBPyConnection, wards: list[str] | None = None) -> WardShapes:
    """The store's ward shapes (all, or only `wards`), parsed for drawing."""
    return WardShapes.from_frame(boundaries.read(con, wards))


MEMBERS_QUERY = """
SELECT ward, count(*) AS members FROM members
WHERE erased_at IS NULL AND ward IS NOT NULL AND (? IS NULL OR branch = ?)
GROUP BY ward ORDER BY ward
"""


def needs_by_ward(
    con: duckdb.DuckDBPyConnection, queue: pd.DataFrame, branch: str | None = None
) -> pd.DataFrame:
    """Members needing support per ward, as a count and per 100 members of the ward.

    Args:
        queue: a triage queue (`needs.queue`), already filtered and with opt-outs removed.
        branch: count members of this branch only (the queue's branch filter).

    Returns:
        ward, members, needing, per_100 (needing per 100 members), escalated.
    """
    members = con.execute(MEMBERS_QUERY, [branch, branch]).df()
    counted = needs.counts(queue, by="ward").rename(columns={"members": "needing"}) if len(queue) else None
    frame = (
        members.merge(counted, on="ward", how="left")
        if counted is not None
        else members.assign(needing=0, escalated=0)
    )
    frame[["needing", "escalated"]] = frame[["needing", "escalated"]].fillna(0).astype(int)
    frame["per_100"] = np.where(
        frame["members"] > 0, 100 * frame["needing"] / frame["members"].clip(lower=1), 0.0
    )
    return frame[["ward", "members", "needing", "per_100", "escalated"]]


def gaps_by_ward(uncovered: pd.DataFrame) -> pd.DataFrame:
    """From `services.gaps(...).uncovered`: per ward, the needs no active service covers.

    Returns:
        ward, needs (needs in uncovered categories), members, categories (text, most needs first).
    """
    if uncovered.empty:
        return pd.DataFrame({"ward": [], "needs": [], "members": [], "categories": []})
    ordered = uncovered.sort_values(["needs", "category"], ascending=[False, True])
    return (
        ordered.groupby("ward", sort=True)
        .agg(
            needs=("needs", "sum"),
            members=("members", "sum"),
            categories=("category", lambda c: ", ".join(x.replace("_", " ") for x in c)),
        )
        .reset_index()
    )


def volunteers_against_needs(keen: pd.DataFrame, queue: pd.DataFrame) -> pd.DataFrame:
    """Keen volunteers and open needs per ward, and the needs left over once each volunteer takes one.

    Args:
        keen: `volunteers.keen(...)`; queue: `needs.queue(...)`, both with the same filters.

    Returns:
        ward, keen, open_needs (members in the queue whose need is still open), short_by.
    """
    keen_counts = (
        volunteers.by_ward(keen)[["ward", "keen"]] if len(keen) else pd.DataFrame(columns=["ward", "keen"])
    )
    open_counts = queue[queue["state"] == "open"].groupby("ward").size().rename("open_needs").reset_index()
    frame = keen_counts.merge(open_counts, on="ward", how="outer").fillna(0)
    frame[["keen", "open_needs"]] = frame[["keen", "open_needs"]].astype(int)
    frame["short_by"] = (frame["open_needs"] - frame["keen"]).clip(lower=0)
    return frame.sort_values("ward").reset_index(drop=True)


# --- figures -----------------------------------------------------------------------------------


# The scale sampled once in 256 steps: sampling plotly's scale per ward was most of a map's cost.
STEPS = tuple(sample_colorscale(list(SCALE), [i / 255 for i in range(256)]))


def colour(value: float, top: float, bottom: float = 0.0) -> str:
    """The fill colour of `value` on the scale from `bottom` (usually 0) to `top`."""
    span = top - bottom
    share = 0.0 if span <= 0 or not np.isfinite(value) else min(max((value - bottom) / span, 0.0), 1.0)
    return STEPS[round(share * 255)]


def _dark(rgb: str) -> bool:
    red, green, blue = (int(v) / 255 for v in rgb[rgb.index("(") + 1 : -1].split(","))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.45


# What changes when a map shows other numbers for the same wards: colours, hover and printed
# numbers, the chosen ward's outline, the colour bar's scale. The shapes (the same lists, for the
# same wards) are compared and never sent again.
MAP_DATA = frozenset({"x", "y", "text", "fillcolor", "fillpattern", "textfont", "marker"})


def ward_map(*args, **kwargs) -> go.Figure:
    """A ward map as a plotly Figure; it takes the same arguments as `ward_drawing`."""
    return ward_drawing(*args, **kwargs).figure()


def ward_drawing(
    frame: pd.DataFrame,
    ward_shapes: WardShapes,
    *,
    value: str,
    hover: list[str],
    labels: list[str],
    title: str,
    measure: str,
    top: float | None = None,
    bottom: float = 0.0,
    percent: bool = False,
    suppressed: pd.Series | None = None,
    selected: str | None = None,
    focus: list[str] | None = None,
    template: dict | None = None,
) -> Drawing:
    """A ward map as a `charts.Drawing`: one filled trace per ward with a shape, coloured by `value`.

    Args:
        frame: one row per ward: ward, and the `value` column (NaN: no data in this selection).
        ward_shapes: the shapes to draw; wards of `frame` without a shape are named in a note.
        hover: one hover text per row of `frame`, each naming the ward and carrying its number.
        labels: the short number printed on each ward, one per row.
        title: the map's title; measure: what the colour shows (the colour bar's title).
        top: the value at the dark end of the scale (default the largest value).
        bottom: the value at the pale end (default 0).
        percent: the values are shares (0-1), and the colour bar reads in per cent.
        suppressed: True for rows whose number was suppressed (drawn grey and hatched).
        selected: a ward to outline (the ward filter's choice).
        focus: wards to zoom to (a branch's); the others stay drawn round them, for context.
        template: a plotly template instead of the workbench's theme (`charts.theme`, ~0.1 s to
            make in a new process): a release's map passes {} (hex colours only).

    Returns:
        A Drawing: one trace per ward in `ward_shapes` order, the chosen ward's outline, then one
        trace of printed numbers carrying the colour bar.
    """
    values = pd.to_numeric(frame[value], errors="coerce").to_numpy(dtype=float)
    hidden = np.zeros(len(frame), bool) if suppressed is None else suppressed.to_numpy(dtype=bool)
    finite = values[np.isfinite(values) & ~hidden]
    top = top if top is not None else (float(finite.max()) if len(finite) else 1.0)
    limits = (bottom, top)
    rows = {w: i for i, w in enumerate(frame["ward"])}
    drawn = list(ward_shapes.rings)
    hover = [plain(text) for text in hover]  # each names its ward: text from the data, shown as typed
    traces = [_ward_trace(w, ward_shapes, rows.get(w), values, hidden, hover, limits) for w in drawn]
    traces.append(_outline_trace(ward_shapes, selected))
    traces.append(_labels_trace(drawn, ward_shapes, rows, values, hidden, labels, limits, measure, percent))
    missing = [w for w in frame["ward"] if w not in ward_shapes.rings]
    # Built from plain dicts without plotly's per-property validation (~2 ms a ward): a dashboard
    # redraws this map on every filter change. The tests build every map and check its parts.
    style, changing = _map_layout(title, ward_shapes, missing, focus, template)
    return Drawing(tuple(traces), style, changing, data=MAP_DATA, validate=False)


def _ward_trace(ward, ward_shapes, row, values, hidden, hover, limits) -> dict:
    xs, ys = ward_shapes.path(ward)
    if row is None:
        fill, text, pattern = NO_DATA, f"{plain(ward)}: nothing in this selection", None
    elif hidden[row]:
        fill, text, pattern = SUPPRESSED, hover[row], {"shape": "/", "fgcolor": "#888888", "size": 6,
                                                      "fillmode": "overlay"}  # over the grey, themed or not
    else:
        fill = NO_DATA if not np.isfinite(values[row]) else colour(values[row], limits[1], limits[0])
        text, pattern = hover[row], None
    return {
        "type": "scatter",
        "x": xs,
        "y": ys,
        "name": ward,  # never drawn (hover shows `text`); a click names the ward by it
        "text": text,
        "mode": "lines",
        "fill": "toself",
        "fillcolor": fill,
        "fillpattern": pattern or {"shape": ""},
        "hoveron": "fills",
        "hoverinfo": "text",
        "line": {"color": "#ffffff", "width": 1},
        "showlegend": False,
    }


def _outline_trace(ward_shapes: WardShapes, selected: str | None) -> dict:
    """The chosen ward's outline, drawn over its neighbours (its own trace, so the wards keep their order)."""
    xs, ys = ward_shapes.path(selected) if selected in ward_shapes.rings else ([None], [None])
    return {
        "type": "scatter",
        "x": xs,
        "y": ys,
        "mode": "lines",
        "name": "chosen ward",
        "line": {"color": "#000000", "width": 3},
        "hoverinfo": "skip",
        "showlegend": False,
    }


def _labels_trace(drawn, ward_shapes, rows, values, hidden, labels, limits, measure, percent) -> dict:
    """The numbers printed on the wards; its invisible markers carry the colour bar (the legend)."""
    shown = drawn if len(drawn) <= LABELS_UP_TO else []
    texts, colours = [], []
    for w in shown:
        row = rows.get(w)
        texts.append("" if row is None else labels[row])
        dark = (
            row is not None
            and not hidden[row]
            and np.isfinite(values[row])
            and _dark(colour(values[row], limits[1], limits[0]))
        )
        colours.append("#ffffff" if dark else "#000000")
    return {
        "type": "scatter",
        "x": [ward_shapes.anchors[w][0] for w in shown] or [None],
        "y": [ward_shapes.anchors[w][1] for w in shown] or [None],
        "mode": "markers+text",
        "text": texts or [""],
        "textfont": {"color": colours or ["#000000"], "size": 12},
        "hoverinfo": "skip",
        "showlegend": False,
        "name": "numbers",
        "marker": {
            "size": 1,
            "opacity": 0,
            "color": list(limits),
            "cmin": limits[0],
            "cmax": limits[1],
            "colorscale": [[i / (len(SCALE) - 1), c] for i, c in enumerate(SCALE)],
            "showscale": True,
            "colorbar": {
                "title": {"text": measure, "side": "top"},
                "thickness": 14,
                "tickformat": ".0%" if percent else "",
            },
        },
    }


def _map_layout(title: str, ward_shapes: WardShapes, missing: list[str], focus: list[str] | None,
                template: dict | None = None) -> tuple[dict, dict]:
    """A map's layout: (its styling, and what follows the numbers and the zoom, by dotted path)."""
    anchors = list(ward_shapes.anchors.values())
    ratio = 1.0
    if ward_shapes.geographic and anchors:
        # Degrees of longitude shrink towards the poles; without this a UK map looks stretched.
        ratio = 1 / max(0.2, math.cos(math.radians(float(np.mean([a[1] for a in anchors])))))
    note = ""
    if missing:
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        note = f"No boundary for: {', '.join(map(plain, missing[:8]))}{more} (workbench import boundaries)."
    style = {
        "template": theme() if template is None else template,
        "xaxis": {"visible": False},
        "yaxis": {"visible": False, "scaleanchor": "x", "scaleratio": ratio},
        "plot_bgcolor": "#ffffff",
        "hovermode": "closest",
    }
    changing = {
        "title.text": title,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 30 if note else 10},
        "annotations": [_note(note)] if note else [],
    }
    box = ward_shapes.bounds(focus if focus else ward_shapes.rings)
    if box:
        pad = 0.03 * max(box[2] - box[0], box[3] - box[1])
        changing["xaxis.range"] = [box[0] - pad, box[2] + pad]
        changing["yaxis.range"] = [box[1] - pad, box[3] + pad]
    return style, changing


def _note(text: str) -> dict:
    return {
        "text": text,
        "showarrow": False,
        "xref": "paper",
        "yref": "paper",
        "x": 0,
        "y": -0.02,
        "xanchor": "left",
        "yanchor": "top",
        "font": {"size": 11, "color": "#555555"},
    }


def needs_map(
    frame: pd.DataFrame,
    ward_shapes: WardShapes,
    *,
    per_100: bool = True,
    focus: list[str] | None = None,
    selected: str | None = None,
) -> go.Figure:
    """Members needing support by ward (`needs_by_ward`), coloured per 100 members or as a count."""
    return needs_drawing(frame, ward_shapes, per_100=per_100, focus=focus, selected=selected).figure()


def needs_drawing(
    frame: pd.DataFrame,
    ward_shapes: WardShapes,
    *,
    per_100: bool = True,
    focus: list[str] | None = None,
    selected: str | None = None,
) -> Drawing:
    """`needs_map` as a `charts.Drawing`, for a view that redraws it in place."""
    hover = [
        f"{w}: {n:,} need support ({p:.1f} per 100 of {m:,} members; {e:,} escalated)"
        for w, n, p, m, e in zip(
            frame["ward"],
            frame["needing"],
            frame["per_100"],
            frame["members"],
            frame["escalated"],
            strict=True,
        )
    ]
    if per_100:
        labels = [f"{p:.1f}" for p in frame["per_100"]]
        return ward_drawing(
            frame,
            ward_shapes,
            value="per_100",
            hover=hover,
            labels=labels,
            title="Needing support per 100 members",
            measure="needing support<br>per 100 members",
            focus=focus,
            selected=selected,
        )
    return ward_drawing(
        frame,
        ward_shapes,
        value="needing",
        hover=hover,
        labels=[f"{n:,}" for n in frame["needing"]],
        title="Members needing support",
        measure="members needing<br>support",
        focus=focus,
        selected=selected,
    )


def contact_map(
    frame: pd.DataFrame,
    ward_shapes: WardShapes,
    *,
    focus: list[str] | None = None,
    selected: str | None = None,
) -> go.Figure:
    """Contact rate by ward, from `outreach.summary(con, "ward", ...)`."""
    return contact_drawing(frame, ward_shapes, focus=focus, selected=selected).figure()


def contact_drawing(
    frame: pd.DataFrame,
    ward_shapes: WardShapes,
    *,
    focus: list[str] | None = None,
    selected: str | None = None,
) -> Drawing:
    """`contact_map` as a `charts.Drawing`, for a view that redraws it in place."""
    hover = [
        f"{w}: {r:.0%} reached ({n:,} of {c:,} members called)" if c else f"{w}: nobody called"
        for w, r, n, c in zip(
            frame["ward"],
            frame["contact_rate"].fillna(0),
            frame["reached"],
            frame["members_called"],
            strict=True,
        )
    ]
    labels = [
        f"{r:.0%}" if c else ""
        for r, c in zip(frame["contact_rate"].fillna(0), frame["members_called"], strict=True)
    ]
    rates = frame.loc[frame["members_called"] > 0, "contact_rate"]
    # From the tens below the lowest rate to 100%: rates of 70-95% all look alike on a 0-100% scale.
    bottom = math.floor(float(rates.min()) * 10) / 10 if len(rates) else 0.0
    return ward_drawing(
        frame,
        ward_shapes,
        value="contact_rate",
        bottom=bottom,
        percent=True,
        hover=hover,
        labels=labels,
        top=1.0,
        title="Contact rate by ward",
        measure="contact rate<br>(reached of called)",
        focus=focus,
        selected=selected,
    )


def gaps_map(
    frame: pd.DataFrame,
    ward_shapes: WardShapes,
    *,
    focus: list[str] | None = None,
    selected: str | None = None,
) -> go.Figure:
    """Signposting gaps by ward (`gaps_by_ward`): needs in categories no active service covers there."""
    return gaps_drawing(frame, ward_shapes, focus=focus, selected=selected).figure()


def gaps_drawing(
    frame: pd.DataFrame,
    ward_shapes: WardShapes,
    *,
    focus: list[str] | None = None,
    selected: str | None = None,
) -> Drawing:
    """`gaps_map` as a `charts.Drawing`, for a view that redraws it in place."""
    hover = [
        f"{w}: {n:,} needs with no service covering the ward ({c})"
        for w, n, c in zip(frame["ward"], frame["needs"], frame["categories"], strict=True)
    ]
    shown = frame.set_index("ward").reindex(list(ward_shapes.rings)).fillna({"needs": 0}).reset_index()
    extra = [w for w in shown["ward"] if w not in set(frame["ward"])]
    hover += [f"{w}: no gaps (every need recorded has a service covering the ward)" for w in extra]
    both = pd.concat([frame, shown[shown["ward"].isin(extra)]], ignore_index=True)
    return ward_drawing(
        both,
        ward_shapes,
        value="needs",
        hover=hover,
        labels=[f"{int(n):,}" for n in both["needs"]],
        title="Needs no listed service covers",
        measure="needs with no<br>service covering",
        focus=focus,
        selected=selected,
    )


def volunteers_map(
    frame: pd.DataFrame,
    ward_shapes: WardShapes,
    *,
    focus: list[str] | None = None,
    selected: str | None = None,
) -> go.Figure:
    """Keen volunteers against open needs by ward (`volunteers_against_needs`), coloured by the shortfall."""
    return volunteers_drawing(frame, ward_shapes, focus=focus, selected=selected).figure()


def volunteers_drawing(
    frame: pd.DataFrame,
    ward_shapes: WardShapes,
    *,
    focus: list[str] | None = None,
    selected: str | None = None,
) -> Drawing:
    """`volunteers_map` as a `charts.Drawing`, for a view that redraws it in place."""
    hover = [
        f"{w}: {n:,} open needs, {k:,} keen volunteers ({s:,} more needs than volunteers)"
        for w, n, k, s in zip(
            frame["ward"], frame["open_needs"], frame["keen"], frame["short_by"], strict=True
        )
    ]
    labels = [f"{n}/{k}" for n, k in zip(frame["open_needs"], frame["keen"], strict=True)]
    return ward_drawing(
        frame,
        ward_shapes,
        value="short_by",
        hover=hover,
        labels=labels,
        title="Open needs / keen volunteers",
        measure="open needs beyond<br>keen volunteers",
        focus=focus,
        selected=selected,
    )


def released_map(table: pd.DataFrame, ward_shapes: WardShapes, **kwargs) -> go.Figure:
    """`released_drawing` as a plotly Figure; it takes the same arguments."""
    return released_drawing(table, ward_shapes, **kwargs).figure()


def released_drawing(
    table: pd.DataFrame,
    ward_shapes: WardShapes,
    *,
    column: str,
    title: str,
    suppressed_mark: str = "*",
    total_label: str = "Total",
    template: dict | None = None,
) -> Drawing:
    """A map of one released ward table, drawn from its published (protected) cells only.

    Args:
        table: the released table frame as published: a `ward` column and `column`, whose cells
            are protected numbers, with <NA> (or text such as "*") where a cell was suppressed.
            Subtotal rows (`total_label` in the ward column) are not wards and are not drawn.
        column: the published column to map.
        suppressed_mark: how a suppressed cell reads in the published table (reports: "*").
        template: as for `ward_drawing` (default the workbench's theme).

    Returns:
        A map whose hover and printed number for every ward is exactly the table's published
        cell; suppressed cells are drawn grey and hatched, and never colour the scale.

    Examples:
        >>> released_map(report_table.frame, maps.shapes(con), column="members_called",  # doctest: +SKIP
        ...              title="Members called by ward")
    """
    rows = table[table["ward"].astype(str) != total_label]
    cells = rows[column].astype(object)
    numbers = pd.to_numeric(cells.where(cells.notna(), None), errors="coerce")
    hidden = numbers.isna()
    published = [suppressed_mark if pd.isna(c) else str(c) for c in cells]
    frame = pd.DataFrame(
        {"ward": rows["ward"].astype(str).to_numpy(), "value": numbers.to_numpy(dtype=float)}
    )
    hover = [
        f"{w}: {c}" + (" (suppressed: too few to publish)" if h else "")
        for w, c, h in zip(frame["ward"], published, hidden, strict=True)
    ]
    return ward_drawing(
        frame,
        ward_shapes,
        value="value",
        hover=hover,
        labels=published,
        title=title,
        measure=column.replace("_", " "),
        suppressed=pd.Series(hidden.to_numpy()),
        template=template,
    )


__all__ = [
    "MAP_DATA",
    "SCALE",
    "WardShapes",
    "colour",
    "contact_drawing",
    "contact_map",
    "gaps_by_ward",
    "gaps_drawing",
    "gaps_map",
    "needs_by_ward",
    "needs_drawing",
    "needs_map",
    "released_drawing",
    "released_map",
    "shapes",
    "volunteers_against_needs",
    "volunteers_drawing",
    "volunteers_map",
    "ward_drawing",
    "ward_map",
]

"""What several views share: showing a table, a labelled section, and dropdown choices.

These only present what the library returned; they compute nothing about members.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import ipywidgets as widgets
import pandas as pd

ALL = "(all)"
LABEL = {"description_width": "9em"}
TABLE_STYLE = ("<style>.wb-table table{border-collapse:collapse;font-size:13px}"
               ".wb-table th,.wb-table td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}"
               ".wb-table th{background:#f3f5f8}</style>")


def table_html(frame: pd.DataFrame | None, *, max_rows: int = 50, empty: str = "Nothing to show.") -> str:
    """A DataFrame as a compact, escaped HTML table (first `max_rows` rows, with a count of the rest)."""
    if frame is None or frame.empty:
        return f"<div class='wb-table'><i>{html.escape(empty)}</i></div>"
    shown = frame.head(max_rows)
    body = shown.to_html(index=False, escape=True, na_rep="", border=0)
    more = len(frame) - len(shown)
    tail = f"<div><i>… and {more:,} more rows.</i></div>" if more > 0 else ""
    return f"{TABLE_STYLE}<div class='wb-table' style='overflow-x:auto'>{body}{tail}</div>"


def table() -> widgets.HTML:
    """An empty table area."""
    return widgets.HTML(value=table_html(None))


def heading(text: str, level: int = 3) -> widgets.HTML:
    return widgets.HTML(value=f"<h{level} style='margin:0.6em 0 0.2em'>{html.escape(text)}</h{level}>")


def note(text: str) -> widgets.HTML:
    return widgets.HTML(value=f"<div style='color:#555;max-width:60em'>{html.escape(text)}</div>")


def choices(values: Iterable[object], *, everything: str | None = ALL) -> list[str]:
    """Dropdown options: an "(all)" entry first, then the values as text."""
    options = [str(v) for v in values if v is not None and str(v) != ""]
    return ([everything] if everything else []) + options


def chosen(value: object) -> str | None:
    """A dropdown's value for a library call: None for "(all)" or nothing chosen."""
    return None if value in (None, "", ALL) else str(value)


def dropdown(description: str, options: Iterable[object] = (), **kwargs) -> widgets.Dropdown:
    return widgets.Dropdown(description=description, options=choices(options), value=ALL, style=LABEL, **kwargs)


def button(description: str, *, icon: str = "", style: str = "", tooltip: str = "") -> widgets.Button:
    return widgets.Button(description=description, icon=icon, button_style=style, tooltip=tooltip,
                          layout=widgets.Layout(width="auto"))


__all__ = ["ALL", "button", "choices", "chosen", "dropdown", "heading", "note", "table", "table_html"]

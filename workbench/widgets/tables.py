"""Tables people can work with: sort, search, page and filter by column, in the browser.

Tables are itables' DataTables widget (`itables.widget.ITable`), whose code ships inside the
package: nothing is fetched from the internet. The browser receives at most `MAX_ROWS` rows, and the
page says plainly when rows were left out and how to narrow the selection to see them.

Privacy rules:
- A table that holds identity (names, phones, anything from a list of people) or member rows
  (member keys with their needs) offers no copy, CSV or Excel button: a list of people leaves the
  building only through the follow-up list export, its opt-out check and its registry.
- A table of counts may offer those buttons; its text cells are escaped as every export is
  (workbench.exports), so nothing copied from it runs as a spreadsheet formula.
- The caller decides which columns to show; a masked column is simply not sent.
"""

from __future__ import annotations

import datetime
import html

import ipywidgets as widgets
import numpy as np
import pandas as pd

from workbench.exports import escape_cell

MAX_ROWS = 2_000
EXPORT_BUTTONS = ("copyHtml5", "csvHtml5", "excelHtml5")
# Numbers with decimals shown with thousands separators and two decimals; sorting and search use
# the number itself. A self-contained function: itables evaluates it in the page's global scope,
# where DataTables' own `DataTable.render.number` is not defined (the page logged that error and
# left every decimal cell blank).
FLOAT_RENDER = (
    "function (data, type) { return type === 'display' && typeof data === 'number' "
    "? data.toLocaleString('en-GB', {minimumFractionDigits: 2, maximumFractionDigits: 2}) : data; }"
)


def cell(value: object) -> object:
    """How one cell reads: lists as "a, b", times to the minute, dates day first, blanks for missing.

    Numbers stay numbers, so they sort as numbers and sit right-aligned.
    """
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v).replace("_", " ") for v in value)
    if isinstance(value, pd.Timestamp | datetime.datetime):
        return "" if pd.isna(value) else value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, datetime.date):
        return value.strftime("%d/%m/%Y")
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return ""
    return value


def prepare(frame: pd.DataFrame, *, exportable: bool) -> pd.DataFrame:
    """The frame as the browser gets it: cells made readable, numbers kept, text escaped if exportable."""
    out = pd.DataFrame(index=range(len(frame)))
    for name in frame.columns:
        column = frame[name].reset_index(drop=True)
        if pd.api.types.is_bool_dtype(column):
            out[name] = column.map({True: "yes", False: "no"}).fillna("")
        elif pd.api.types.is_numeric_dtype(column):
            out[name] = column
        else:
            values = column.map(cell)
            out[name] = values.map(escape_cell) if exportable else values
    return out


def options(frame: pd.DataFrame, *, exportable: bool) -> dict:
    """DataTables options: paging, search, column filters; buttons only where exporting is allowed."""
    floats = [i for i, c in enumerate(frame.columns) if pd.api.types.is_float_dtype(frame[c])]
    from itables import JavascriptCode

    column_defs = [{"targets": floats, "render": JavascriptCode(FLOAT_RENDER)}] if floats else []
    layout = {"topStart": "buttons" if exportable else "pageLength", "topEnd": "search"}
    return {
        "paging": True,
        "pageLength": 10,
        "lengthMenu": [10, 25, 50, 100],
        "column_filters": "footer",
        "showIndex": False,
        "maxBytes": 0,  # we bound the rows ourselves, keeping the first (most important) ones
        "classes": "display compact nowrap",
        "scrollX": True,  # wide tables scroll inside their box instead of running off the page
        "columnDefs": column_defs,
        "layout": layout,
        "allow_html": False,
        "text_in_header_can_be_selected": False,  # a click anywhere on a header sorts, not only its arrow
    } | ({"buttons": list(EXPORT_BUTTONS)} if exportable else {})


def left_out_note(shown: int, total: int, narrow: str) -> str:
    """Plain words for a table cut short: how many rows are here, how many not, and what to do."""
    if total <= shown:
        return ""
    return (
        f"<div class='wb-table-cut' style='color:#8a4b00'>Showing the first {shown:,} of {total:,} rows; "
        f"{total - shown:,} were left out. Sorting and search work on these {shown:,} only: "
        f"{html.escape(narrow)} to see the rest.</div>"
    )


class Table(widgets.VBox):
    """An interactive table that can be filled again and again.

    Args:
        identity: the table holds identity (or could): never offer copy/CSV/Excel buttons.
        max_rows: at most this many rows go to the browser.
        narrow: what to tell a person to do when rows were left out.
    """

    def __init__(
        self, *, identity: bool = False, max_rows: int = MAX_ROWS, narrow: str = "choose a branch or ward"
    ) -> None:
        self.identity, self.max_rows, self.narrow = identity, max_rows, narrow
        self.message = widgets.HTML()
        self.grid = None  # made on the first non-empty frame, so an unseen tab sends no table code
        self.frame: pd.DataFrame | None = None
        super().__init__([self.message], layout=widgets.Layout(width="100%"))
        self.add_class("wb-table")

    def show(
        self,
        frame: pd.DataFrame | None,
        *,
        empty: str = "Nothing to show.",
        narrow: str | None = None,
        identity: bool | None = None,
    ) -> None:
        """Show `frame` (its first `max_rows` rows), or `empty` when there is nothing."""
        self.frame = frame
        if frame is None or frame.empty:
            self.message.value = f"<div class='wb-table-empty'><i>{html.escape(empty)}</i></div>"
            if self.grid is not None:
                self.grid.layout.display = "none"
            return
        holds_people = self.identity if identity is None else identity
        exportable = not holds_people and "member_key" not in frame.columns
        shown = prepare(frame.head(self.max_rows), exportable=exportable)
        self.message.value = left_out_note(len(shown), len(frame), narrow or self.narrow)
        self._draw(shown, exportable)

    def _draw(self, shown: pd.DataFrame, exportable: bool) -> None:
        from itables.widget import ITable

        settings = options(shown, exportable=exportable)
        if self.grid is None or self.exportable != exportable:  # buttons cannot be taken off in place
            self.grid = ITable(shown, **settings)
            self.children = (self.message, self.grid)
        else:
            self.grid.update(shown, **settings)
            self.grid.layout.display = None

    @property
    def value(self) -> str:
        """What the browser was sent, as escaped HTML text: the note, then the rows (for tests and search)."""
        if self.grid is None or self.grid.layout.display == "none":
            return self.message.value
        return self.message.value + prepare(self.grid.df, exportable=False).to_html(index=False, escape=True)

    @property
    def exportable(self) -> bool:
        """True when the table now offers copy/CSV/Excel buttons."""
        return bool(self.grid is not None and self.grid._dt_args.get("buttons"))


__all__ = ["MAX_ROWS", "Table", "cell", "left_out_note", "options", "prepare"]

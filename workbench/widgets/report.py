"""The pseudonymised report: choose profile and period, preview the protected tables (suppressed cells
shown as *), see the risk gate's verdict for an extract, and release the report.

Disclosure control, the risk gate and the release scan are the library's (`reports`, `risk`,
`disclosure`); this view gathers the choices and shows the result.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import ipywidgets as widgets

from workbench import reports
from workbench.reports import disclosure, risk
from workbench.store.filters import known
from workbench.widgets.common import LABEL, button, choices, chosen, heading, note, table_html
from workbench.widgets.feedback import Feedback
from workbench.widgets.store import StoreBound, StoreView

PROFILES = (("internal (NHS Digital: 1-7 hidden, round to 5)", "internal"), ("public (ONS 10-5)", "public"))


class ReportView(StoreBound):
    """Profile, period, branch and extract options; Preview; Release."""

    def __init__(self, store_view: StoreView) -> None:
        self.feedback = Feedback()
        self.profile = widgets.Dropdown(
            description="Profile",
            options=PROFILES,
            value="internal",
            style=LABEL,
            layout=widgets.Layout(width="34em"),
        )
        self.branch = widgets.Dropdown(description="Branch", options=choices([]), style=LABEL)
        self.date_from = widgets.DatePicker(description="From", style=LABEL)
        self.date_to = widgets.DatePicker(description="To", style=LABEL)
        self.extract = widgets.Checkbox(
            value=False, description="also release a row-level extract", indent=False
        )
        self.area = widgets.Dropdown(
            description="Extract area", options=reports.AREA_LEVELS, value="district", style=LABEL
        )
        self.period = widgets.Dropdown(
            description="Extract period", options=disclosure.PERIODS, value="month", style=LABEL
        )
        self.folder = widgets.Text(description="Save in", style=LABEL, layout=widgets.Layout(width="36em"))
        self.preview_button = button("Preview", icon="eye", style="primary")
        self.release_button = button("Release the report", icon="check", style="success")
        self.verdict = widgets.HTML()
        self.tables = widgets.HTML()
        self.preview_button.on_click(self.feedback.guarded(lambda _: self.preview()))
        self.release_button.on_click(self.feedback.guarded(lambda _: self.release()))
        super().__init__(
            [
                self.profile,
                widgets.HBox([self.branch, self.date_from, self.date_to]),
                widgets.HBox([self.extract, self.area, self.period]),
                self.folder,
                widgets.HBox([self.preview_button, self.release_button]),
                self.feedback,
                self.verdict,
                heading("Preview"),
                note("Counts are protected before they are shown: * marks a suppressed cell."),
                self.tables,
            ]
        )
        self.add_class("wb-report")
        self.bind(store_view)

    def refresh(self) -> None:
        with self.opened.read() as con:
            self.branch.options = choices(known(con, "branch"))
        self.folder.value = self.folder.value or str(Path(self.opened.path).resolve().parent / "reports")

    def _choices(self) -> dict:
        return {
            "profile": self.profile.value,
            "branch": chosen(self.branch.value),
            "date_from": _iso(self.date_from.value),
            "date_to": _iso(self.date_to.value),
            "extract": self.extract.value,
            "area": self.area.value,
            "period": self.period.value,
        }

    def preview(self) -> None:
        """The protected tables, and for an extract the risk gate's verdict; nothing is written."""
        c = self._choices()
        with self.opened.read() as con:
            shown = reports.preview(
                con, profile=c["profile"], date_from=c["date_from"], date_to=c["date_to"],
                branch=c["branch"], extract=c["extract"], area=c["area"], period=c["period"],
            )
        tables, metrics = shown.tables, shown.metrics
        self.tables.value = "".join(
            f"<h4>{html.escape(t.title)} <small>({t.suppressed_cells} suppressed)</small></h4>"
            f"{table_html(disclosure.for_display(t.frame), max_rows=40)}"
            for t in tables
        )
        self.verdict.value = _verdict(metrics)
        self.feedback.clear()

    def release(self) -> reports.ReportResult:
        c = self._choices()
        out = Path(self.folder.value.strip()).expanduser() / f"report-{dt.datetime.now():%Y%m%d-%H%M%S}"
        with self.opened.write() as con:
            result = reports.build(con, out, actor=self.opened.actor, **c)
        self.feedback.ok(f"Released {result.release_id}: {len(result.paths)} files in {result.out_dir}.")
        return result


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _verdict(metrics: risk.RiskMetrics | None) -> str:
    if metrics is None:
        return "<div>Tables only: no row-level extract, so no risk gate is needed.</div>"
    word = (
        "<b style='color:#1b5e20'>PASSES</b>"
        if metrics.passed
        else "<b style='color:#b00020'>BLOCKED</b>: choose a coarser area or period, or no extract"
    )
    return (
        f"<div>Risk gate: {word}. Smallest group k = {metrics.k_min} (needs {metrics.k_required}), "
        f"ℓ = {metrics.l_min} (needs {metrics.l_required}); {metrics.records:,} rows in {metrics.groups:,} "
        f"groups; {metrics.unique_records:,} unique.</div>"
    )


__all__ = ["ReportView"]

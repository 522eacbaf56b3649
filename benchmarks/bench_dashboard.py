"""The dashboard as a person feels it, on the national store.

1. Filter change, in process: the outreach dashboard view as the web app's kernel runs it; from
   setting the branch dropdown's value to the charts holding the new data (observers run
   synchronously). One kept read-only connection serves every change. Warm: the kernel has shown
   the page already.
2. Filter change, end to end in Chromium: the web app (`workbench app`, Voilà) on the national store,
   map included; from the select's change event to the first animation frame after the by-place
   chart's tick labels changed in the DOM (kernel, comm messages, plotly's redraw and all), timed
   by the page's own clock. Beside it, the same change timed from Python, which adds Playwright's
   own round trips (finding the select, then polling the page) that no person waits for.
   Targets for both 1 and 2: median <= 60 ms, p95 <= 100 ms (issue 15); the line after says whether
   issue 17's 150 ms holds in Chromium.
3. App first render: opening the page of a running app, typing the passphrase, until the first chart
   is drawn. Target <= 1.5 s. The passphrase is typed the instant its box appears, so the figure
   includes everything the page does before it can draw. Beside it, two parts of a visit: page to
   passphrase box, and Enter to first chart when the passphrase is typed 3 s after the box appears
   (as a person types it; the page imports plotly's code meanwhile).

Anchors, in the same run: a scan reading every call's outcome; a new Python importing plotly and
ipywidgets (what every app kernel pays before any work).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from harness import RUNS, Stats, command, note, report, timed
from stores import PASSPHRASE, national_store

from workbench.store import db
from workbench.widgets import server

CHANGES = 21
WARM_S = 12  # a kernel running the app's notebook ahead of a visit, with margin
TYPING_S = 3  # a person typing a passphrase
CHANGE_GAP_S = 1  # a person looks at the charts before the next change; the page finishes its redraws
CHROMIUM = "/usr/bin/chromium"
SCAN_QUERY = "SELECT count(*) FROM calls WHERE outcome <> ''"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
TICKS = "[...document.querySelectorAll('.wb-chart-place .xtick text')].map(t => t.textContent).join('|')"


def scan_anchor(path: Path) -> Stats:
    with db.session(path, PASSPHRASE, read_only=True) as con:
        return timed(lambda: con.execute(SCAN_QUERY).fetchone(), runs=9)


def filter_change(path: Path, changes: int = CHANGES) -> Stats:
    """Seconds per branch change in the in-process dashboard (warm: after the first render)."""
    from workbench.widgets.outreach import OutreachDashboard
    from workbench.widgets.store import StoreView

    os.environ[server.APP_ENV] = "1"  # the app's charts (widgets.chart), not JupyterLab's FigureWidget
    try:
        view = OutreachDashboard(StoreView(path, PASSPHRASE))
        branches = list(view.branch.options)[1:]
        times = []
        for i in range(changes):
            before = (view.by_place.figure.base, view.by_place.figure.patch)
            start = time.perf_counter()
            view.branch.value = branches[i % len(branches)] if i % 2 == 0 else view.branch.options[0]
            times.append(time.perf_counter() - start)
            assert (view.by_place.figure.base, view.by_place.figure.patch) != before, "no change drawn"
            assert not view.feedback.value, view.feedback.text
        view.store_view.store.reader.close()
    finally:
        del os.environ[server.APP_ENV]
    return Stats(tuple(times))


def in_chromium(path: Path) -> tuple[Stats, Stats, Stats, Stats, Stats]:
    """(first render per page visit, page to passphrase box, Enter to first chart when typed as a
    person does, filter change to chart drawn by the page's clock, and by Python's) in Chromium on
    the running app."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        port = server.free_port()
        process = server.start(path, port)
        try:
            server.wait_until_ready(port, timeout=120, process=process)
            time.sleep(WARM_S)  # a warm server: its first kernel has run the notebook
            renders, boxes, typed, changes = [], [], [], []
            for run in range(2 * RUNS):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.set_default_timeout(120_000)
                if run % 2 == 0:
                    renders.append(_visit(page, port)[2])
                else:
                    box, after_enter, _ = _visit(page, port, TYPING_S)
                    boxes.append(box)
                    typed.append(after_enter)
                page.close()
                # Voilà warms the next kernel REFILL_DELAY_S after a visit takes one; wait until it has.
                time.sleep(server.REFILL_DELAY_S + WARM_S)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(120_000)
            _visit(page, port)
            # The visit ends at the first chart; the map and the charts below it are still being drawn
            # (a change made in the same instant took 0.4 s). A person looks at the page first.
            time.sleep(CHANGE_GAP_S)
            branches = [o for o in page.locator(".wb-filter-branch select option").all_inner_texts()][1:]
            for i in range(CHANGES):
                changes.append(_change(page, branches[i % len(branches)] if i % 2 == 0 else None))
                time.sleep(CHANGE_GAP_S)
            in_page, driven = zip(*changes, strict=True)
            return (Stats(tuple(renders)), Stats(tuple(boxes)), Stats(tuple(typed)), Stats(in_page),
                    Stats(driven))
        finally:
            process.terminate()
            process.wait(timeout=15)
            browser.close()


def _visit(page, port: int, typing_s: float = 0) -> tuple[float, float, float]:
    """Open the page, type the passphrase `typing_s` after its box appears, press Enter.

    Returns seconds (to the passphrase box, from Enter to the first chart, the whole visit).
    """
    start = time.perf_counter()
    page.goto(f"http://{server.HOST}:{port}/")
    box = page.locator("input[type=password]")
    box.wait_for()
    shown = time.perf_counter() - start
    time.sleep(typing_s)
    box.fill(PASSPHRASE)
    entered = time.perf_counter()
    box.press("Enter")
    page.locator(".wb-chart-place .xtick text").first.wait_for()
    done = time.perf_counter()
    return shown, done - entered, done - start - typing_s


# In the page: note the time of the select's change event, then of the first animation frame after
# the chart's ticks changed (the frame that shows them).
WATCH = f"""() => {{
  const watch = {{before: {TICKS}, changed: null, drawn: null}};
  window.__wbWatch = watch;
  document.addEventListener('change', () => {{ watch.changed = performance.now(); }},
                            {{capture: true, once: true}});
  const observer = new MutationObserver(() => {{
    if (watch.changed === null || ({TICKS}) === watch.before) return;
    observer.disconnect();
    requestAnimationFrame(() => {{ watch.drawn = performance.now(); }});
  }});
  observer.observe(document.querySelector('.wb-chart-place'),
                   {{subtree: true, childList: true, characterData: true, attributes: true}});
}}"""


def _change(page, branch: str | None) -> tuple[float, float]:
    """Choose `branch` (None: the first option, all branches).

    Returns seconds (change event to the chart drawn, by the page's clock; select_option called to
    the ticks seen changed, by Python's, Playwright's round trips included).
    """
    page.evaluate(WATCH)
    select = page.locator(".wb-filter-branch select")
    start = time.perf_counter()
    if branch is None:
        select.select_option(index=0)
    else:
        select.select_option(label=branch)
    page.wait_for_function("window.__wbWatch.drawn !== null", polling="raf")
    driven = time.perf_counter() - start
    in_page = page.evaluate("(window.__wbWatch.drawn - window.__wbWatch.changed) / 1000")
    return in_page, driven


def run() -> None:
    path = national_store()
    scan = scan_anchor(path)
    change = filter_change(path)
    report("dashboard filter change, in process (national)", change, "scan of calls", scan,
           state="warm: page shown, connection kept", max_seconds=0.06, p95_seconds=0.1,
           extra=f"{CHANGES} branch changes, query + figures")
    if not Path(CHROMIUM).exists():
        note(f"skipped the Chromium figures: {CHROMIUM} is not installed")
        return
    imports = command([sys.executable, "-c",
                       "import plotly.graph_objects, ipywidgets"])
    renders, boxes, typed, changes, driven = in_chromium(path)
    report("web app first render, page visit (national)", renders, "python import plotly+ipywidgets",
           imports, state="cold page, warm server", max_seconds=1.5,
           extra="open page of a running app, type passphrase at once, first chart drawn")
    report("web app: page to passphrase box (national)", boxes, "python import plotly+ipywidgets", imports,
           state="cold page, warm server", extra="Voila's page and widgets, before any store work")
    report("web app: Enter to first chart, typed as a person (national)", typed,
           "python import plotly+ipywidgets", imports, state="cold page, warm server",
           extra=f"passphrase typed {TYPING_S} s after its box appeared")
    report("dashboard filter change, end to end in Chromium (national)", changes, "scan of calls", scan,
           state="warm: page shown", max_seconds=0.06, p95_seconds=0.1,
           extra=f"{CHANGES} changes: change event to the frame after the chart's ticks changed, page clock")
    note(f"issue 17's 150 ms for a filter change with the map, in Chromium: "
         f"{'met' if changes.median <= 0.15 else 'MISSED'} ({changes.median * 1000:.1f} ms median)")
    report("dashboard filter change, Chromium driven from Python (national)", driven, "scan of calls", scan,
           state="warm: page shown", extra="select_option called until the ticks seen changed")
    note("end to end adds the comm round trip from browser to kernel and back, and plotly's redraw, "
         "to the in-process figure; driven from Python adds Playwright's own round trips")

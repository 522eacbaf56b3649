"""The dashboard as a person feels it: a filter change on the national store, and the web app's first render.

1. In-process: the outreach dashboard view over the national store; the time from setting the branch
   dropdown's value to the FigureWidgets holding the new data (ipywidgets observers run
   synchronously, so the assignment returns when the figures are updated). Target < 150 ms.
2. The web app on the demo store: from starting `workbench app` to the first chart visible in
   Chromium after typing the passphrase. Target < 5 s.

Anchors, measured in the same run: a bare `SELECT count(*) FROM calls` on the national store, and a
fresh Python importing plotly and ipywidgets (what every app kernel pays before any work).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from national import CACHE, PASSPHRASE, national_store

from workbench import synthetic
from workbench.store import db
from workbench.synthetic import demo
from workbench.widgets import server
from workbench.widgets.outreach import OutreachDashboard
from workbench.widgets.store import StoreView

CHANGES = 7
APP_RUNS = 3
CHROMIUM = "/usr/bin/chromium"


def _filter_change(path: Path) -> tuple[float, float]:
    view = OutreachDashboard(StoreView(path, PASSPHRASE))
    branches = list(view.branch.options)
    times = []
    for i in range(CHANGES):
        before = tuple(view.by_place.figure.data[0].x)
        start = time.perf_counter()
        view.branch.value = branches[(i + 1) % len(branches)]
        elapsed = time.perf_counter() - start
        assert tuple(view.by_place.figure.data[0].x) != before, "the figure did not change"
        assert not view.feedback.value, view.feedback.text
        times.append(elapsed)
    with db.session(path, PASSPHRASE, read_only=True) as con:
        anchor = []
        for _ in range(15):
            start = time.perf_counter()
            con.execute("SELECT count(*) FROM calls").fetchone()
            anchor.append(time.perf_counter() - start)
    return statistics.median(times), statistics.median(anchor)


def demo_store() -> Path:
    path = CACHE / "demo.duckdb"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        demo.rebuild(path, synthetic.generate("demo", seed=2020))
    return path


def first_render(path: Path) -> tuple[float, float]:
    """Seconds to the first chart in Chromium, passphrase typed: (from starting the app, from opening
    the page of an app already running). The second is what a person waits for each visit; the
    first adds the server's own start, paid once."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        port = server.free_port()
        start = time.perf_counter()
        process = server.start(path, port)
        try:
            server.wait_until_ready(port, timeout=60, process=process)
            _visit(page, port)
            cold = time.perf_counter() - start
            time.sleep(5)  # let Voilà warm the next kernel, as it does between visitors
            return cold, _visit(page, port)
        finally:
            process.terminate()
            process.wait(timeout=15)
            browser.close()


def _visit(page, port: int) -> float:
    """Open the app's page, type the passphrase, wait for the first chart; seconds taken."""
    start = time.perf_counter()
    page.goto(f"http://{server.HOST}:{port}/")
    page.locator("input[type=password]").fill(db.DEMO_PASSPHRASE)
    page.locator("input[type=password]").press("Enter")
    page.locator(".wb-chart-place .xtick text").first.wait_for(timeout=60_000)
    return time.perf_counter() - start


def _import_anchor() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import plotly.graph_objects, ipywidgets"], check=True)
    return time.perf_counter() - start


def run(report) -> None:
    change, anchor = _filter_change(national_store())
    report(
        "dashboard filter change (national)",
        change,
        "SELECT count(*) FROM calls",
        anchor,
        target="< 150 ms",
        extra=f"median of {CHANGES} branch changes, query + figures",
    )
    if not Path(CHROMIUM).exists():
        print(f"skipped the app's first render: {CHROMIUM} is not installed")
        return
    path = demo_store()
    renders = [first_render(path) for _ in range(APP_RUNS)]
    imports = statistics.median(_import_anchor() for _ in range(APP_RUNS))
    report(
        "web app first render, page visit (demo)",
        statistics.median(visit for _, visit in renders),
        "python import plotly+ipywidgets",
        imports,
        target="< 5 s",
        extra=f"median of {APP_RUNS}: open page of a running app, passphrase, first chart",
    )
    report(
        "web app first render, incl. server start (demo)",
        statistics.median(cold for cold, _ in renders),
        "python import plotly+ipywidgets",
        imports,
        extra=f"median of {APP_RUNS}: start `workbench app`, open page, passphrase, first chart",
    )

"""The web app and a notebook, driven in a real Chromium (Debian's), the way a person uses them.

Nothing is mocked: `workbench app` runs as a subprocess on a free loopback port over a copy of the
tiny synthetic store, and JupyterLab runs one notebook. Expected numbers come from the library.
Screenshots (1280x800) are saved under the test's tmp_path for a person to look at.

Under CI=true these tests run (and fail if Chromium is missing); elsewhere they skip without it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.analysis import outreach
from workbench.errors import StoreError
from workbench.lists import followups
from workbench.privacy import optouts
from workbench.store import db
from workbench.store.filters import known
from workbench.widgets import server

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing; CI must install it (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def running_app(synthetic_store):
    # A port found free can be taken before the app binds it (by another test's kernel, when tests
    # run in parallel): then the app stops while starting, and another port is tried.
    for attempt in range(3):
        port = server.free_port()
        process = server.start(synthetic_store, port)
        try:
            server.wait_until_ready(port, timeout=60, process=process)
            break
        except StoreError:
            _stop(process)
            if attempt == 2:
                raise
    try:
        yield f"http://{server.HOST}:{port}/"
    finally:
        _stop(process)


def _number(page, name: str) -> str:
    return page.locator(f".wb-headline[data-name='{name}'] .wb-number").inner_text().strip()


def _expected_headline(store: Path, **filters) -> dict[str, str]:
    with db.session(store, db.DEMO_PASSPHRASE, read_only=True) as con:
        numbers = outreach.headline(con, **filters)
    return {
        "attempts": f"{numbers['attempts']:,}",
        "members_called": f"{numbers['members_called']:,}",
        "reached": f"{numbers['reached']:,}",
        "contact_rate": f"{numbers['contact_rate']:.0%}",
        "needing_support": f"{numbers['needing_support']:,}",
    }


def _wait_for_headline(page, expected: dict[str, str]) -> None:
    page.wait_for_function(
        """expected => Object.entries(expected).every(([name, text]) => {
               const el = document.querySelector(`.wb-headline[data-name='${name}'] .wb-number`);
               return el && el.textContent.trim() === text; })""",
        arg=expected,
    )


def _opt_out_someone_on_the_list(store: Path) -> tuple[str, str, str]:
    """Pick a branch with people to call back; opt one of them out. Returns (branch, member_key, phone)."""
    with db.session(store, db.DEMO_PASSPHRASE) as con:
        for branch in known(con, "branch"):
            rows = followups.compose(con, branch=branch).rows
            if len(rows) >= 2:
                person = rows.iloc[0]
                optouts.add(
                    con,
                    actor="browser-test",
                    reason="asked_not_to_be_called",
                    member_key=person["member_key"],
                )
                return branch, person["member_key"], followups.display_phone(person["phone"])
    pytest.fail("the tiny synthetic store has no branch with two people to call back")


def _from_the_app(url: str) -> bool:
    from urllib.parse import urlparse

    local = urlparse(url).hostname in ("127.0.0.1", "localhost")
    return local or url.startswith(("data:", "blob:", "about:"))


def _open_protected(path: Path, secret: str) -> str:
    """The text of a password-protected workbook, opened as Excel would: with its passphrase."""
    import io

    import msoffcrypto
    import openpyxl

    office = msoffcrypto.OfficeFile(io.BytesIO(path.read_bytes()))
    office.load_key(password=secret)
    plain = io.BytesIO()
    office.decrypt(plain)
    sheet = openpyxl.load_workbook(plain).active
    return "\n".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)


def test_app_dashboard_and_followup_list_in_a_real_browser(page, running_app, synthetic_store, tmp_path):
    branch, opted_out_key, opted_out_phone = _opt_out_someone_on_the_list(synthetic_store)
    bundle_requests, frames, elsewhere, unused = [], [], [], []
    page.on("request", lambda r: bundle_requests.append(r.url) if server.BUNDLE_URL in r.url else None)
    page.on("request", lambda r: unused.append(r.url) if any(f"/{name}/" in r.url
                                                             for name in server.UNUSED_EXTENSIONS) else None)
    # Nothing is fetched from anywhere but the app itself: a font or script from a CDN would tell a
    # third party who opened the dashboard, and when.
    page.on("request", lambda r: elsewhere.append(r.url) if not _from_the_app(r.url) else None)
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(len(f))))
    page.goto(running_app)

    # 1. The page shows no code and asks for the passphrase.
    password = page.locator("input[type=password]")
    password.wait_for()
    body = page.locator("body").inner_text()
    assert "from workbench" not in body and "App()" not in body and page.locator(".cm-editor").count() == 0
    page.screenshot(path=tmp_path / "1-passphrase.png")
    # plotly.js is fetched and run while the page waits for the passphrase.
    page.wait_for_function("performance.getEntriesByType('resource').some(r => r.name.includes("
                           f"{server.BUNDLE_URL!r})) && window.Plotly !== undefined")
    password.fill(db.DEMO_PASSPHRASE)
    password.press("Enter")
    _wait_for_headline(page, _expected_headline(synthetic_store))
    page.locator(".wb-chart-place .xtick text").first.wait_for()
    page.screenshot(path=tmp_path / "2-dashboard.png")
    # Three charts and a map, and plotly.js (1.1 MB) came once, by URL, not inside each chart's state.
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length === 4")
    assert len(bundle_requests) == 1 and max(frames) < 1_000_000, (bundle_requests, max(frames))
    assert not elsewhere, elsewhere
    assert not unused, unused  # plotly's JupyterLab renderer, a second plotly.js, is never loaded

    # 2. Choose a branch: headline numbers and the by-place chart change to that branch's values.
    page.locator(".wb-filter-branch select").select_option(branch)
    _wait_for_headline(page, _expected_headline(synthetic_store, branch=branch))
    with db.session(synthetic_store, db.DEMO_PASSPHRASE, read_only=True) as con:
        wards = [str(w) for w in outreach.summary(con, by="ward", branch=branch)["ward"]]
    page.wait_for_function(
        """wards => { const ticks = [...document.querySelectorAll('.wb-chart-place .xtick text')]
                                   .map(t => t.textContent);
                      return ticks.length === wards.length && wards.every(w => ticks.includes(w)); }""",
        arg=wards,
    )
    page.screenshot(path=tmp_path / "3-branch.png")

    # 3. Build a follow-up list for that branch and export it.
    page.locator(".wb-tabs").get_by_role("button", name="Follow-up lists").click()
    page.locator(".wb-list-branch select").select_option(branch)
    page.locator(".wb-list-preview-button").click()
    page.get_by_text("people would be on this list").wait_for()
    assert opted_out_phone not in page.locator(".wb-lists").inner_text()  # masked until asked
    page.locator(".wb-list-purpose input").fill("welfare call-backs")
    page.locator(".wb-list-recipient input").fill("Branch secretary")
    # The default is the password-protected workbook; its passphrase is shown once, with a copy button.
    assert page.locator(".wb-list-fmt select").input_value() == "Excel, password-protected (.xlsx)"
    page.locator(".wb-list-export-button").click()
    path_text = page.locator(".wb-path").inner_text(timeout=60_000).strip()
    list_id = page.locator(".wb-list-id").inner_text().strip()
    secret = page.locator(".wb-passphrase").inner_text().strip()
    copy = page.locator(".wb-copy-passphrase")
    assert copy.is_visible() and "clipboard" in (copy.get_attribute("onclick") or "")  # not sanitised away
    page.screenshot(path=tmp_path / "4-list.png", full_page=True)
    exported = Path(path_text)
    assert exported.exists() and exported.stat().st_mode & 0o777 == 0o600
    text = _open_protected(exported, secret)
    head = text[:2000]
    assert list_id in head and "Branch secretary" in head and "welfare call-backs" in head
    assert re.search(r"shred", head, re.I) and re.search(r"report", head, re.I) and "@" in head

    # 4. The member opted out before the list was made is not on it.
    assert opted_out_phone not in text
    with db.session(synthetic_store, db.DEMO_PASSPHRASE, read_only=True) as con:
        keys = {
            r[0]
            for r in con.execute(
                "SELECT member_key FROM list_members WHERE list_id = ?", [list_id]
            ).fetchall()
        }
    assert keys and opted_out_key not in keys


CLIPPED_CHARTS = """[...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent)
  .map(plot => {
    const box = plot.closest('[class*="wb-chart-"]');
    return [box.className.match(/wb-chart-[a-z-]+/)[0], plot.querySelector('.main-svg').width.baseVal.value,
            box.getBoundingClientRect().width]; }).filter(([, drawn, room]) => drawn > room + 1)"""


def test_without_ward_boundaries_the_dashboard_says_so_and_draws_every_chart_whole(
    page, running_app, synthetic_store, tmp_path
):
    # The app opens the store only when the passphrase is typed, so the boundaries go before that.
    with db.session(synthetic_store, db.DEMO_PASSPHRASE) as con:
        con.execute("DELETE FROM ward_boundaries")
    page.goto(running_app)
    page.locator("input[type=password]").fill(db.DEMO_PASSPHRASE)
    page.locator("input[type=password]").press("Enter")
    page.get_by_text("No ward map: this store has no ward boundaries").wait_for()
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length === 3")
    page.locator(".wb-chart-place .legend").wait_for()
    page.screenshot(path=tmp_path / "no-boundaries.png")
    # None is wider than the box it sits in: the note beside the by-place chart once squeezed its
    # box, cutting off the chart's last bars and its legend.
    assert page.evaluate(CLIPPED_CHARTS) == []
    page.locator(".wb-tabs").get_by_role("button", name="Needs").click()
    page.locator(".wb-chart-needs .legend").wait_for()
    assert page.locator(".wb-needs").get_by_text("No ward map").is_visible()
    assert page.evaluate(CLIPPED_CHARTS) == []


def _kernel_of(page, url: str) -> str:
    """Open the app in `page`, type the passphrase, wait for the dashboard; the page's kernel id."""
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(url)
    page.locator("input[type=password]").fill(db.DEMO_PASSPHRASE)
    page.locator("input[type=password]").press("Enter")
    page.locator(".wb-chart-place .xtick text").first.wait_for()
    (kernel,) = {m.group(1) for u in sockets if (m := re.search(r"/api/kernels/([0-9a-f-]{36})/", u))}
    return kernel


def _kernel_running(kernel: str) -> bool:
    """True while a kernel process runs with that id's connection file (kernel-<id>.json)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"kernel-{kernel}.json".encode() in cmdline.read_bytes():
                return True
        except OSError:  # the process ended while being read
            continue
    return False


def test_a_kernel_whose_page_vanished_is_shut_down_and_an_open_pages_is_kept(browser, synthetic_store):
    # A tab that crashes or a laptop that sleeps never tells the app it left; its kernel held the open
    # store until the app stopped. Here kernels left alone for 4 s are shut down.
    port = server.free_port()
    process = server.start(synthetic_store, port, orphaned_kernel_s=4)
    contexts = [browser.new_context(viewport=VIEWPORT) for _ in range(2)]
    try:
        server.wait_until_ready(port, timeout=60, process=process)
        kept, vanished = (context.new_page() for context in contexts)
        for page in (kept, vanished):
            page.set_default_timeout(60_000)
        kept_kernel = _kernel_of(kept, f"http://{server.HOST}:{port}/")
        vanished_kernel = _kernel_of(vanished, f"http://{server.HOST}:{port}/")
        assert _kernel_running(kept_kernel) and _kernel_running(vanished_kernel)
        contexts.pop().close()  # no beforeunload: the app is never told, as when a tab crashes
        deadline = time.monotonic() + 60
        while _kernel_running(vanished_kernel) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _kernel_running(vanished_kernel), "a kernel with no page kept running"
        # The page still open, idle for longer than that, keeps its kernel and still answers.
        assert _kernel_running(kept_kernel)
        branch = kept.locator(".wb-filter-branch select option").nth(1).inner_text()
        kept.locator(".wb-filter-branch select").select_option(branch)
        _wait_for_headline(kept, _expected_headline(synthetic_store, branch=branch))
    finally:
        for context in contexts:
            context.close()
        _stop(process)


def test_a_notebook_runs_in_jupyterlab(page, synthetic_store, tmp_path):
    _require_chromium()
    port, token = server.free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        WORKBENCH_DB=str(synthetic_store),
        WORKBENCH_PASSPHRASE=db.DEMO_PASSPHRASE,
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    work = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, work)  # the kernel may write checkpoints; keep the committed copies clean
    lab = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            f"--ServerApp.ip={server.HOST}",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            "--no-browser",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        server.wait_until_ready(port, timeout=60, process=lab)
        page.goto(f"http://{server.HOST}:{port}/lab/tree/00_start_here.ipynb?token={token}")
        page.locator(".jp-Notebook").wait_for()
        # Run All is ignored while the kernel is still starting, so wait until the status bar says so.
        page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\|\s*Idle")).first.wait_for()
        page.get_by_role("menuitem", name="Run").click()
        page.get_by_role("menuitem", name=re.compile("^Run All Cells")).click()
        page.locator(".wb-store").wait_for()
        page.get_by_text("Opened").first.wait_for()
        page.locator(".wb-settings input").first.wait_for()
        page.screenshot(path=tmp_path / "5-jupyterlab.png")
        assert "Traceback" not in page.locator(".jp-Notebook").inner_text()
    finally:
        page.screenshot(path=tmp_path / "5-jupyterlab.png")
        _stop(lab)

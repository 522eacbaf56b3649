"""Maps and interactive tables in the web app, in a real Chromium: the dashboard's map follows the
branch filter, a needs-tab table sorts and searches, a ward clicked on the map filters the queue,
and a table showing people offers no export button and no name.

Screenshots (1280x800) are saved under the test's tmp_path for a person to look at.
"""

from __future__ import annotations

import re

import pytest
from test_browser import browser, page, running_app  # noqa: F401 - fixtures shared with the app's tests

from workbench.analysis import maps, outreach
from workbench.lists import followups
from workbench.store import db
from workbench.store.filters import known

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NO_DATA = "rgb(238, 238, 238)"  # maps.NO_DATA as the browser reports it
FILLS = """sel => [...document.querySelectorAll(sel + ' path.js-fill')].map(p => p.style.fill)"""


def _open(web, url: str) -> None:
    web.goto(url)
    web.locator("input[type=password]").fill(db.DEMO_PASSPHRASE)
    web.locator("input[type=password]").press("Enter")


def _tab(web, name: str) -> None:
    web.locator(".wb-tabs").get_by_role("button", name=name).click()


def test_dashboard_map_follows_the_branch_filter(page, running_app, synthetic_store, tmp_path):  # noqa: F811
    with db.session(synthetic_store, db.DEMO_PASSPHRASE, read_only=True) as con:
        shapes = maps.shapes(con)
        by_ward = outreach.summary(con, "ward")
        branch = known(con, "branch")[0]
        branch_wards = set(outreach.summary(con, "ward", branch=branch)["ward"])
    _open(page, running_app)
    page.locator(".wb-chart-map path.js-fill").first.wait_for()
    page.wait_for_function("document.querySelectorAll('.wb-chart-map path.js-fill').length > 0")
    fills = page.evaluate(FILLS, ".wb-chart-map")
    assert len(fills) == len(shapes.rings)  # one filled shape per ward
    called = set(by_ward.loc[by_ward["members_called"] > 0, "ward"])
    assert sum(f != NO_DATA for f in fills) == len(called & set(shapes.rings))
    # The numbers are printed on the wards, not only coloured.
    labels = page.locator(".wb-chart-map .textpoint text").all_inner_texts()
    assert {f"{r:.0%}" for r in by_ward["contact_rate"]} >= {t for t in labels if t}
    page.locator(".wb-chart-map").scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "map-1-all.png")

    page.locator(".wb-filter-branch select").select_option(branch)
    # Redrawn in place: wards outside the branch have nothing in this selection, its own are coloured.
    page.wait_for_function(
        f"""n => {{ const fills = ({FILLS})('.wb-chart-map');
                   return fills.filter(f => f !== '{NO_DATA}').length === n; }}""",
        arg=len(branch_wards & set(shapes.rings)),
    )
    page.locator(".wb-chart-map .gtitle").wait_for()
    page.screenshot(path=tmp_path / "map-2-branch.png")
    hover_ward = sorted(branch_wards & set(shapes.rings))[0]
    assert hover_ward  # the branch has a ward on the map


def _table_on_tab(web, url: str, tab: str, scope: str) -> str:
    """Open the app, choose `tab` and wait until the table at `scope` has rows; returns `scope`."""
    _open(web, url)
    web.locator(".wb-headline").first.wait_for()
    _tab(web, tab)
    web.locator(f"{scope} table.dataTable tbody tr").first.wait_for()
    return scope


def _dt_rows(web, scope: str) -> list[list[str]]:
    return web.evaluate(
        """scope => [...document.querySelectorAll(scope + ' table.dataTable tbody tr')]
                     .map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim()))""",
        scope,
    )


def _header_index(web, scope: str, name: str) -> int:
    names = web.evaluate(
        """scope => [...document.querySelector(
                        scope + ' .dt-scroll-head table, ' + scope + ' table.dataTable')
                      .querySelectorAll('thead th')].map(th => th.textContent.trim())""",
        scope,
    )
    return names.index(name)


def test_needs_table_sorts_searches_and_a_map_click_filters_it(page, running_app, synthetic_store, tmp_path):  # noqa: F811
    scope = _table_on_tab(page, running_app, "Needs", ".wb-needs-queue")
    score = _header_index(page, scope, "score")
    ward = _header_index(page, scope, "ward")

    # Sort: the queue arrives most urgent first; one click on "score" sorts it ascending.
    page.locator(f"{scope} .dt-scroll-head thead th", has_text=re.compile(r"^score$")).first.click()
    page.wait_for_function(
        """([scope, i]) => { const cells = [...document.querySelectorAll(scope + ' table.dataTable tbody tr')]
                               .map(tr => Number(tr.querySelectorAll('td')[i].textContent.replace(/,/g, '')));
                             return cells.length > 1
                                    && cells.every((v, k) => k === 0 || cells[k - 1] <= v); }""",
        arg=[scope, score],
    )
    # Search: only rows of the ward typed remain, and the page says they were filtered.
    target = _dt_rows(page, scope)[0][ward]
    page.locator(f"{scope} .dt-search input").fill(target)
    page.wait_for_function(
        """([scope, i, w]) => [...document.querySelectorAll(scope + ' table.dataTable tbody tr')]
                               .every(tr => tr.querySelectorAll('td')[i].textContent.trim() === w)""",
        arg=[scope, ward, target],
    )
    assert "filtered from" in page.locator(f"{scope} .dt-info").inner_text()
    page.locator(scope).screenshot(path=tmp_path / "needs-1-table.png")

    # A ward clicked on the needs map becomes the ward filter, and the queue holds only that ward.
    page.locator(f"{scope} .dt-search input").fill("")
    page.locator(".wb-needs-map path.js-fill").first.wait_for()
    # The ward whose printed number (needing support per 100 members) is highest: it has a queue.
    numbers = page.locator(".wb-needs-map .textpoint text").all_text_contents()
    top = max(range(len(numbers)), key=lambda i: float(numbers[i] or 0))
    label = page.locator(".wb-needs-map .textpoint text").nth(top)
    label.scroll_into_view_if_needed()
    box = label.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    # Wait for the hover of this ward (scrolling may have left another ward's hover showing).
    page.wait_for_function(
        """n => [...document.querySelectorAll('.wb-needs-map .hovertext')]
                  .some(h => h.textContent.includes('(' + n + ' per 100'))""",
        arg=numbers[top],
    )
    hover = page.locator(".wb-needs-map .hovertext", has_text=f"({numbers[top]} per 100").first
    clicked = hover.text_content().split(":")[0].strip()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function(
        """w => [...document.querySelectorAll('.wb-needs select')].some(s => s.value === w)""",
        arg=clicked,
    )
    page.wait_for_function(
        """([scope, i, w]) => {
               const rows = [...document.querySelectorAll(scope + ' table.dataTable tbody tr')];
                                return rows.every(tr => { const td = tr.querySelectorAll('td');
                                  return td.length === 1 || td[i].textContent.trim() === w; }); }""",
        arg=[scope, ward, clicked],
    )
    # One click chooses one ward (plotly tells every trace of a click; only the clicked one acts),
    # and the ward with the most need per member has people in its queue.
    page.wait_for_timeout(2_000)
    chosen = page.evaluate("[...document.querySelectorAll('.wb-needs select')].map(s => s.value)")
    assert clicked in chosen
    assert all(row[ward] == clicked for row in _dt_rows(page, scope)) and _dt_rows(page, scope)
    page.screenshot(path=tmp_path / "needs-2-ward-clicked.png", full_page=True)


def test_a_table_of_people_offers_no_export_and_shows_no_name(page, running_app, synthetic_store, tmp_path):  # noqa: F811
    with db.session(synthetic_store, db.DEMO_PASSPHRASE, read_only=True) as con:
        branch = next(b for b in known(con, "branch") if len(followups.compose(con, branch=b).rows) >= 2)
        rows = followups.compose(con, branch=branch).rows
    _open(page, running_app)
    page.locator(".wb-headline").first.wait_for()

    # A table of counts (signposting gaps) may be exported: its buttons are there.
    _tab(page, "Services")
    page.locator(".wb-services .dt-buttons").first.wait_for()

    _tab(page, "Follow-up lists")
    page.locator(".wb-list-branch select").select_option(branch)
    page.locator(".wb-list-preview-button").click()
    page.locator(".wb-lists table.dataTable tbody tr").first.wait_for()
    text = page.locator(".wb-lists").inner_text()
    assert page.locator(".wb-lists .dt-buttons, .wb-lists .buttons-csv, .wb-lists .buttons-copy").count() == 0
    for person in rows.itertuples():
        assert person.first_name not in text
        assert followups.display_phone(person.phone) not in text
    assert rows["member_key"].iloc[0] in text or rows["member_key"].iloc[-1] in text or "member_key" in text
    page.locator(".wb-lists .wb-table").first.screenshot(path=tmp_path / "list-masked.png")


def test_decimals_in_a_table_read_with_two_places(page, running_app, synthetic_store, tmp_path):  # noqa: F811
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    scope = _table_on_tab(page, running_app, "Services", ".wb-gaps-no-service")
    share = _header_index(page, scope, "share")
    shares = [row[share] for row in _dt_rows(page, scope)]
    assert shares and all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", s) for s in shares), shares
    assert not [e for e in errors if "Error evaluating" in e], errors  # the renderer itself ran


def test_a_report_shows_names_holding_markup_as_text(page, synthetic_con, tmp_path):  # noqa: F811
    # A ward or service name is text from an import. plotly.js draws tags it finds in labels, so a
    # name holding a link would put a live link in a published report. One ward keeps its boundary
    # under a hostile name; another loses it, so the map's "no boundary" note names it too.
    from workbench import reports

    con = synthetic_con
    wards = sorted(maps.shapes(con).rings)
    link = '<a href="https://phish.example/login">{}</a>'
    con.execute("UPDATE members SET ward = replace(?, '{}', ward) WHERE ward = ?", [link, wards[0]])
    con.execute("UPDATE ward_boundaries SET ward = replace(?, '{}', ward) WHERE ward = ?", [link, wards[0]])
    con.execute("UPDATE members SET ward = replace(?, '{}', ward) WHERE ward = ?",
                ['<span style="font-size:0">{}</span>', wards[1]])
    result = reports.build(con, tmp_path / "release", actor="test")
    page.goto((result.out_dir / "report.html").as_uri())
    page.wait_for_function("[...document.querySelectorAll('.plotly-graph-div')]"
                           ".every(d => d.querySelector('.main-svg'))")
    assert page.evaluate("document.querySelectorAll('svg a').length") == 0
    hidden = "svg [style*='font-size:0'], svg [style*='font-size: 0']"
    assert page.evaluate(f"document.querySelectorAll(\"{hidden}\").length") == 0
    # The ward with no boundary is named in the map's note; the other, on hovering over it.
    notes = page.evaluate("[...document.querySelectorAll('svg .annotation-text')].map(t => t.textContent)")
    assert any(f'<span style="font-size:0">{wards[1]}</span>' in note for note in notes)
    ward_map = page.locator("#map-outreach_by_ward")
    hovered = []
    for fill in ward_map.locator("path.js-fill").all():
        fill.hover(force=True)
        hovered += ward_map.locator(".hoverlayer text").all_text_contents()
        if any("phish" in text for text in hovered):
            break
    assert any(f'<a href="https://phish.example/login">{wards[0]}</a>:' in text for text in hovered)
    assert page.evaluate("document.querySelectorAll('svg a').length") == 0
    page.screenshot(path=tmp_path / "report-markup.png", full_page=True)

"""`workbench app`'s set-up, short of a browser (tests/test_browser.py drives the page itself)."""

from __future__ import annotations

import stat
from pathlib import Path

import plotly

from workbench.widgets import common, server


def test_plotly_bundle_is_copied_to_a_private_folder_and_served_as_a_labextension_path(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder, url = server.plotly_bundle()
    served = folder / url.removeprefix("/voila/labextensions/")
    original = Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"
    assert served.read_bytes() == original.read_bytes() and plotly.__version__ in served.name
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert f"--VoilaConfiguration.extra_labextensions_path={folder}" in server.command(8866, static=folder)
    server.plotly_bundle()  # a second start rewrites the same file and leaves nothing else behind
    assert [p.name for p in served.parent.iterdir()] == [served.name]


def test_the_app_environment_names_the_bundle_and_never_carries_the_passphrase(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "secret")
    env = server.environment(tmp_path / "store.duckdb", "/voila/labextensions/x/b.js")
    assert "WORKBENCH_PASSPHRASE" not in env
    assert env[server.PLOTLY_BUNDLE_ENV] == "/voila/labextensions/x/b.js"


def test_charts_in_the_app_carry_a_small_loader_instead_of_plotly_js(monkeypatch):
    import plotly.graph_objects as go

    monkeypatch.setenv(server.PLOTLY_BUNDLE_ENV, "/voila/labextensions/workbench-plotly/b.js")
    common._figure_widget_class.cache_clear()
    try:
        chart = common.figure_widget(go.Figure(go.Bar(x=["a"], y=[1])))
        assert len(chart._esm) < 1000 and '"/voila/labextensions/workbench-plotly/b.js"' in chart._esm
        assert isinstance(chart, go.FigureWidget) and chart.data[0].y == (1,)
    finally:
        monkeypatch.delenv(server.PLOTLY_BUNDLE_ENV)
        common._figure_widget_class.cache_clear()
    assert len(common.figure_widget()._esm) > 1_000_000  # JupyterLab: plotly's own, code and all


def test_the_page_imports_plotly_code_while_it_waits_for_the_passphrase(monkeypatch):
    import anywidget

    monkeypatch.setenv(server.PLOTLY_BUNDLE_ENV, "/voila/labextensions/workbench-plotly/b.js")
    warmer = common.bundle_warmer()
    assert isinstance(warmer, anywidget.AnyWidget) and warmer.layout.display == "none"
    assert 'import(new URL("/voila/labextensions/workbench-plotly/b.js"' in warmer._esm
    monkeypatch.delenv(server.PLOTLY_BUNDLE_ENV)
    assert not isinstance(common.bundle_warmer(), anywidget.AnyWidget)  # JupyterLab: nothing to warm


def test_the_app_never_loads_plotlys_jupyterlab_renderer():
    """Every chart is a FigureWidget: plotly's renderer extension would be a second plotly.js."""
    command = server.command(8866)
    for name in ("jupyterlab-plotly", "jupyterlab_pygments"):
        assert f"--VoilaConfiguration.extension_denylist={name}" in command


def test_plotly_bundle_falls_back_to_a_private_temporary_folder(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would go", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    folder, url = server.plotly_bundle()
    try:
        assert not folder.is_relative_to(blocked) and stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert (folder / url.removeprefix("/voila/labextensions/")).stat().st_size > 1_000_000
    finally:
        import shutil

        shutil.rmtree(folder)

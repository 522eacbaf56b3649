"""What the CLI prints is safe on a terminal and in a spreadsheet, whatever the data holds.

Real stores, the real `workbench` entry point (main, or a subprocess where the environment matters).
Hostile text goes into the store the way it could arrive from an export; the tests read what was
printed, and check the store still holds the text unchanged.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import common, main
from workbench.store import db

SCREEN_LIE = "\x1b[2J\x1b[HAll rows imported OK"
FORMULA = '=HYPERLINK("http://evil.example/","x")'
# C0 (but newline and tab), DEL, C1 and the bidirectional controls: none may reach a terminal raw.
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
FORBIDDEN = [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0)]
             if chr(c) != "\r"] + list(BIDI)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


@pytest.fixture
def hostile_store(synthetic_store: Path, monkeypatch) -> Path:
    """The tiny synthetic store with a service named SCREEN_LIE and a ward named FORMULA."""
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", db.DEMO_PASSPHRASE)
    with db.session(synthetic_store, db.DEMO_PASSPHRASE) as con:
        service = con.execute(
            "SELECT service_id FROM call_services WHERE service_id IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
        con.execute("UPDATE services SET name = ? WHERE service_id = ?", [SCREEN_LIE, service])
        con.execute("INSERT INTO call_services SELECT call_id, NULL, ? FROM calls "
                    "WHERE outcome = 'answered' ORDER BY call_id LIMIT 3", [SCREEN_LIE])
        ward = con.execute("SELECT ward FROM members GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
        con.execute("UPDATE members SET ward = ? WHERE ward = ?", [FORMULA, ward])
    return synthetic_store


def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_terminal_safe(text: str) -> None:
    bad = sorted({f"U+{ord(c):04X}" for c in text if c in FORBIDDEN})
    assert not bad, f"raw control characters printed: {bad}"
    # A carriage return only ever ends a line (\r\n); alone it could overwrite what was printed.
    assert "\r" not in text.replace("\r\n", "")


@pytest.mark.parametrize(
    "argv", [["services", "usage"], ["services", "gaps"], ["services", "usage", "--format", "csv"]]
)
def test_an_escape_sequence_in_a_service_name_is_shown_not_obeyed(hostile_store, capsys, argv):
    rc, out, err = _run(capsys, *argv, "--db", str(hostile_store))
    assert rc == 0, err
    _assert_terminal_safe(out + err)
    assert "\\x1b[2J\\x1b[HAll rows imported OK" in out  # visible, so the reader sees the trick
    with db.session(hostile_store, db.DEMO_PASSPHRASE, read_only=True) as con:  # the data is unchanged
        assert con.execute("SELECT count(*) FROM services WHERE name = ?", [SCREEN_LIE]).fetchone()[0] == 1


def test_an_escape_sequence_in_a_rejected_value_is_shown_not_obeyed(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "correct horse battery staple")
    store = tmp_path / "s.duckdb"
    assert main(["init", "--db", str(store)]) == 0
    members = tmp_path / "members.csv"
    members.write_text(
        "Membership Number,First Name,Last Name,Phone,Postcode,Ward,Branch,Age\n"
        f'SYN0000001,Pat,Example,07700 900001,NV1 1AA,Rookton,Ashcombe,"{SCREEN_LIE}"\n'
        f'SYN0000002,Sam,Example,07700 900002,NV1 1AA,"\u202eRookton",Ashcombe,abc\x07\n',
        encoding="utf-8")
    capsys.readouterr()
    rc, out, err = _run(capsys, "import", "members", str(members), "--db", str(store))
    assert rc != 0
    assert "problem" in err and "Traceback" not in err
    _assert_terminal_safe(out + err)


@pytest.mark.parametrize(
    "argv",
    [["needs"], ["outreach", "--by", "ward"], ["services", "gaps"], ["volunteers"], ["lists"],
     ["services", "usage", "--by", "ward"], ["optout", "list"]],
)
def test_csv_on_the_terminal_has_no_live_formula(hostile_store, capsys, argv):
    rc, out, err = _run(capsys, *argv, "--format", "csv", "--db", str(hostile_store))
    assert rc == 0, err
    _assert_terminal_safe(out)
    cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
    live = [cell for cell in cells if cell.lstrip(" \n").startswith(FORMULA_STARTS)]
    assert live == []
    if argv[0] in ("outreach", "services") and "ward" in argv:
        assert "'" + FORMULA in cells  # the ward is there, neutralised


def test_terminal_text_escapes_every_control_and_keeps_the_rest():
    text = "".join(FORBIDDEN) + "plain, Zoë, 日本, emoji 🙂\n\ttab"
    shown = common.terminal_text(text)
    _assert_terminal_safe(shown)
    assert shown.endswith("plain, Zoë, 日本, emoji 🙂\n\ttab")
    assert shown.startswith("\\x00\\x01") and "\\x1b" in shown and "\\x9b" in shown and "\\u202e" in shown
    assert common.terminal_text("\rredraw") == "\rredraw"  # a progress bar redrawing its line
    assert common.terminal_text("ok\rlie") == "ok\\rlie"
    assert common.terminal_text("line\r\n") == "line\r\n"


def test_an_unexpected_error_is_one_line_naming_the_type_and_never_the_data(tmp_path):
    """A real failure nobody planned for: a dependency that breaks when it is loaded.

    The environment puts a broken `xlsxwriter` first on the path (as a damaged install would), and
    its error message carries a phone number; the library code runs unchanged.
    """
    broken = tmp_path / "site"
    (broken / "xlsxwriter").mkdir(parents=True)
    (broken / "xlsxwriter" / "__init__.py").write_text(
        "raise RuntimeError('damaged install; last row was 07700 900123')\n")
    env = {**os.environ, "PYTHONPATH": str(broken), "WORKBENCH_DEBUG": ""}
    argv = [sys.executable, "-m", "workbench", "synth", "--out", str(tmp_path / "out"), "--preset", "tiny",
            "--format", "xlsx"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 2
    said = [line for line in done.stderr.splitlines() if line.startswith("workbench")]
    assert said == [said[0]] and said[0].startswith("workbench: unexpected error (RuntimeError).")
    assert done.stderr.rstrip().endswith("report it.")
    assert "Traceback" not in done.stderr and "07700" not in done.stderr + done.stdout
    debug = subprocess.run(argv, capture_output=True, text=True, env={**env, "WORKBENCH_DEBUG": "1"},
                           timeout=300, check=False)
    assert "Traceback" in debug.stderr and debug.returncode == 2

"""What the CLI prints is safe on a terminal and in a spreadsheet, whatever the data holds.

On a terminal, control characters from the data are shown as visible escapes; redirected to a file or
a pipe, the output is the data as stored (a CSV still has no live formula). Real stores, the real
`workbench` entry point: `main` (whose captured stdout is not a terminal, as with `> file`), or a
subprocess, on a pseudo-terminal (Python's `pty`) where it must believe it writes to a screen.
Hostile text goes into the store the way it could arrive from an export; the tests read what was
printed, and check the store still holds the text unchanged.
"""

from __future__ import annotations

import csv
import io
import os
import pty
import select
import subprocess
import sys
import tty
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
# From the Big List of Naughty Strings: colours a terminal if printed raw.
HUE = "Roses are \x1b[0;31mred\x1b[0m, violets are \x1b[0;34mblue. Hope you enjoy terminal hue"
HUE_SHOWN = "Roses are \\x1b[0;31mred\\x1b[0m, violets are \\x1b[0;34mblue. Hope you enjoy terminal hue"
WORKBENCH = [sys.executable, "-m", "workbench"]


@pytest.fixture
def hostile_store(synthetic_store: Path, monkeypatch) -> Path:
    """The tiny synthetic store with a service named SCREEN_LIE, a ward named FORMULA and one named HUE."""
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
        other = con.execute("SELECT ward FROM members WHERE ward <> ? GROUP BY 1 ORDER BY count(*) DESC "
                            "LIMIT 1", [FORMULA]).fetchone()[0]
        con.execute("UPDATE members SET ward = ? WHERE ward = ?", [HUE, other])
    return synthetic_store


def _run(capsys, *argv) -> tuple[int, str, str]:
    """`workbench ARGV` in this process; pytest captures stdout and stderr, so neither is a terminal."""
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _on_a_terminal(*argv: str) -> tuple[int, str, str]:
    """`workbench ARGV` in a new process whose stdout and stderr are two pseudo-terminals.

    Each is in raw mode, so the terminal adds nothing (no \\r before \\n): what is read is what was written.
    """
    masters, slaves = zip(*(pty.openpty() for _ in range(2)), strict=True)
    for slave in slaves:
        tty.setraw(slave)
    process = subprocess.Popen([*WORKBENCH, *argv], stdin=subprocess.DEVNULL, stdout=slaves[0],
                               stderr=slaves[1], env={**os.environ, "WORKBENCH_DEBUG": ""})
    for slave in slaves:
        os.close(slave)
    read: dict[int, bytes] = dict.fromkeys(masters, b"")
    open_ = set(masters)
    try:
        while open_:
            ready, _, _ = select.select(sorted(open_), [], [], 120)
            assert ready, f"workbench {' '.join(argv)} printed nothing for 120 s"
            for fd in ready:
                try:
                    chunk = os.read(fd, 1 << 16)
                except OSError:  # EIO: the process has closed its end and everything was read
                    chunk = b""
                read[fd] += chunk
                if not chunk:
                    open_.discard(fd)
        rc = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for fd in masters:
            os.close(fd)
    return rc, read[masters[0]].decode(), read[masters[1]].decode()


def _assert_terminal_safe(text: str) -> None:
    bad = sorted({f"U+{ord(c):04X}" for c in text if c in FORBIDDEN})
    assert not bad, f"raw control characters printed: {bad}"
    # A carriage return only ever ends a line (\r\n); alone it could overwrite what was printed.
    assert "\r" not in text.replace("\r\n", "")


@pytest.mark.parametrize(
    "argv", [["services", "usage"], ["services", "gaps"], ["services", "usage", "--format", "csv"]]
)
def test_an_escape_sequence_in_a_service_name_is_shown_not_obeyed(hostile_store, argv):
    rc, out, err = _on_a_terminal(*argv, "--db", str(hostile_store))
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
    rc, out, err = _on_a_terminal("import", "members", str(members), "--db", str(store))
    assert rc != 0
    assert "problem" in err and "Traceback" not in err
    _assert_terminal_safe(out + err)


def test_an_error_naming_the_store_s_wards_escapes_them_only_on_a_terminal(hostile_store):
    # "Unknown ward ... Known wards: ..." names the wards as stored, on stderr.
    argv = ["needs", "--ward", "Nowhere", "--db", str(hostile_store)]
    rc, out, err = _on_a_terminal(*argv)
    assert rc == 1 and "Known wards" in err and HUE_SHOWN in err
    _assert_terminal_safe(out + err)
    logged = subprocess.run([*WORKBENCH, *argv], capture_output=True, text=True, timeout=300, check=False)
    assert logged.returncode == 1 and HUE in logged.stderr and "\\x1b" not in logged.stderr


@pytest.mark.parametrize(
    "argv",
    [["needs"], ["outreach", "--by", "ward"], ["services", "gaps"], ["volunteers"], ["lists"],
     ["services", "usage", "--by", "ward"], ["optout", "list"]],
)
@pytest.mark.parametrize("where", ["terminal", "file"])
def test_csv_has_no_live_formula_on_the_terminal_or_in_a_file(hostile_store, capsys, argv, where):
    if where == "terminal":
        rc, out, err = _on_a_terminal(*argv, "--format", "csv", "--db", str(hostile_store))
        _assert_terminal_safe(out)
    else:
        rc, out, err = _run(capsys, *argv, "--format", "csv", "--db", str(hostile_store))
    assert rc == 0, err
    cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
    live = [cell for cell in cells if cell.lstrip(" \n").startswith(FORMULA_STARTS)]
    assert live == []
    if argv[0] in ("outreach", "services") and "ward" in argv:
        assert "'" + FORMULA in cells  # the ward is there, neutralised


def test_csv_redirected_to_a_file_holds_the_ward_as_stored(hostile_store, tmp_path):
    # `workbench outreach --by ward --format csv > wards.csv`: the file is the data, not its escapes.
    target = tmp_path / "wards.csv"
    with target.open("w", encoding="utf-8") as handle:
        done = subprocess.run([*WORKBENCH, "outreach", "--by", "ward", "--format", "csv", "--db",
                               str(hostile_store)], stdout=handle, stderr=subprocess.PIPE, text=True,
                              timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    with target.open(newline="", encoding="utf-8") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert HUE in cells and "\\x1b" not in target.read_text(encoding="utf-8")
    assert "'" + FORMULA in cells and FORMULA not in cells  # the formula rule still holds
    piped = subprocess.run([*WORKBENCH, "outreach", "--by", "ward", "--format", "csv", "--db",
                            str(hostile_store)], capture_output=True, text=True, timeout=300, check=False)
    assert piped.stdout == target.read_text(encoding="utf-8")  # a pipe gets the same


def test_the_same_csv_on_a_terminal_shows_the_escapes(hostile_store):
    rc, out, err = _on_a_terminal("outreach", "--by", "ward", "--format", "csv", "--db", str(hostile_store))
    assert rc == 0, err
    _assert_terminal_safe(out + err)
    cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
    assert HUE_SHOWN in cells and "'" + FORMULA in cells


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

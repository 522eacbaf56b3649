"""Hostile text through the whole path: import, queue, follow-up lists, SAR, breach, report, terminal.

Hypothesis writes members and calls whose text fields mix formula prefixes (also behind whitespace and
in full-width forms), C0/C1 and bidirectional controls, HTML, NULs, emoji, very long strings, and text
that looks like a phone number, an email or a date. Each example runs the real path on a real
encrypted store and checks the invariants of issue 13:

- no traceback (only the library's own errors, and CLI exit codes 0 or 1);
- loaded + rejected (+ updated, duplicates, erased) = read, for every import;
- no live formula in any CSV or XLSX; no markup from data in any HTML or Markdown page;
- no control character on the terminal; no identity in a released report; every file 0600.

`make test` runs a few examples; `make fuzz` (WORKBENCH_FUZZ=long) runs many more.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import pty
import re
import stat
import threading
import tty
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import ingest, privacy, reports
from workbench.analysis import needs
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.lists import breach, followups
from workbench.store import db

settings.register_profile("fuzz-quick", max_examples=2, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("fuzz-long", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = "fuzz-long" if os.environ.get("WORKBENCH_FUZZ") == "long" else "fuzz-quick"
PASSPHRASE = "fuzz passphrase"  # noqa: S105 - a throwaway store of generated data

PAYLOADS = [
    "=cmd|'/c calc'!A0", "\n=cmd|'/c calc'!A0", "\uff1dcmd|'/c calc'!A0",
    '=HYPERLINK("http://evil.example/","x")',
    "+1+1", "-2+3", "@SUM(1)", "\t=1", "\r=1", " \u3000@x", "\x1b[2J\x1b[HAll rows imported OK", "\u202eevil",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</td></tr><b>x</b>", "a\x00b", "\x9b31m",
    "🙂👍🏽", "O'Brien", "Zoë", "07700 900123", "+44 7700 900123", "pat@example.org", "01/02/2020",
    "{{ 7*7 }}", "${7*7}", "| a | b |", "**bold** [x](http://evil.example)", "\u2066x\u2069",
]
ALPHABET = st.sampled_from(list("=+-@\t\r\n ,;\"'<>&|/\\x1é") + ["\uff1d", "\uff20", "\x1b", "\x07", "\x85",
                                                               "\u202e", "\u200f", "\x00", "🙂", "\ufeff"])
TEXT = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(ALPHABET, min_size=1, max_size=30),
    st.builds(lambda p, n: p + "x" * n, st.sampled_from(PAYLOADS), st.integers(2_000, 12_000)),
    st.builds(lambda a, b: f"{a} {b}", st.sampled_from(PAYLOADS), st.text(max_size=10)),
)
SIZE = 6
OWASP = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# C0 but tab, newline and carriage return (checked apart: only before a newline), C1, bidi controls.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@st.composite
def organisations(draw):
    names = draw(st.lists(TEXT, min_size=2 * SIZE, max_size=2 * SIZE))
    wards = draw(st.lists(TEXT, min_size=SIZE, max_size=SIZE))
    return {
        "branch": draw(TEXT),
        "first": names[:SIZE], "last": names[SIZE:], "ward": wards,
        "notes": draw(st.lists(TEXT, min_size=SIZE, max_size=SIZE)),
        "service": draw(st.lists(TEXT, min_size=SIZE, max_size=SIZE)),
        "caller": draw(st.lists(TEXT, min_size=SIZE, max_size=SIZE)),
        "purpose": draw(TEXT),
    }


# FORMER DEFECT (ingest reading; fixed on main, the last test pins it): a bare carriage return in
# a quoted CSV field made DuckDB's sniffer fail with a message mentioning "encoding", which was
# taken for "not UTF-8", and a raw DuckDB error escaped. The fuzz files still carry carriage
# returns only before a newline; dropping that restriction is the next step.
def _csv_safe(value):
    return value.replace("\r\n", "\n").replace("\r", "\r\n") if isinstance(value, str) else value


def _files(org: dict, folder: Path, *, safe: bool = True) -> tuple[Path, Path]:
    if safe:
        org = {k: list(map(_csv_safe, v)) if isinstance(v, list) else _csv_safe(v) for k, v in org.items()}
    members = pd.DataFrame({
        "Membership Number": [f"SYN00{i:05d}" for i in range(SIZE)],
        "First Name": org["first"], "Last Name": org["last"],
        "Phone": [f"07700 900{i:03d}" for i in range(SIZE)],
        "Postcode": "NV1 1AA", "Ward": org["ward"], "Branch": org["branch"], "Age": 40,
    })
    calls = pd.DataFrame({
        "Call ID": [f"CL{i:05d}" for i in range(SIZE)],
        "Membership Number": members["Membership Number"], "Round": "R1", "Caller": org["caller"],
        "Date": "02/04/2020 10:00", "Outcome": "Answered", "Wellbeing": 2, "Needs Support": "Y",
        "Need Categories": "Food", "Urgency": "High", "Services Referenced": org["service"],
        "Notes": org["notes"],
    })
    paths = folder / "members.csv", folder / "calls.csv"
    members.to_csv(paths[0], index=False)  # the hostile file as another tool would write it
    calls.to_csv(paths[1], index=False)
    return paths


def _balanced(result) -> None:
    accounted = (result.loaded + result.updated + result.unchanged + result.rejected
                 + result.skipped_duplicate + result.erased_skipped)
    assert accounted == result.rows_read, result.summary()


def _is_live(cell: str) -> bool:
    rest = cell.lstrip(" \n\u3000\u00a0\ufeff\u200b")
    return cell.startswith(OWASP) or rest.startswith(OWASP)


def _csv_cells(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row if not cell.startswith("#")]


def _xlsx_cells(path: Path) -> list[str]:
    book = openpyxl.load_workbook(path)
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c for c in cells if c.data_type == "f"], "a formula cell in the workbook"
    return [str(c.value) for c in cells]


class _Tags(HTMLParser):
    """The elements a browser would build, and any event-handler attribute on them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.handlers: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.handlers.update(name for name, _ in attrs if name.startswith("on"))


def _parsed(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return parser


# What the templates themselves use; anything else in a page came from data.
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "footer", "main", "section", "table", "thead",
    "tbody", "tr", "th", "td", "bdi", "p", "h1", "h2", "h3", "div", "span", "ul", "ol", "li", "strong", "em",
    "small", "caption", "colgroup", "col", "dl", "dt", "dd", "br", "hr", "code", "pre", "b", "a", "nav",
    "article", "aside", "figure", "figcaption", "script", "svg", "path", "g",
}


def _no_markup_from_data(text: str, org: dict) -> None:
    # Escaped payloads (&lt;img src=x onerror=alert(1)&gt;) are harmless text and may appear; what
    # must not appear is an element or an event handler that a browser would act on.
    page = _parsed(text)
    unexpected = page.tags - PAGE_TAGS
    assert not unexpected, f"markup from data: {sorted(unexpected)}"
    assert not page.handlers, f"event handler from data: {sorted(page.handlers)}"
    low = text.lower()
    assert "<script>alert" not in low and "<img" not in low


def _terminal(argv: list[str]) -> str:
    with _on_a_terminal() as (out, err):
        rc = main(argv)
    shown = out.getvalue() + err.getvalue()
    assert rc in (0, 1), shown[-500:]
    assert "Traceback" not in shown and "unexpected error" not in shown
    found = CONTROL.search(shown)
    assert not found, f"a raw control character reached the terminal: U+{ord(found.group()):04X}"
    assert "\r" not in out.getvalue().replace("\r\n", ""), "a lone carriage return on stdout"
    return shown


@contextlib.contextmanager
def _on_a_terminal():
    """sys.stdout and sys.stderr on two pseudo-terminals, as in a terminal window (the CLI escapes
    control characters only there); yields what each received, readable once the block ends.

    Raw mode: the terminal adds nothing (no \\r before \\n), so what is read is what was written.
    """
    shown = (io.StringIO(), io.StringIO())
    ends = [pty.openpty() for _ in shown]
    received = [bytearray() for _ in shown]

    def drain(fd: int, into: bytearray) -> None:
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:  # EIO: the other end is closed and everything was read
                return
            if not chunk:
                return
            into += chunk

    readers = [threading.Thread(target=drain, args=(master, into), daemon=True)
               for (master, _), into in zip(ends, received, strict=True)]
    for (_, slave), reader in zip(ends, readers, strict=True):
        tty.setraw(slave)
        reader.start()
    streams = [open(slave, "w", encoding="utf-8", closefd=True) for _, slave in ends]  # noqa: SIM115
    try:
        with contextlib.redirect_stdout(streams[0]), contextlib.redirect_stderr(streams[1]):
            yield shown
    finally:
        for stream in streams:
            stream.close()
        for reader in readers:
            reader.join(timeout=30)
        for master, _ in ends:
            os.close(master)
        for text, data in zip(shown, received, strict=True):
            text.write(data.decode("utf-8"))


def _identity(con) -> list[str]:
    rows = con.execute("SELECT membership_number, phone FROM identities").fetchall()
    return [v for row in rows for v in row if v] + [p.replace("+44", "0") for _, p in rows if p]


def _private(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


@settings(settings.get_profile(PROFILE))
@given(org=organisations())
def test_hostile_text_through_the_whole_path(tmp_path_factory, org):
    folder = tmp_path_factory.mktemp("fuzz")
    out = folder / "out"
    out.mkdir()
    store = folder / "store.duckdb"
    db.init_store(store, PASSPHRASE)
    members_csv, calls_csv = _files(org, folder)
    try:
        _run_path(store, members_csv, calls_csv, out, org)
    except WorkbenchError:
        pass  # a clear refusal is an allowed outcome; only other exceptions (tracebacks) fail
    _private(out)


def _run_path(store: Path, members_csv: Path, calls_csv: Path, out: Path, org: dict) -> None:
    with db.session(store, PASSPHRASE) as con:
        _balanced(ingest.import_members(con, members_csv, skip_invalid=True, actor="fuzz",
                                        rejects=out / "members.rejects.csv"))
        _balanced(ingest.import_calls(con, calls_csv, skip_invalid=True, actor="fuzz",
                                      rejects=out / "calls.rejects.csv"))
        queue = needs.queue(con)
        branches = con.execute("SELECT DISTINCT branch FROM members WHERE branch IS NOT NULL").fetchall()
        numbers = [r[0] for r in con.execute("SELECT membership_number FROM identities").fetchall()]
        identity = _identity(con)
    os.environ["WORKBENCH_PASSPHRASE"] = PASSPHRASE
    try:
        for argv in (["needs"], ["services", "gaps"], ["services", "usage"], ["needs", "--format", "csv"],
                     ["lists"], ["import", "members", str(members_csv)]):
            shown = _terminal([*argv, "--db", str(store)])
            if argv[-1] == "csv":
                assert not [c for c in csv.reader(io.StringIO(shown)) for c in c if _is_live(c)]
    finally:
        del os.environ["WORKBENCH_PASSPHRASE"]
    if queue.empty or not branches or not numbers:
        return
    with db.session(store, PASSPHRASE) as con:
        _lists(con, branches[0][0], out, org)
        sar = privacy.subject_access(con, out / "sar", actor="fuzz", membership_number=numbers[0])
        _no_markup_from_data(sar.html_path.read_text(encoding="utf-8"), org)
        _report(con, out, identity)


def _lists(con, branch: str, out: Path, org: dict) -> None:
    for fmt in ("csv", "xlsx", "html"):
        try:
            done = followups.export(con, branch=branch, purpose=org["purpose"], recipient="fuzz secretary",
                                    out=out / f"list.{fmt}", actor="fuzz", unprotected="fuzz test data")
        except WorkbenchError:
            continue
        path = Path(done.path)
        if fmt == "csv":
            assert not [c for c in _csv_cells(path) if _is_live(c)]
        elif fmt == "xlsx":
            assert not [c for c in _xlsx_cells(path) if _is_live(c)]
        else:
            _no_markup_from_data(path.read_text(encoding="utf-8"), org)
        for suffix in ("md", "html"):
            page = breach.write_breach(con, done.record.list_id, out / f"breach-{fmt}.{suffix}", actor="fuzz",
                                       with_identities=True)
            text = page.read_text(encoding="utf-8")
            _no_markup_from_data(text, org)
            if suffix == "md":
                assert "<" not in unicodedata.normalize("NFKC", text).replace("&lt;", "")


def _report(con, out: Path, identity: list[str]) -> None:
    try:
        result = reports.build(con, out / "report", profile="internal", actor="fuzz")
    except WorkbenchError:
        return  # refused (the release scan, or nothing to report): nothing released
    text = " ".join(p.read_text(encoding="utf-8") for p in result.paths)
    compact = re.sub(r"\s", "", text)
    leaked = [v for v in identity if v in text or re.sub(r"\s", "", v) in compact]
    assert not leaked, "identity in a released report"
    _no_markup_from_data((out / "report" / reports.HTML_FILE).read_text(encoding="utf-8"), {})


def test_a_bare_carriage_return_in_a_csv_field_is_read_or_refused_clearly(con, tmp_path):
    path = tmp_path / "calls.csv"
    payload = "=cmd|'/c calc'!A0"
    org = {k: [payload] * SIZE for k in ("first", "last", "ward", "notes", "service", "caller")}
    org.update(branch=payload, purpose=payload, caller=[payload] * (SIZE - 1) + ["\r=1"])
    _, path = _files(org, tmp_path, safe=False)  # found by this fuzz test
    try:
        ingest.import_calls(con, path, skip_invalid=True, actor="fuzz")
    except WorkbenchError:
        pass

"""One writer: no module but `workbench/exports.py` writes a file.

The package's source is parsed (ast, not grep: comments and docstrings do not count) and every call
that can create or fill a file is found: `open` in a writing mode, `os.open` with writing flags,
`Path.write_text` / `write_bytes` / `touch`, pandas' and pyarrow's file writers, workbooks,
`shutil.copy*` / `move`, temporary files, `.save(...)`, and DuckDB SQL that writes a file (`COPY ... TO`,
`ATTACH` without READ_ONLY). Each is a failure unless it is in `exports.py` or on the allow-list
below, where every entry says why it is not a file of people written past the safe writer.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "workbench"
THE_WRITER = "workbench/exports.py"

# (module, what) -> why it may write without `exports`. Keep it short; a stale entry fails too.
ALLOWED = {
    # The store itself: DuckDB creates and writes its own (encrypted) database file.
    ("workbench/store/db.py", "sql ATTACH"): "the store file, opened by DuckDB",
    # The analysis snapshot beside the store: a DuckDB database, encrypted with a key derived from the
    # store's, written 0600 (umask) to a temporary name and renamed into place.
    ("workbench/store/snapshot_file.py", "sql ATTACH"): "the encrypted snapshot, written by DuckDB",
    ("workbench/store/snapshot_file.py", "sql COPY TO"): "the encrypted snapshot, written by DuckDB",
    # Erasure's compaction rewrites the store into a fresh encrypted DuckDB file (0600 umask), then
    # renames it over the old one: the store again, not an export.
    ("workbench/privacy/erasure.py", "sql ATTACH"): "the compacted store, written by DuckDB",
    ("workbench/privacy/erasure.py", "sql COPY TO"): "the compacted store, written by DuckDB",
    # In memory: pikepdf saves the encrypted PDF into a BytesIO; only exports writes its bytes out.
    ("workbench/lists/protection.py", ".save"): "pikepdf saving to an in-memory buffer",
    # Synthetic exports of fake people (`workbench synth`, the committed samples): made to be shared
    # and regenerated over an earlier run; written 0600 and never through a symbolic link.
    ("workbench/synthetic/io.py", "os.open"): "fake people only (synthetic exports)",
    ("workbench/synthetic/io.py", "sql COPY TO"): "fake people only (synthetic exports)",
    ("workbench/synthetic/io.py", "ExcelWriter"): "fake people only, into the handle os.open made",
    ("workbench/synthetic/io.py", ".to_excel"): "fake people only, into the handle os.open made",
    ("workbench/synthetic/io.py", ".write_table"): "fake people only, into the handle os.open made",
    ("workbench/synthetic/tool_exports.py", "os.open"): "fake people only (synthetic tool exports)",
    ("workbench/synthetic/tool_exports.py", ".to_csv"): "fake people only, into the handle os.open made",
    ("workbench/synthetic/tool_exports.py", ".write_text"): "a fake directory's datapackage.json and a "
    "sample mapping file: no people in them",
}

WRITING_METHODS = {"write_text", "write_bytes", "touch", "to_csv", "to_excel", "to_parquet", "to_feather",
                   "to_pickle", "to_stata", "to_hdf", "write_table", "write_image", "tofile", "save",
                   "savez"}
COPIES = {"copy", "copy2", "copyfile", "copytree", "move"}
TEMP_FILES = {"NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile", "mkstemp"}
READ_FLAGS = {"os", "O_RDONLY", "O_CLOEXEC", "O_NOFOLLOW", "O_NONBLOCK", "O_DIRECTORY", "O_BINARY",
              "getattr"}
COPY_TO = re.compile(r"\bCOPY\b.*\bTO\b", re.IGNORECASE | re.DOTALL)
ATTACH = re.compile(r"\bATTACH\b", re.IGNORECASE)


def _mode(call: ast.Call, position: int) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "mode":
            return keyword.value.value if isinstance(keyword.value, ast.Constant) else "?"
    if len(call.args) > position:
        arg = call.args[position]
        return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else "?"
    return None


def _method_mode(call: ast.Call) -> str | None:
    # A method's mode is its `mode=`, or whichever of its first two arguments is written like one.
    for keyword in call.keywords:
        if keyword.arg == "mode":
            return keyword.value.value if isinstance(keyword.value, ast.Constant) else "?"
    for arg in call.args[:2]:
        if isinstance(arg, ast.Constant) and re.fullmatch(r"[rwxabt+U]+", str(arg.value)):
            return arg.value
    return None


def _writes(mode: str | None) -> bool:
    return mode is not None and (mode == "?" or any(c in mode for c in "wax+"))


def _names(node: ast.AST) -> set[str]:
    return {n.attr if isinstance(n, ast.Attribute) else n.id
            for n in ast.walk(node) if isinstance(n, ast.Attribute | ast.Name)}


def _call_write(call: ast.Call, ours: set[str]) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        if func.id == "open" and _writes(_mode(call, 1)):
            return "open"
        if func.id in TEMP_FILES | {"Workbook", "ExcelWriter"}:
            return func.id
        return None
    if not isinstance(func, ast.Attribute):
        return None
    owner = func.value.id if isinstance(func.value, ast.Name) else None
    if owner == "self" or owner in ours:
        return None  # the workbench's own functions are scanned where they are written
    if owner == "os" and func.attr == "open":  # flags held in a variable count as writing
        return "os.open" if _names(ast.Tuple(call.args[1:2], ast.Load())) - READ_FLAGS else None
    if owner == "os" and func.attr == "fdopen":
        return None  # wraps a descriptor os.open made, which is checked above
    if func.attr == "open":  # Path.open(mode), ZipFile.open(name, mode), io.open(file, mode)
        mode = _method_mode(call)
        return f".open({mode})" if _writes(mode) else None
    if owner == "shutil" and func.attr in COPIES:
        return f"shutil.{func.attr}"
    if owner == "tempfile" and func.attr in TEMP_FILES:
        return f"tempfile.{func.attr}"
    if func.attr in {"Workbook", "ExcelWriter"}:
        return func.attr
    if func.attr in WRITING_METHODS:
        return f".{func.attr}"
    return None


def _sql_write(node: ast.Constant | ast.JoinedStr) -> str | None:
    if isinstance(node, ast.Constant):
        text = node.value if isinstance(node.value, str) else ""
    else:
        text = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
    if COPY_TO.search(text) and text.lstrip().upper().startswith("COPY"):
        return "sql COPY TO"
    if ATTACH.match(text.lstrip()) and "READ_ONLY" not in text.upper():
        return "sql ATTACH"
    return None


def writes_in(source: str) -> list[tuple[int, str]]:
    """Every (line, what) in the source that writes a file, docstrings and comments aside."""
    tree = ast.parse(source)
    # Names bound to the workbench's own modules (`from workbench import exports`): calls on them
    # (`exports.write_text`, `survey.save`) run code this scan reads in its own module.
    ours = {alias.asname or alias.name for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("workbench")
            for alias in n.names}
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and n.body and isinstance(n.body[0], ast.Expr)}
    inside_fstring = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Call):
            what = _call_write(node, ours)
        elif isinstance(node, ast.JoinedStr) or (
            isinstance(node, ast.Constant) and id(node) not in docstrings | inside_fstring
        ):
            what = _sql_write(node)
        if what:
            found.append((node.lineno, what))
    return sorted(found)


def _modules() -> dict[str, list[tuple[int, str]]]:
    return {path.relative_to(ROOT).as_posix(): writes_in(path.read_text(encoding="utf-8"))
            for path in sorted(PACKAGE.rglob("*.py"))}


def test_only_the_safe_writer_writes_files():
    stray = [f"{module}:{line}: {what}" for module, found in _modules().items() if module != THE_WRITER
             for line, what in found if (module, what) not in ALLOWED]
    assert not stray, "Write these through workbench.exports (write_text, write_bytes, write_csv, ...):\n" + \
        "\n".join(stray)


def test_every_allowance_is_still_needed():
    used = {(module, what) for module, found in _modules().items() for _line, what in found}
    assert not set(ALLOWED) - used, f"Stale allow-list entries: {sorted(set(ALLOWED) - used)}"


def test_the_safe_writer_is_where_the_writing_happens():
    assert {what for _line, what in writes_in((ROOT / THE_WRITER).read_text())} >= {
        "os.open", ".write_text", ".write_bytes", "Workbook", "open"}


@pytest.mark.parametrize("line, what", [
    ('Path("x").write_text("hi")', ".write_text"),
    ('open(p, "w")', "open"),
    ('open(p, mode="ab")', "open"),
    ("open(p, how)", "open"),
    ('path.open("w", encoding="utf-8")', ".open(w)"),
    ('archive.open(member, "w")', ".open(w)"),
    ("os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)", "os.open"),
    ("os.open(p, FLAGS, 0o600)", "os.open"),
    ("frame.to_csv(p)", ".to_csv"),
    ("frame.to_excel(writer)", ".to_excel"),
    ("xlsxwriter.Workbook(str(p))", "Workbook"),
    ("shutil.copy(a, b)", "shutil.copy"),
    ("tempfile.NamedTemporaryFile(dir=d)", "tempfile.NamedTemporaryFile"),
    ("book.save(p)", ".save"),
    ("con.execute(f\"COPY t TO '{p}' (HEADER)\")", "sql COPY TO"),
    ("con.execute(\"ATTACH 'x.duckdb' AS x\")", "sql ATTACH"),
])
def test_the_scan_finds_each_kind_of_write(line, what):
    assert writes_in(line) == [(1, what)]


@pytest.mark.parametrize("line", [
    'open(p, "rb")', "open(p)", 'path.open(encoding="utf-8")', "archive.open(member)",
    "os.open(p, os.O_RDONLY)", "from workbench import exports\nexports.write_text(p, text)",
    "from workbench.ingest import survey\nsurvey.save(text, p)", "self.save()",
    "frame.to_html(index=False)", "shutil.copyfileobj(source, out)",
    "con.execute(\"ATTACH 'x' AS x (READ_ONLY)\")", '"""Exports COPY the rows TO a file."""',
    "# open(p, 'w')",
])
def test_the_scan_leaves_reads_and_the_safe_writer_alone(line):
    assert writes_in(line) == []

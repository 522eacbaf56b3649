"""How files are opened and read: encodings, containers, and files built to hurt.

Every file here is built for real, small on disk, and read by the real readers (DuckDB, calamine,
charset-normalizer); the store is a real encrypted DuckDB file.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from tests.conftest import PASSPHRASE
from workbench import ingest
from workbench.errors import InputError
from workbench.ingest import limits
from workbench.store import db

MEMBERS = pd.DataFrame(
    {
        "Membership Number": ["SYN0001", "SYN0002", "SYN0003"],
        "First Name": ["Zoë", "Amir", "Siobhán"],
        "Last Name": ["Ng", "Khan", "O'Neill"],
        "Address": ["£5 “voucher” – café", "2 Low Rd", ""],
        "Ward": ["Kingsfield", "Fernfield", "Kingsfield"],
    }
)
SECONDS = 10  # "within seconds" on a shared two-core machine; each case takes well under one alone


def text(frame: pd.DataFrame, sep: str = ",") -> str:
    return frame.to_csv(index=False, sep=sep, lineterminator="\r\n")


def address(con, number: str) -> str | None:
    from workbench.privacy import pseudonymise

    key = pseudonymise.member_keys(con, [number])[0]
    return con.execute("SELECT address FROM identities WHERE member_key = ?", [key]).fetchone()[0]


def refused(path: Path, *fragments: str) -> str:
    """Read `path` with no store open: it must be refused quickly, with every fragment in the message."""
    start = time.perf_counter()
    with pytest.raises(InputError) as error:
        ingest.read(path)
    assert time.perf_counter() - start < SECONDS
    message = str(error.value)
    assert all(f in message for f in fragments), message
    assert "Traceback" not in message
    return message


# -- encodings and containers ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["m.txt", "m.xls", "m.csv", "m.tsv"])
def test_utf16_with_a_bom_is_text_whatever_the_name(con, tmp_path, name):
    # VAN's ".xls" download is UTF-16 tab-separated text.
    path = tmp_path / name
    path.write_bytes(text(MEMBERS, sep="\t").encode("utf-16"))
    result = ingest.import_members(con, path)
    assert (result.loaded, result.rejected) == (3, 0)
    assert address(con, "SYN0001") == "£5 “voucher” – café"


def test_a_zip_holding_one_export_is_opened(con, tmp_path):
    path = tmp_path / "van.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ContactHistory.xls", text(MEMBERS, sep="\t").encode("utf-16"))
        archive.writestr("__MACOSX/._ContactHistory.xls", b"resource fork")
    result = ingest.import_members(con, path)
    assert result.loaded == 3 and result.file == "van.zip"
    assert "Read ContactHistory.xls from van.zip." in result.warnings
    assert address(con, "SYN0001") == "£5 “voucher” – café"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({}, "van.zip holds no files"),
        ({"a.csv": b"x", "b.csv": b"y"}, "van.zip holds 2 files; the workbench opens a zip that holds"),
        ({"inner.zip": b"PK"}, "van.zip holds another zip (inner.zip); unzip it first."),
        ({"notes.docx": b"PK"}, "Unsupported file extension: '.docx' (notes.docx)"),
    ],
)
def test_a_zip_must_hold_exactly_one_export(tmp_path, members, message):
    path = tmp_path / "van.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    refused(path, message)


def test_a_windows_1252_council_log_loads_with_its_pound_signs_and_quotes(con, tmp_path):
    path = tmp_path / "council.csv"
    path.write_bytes(text(MEMBERS).encode("cp1252"))
    result = ingest.import_members(con, path)
    assert result.loaded == 3
    assert address(con, "SYN0001") == "£5 “voucher” – café"
    assert any("read as Windows-1252" in w for w in result.warnings)


def test_the_encoding_is_found_even_past_a_long_plain_start(con, tmp_path):
    # 1.5 MB of plain ASCII rows, then one Windows-1252 name: the sample must include that stretch.
    plain = pd.DataFrame(
        {"Membership Number": [f"P{i:06d}" for i in range(60_000)], "Last Name": "Smith", "Ward": "North"}
    )
    late = pd.DataFrame({"Membership Number": ["SYN0009"], "Last Name": ["Brontë"], "Ward": ["North"]})
    path = tmp_path / "late.csv"
    path.write_bytes(text(pd.concat([plain, late])).encode("cp1252"))
    assert path.stat().st_size > 1024**2
    result = ingest.import_members(con, path, dry_run=True)
    assert result.loaded == 60_001
    with ingest.read(path) as source:
        names = source.connection.execute(
            'SELECT "Last Name" FROM temp.ingest_raw WHERE "Membership Number" = \'SYN0009\''
        ).fetchone()
    assert names == ("Brontë",)


def test_utf16_without_a_bom_is_detected(con, tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(text(MEMBERS).encode("utf-16-le"))
    result = ingest.import_members(con, path)
    assert result.loaded == 3 and address(con, "SYN0001") == "£5 “voucher” – café"


def test_a_binary_file_with_a_text_name_is_refused(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(bytes(range(256)) * 64)
    refused(path, "photo.csv does not look like text")


def test_a_workbook_is_read_by_content_whatever_its_name(con, tmp_path):
    book = openpyxl.Workbook()
    book.active.append(list(MEMBERS.columns))
    for row in MEMBERS.itertuples(index=False):
        book.active.append(list(row))
    book.save(tmp_path / "m.xlsx")
    (tmp_path / "m.xlsx").rename(tmp_path / "export.csv")
    assert ingest.import_members(con, tmp_path / "export.csv").loaded == 3


# -- reading before the lock -----------------------------------------------------------------------


def test_a_file_is_read_without_the_store_and_imported_after(store_path, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(text(MEMBERS), encoding="utf-8")
    with ingest.read(path) as source:
        assert (source.staged.rows, source.staged.headers[0]) == (3, "Membership Number")
        # The file is held in memory, and the store is free: another process opens it for writing.
        info = subprocess.run(
            [str(Path(sys.executable).with_name("workbench")), "info", "--db", str(store_path)],
            env={**os.environ, "WORKBENCH_PASSPHRASE": PASSPHRASE},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert info.returncode == 0, info.stderr
        with db.session(store_path, PASSPHRASE, into=source.connection) as con:
            result = ingest.import_members(con, source)
            assert result.loaded == 3 and address(con, "SYN0001") == "£5 “voucher” – café"


def test_the_cli_refuses_a_hostile_file_before_it_opens_the_store(store_path, tmp_path, capsys, monkeypatch):
    from workbench.cli import main

    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(30_000)) + "\r\n1\r\n")
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "not the passphrase")
    start = time.perf_counter()
    assert main(["import", "members", str(path), "--db", str(store_path)]) == 1
    assert time.perf_counter() - start < SECONDS
    err = capsys.readouterr().err
    # The file's problem, not the wrong passphrase: the store was never opened.
    assert "wide.csv has 30,000 columns in its header row" in err and "passphrase" not in err
    assert "Traceback" not in err


def test_a_wrong_passphrase_after_reading_leaves_the_file_readable(store_path, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(text(MEMBERS), encoding="utf-8")
    with ingest.read(path) as source:
        with pytest.raises(Exception, match="wrong passphrase"):
            db.connect(store_path, "nope", into=source.connection)
        with db.session(store_path, PASSPHRASE, into=source.connection) as con:
            assert ingest.import_members(con, source).loaded == 3


# -- hostile files: refused within seconds, never hung, never out of memory ------------------------


def _sheet_xml(rows: str, dimension: str | None) -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet '
        'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData>{rows}</sheetData></worksheet>"
    )


def _workbook(path: Path, sheet_xml: str | bytes) -> Path:
    """A minimal real workbook: openpyxl writes the package, then the sheet's XML is replaced."""
    book = openpyxl.Workbook()
    book.active.append(["Membership Number", "Ward"])
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = sheet_xml.encode() if isinstance(sheet_xml, str) else sheet_xml
            target.writestr(info.filename, data)
    return path


def _cell(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


HEADER_ROW = f'<row r="1">{_cell("A1", "Membership Number")}{_cell("B1", "Ward")}</row>'
DATA_ROW = f'<row r="2">{_cell("A2", "SYN1")}{_cell("B2", "North")}</row>'


@pytest.mark.parametrize("dimension", ["A1:XFD1048576", None], ids=["declared", "undeclared"])
def test_a_workbook_with_one_cell_at_xfd1048576_is_refused_at_once(tmp_path, dimension):
    far = f'<row r="1048576">{_cell("XFD1048576", "x")}</row>'
    path = _workbook(tmp_path / "far.xlsx", _sheet_xml(HEADER_ROW + DATA_ROW + far, dimension))
    assert path.stat().st_size < 10_000
    refused(path, 'far.xlsx: sheet "Sheet" spans 16,384 columns', "reaches cell XFD1048576", "CSV UTF-8")


def test_a_workbook_long_and_wide_within_each_limit_is_refused_by_its_area(tmp_path):
    far = f'<row r="1000000">{_cell("ALL1000000", "x")}</row>'
    path = _workbook(tmp_path / "area.xlsx", _sheet_xml(HEADER_ROW + far, None))
    refused(path, "spans 1,000,000 rows by 1,000 columns", "20,000,000 cells")


def test_positions_left_out_still_count(tmp_path):
    # Rows without r="" follow the one before: 1,000 of them after row 1,048,000 pass Excel's last row.
    last = f'<row r="1048000">{_cell("A1048000", "x")}</row>'
    path = _workbook(tmp_path / "implicit.xlsx", _sheet_xml(HEADER_ROW + last + "<row/>" * 1_000, None))
    refused(path, "goes past Excel's last row")


def test_a_workbook_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    # 520 MB of sheet XML packed into a few hundred kilobytes.
    path = tmp_path / "bomb.xlsx"
    book = openpyxl.Workbook()
    buffer = io.BytesIO()
    book.save(buffer)
    filler = b"<!-- " + b"A" * (1024**2 - 9) + b" -->"
    packed = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
    with zipfile.ZipFile(buffer) as source, packed as out:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                out.writestr(info.filename, source.read(info))
        with out.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(_sheet_xml(HEADER_ROW, None).encode()[:-len("</sheetData></worksheet>")])
            for _ in range(520):
                sheet.write(filler)
    assert path.stat().st_size < 5 * 1024**2
    refused(path, "bomb.xlsx would expand to", "it may be a zip bomb")


def test_a_workbook_part_that_lies_about_its_size_is_refused(tmp_path):
    # sharedStrings.xml claims 100 bytes and holds 50 MB: it must never be inflated past its claim.
    whole = _workbook(tmp_path / "whole.xlsx", _sheet_xml(HEADER_ROW + DATA_ROW, "A1:B2"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info.filename, source.read(info))
        out.writestr("xl/sharedStrings.xml", b"<sst>" + b"A" * 50_000_000 + b"</sst>")
    data = bytearray(buffer.getvalue())
    name = b"xl/sharedStrings.xml"
    local = data.rfind(b"PK\x03\x04", 0, data.find(name) + 1)
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    struct.pack_into("<I", data, local + 22, 100)  # the uncompressed size, as each header declares it
    struct.pack_into("<I", data, central + 24, 100)
    path = tmp_path / "lying.xlsx"
    path.write_bytes(bytes(data))
    refused(path, "lying.xlsx is not a readable .xlsx workbook")


def test_a_workbook_list_of_sheets_with_entity_declarations_is_refused(tmp_path):
    # "Billion laughs": nested entities in xl/workbook.xml. No Office part has a DTD, so any is refused.
    whole = _workbook(tmp_path / "whole.xlsx", _sheet_xml(HEADER_ROW + DATA_ROW, "A1:B2"))
    entities = '<!DOCTYPE w [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    path = tmp_path / "laughs.xlsx"
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/workbook.xml":
                text = data.decode()
                assert text.startswith("<workbook") and "<sheets>" in text
                data = (entities + text.replace("<sheets>", "<sheets>&b;", 1)).encode()
            out.writestr(info.filename, data)
    refused(path, "laughs.xlsx is not a readable .xlsx workbook")


def test_a_broken_workbook_is_a_file_problem_naming_file_and_sheet(tmp_path):
    whole = _sheet_xml(HEADER_ROW + DATA_ROW, "A1:B2")
    path = _workbook(tmp_path / "broken.xlsx", whole[: len(whole) // 2])
    refused(path, 'broken.xlsx: sheet "Sheet" could not be read', "save it again as .xlsx")


def test_a_cell_holding_u_fffe_is_read_as_written(con, tmp_path):
    ward = "North\ufffeEnd"
    row = f'<row r="2">{_cell("A2", "SYN1")}{_cell("B2", ward)}</row>'
    path = _workbook(tmp_path / "fffe.xlsx", _sheet_xml(HEADER_ROW + row, "A1:B2"))
    with ingest.read(path) as source:
        assert source.connection.execute('SELECT "Ward" FROM temp.ingest_raw').fetchall() == [(ward,)]


def test_a_damaged_zip_named_xlsx_is_a_file_problem(tmp_path):
    path = tmp_path / "cut.xlsx"
    _workbook(tmp_path / "whole.xlsx", _sheet_xml(HEADER_ROW + DATA_ROW, "A1:B2"))
    path.write_bytes((tmp_path / "whole.xlsx").read_bytes()[:400])
    refused(path, "cut.xlsx is not a readable .xlsx workbook")


@pytest.mark.parametrize("columns", [30_000, 1_000_000])
def test_a_csv_header_with_too_many_columns_is_refused(tmp_path, columns):
    path = tmp_path / "wide.csv"
    path.write_text("," * (columns - 1) + "\r\nSYN1\r\n")
    if columns * 1 > limits.MAX_HEADER_BYTES:
        refused(path, "wide.csv: the header row is longer than 1 MB")
    else:
        refused(path, f"wide.csv has {columns:,} columns in its header row", "at most 1,000")


def test_a_data_row_with_a_million_fields_is_refused(tmp_path):
    path = tmp_path / "row.csv"
    path.write_text("Membership Number,Ward\r\nSYN1,North\r\n" + "x," * 1_000_000 + "\r\n")
    refused(path, "row.csv has 1,000,001 columns in row 3")


def test_the_widest_allowed_file_reads(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(",".join(f"c{i}" for i in range(limits.MAX_COLUMNS)) + "\r\n" + "x," * 999 + "x\r\n")
    start = time.perf_counter()
    with ingest.read(path) as source:
        assert len(source.staged.headers) == limits.MAX_COLUMNS and source.staged.rows == 1
    assert time.perf_counter() - start < SECONDS


def test_a_line_longer_than_the_field_limit_is_refused(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("Membership Number,Notes\r\nSYN1," + "x" * (limits.MAX_FIELD_BYTES + 10) + "\r\n")
    refused(path, "long.csv: ", f"longer than {limits.MAX_FIELD_BYTES // 1024**2} MB", "shorten the longest")


def test_a_parquet_file_too_wide_is_refused(tmp_path):
    path = tmp_path / "wide.parquet"
    pd.DataFrame({f"c{i}": ["x"] for i in range(1_200)}).to_parquet(path)
    refused(path, "wide.parquet has 1,200 columns in its schema")


def test_an_oversized_file_is_refused_by_its_size_alone(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_text(text(MEMBERS))
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 100)
    refused(path, "big.csv is ", "the workbench reads files of up to", "Split it into parts")


# -- internal columns cannot clash with the file's ---------------------------------------------------


@pytest.mark.parametrize("header", ["__row", "\x01row", "row"])
def test_a_column_named_like_an_internal_one_changes_nothing(con, tmp_path, header):
    frame = pd.DataFrame(
        {
            "Membership Number": ["SYN1", "SYN2", "SYN3", "SYN4"],
            "Age": ["30", "abc", "40", "50"],
            header: ["99", "99", "1", "1"],
        }
    )
    path = tmp_path / "m.csv"
    path.write_text(text(frame))
    result = ingest.import_members(con, path, skip_invalid=True)
    assert (result.rows_read, result.loaded, result.rejected) == (4, 3, 1)
    assert list(result.problems["row"]) == [3]
    rejects = pd.read_csv(result.rejects_path, dtype=str, keep_default_na=False)
    assert list(rejects.iloc[:, 0]) == ["3"] and list(rejects["Membership Number"]) == ["SYN2"]
    assert result.extra_columns == [header.replace("\x01", "").strip() or header]


def test_a_parquet_column_named_like_the_row_number_is_kept_apart(con, tmp_path):
    path = tmp_path / "m.parquet"
    pd.DataFrame({"Membership Number": ["SYN1", "SYN2"], "\x01row": ["9", "9"]}).to_parquet(path)
    result = ingest.import_members(con, path)
    assert (result.rows_read, result.loaded, result.extra_columns) == (2, 2, ["row"])

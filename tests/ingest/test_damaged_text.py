"""Text exports that are damaged or ambiguous: a quote left open, a file cut short, a few bad bytes
in UTF-8, and a Windows-1252 log that could pass for another code page.

Each file is written for real to tmp_path and read by the real readers (DuckDB, Python's csv,
charset-normalizer). A damaged file is refused with the file, line and what to do, and nothing is
loaded; a sound one reads as written.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pytest

from workbench import ingest
from workbench.errors import InputError
from workbench.synthetic import tool_exports

HEADER = "Membership Number,First Name,Last Name,Phone,Email,Address,Postcode,Ward,Branch,Age,Joined"


def row(number: int, first: str = "Ann") -> str:
    phone = f"07700 900{number % 1000:03d}"
    return f"SYN30{number:05d},{first},Smith,{phone},,1 High St,NV1 1AA,Central,Ashcombe,50,01/02/2010"


def refused(con, path: Path, *fragments: str) -> str:
    """Importing `path` is refused with every fragment in the message, and nothing is loaded."""
    with pytest.raises(InputError) as error:
        ingest.import_members(con, path)
    message = str(error.value)
    assert all(f in message for f in fragments), message
    assert con.execute("SELECT count(*) FROM identities").fetchone() == (0,)
    # No personal value from the file in the message.
    assert not any(value in message for value in ("Smith", "07700", "High St", "Zo", "Siân")), message
    return message


def raw(con, column: str) -> list[str]:
    return [r[0] for r in con.execute(f'SELECT "{column}" FROM temp.ingest_raw ORDER BY ALL').fetchall()]


# -- a quote left open ----------------------------------------------------------------------------


def test_an_unterminated_quote_is_refused_at_the_line_it_opens(con, tmp_path):
    # The auditor's file: row 2 opens a quote it never closes, so rows 3 and 4 would vanish into it.
    path = tmp_path / "members.csv"
    lines = [HEADER, row(201), row(202).replace(",Ann,", ',"Ann,'), row(203), row(204)]
    path.write_text("\n".join(lines) + "\n")
    refused(con, path, 'members.csv line 3, column "First Name"', "never closed", "closing quote")


def test_an_open_quote_closed_by_a_later_stray_quote_is_refused(con, tmp_path):
    # A later quote mark "closes" it, so the file does not end inside quotes, but whole rows are
    # inside one value.
    path = tmp_path / "members.csv"
    opened = row(2).replace(",Smith,", ',"Smith,')
    lines = [HEADER, row(1), opened, row(3), row(4), 'SYN3000005,Bo,Lee",x', row(6)]
    path.write_text("\r\n".join(lines) + "\r\n")
    refused(con, path, 'members.csv line 3, column "Last Name"', "runs on over the lines after it")


@pytest.mark.parametrize("ragged", [False, True], ids=["even", "ragged"])
def test_notes_over_several_lines_read_as_written(con, tmp_path, ragged):
    # Real call logs hold notes of several lines, some with many commas; the last ends the file.
    long_note = "Spoke to her son, daughter, neighbour, GP, pharmacist, carer, vicar, and friend, all fine"
    notes = ["Line one\nline two", f"First visit.\r\n{long_note}\r\nCall again", 'Said "fine"\nthen hung up']
    lines = ["Membership Number,Ward,Branch,Notes"]
    lines += [f'SYN{n},North,Ashcombe,"{note.replace(chr(34), 2 * chr(34))}"' for n, note in enumerate(notes)]
    if ragged:  # one row short, so DuckDB gives way to the row-by-row reader
        lines.insert(2, "SYN9,North")
    path = tmp_path / "log.csv"
    path.write_bytes("\r\n".join(lines).encode())
    with ingest.read(path) as source:
        assert source.staged.rows == 3 + ragged
        held = [n for n in raw(source.connection, "Notes") if n is not None]
    assert sorted(held) == sorted(notes)


# -- files cut short or with bad bytes ------------------------------------------------------------


def test_utf16_cut_short_is_refused_as_truncated(con, tmp_path):
    # VAN's UTF-16 ".xls" with its last byte missing.
    path = tmp_path / "van.xls"
    text = "\r\n".join([HEADER, row(501)]).replace(",", "\t") + "\r\n"
    path.write_bytes((codecs.BOM_UTF16_LE + text.encode("utf-16-le"))[:-1])
    refused(con, path, "van.xls line 2", "cut short", "again")


def test_utf16_with_half_a_character_pair_is_refused_as_damaged(con, tmp_path):
    path = tmp_path / "van.txt"
    head = "\r\n".join([HEADER, row(1)]).replace(",", "\t") + "\r\n"
    tail = row(2).replace(",", "\t") + "\r\n"
    path.write_bytes(codecs.BOM_UTF16_LE + head.encode("utf-16-le") + b"\x00\xd8" + tail.encode("utf-16-le"))
    refused(con, path, "van.txt line 3", "not valid UTF-16")


def test_utf8_cut_short_inside_a_character_is_refused_as_truncated(con, tmp_path):
    path = tmp_path / "members.csv"
    whole = "\n".join([HEADER, row(502, first="Zoë")]).encode()
    path.write_bytes(whole[: whole.rfind("ë".encode()) + 1])
    refused(con, path, "members.csv line 2", "cut short")


def test_utf8_with_one_bad_sequence_is_refused_not_read_as_another_code_page(con, tmp_path):
    # Zoë and Siân are good UTF-8; one name holds ED A0 80 (half a surrogate pair, never valid).
    path = tmp_path / "members.csv"
    body = "\n".join([HEADER, row(401, first="Zoë"), row(402, first="Siân")]).encode()
    path.write_bytes(body + b"\n" + row(403, first="X").encode().replace(b",X,", b",\xed\xa0\x80,") + b"\n")
    refused(con, path, 'members.csv line 4, column "First Name"', "not valid UTF-8", "CSV UTF-8")


def test_a_ragged_windows_1252_file_is_read(con, tmp_path):
    # Its UTF-8 copy is named utf8.csv, which once made every DuckDB complaint look like bad bytes.
    path = tmp_path / "members.csv"
    lines = ["Membership Number,Last Name,Address", "SYN1,Brontë,£5 café", "SYN2,Ng", "SYN3,Khan,2 Low Rd"]
    path.write_bytes("\r\n".join(lines).encode("cp1252"))
    with ingest.read(path) as source:
        assert source.staged.encoding == "cp1252"
        assert raw(source.connection, "Last Name") == ["Brontë", "Khan", "Ng"]


# -- which single-byte code page ------------------------------------------------------------------


def test_a_council_log_in_windows_1252_is_not_taken_for_central_european(con, tmp_path, tiny_org):
    # The council log as the tool writes it, with a few realistic notes; the detector scores
    # Windows-1250 and 1252 the same on it, and 1250 reads "£20" as "Ł20".
    log = tool_exports.council_welfare_log(tiny_org, tmp_path / "log.csv")
    rows = list(csv.reader(io.StringIO(log.read_bytes().decode("cp1252"))))
    notes = ["Needs £20 for electric – top-up key", "Daughter’s number given", "Spoke to Renée (carer)",
             "Said “no thanks”"]  # fmt: skip
    for index, note in enumerate(notes):
        rows[11 + index * 20][-1] = note
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    log.write_bytes(out.getvalue().encode("cp1252"))
    with ingest.read(log) as source:
        assert source.staged.encoding == "cp1252"
        assert set(notes) <= set(raw(source.connection, rows[0][-1].strip()))


def test_polish_text_in_windows_1250_is_still_read_as_1250(con, tmp_path):
    # Where the letters only make sense in Central European, the detector's choice stands.
    path = tmp_path / "czlonkowie.csv"
    lines = ["Numer,Imię,Nazwisko,Miasto", "P1,Łukasz,Wąsowski,Łódź", "P2,Zofia,Źdźbło,Gdańsk"]
    lines += ["P3,Jerzy,Żółć,Kraków"]
    path.write_bytes("\n".join(lines).encode("cp1250"))
    with ingest.read(path) as source:
        assert source.staged.encoding == "cp1250"
        assert raw(source.connection, "Miasto") == ["Gdańsk", "Kraków", "Łódź"]

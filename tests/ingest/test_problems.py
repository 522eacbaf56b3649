"""Rejected rows: every one counted and written, in the format the rejects file's name asks for.

The invariant: rows read = rows loaded + rows rejected, and the rejects file holds exactly the
rejected rows, however many there are. Only the problem *report* is capped.
"""

from __future__ import annotations

import itertools
import zipfile

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import ingest
from workbench.errors import InputError
from workbench.ingest import ImportRejected, problems

RUN = itertools.count()


def members(ages: list[str], prefix: str = "SYN") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Membership Number": [f"{prefix}{i:06d}" for i in range(len(ages))],
            "Last Name": "Smith",
            "Age": ages,
        }
    )


def write(frame: pd.DataFrame, path):
    path.write_text(frame.to_csv(index=False, lineterminator="\r\n"), encoding="utf-8")
    return path


def rejects_rows(path) -> list[int]:
    return [int(r) for r in pd.read_csv(path, dtype=str)["row"]]


def test_every_rejected_row_is_written_beyond_the_report_cap(con, tmp_path):
    # The reproducer: 12,000 rows with Age=abc and 100 good rows.
    frame = members(["abc"] * 12_000 + ["40"] * 100)
    result = ingest.import_members(con, write(frame, tmp_path / "m.csv"), skip_invalid=True)
    assert (result.rows_read, result.loaded, result.rejected) == (12_100, 100, 12_000)
    assert result.loaded + result.rejected == result.rows_read
    assert len(result.problems) == problems.MAX_PROBLEMS  # the report is capped...
    assert rejects_rows(result.rejects_path) == list(range(2, 12_002))  # ...the rejects file is not
    assert con.execute("SELECT rejected FROM imports").fetchone()[0] == 12_000
    assert "read 12,100 rows; loaded 100 new members, updated 0, rejected 12,000" in result.summary()


def test_without_skip_invalid_the_count_is_whole_too(con, tmp_path):
    frame = members(["abc"] * 10_500 + ["40"])
    with pytest.raises(ImportRejected) as rejected:
        ingest.import_members(con, write(frame, tmp_path / "m.csv"))
    assert rejected.value.result.rejected == 10_500
    assert "10,000+ problems in 10,500 of 10,501 rows, so nothing was imported" in str(rejected.value)
    assert con.execute("SELECT count(*) FROM members").fetchone()[0] == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ages=st.lists(
        st.one_of(st.sampled_from(["", "34", "71", "abc", "-3", "200", "4.5"]), st.text(max_size=4)),
        min_size=1,
        max_size=12,
    )
)
def test_loaded_plus_rejected_is_read_and_the_rejects_are_exactly_the_bad_rows(con, tmp_path, ages):
    run = next(RUN)
    frame = members(ages, prefix=f"H{run}-")
    result = ingest.import_members(
        con, write(frame, tmp_path / f"m{run}.csv"), skip_invalid=True, rejects=tmp_path / f"r{run}.csv"
    )
    assert result.loaded + result.rejected == result.rows_read == len(ages)
    bad = sorted(set(result.problems["row"]))
    assert result.rejected == len(bad)
    if result.rejected:
        assert rejects_rows(result.rejects_path) == bad
    else:
        assert result.rejects_path is None and not (tmp_path / f"r{run}.csv").exists()
    held = con.execute(
        "SELECT count(*) FROM imports WHERE rows_read = ? AND loaded = ? AND rejected = ? AND file_name = ?",
        [len(ages), result.loaded, result.rejected, f"m{run}.csv"],
    ).fetchone()[0]
    assert held == 1


def test_rejects_named_xlsx_are_a_real_workbook(con, tmp_path):
    frame = members(["abc", "40", '=HYPERLINK("http://x","y")'])
    target = tmp_path / "r.xlsx"
    result = ingest.import_members(con, write(frame, tmp_path / "m.csv"), skip_invalid=True, rejects=target)
    assert result.rejects_path == target and zipfile.is_zipfile(target)
    sheet = openpyxl.load_workbook(target).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["row", "problems", "Membership Number", "Last Name", "Age"]
    assert [r[0] for r in rows[1:]] == [2, 4] and all(isinstance(r[4], str) for r in rows[1:])
    assert rows[2][4].startswith("'=HYPERLINK")  # written as text, never a live formula
    assert oct(target.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("name", ["r.txt", "r", "r.xls", "r.CSV.zip"])
def test_a_rejects_name_we_cannot_write_is_refused_before_anything(con, tmp_path, name):
    frame = members(["abc", "40"])
    path = write(frame, tmp_path / "m.csv")
    with pytest.raises(InputError, match=r"Unsupported rejects file extension: .* Supported formats: \.csv"):
        ingest.import_members(con, path, skip_invalid=True, rejects=tmp_path / name)
    assert con.execute("SELECT count(*) FROM members").fetchone()[0] == 0
    assert not (tmp_path / name).exists()


def test_rejects_that_do_not_fit_a_workbook_stop_the_import(con, tmp_path):
    frame = members(["abc", "40"]).assign(**{"Last Name": ["x" * 40_000, "Smith"]})
    with pytest.raises(InputError, match=r"do not fit in a workbook.*Use --rejects r\.csv instead"):
        path = write(frame, tmp_path / "m.csv")
        ingest.import_members(con, path, skip_invalid=True, rejects=tmp_path / "r.xlsx")
    assert con.execute("SELECT count(*) FROM members").fetchone()[0] == 0
    assert not (tmp_path / "r.xlsx").exists()


def test_the_cli_writes_the_rejects_format_the_name_asks_for(store_path, tmp_path, monkeypatch, capsys):
    from tests.conftest import PASSPHRASE
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    path = write(members(["abc", "40"]), tmp_path / "m.csv")
    args = ["import", "members", str(path), "--db", str(store_path), "--skip-invalid"]
    assert main([*args, "--rejects", str(tmp_path / "r.txt")]) == 1
    assert "Supported formats: .csv, .xlsx" in capsys.readouterr().err
    assert main([*args, "--rejects", str(tmp_path / "r.xlsx")]) == 0
    assert zipfile.is_zipfile(tmp_path / "r.xlsx")

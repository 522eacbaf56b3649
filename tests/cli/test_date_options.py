"""Dates typed on the command line: a bad one is one line saying what was wrong, and nothing happens.

`--from=` and `--from=NaN` once reached DuckDB as NaT (an unexpected ConversionException), `--to=` a
ValueError, `--from=1/2` released a report from 0001-01-02, `needs --as-of=` showed the triage queue
with nobody escalated, and `followups next-round --as-of=` wrote a list of a third of the people.
Real stores, the real `workbench` entry point.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.cli import main
from workbench.store import db

BAD = ["", "NaN", "NaT", "--1", "1/2", "2020-02-30", "9999-12-31"]


@pytest.fixture
def store(synthetic_store: Path, monkeypatch) -> Path:
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", db.DEMO_PASSPHRASE)
    return synthetic_store


def _state(store: Path) -> tuple:
    with db.session(store, db.DEMO_PASSPHRASE, read_only=True) as con:
        return tuple(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                     for table in ("audit_log", "lists", "list_members"))


def _refused(capsys, argv: list[str], option: str, value: str) -> None:
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 1, err
    assert out == ""
    assert err.startswith(f'workbench: {option} "{value}" is not a date')
    assert "YYYY-MM-DD" in err and "unexpected" not in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("option", ["--from", "--to"])
def test_report_refuses_a_date_that_is_not_a_day_and_writes_nothing(store, tmp_path, capsys, option, value):
    before = _state(store)
    out = tmp_path / "report"
    _refused(capsys, ["report", "--db", str(store), "--out", str(out), f"{option}={value}"], option, value)
    assert not out.exists()
    assert _state(store) == before  # no release in the ledger, no audit entry


@pytest.mark.parametrize("value", BAD)
def test_needs_refuses_an_as_of_that_is_not_a_date(store, capsys, value):
    _refused(capsys, ["needs", "--db", str(store), f"--as-of={value}"], "--as-of", value)


def test_needs_takes_a_day_or_a_day_and_time(store, capsys):
    assert main(["needs", "--db", str(store), "--as-of=2020-09-01", "--format", "csv"]) == 0
    by_day = capsys.readouterr().out
    assert main(["needs", "--db", str(store), "--as-of=2020-09-01 00:00", "--format", "csv"]) == 0
    assert capsys.readouterr().out == by_day
    assert '"True"' in by_day  # months after the calls, needs are escalated


@pytest.mark.parametrize("value", ["", "NaN", "1/2"])
def test_next_round_refuses_an_as_of_that_is_not_a_date_and_writes_no_list(store, tmp_path, capsys, value):
    before = _state(store)
    out = tmp_path / "round.csv"
    _refused(capsys, ["followups", "next-round", "--db", str(store), "--purpose", "round 4", "--recipient",
                      "phone bank", "--out", str(out), "--unprotected", "a test of fake data",
                      f"--as-of={value}"], "--as-of", value)
    assert not out.exists()
    assert _state(store) == before  # nothing registered


@pytest.mark.parametrize("value", ["2020-02-30", "1/2", "NaN"])
def test_config_refuses_an_as_of_setting_that_is_not_a_date(store, capsys, value):
    _refused(capsys, ["config", "set", "as_of", value, "--db", str(store)], "as_of", value)


@pytest.mark.parametrize("value", ["NaN", "2020-02-30"])
def test_a_stored_as_of_that_is_not_a_date_says_how_to_change_it(store, capsys, value):
    # A store whose setting was written before the setting was checked this strictly.
    with db.session(store, db.DEMO_PASSPHRASE) as con:
        con.execute("UPDATE settings SET value = ? WHERE key = 'as_of'", [value])
    assert main(["needs", "--db", str(store)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"workbench: The store's as_of setting \"{value}\" is not a date")
    assert "workbench config set as_of YYYY-MM-DD" in err

"""The one rule for a date given as an option: YYYY-MM-DD, a real calendar day, or an error naming it.

pandas reads '' and 'NaN' as NaT, '1/2' as 2 January of year 1 and '--1' as year 0; none of them may
pass as "no date" or as a day. Real stores, no mocks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from workbench.errors import InputError
from workbench.store import filters, settings
from workbench.store.filters import check_filters

NOT_DATES = ["", " ", "NaN", "nan", "NaT", "None", "null", "1/2", "--1", "-1", "2020-02-30", "2021-02-29",
             "2020-13-01", "20200601", "2020-6-1", "06/01/2020", "2020-06-01 ", " 2020-06-01", "2020-06-01x",
             "today", "now", "2020-06-01T10:00", "+2020-06-01", "2020-06-01\n", "１９９９-01-01",
             "1899-12-31", "2101-01-01", "9999-12-31", "0001-01-02"]


@pytest.mark.parametrize("value", NOT_DATES)
@pytest.mark.parametrize(("name", "option"), [("date_from", "--from"), ("date_to", "--to")])
def test_a_date_filter_that_is_not_a_calendar_day_is_refused_naming_option_value_and_form(con, name, option,
                                                                                           value):
    with pytest.raises(InputError) as caught:
        check_filters(con, **{name: value})
    said = str(caught.value)
    assert said.startswith(f'{option} "{value}" ')
    assert "YYYY-MM-DD" in said and "e.g. 2020-04-06" in said


@pytest.mark.parametrize("value", [float("nan"), pd.NaT, pd.Timestamp("NaT"), 20200601, 2020.5, True])
def test_a_missing_or_numeric_value_is_not_a_date_either(con, value):
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        check_filters(con, date_from=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2020-06-01", "2020-06-01"), ("2020-02-29", "2020-02-29"), ("1900-01-01", "1900-01-01"),
     ("2100-12-31", "2100-12-31"), (date(2020, 6, 1), "2020-06-01"),
     (datetime(2020, 6, 1, 23, 59), "2020-06-01"), (pd.Timestamp("2020-06-01 10:00"), "2020-06-01")],
)
def test_a_calendar_day_is_kept_as_yyyy_mm_dd(con, value, expected):
    assert check_filters(con, date_from=value, date_to=value) == {"date_from": expected, "date_to": expected}


def test_no_date_is_none_not_an_empty_string(con):
    assert check_filters(con, date_from=None, date_to=None) == {}


NOT_MOMENTS = [*(v for v in NOT_DATES if v != "2020-06-01T10:00"), "2020-06-01 25:00", "2020-06-01 10",
               "2020-06-01 10:00:60", "2020-06-01 10:00:00.5", "2020-06-01 10:00+01:00", "2020-06-01 10:00Z",
               "2020-06-01  10:00", "2100-12-31 24:00", pd.NaT]


@pytest.mark.parametrize("value", NOT_MOMENTS)
def test_an_as_of_that_is_not_a_date_or_time_is_refused(value):
    with pytest.raises(InputError) as caught:
        filters.check_moment("--as-of", value)
    said = str(caught.value)
    assert said.startswith(f'--as-of "{value}" ') and "YYYY-MM-DD" in said and "HH:MM" in said


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2020-06-01", datetime(2020, 6, 1)), ("2020-06-01 09:30", datetime(2020, 6, 1, 9, 30)),
     ("2020-06-01T09:30:15", datetime(2020, 6, 1, 9, 30, 15)), (date(2020, 6, 1), datetime(2020, 6, 1)),
     (datetime(2020, 6, 1, 9, 30), datetime(2020, 6, 1, 9, 30)),
     (datetime(2020, 6, 1, 9, 30, tzinfo=UTC), datetime(2020, 6, 1, 9, 30)),
     (pd.Timestamp("2020-06-01 09:30"), datetime(2020, 6, 1, 9, 30))],
)
def test_an_as_of_may_be_a_day_or_a_day_and_time(value, expected):
    got = filters.check_moment("--as-of", value)
    assert got == expected and type(got) is datetime and got.tzinfo is None


@pytest.mark.parametrize("value", ["2020-02-30", "1/2", "NaN", "2020-06-01 10:00"])
def test_the_as_of_setting_follows_the_same_rule(con, value):
    with pytest.raises(InputError, match='as_of "' + value + '" .*YYYY-MM-DD'):
        settings.set(con, "as_of", value, actor="tester")
    assert settings.get(con, "as_of") == ""


def test_the_as_of_setting_takes_a_day_or_blank(con):
    settings.set(con, "as_of", "2020-06-01", actor="tester")
    assert settings.get(con, "as_of") == "2020-06-01"
    settings.set(con, "as_of", "", actor="tester")
    assert settings.get(con, "as_of") == ""

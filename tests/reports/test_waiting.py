"""The report's "People waiting for help" table, counted in DuckDB, against the same counts made in
Python from the triage queue with each member's record key (`pseudonymise.record_keys`)."""

from __future__ import annotations

import pandas as pd

from workbench import reports
from workbench.analysis import needs
from workbench.privacy import pseudonymise
from workbench.reports import cellkey, disclosure
from workbench.vocabulary import URGENCIES


def _options(con):
    return reports._options(con, "internal", True, None, None, None, False, None, None, "categories", None,  # noqa: SLF001
                            "2020-06-01")


def _by_hand(con, options) -> pd.DataFrame:
    queue = needs.queue(con, as_of=options.as_of)
    days = queue.attrs["escalate_after_days"]
    labels = (f"waiting {days} days or less", f"waiting over {days} days")
    people = pd.DataFrame({
        "urgency": queue["urgency"].fillna("unknown"),
        "status": queue["escalated"].map({False: labels[0], True: labels[1]}),
        "key": pseudonymise.record_keys(pseudonymise.record_secret(con), queue["member_key"]),
    })
    long = people.groupby(["urgency", "status"]).agg(members=("status", "size"), key=("key", "sum"))
    long = long.reset_index()
    long = long.rename(columns={"key": cellkey.key_column("members")})
    order = (*reversed(URGENCIES), "unknown")
    long = reports._complete(long, "status", labels, ["urgency"], "members")  # noqa: SLF001
    long = reports._complete(long, "urgency", order, ["status"], "members")  # noqa: SLF001
    frame = disclosure.protect_table(long, "urgency", "status", "members", options.profile)
    return reports._order(frame, "urgency", list(order)).reset_index(drop=True)  # noqa: SLF001


def test_the_waiting_table_counts_the_queue_with_each_members_record_key(synthetic_con):
    """Same people, same cells, same cell keys (so the same perturbation) as the Python reference."""
    options = _options(synthetic_con)
    table = reports.waiting(synthetic_con, options).frame.reset_index(drop=True)
    expected = _by_hand(synthetic_con, options)
    pd.testing.assert_frame_equal(table, expected)
    assert int(expected.loc[expected["urgency"] == "Total", "Total"].iloc[0]) > 0  # people are waiting

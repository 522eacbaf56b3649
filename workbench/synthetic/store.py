"""Fill an open, empty store straight from a synthetic organisation, in bulk inside DuckDB.

The frames are registered with DuckDB and copied with INSERT ... SELECT, so even the national
preset never goes through per-row Python inserts. Identity goes only into `identities`; every
other table gets the keyed member_key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd

from workbench.privacy import pseudonymise
from workbench.store import boundaries, db
from workbench.synthetic.boundaries import ward_shapes

if TYPE_CHECKING:
    from workbench.synthetic import Organisation

DP_CONTACT = "dataprotection@example.org"
# Follow-up states after the calls, for realism: most still open, some already being worked.
FOLLOWUP_STATES = ("open", "assigned", "in_progress", "resolved")
FOLLOWUP_P = np.array([0.7, 0.12, 0.1, 0.08])


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, select: str = "*") -> int:
    with db.registered(con, frame, "_synth") as name:
        con.execute(f"INSERT INTO {table} ({', '.join(_columns(select, frame))}) SELECT {select} FROM {name}")
    return len(frame)


def _columns(select: str, frame: pd.DataFrame) -> list[str]:
    return list(frame.columns) if select == "*" else [s.split(" AS ")[-1].strip() for s in select.split(",")]


def _members(con: duckdb.DuckDBPyConnection, org: Organisation, keys: list[str]) -> int:
    m = org.members
    frame = pd.DataFrame(
        {
            "member_key": keys,
            "branch": m["branch"],
            "ward": m["ward"],
            "postcode": m["postcode"],
            "age": m["age"],
            "joined_on": pd.to_datetime(m["joined_on"]),
        }
    )
    return _insert(
        con,
        "members",
        frame,
        "member_key, branch, ward, postcode, age::INTEGER AS age, "
        "joined_on::DATE AS joined_on, now()::TIMESTAMP AS created_at, now()::TIMESTAMP AS updated_at",
    )


def _identities(con: duckdb.DuckDBPyConnection, org: Organisation, keys: list[str]) -> int:
    m = org.members
    numbers = pseudonymise.normalise_membership_numbers(m["membership_number"])
    phones = m["phone"].astype(object).where(m["phone"].notna(), None)
    frame = pd.DataFrame(
        {
            "member_key": keys,
            "membership_number": m["membership_number"],
            "first_name": m["first_name"],
            "last_name": m["last_name"],
            "phone": phones,
            "email": m["email"],
            "address": m["address"],
            "phone_hash": pseudonymise.suppression_hashes(con, phones.tolist()),
            "membership_hash": pseudonymise.suppression_hashes(con, numbers),
        }
    )
    count = _insert(con, "identities", frame)
    con.execute(f"UPDATE identities SET key_number = {db.key_number_sql('member_key')}")
    return count


def _calls(con: duckdb.DuckDBPyConnection, org: Organisation, key_map: pd.DataFrame) -> int:
    c = org.calls
    with db.registered(con, key_map, "_synth") as keys, db.registered(con, c, "_synth") as calls:
        con.execute(f"""
            INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome, wellbeing,
                               needs_support, urgency, keen_to_volunteer, dp_query, notes)
            SELECT c.call_id, k.member_key, c.round::VARCHAR, c.caller::VARCHAR, c.called_at,
                   c.outcome::VARCHAR, c.wellbeing::INTEGER, c.needs_support, c.urgency::VARCHAR,
                   c.keen_to_volunteer, c.dp_query::VARCHAR, c.notes
            FROM {calls} c JOIN {keys} k USING (membership_number)""")
    return len(c)


def _services(con: duckdb.DuckDBPyConnection, org: Organisation) -> int:
    return _insert(
        con,
        "services",
        org.services,
        "service_id, name, category, areas::VARCHAR[] AS areas, contact, aliases::VARCHAR[] AS aliases",
    )


def _call_services(con: duckdb.DuckDBPyConnection, org: Organisation) -> int:
    frame = org.call_services.merge(org.services[["service_id", "name"]], on="service_id", how="left")
    return _insert(con, "call_services", frame.rename(columns={"name": "raw_name"}))


def followups_frame(org: Organisation, key_map: pd.DataFrame) -> pd.DataFrame:
    """One row per member whose latest answered call needs support, in a seeded mix of states.

    Args:
        org: the organisation.
        key_map: membership_number -> member_key.

    Returns:
        Columns as in the followups table.
    """
    c = org.calls
    answered = c[c["outcome"] == "answered"].sort_values("called_at", kind="stable")
    latest = answered.drop_duplicates("membership_number", keep="last")
    latest = latest[latest["needs_support"].fillna(False).to_numpy(bool)].reset_index(drop=True)
    rng = np.random.default_rng([org.seed, 2])
    state = np.array(FOLLOWUP_STATES, dtype=object)[
        rng.choice(len(FOLLOWUP_P), size=len(latest), p=FOLLOWUP_P)
    ]
    opened = latest["called_at"].to_numpy()
    worked = state != "open"
    updated = np.where(worked, opened + rng.integers(1, 11, len(latest)).astype("timedelta64[D]"), opened)
    callers = latest["caller"].astype(object).to_numpy()
    return pd.DataFrame(
        {
            "member_key": latest["membership_number"].map(
                key_map.set_index("membership_number")["member_key"]
            ),
            "call_id": latest["call_id"],
            "state": state,
            "opened_at": opened,
            "updated_at": updated,
            "assigned_to": np.where(worked, callers, None),
            "resolved_at": pd.Series(updated).where(state == "resolved"),
        }
    )


def build_store(con: duckdb.DuckDBPyConnection, org: Organisation) -> dict[str, int]:
    """Insert a synthetic organisation into an open, empty store.

    Runs in the caller's transaction (demo.rebuild wraps it in db.transaction), so a failure
    leaves the store as it was.

    Args:
        con: a read-write connection to an empty store (db.init_store, then db.connect).
        org: from synthetic.generate.

    Returns:
        Rows written per table.
    """
    keys = pseudonymise.member_keys(con, org.members["membership_number"])
    key_map = pd.DataFrame(
        {"membership_number": org.members["membership_number"].to_numpy(), "member_key": keys}
    )
    counts = {
        "members": _members(con, org, keys),
        "identities": _identities(con, org, keys),
        "calls": _calls(con, org, key_map),
        "call_needs": _insert(con, "call_needs", org.call_needs),
        "call_skills": _insert(con, "call_skills", org.call_skills),
        "services": _services(con, org),
        "call_services": _call_services(con, org),
        "followups": _insert(con, "followups", followups_frame(org, key_map)),
        "ward_boundaries": boundaries.write(con, ward_shapes(org.geography, org.seed), "synthetic"),
    }
    # OPT-OUT HOOK: do-not-call outcomes become register entries through workbench/optouts.py
    # (`optouts.record_from_calls(con, actor=...)`), owned by the opt-outs module, not written here.
    con.execute("INSERT OR REPLACE INTO settings VALUES ('dp_contact', ?)", [DP_CONTACT])
    con.execute("INSERT OR REPLACE INTO meta VALUES ('synthetic', ?)", [f"{org.preset}:{org.seed}"])
    return counts

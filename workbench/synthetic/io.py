"""Write a synthetic organisation out as real-looking exports, or straight into a store.

Exports look like what organisers really get: headers as a person writes them, phones in assorted
UK spellings, dates as dd/mm/yyyy, lists joined with "; ". The import code is written against
exactly these shapes. `build_store` skips the files and fills an open store in bulk inside DuckDB.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench.errors import InputError
from workbench.synthetic.phones import humanise, pool

if TYPE_CHECKING:
    from workbench.synthetic import Organisation

FORMATS = ("csv", "xlsx", "parquet")
EXCEL_MAX_ROWS = 1_048_575  # a sheet holds 1,048,576 rows including the header
DP_CONTACT = "dataprotection@example.org"
OUTCOME_LABELS = {
    "answered": "Answered",
    "no_answer": "No Answer",
    "voicemail": "Voicemail",
    "busy": "Busy",
    "wrong_number": "Wrong Number",
    "call_back_later": "Call Back Later",
    "refused": "Refused",
    "do_not_call": "Do Not Call",
    "deceased_moved": "Deceased/Moved",
}
DP_LABELS = {"how_got_number": "How did you get my number?", "complaint": "Complaint", "other": "Other"}
_PAD2 = np.array([f"{i:02d}" for i in range(100)], dtype=object)
_YEAR = np.array([str(y) for y in range(3000)], dtype=object)
# Exports mention a service by one of its aliases this often, as volunteers type what they heard.
ALIAS_RATE = 0.1


def _label(code: str) -> str:
    return code.replace("_", " ").title()


def _private(path: Path, mode: str) -> IO:
    """Open for writing with mode 0600 from the first byte (chmod as well, in case it existed)."""
    # Fake people only, so an earlier run's file is written over; but never through a symbolic link.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    os.chmod(path, 0o600)
    return os.fdopen(fd, mode, **({"encoding": "utf-8", "newline": ""} if "b" not in mode else {}))


def _dates(values: pd.Series, with_time: bool) -> np.ndarray:
    """dd/mm/yyyy (HH:MM) strings, built from integer parts: strftime is ~50x slower at 2M rows."""
    v = pd.to_datetime(values)
    out = _PAD2[v.dt.day.to_numpy()] + "/" + _PAD2[v.dt.month.to_numpy()] + "/" + _YEAR[v.dt.year.to_numpy()]
    if with_time:
        out = out + " " + _PAD2[v.dt.hour.to_numpy()] + ":" + _PAD2[v.dt.minute.to_numpy()]
    return out


def _yes_no(values: pd.Series) -> np.ndarray:
    out = np.full(len(values), "", dtype=object)
    out[values.fillna(False).to_numpy(bool)] = "Y"
    out[(~values.fillna(True)).to_numpy(bool)] = "N"
    return out


def members_export(org: Organisation, rng: np.random.Generator) -> pd.DataFrame:
    """members.csv as a membership system would export it."""
    m = org.members
    index = pd.Series(np.arange(len(pool()["e164"])), index=pool()["e164"])
    phone_idx = m["phone"].map(index).fillna(-1).to_numpy(np.int64)
    return pd.DataFrame(
        {
            "Membership Number": m["membership_number"],
            "First Name": m["first_name"],
            "Last Name": m["last_name"],
            "Phone": humanise(phone_idx, rng),
            "Email": m["email"],
            "Address": m["address"],
            "Postcode": m["postcode"],
            "Ward": m["ward"],
            "Branch": m["branch"],
            "Age": m["age"],
            "Joined": _dates(m["joined_on"], with_time=False),
        }
    )


def _service_names(org: Organisation, rng: np.random.Generator) -> pd.Series:
    """The name each referenced service was written down as: usually its name, sometimes an alias."""
    services = org.services.set_index("service_id")
    refs = org.call_services
    names = services["name"].reindex(refs["service_id"]).to_numpy(dtype=object)
    alias_lists = services["aliases"].reindex(refs["service_id"]).to_numpy()
    use = np.flatnonzero(rng.random(len(refs)) < ALIAS_RATE)
    picks = rng.integers(0, 1 << 30, len(use))
    for i, p in zip(use, picks, strict=True):
        if len(alias_lists[i]):
            names[i] = alias_lists[i][p % len(alias_lists[i])]
    return pd.Series(names)


DATES_QUERY = "SELECT strftime(called_at, '%d/%m/%Y %H:%M') AS date FROM calls"


def _rows(ids: pa.Array, *frames: pd.DataFrame) -> list[np.ndarray]:
    """For each frame, the row in `ids` of each entry's call_id (-1 if none): one hash of the ids."""
    probes = pa.chunked_array([pa.array(f["call_id"], pa.string()) for f in frames], pa.string())
    rows = pc.index_in(probes, value_set=ids).fill_null(-1).to_numpy()
    return np.split(rows, np.cumsum([len(f) for f in frames])[:-1])


def _joined(row: np.ndarray, labels: pd.Series, calls: int) -> pa.Array:
    """Per call, the labels of its entries (in the call's `row`) joined with "; " in the order
    they were drawn; null where none.

    Done on Arrow lists (`binary_join`) after a stable sort on the row: grouping 2M calls' lists
    in pandas took most of a national `synth --out`, and DuckDB's ordered string_agg a second.
    """
    text = pa.array(labels, pa.string())
    kept = np.flatnonzero((row >= 0) & text.is_valid().to_numpy(zero_copy_only=False))
    order = kept[np.argsort(row[kept], kind="stable")]  # stable: a call's entries stay in drawn order
    counts = np.bincount(row[kept], minlength=calls)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]), pa.int32())
    lists = pa.ListArray.from_arrays(offsets, text.take(pa.array(order)), mask=pa.array(counts == 0))
    return pc.binary_join(lists, "; ")


def _labels(values: pd.Series, names: dict | Callable[[str], str]) -> pa.Array:
    """Codes turned into export labels, looked up once per distinct code."""
    codes = values.astype("category").cat.rename_categories(names)
    return pa.array(codes, pa.dictionary(pa.int32(), pa.string())).cast(pa.string())


def calls_export(org: Organisation, rng: np.random.Generator) -> pa.Table:
    """call_outcomes.csv as a phone-banking tool would export it (an Arrow table, in call order)."""
    c = org.calls
    with duckdb.connect() as con:
        con.register("calls", pa.table({"called_at": pa.array(c["called_at"])}))
        dates = con.execute(DATES_QUERY).fetch_arrow_table()["date"]
    ids = pa.array(c["call_id"], pa.string())
    need_rows, skill_rows, service_rows = _rows(ids, org.call_needs, org.call_skills, org.call_services)
    needs = _joined(need_rows, _labels(org.call_needs["category"], _label), len(c))
    skills = _joined(skill_rows, _labels(org.call_skills["skill"], _label), len(c))
    services = _joined(service_rows, _service_names(org, rng), len(c))
    return pa.table({
        "Call ID": ids,
        "Membership Number": pa.array(c["membership_number"], pa.string()),
        "Round": _labels(c["round"], str),
        "Caller": _labels(c["caller"], str),
        "Date": dates,
        "Outcome": _labels(c["outcome"], OUTCOME_LABELS),
        "Wellbeing": pa.array(c["wellbeing"]),
        "Needs Support": pa.array(_yes_no(c["needs_support"]), pa.string()),
        "Need Categories": needs,
        "Urgency": _labels(c["urgency"], _label),
        "Keen To Volunteer": pa.array(_yes_no(c["keen_to_volunteer"]), pa.string()),
        "Skills": skills,
        "Services Referenced": services,
        "DP Query": _labels(c["dp_query"], DP_LABELS),
        "Notes": pa.array(c["notes"], pa.string()),
    })


def services_export(org: Organisation) -> pd.DataFrame:
    """services.csv as a community map would be kept in a spreadsheet."""
    s = org.services
    return pd.DataFrame(
        {
            "Service ID": s["service_id"],
            "Name": s["name"],
            "Category": s["category"].map(_label),
            "Areas Served": s["areas"].map("; ".join),
            "Contact": s["contact"],
            "Aliases": s["aliases"].map("; ".join),
        }
    )


# Every value as text, with empty text as nothing: the CSV then reads as a spreadsheet writes it
# (an empty cell, never "").
AS_TEXT_QUERY = "SELECT nullif(CAST(COLUMNS(*) AS VARCHAR), '') FROM export"


def _arrow(table: pd.DataFrame | pa.Table) -> pa.Table:
    return table if isinstance(table, pa.Table) else pa.Table.from_pandas(table, preserve_index=False)


def _write_csv(table: pd.DataFrame | pa.Table, path: Path) -> None:
    """Written by DuckDB's CSV writer from Arrow (pandas' row-by-row writer took a minute at 2M rows)."""
    _private(path, "wb").close()  # mode 0600 before DuckDB writes a byte into it
    old_umask = os.umask(0o077)
    try:
        with duckdb.connect() as con:
            con.register("export", _arrow(table))
            con.execute(f"COPY ({AS_TEXT_QUERY}) TO '{_sql_path(path)}' (HEADER, DELIMITER ',')")
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _write_xlsx(table: pd.DataFrame | pa.Table, path: Path) -> None:
    frame = table.to_pandas() if isinstance(table, pa.Table) else table
    if len(frame) > EXCEL_MAX_ROWS:
        raise InputError(
            f"{path.name} would have {len(frame):,} rows, more than an Excel sheet holds "
            f"({EXCEL_MAX_ROWS:,}). Supported formats for this size: csv, parquet."
        )
    with (
        _private(path, "wb") as f,
        pd.ExcelWriter(
            f,
            engine="xlsxwriter",
            engine_kwargs={"options": {"strings_to_formulas": False, "strings_to_urls": False}},
        ) as writer,
    ):
        # A fixed creation date keeps the file byte-identical for the same seed.
        writer.book.set_properties({"created": datetime(2020, 6, 30)})
        frame.to_excel(writer, sheet_name=path.stem[:31], index=False)


def _write_parquet(table: pd.DataFrame | pa.Table, path: Path) -> None:
    with _private(path, "wb") as f:
        pq.write_table(_arrow(table), f)


_WRITERS: dict[str, Callable[[pd.DataFrame | pa.Table, Path], None]] = {
    "csv": _write_csv,
    "xlsx": _write_xlsx,
    "parquet": _write_parquet,
}


def write_exports(org: Organisation, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
    """Write members, call outcomes and services as a person would receive them.

    Args:
        org: from synthetic.generate.
        out_dir: folder to write into (created if missing).
        fmt: csv, xlsx or parquet.

    Returns:
        The paths written: members, call_outcomes, services. Each file has mode 0600.

    Raises:
        InputError: an unsupported format, or too many rows for an Excel sheet.
    """
    if fmt not in _WRITERS:
        raise InputError(f'Unsupported format "{fmt}". Supported formats: {", ".join(FORMATS)}.')
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([org.seed, 1])  # its own stream: exports never change the organisation
    frames = {
        "members": members_export(org, rng),
        "call_outcomes": calls_export(org, rng),
        "services": services_export(org),
    }
    paths = []
    for name, frame in frames.items():
        path = out_dir / f"{name}.{fmt}"
        _WRITERS[fmt](frame, path)
        paths.append(path)
    return paths

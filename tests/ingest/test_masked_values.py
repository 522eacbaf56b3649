"""Values in the wrong column are shown by their shape; imported files of people get a keyed digest."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from workbench import ingest
from workbench.ingest import ImportRejected

MEMBERS = pd.DataFrame({
    "Membership Number": ["SYN0001", "SYN0002"], "First Name": ["Zoë", "Amir"], "Last Name": ["Ng", "Khan"],
    "Phone": ["07700 900123", "07700 900124"], "Email": ["zoe@example.com", ""], "Ward": ["Kingsfield"] * 2,
    "Branch": ["North"] * 2, "Age": ["Amir Khan 07700 900124", "71"],
    "Joined": ["03/04/2019", "amir@example.org"],
})


def _write(frame: pd.DataFrame, path):
    path.write_bytes(frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8"))
    return path


def test_a_name_and_phone_under_age_and_an_email_under_date_are_never_echoed(con, tmp_path):
    with pytest.raises(ImportRejected) as rejected:
        ingest.import_members(con, _write(MEMBERS, tmp_path / "m.csv"))
    problems = rejected.value.result.problems
    shown = problems.to_string() + str(rejected.value)
    for secret in ("Amir Khan", "900124", "amir@example.org", "Khan"):
        assert secret not in shown
    values = dict(zip(problems["column"], problems["value"], strict=False))
    assert values["Age"] == "(withheld: it looks like text of letters, digits, spaces, 22 characters)"
    assert values["Joined"] == "(withheld: it looks like an email address, 16 characters)"


def test_a_file_of_people_is_recorded_by_a_keyed_digest_and_recognised_again(con, tmp_path):
    frame = MEMBERS.assign(Age=["34", "71"], Joined=["03/04/2019", "2020-01-15"])
    path = _write(frame, tmp_path / "m.csv")
    ingest.import_members(con, path)
    stored = con.execute("SELECT sha256 FROM imports").fetchone()[0]
    assert stored != hashlib.sha256(path.read_bytes()).hexdigest() and len(stored) == 64
    again = ingest.import_members(con, path)
    assert again.already_imported


CALLS = pd.DataFrame({
    "Call ID": ["C1", "C2"], "Membership Number": ["SYN0001", "SYN0002"], "Round": ["R1", "R1"],
    "Caller": ["C0001", "C0002"], "Date": ["03/04/2020 10:15", "04/04/2020 11:00"],
    "Outcome": ["Answered", "Answered"], "Needs Support": ["Y", "Y"], "Need Categories": ["Food", "Food"],
    "Services Referenced": ["ring Amir Khan on 07700 900124", "Pantry; write to zoe@example.com"],
})


def test_unlisted_service_names_are_masked_at_import_and_in_services_gaps(con, tmp_path):
    from workbench.analysis import services

    members = MEMBERS.assign(Age=["34", "71"], Joined=["03/04/2019", "2020-01-15"])
    ingest.import_members(con, _write(members, tmp_path / "m.csv"))
    result = ingest.import_calls(con, _write(CALLS, tmp_path / "c.csv"))
    warned = " ".join(result.warnings)
    gaps = services.gaps(con).unlisted["name"].tolist()
    for shown in (warned, " ".join(gaps)):
        assert "Amir Khan" not in shown and "900124" not in shown and "zoe@example.com" not in shown
    assert "ring [name] on [phone]" in gaps and "write to [email]" in gaps and "Pantry" in gaps
    assert "ring [name] on [phone]" in warned
    # The store keeps what was typed (the subject-access file shows it to its subject).
    typed = {r[0] for r in con.execute("SELECT raw_name FROM call_services").fetchall()}
    assert "ring Amir Khan on 07700 900124" in typed

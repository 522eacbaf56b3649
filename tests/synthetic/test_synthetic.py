"""Tests for workbench/synthetic.py: fake data that is coherent, deterministic and can never ring anyone."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from faker import Faker

from workbench import synthetic
from workbench.errors import InputError
from workbench.store import db
from workbench.store.state import transaction
from workbench.synthetic import geo as synthetic_geo
from workbench.synthetic import io as synthetic_io
from workbench.synthetic import members as synthetic_members
from workbench.synthetic.phones import pool

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]+)")
# Anything in free text that looks like a UK phone number, in any of the spellings we write.
PHONE_IN_TEXT = re.compile(r"(?:\+44\s?|\(?0)\d[\d\s()]{8,13}\d")
POSTCODE = re.compile(r"NV\d{1,2} \d[ABDEFGHJLNPQRSTUWXYZ]{2}")


@pytest.fixture(scope="module")
def demo() -> synthetic.Organisation:
    return synthetic.generate("demo", seed=2020)


@pytest.fixture(scope="module")
def branch() -> synthetic.Organisation:
    return synthetic.generate("branch", seed=11)


def _national_digits(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return "0" + digits[2:] if digits.startswith("44") else digits


def _e164(text: str) -> str:
    return "+44" + _national_digits(text)[1:]


def test_drama_ranges_are_ofcoms_twenty_thousand_numbers():
    assert len(synthetic.DRAMA_RANGES) == 20
    assert len(set(pool()["e164"])) == 20_000
    assert synthetic.is_drama_number("+447700900000") and synthetic.is_drama_number("+441632960999")
    assert synthetic.is_drama_number("+442896496500") and synthetic.is_drama_number("+443069990001")
    assert not synthetic.is_drama_number("+447700901000")  # just past the mobile range
    assert not synthetic.is_drama_number("07700900123")  # not E.164
    assert not synthetic.is_drama_number(None)


def test_member_phones_are_drama_numbers_and_emails_on_example_domains(demo):
    phones = demo.members["phone"].dropna()
    assert len(phones) > 0.85 * len(demo.members)
    assert phones.map(synthetic.is_drama_number).all()
    emails = demo.members["email"].dropna()
    assert 0.6 * len(demo.members) < len(emails) < len(demo.members)  # some are missing
    assert emails.str.fullmatch(r"[a-z0-9.]+@example\.(com|org|net)").all()


def test_notes_and_services_hold_only_fake_contacts(demo):
    texts = pd.concat([demo.calls["notes"].dropna(), demo.services["contact"]], ignore_index=True)
    phones = [p for t in texts for p in PHONE_IN_TEXT.findall(t)]
    emails = [d for t in texts for d in EMAIL.findall(t)]
    assert len(phones) > 20 and len(emails) > 10  # notes really do carry third-party contacts
    assert all(synthetic.is_drama_number(_e164(p)) for p in phones), [
        p for p in phones if not synthetic.is_drama_number(_e164(p))
    ]
    assert set(emails) <= {"example.com", "example.org", "example.net"}


def test_exported_phone_spellings_are_human_and_still_drama(tmp_path, demo):
    members = pd.read_csv(synthetic.write_exports(demo, tmp_path)[0], dtype=str)
    phones = members["Phone"].dropna()
    assert not phones.str.startswith("+447").all()
    assert phones.str.contains(" ").mean() > 0.5
    assert (phones.map(_e164).to_numpy() == demo.members["phone"].dropna().to_numpy()).all()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    def files(seed: int, folder: str, fmt: str) -> list[bytes]:
        org = synthetic.generate("tiny", seed=seed)
        return [p.read_bytes() for p in synthetic.write_exports(org, tmp_path / folder, fmt)]

    for fmt in ("csv", "xlsx", "parquet"):
        assert files(5, f"a{fmt}", fmt) == files(5, f"b{fmt}", fmt), fmt
    assert files(5, "c", "csv")[0] != files(6, "d", "csv")[0]


def test_an_exported_list_column_joins_each_calls_entries_in_the_order_drawn():
    # Entries out of call order, an entry for no exported call, and an entry with no label.
    ids = pa.array(["CL1", "CL2", "CL3"])
    frame = pd.DataFrame({"call_id": ["CL3", "CL1", "CL3", "CL9", "CL1"]})
    (rows,) = synthetic_io._rows(ids, frame)
    joined = synthetic_io._joined(rows, pd.Series(["Food", "Shopping", "Medication", "Lost", None]), len(ids))
    assert joined.to_pylist() == ["Shopping", None, "Food; Medication"]


def test_exports_have_the_agreed_headers_and_mode_0600(tmp_path, demo):
    paths = synthetic.write_exports(demo, tmp_path, "csv")
    assert [p.name for p in paths] == ["members.csv", "call_outcomes.csv", "services.csv"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in paths)
    headers = [pd.read_csv(p, nrows=0).columns.tolist() for p in paths]
    assert headers[0] == [
        "Membership Number",
        "First Name",
        "Last Name",
        "Phone",
        "Email",
        "Address",
        "Postcode",
        "Ward",
        "Branch",
        "Age",
        "Joined",
    ]
    assert headers[1] == [
        "Call ID",
        "Membership Number",
        "Round",
        "Caller",
        "Date",
        "Outcome",
        "Wellbeing",
        "Needs Support",
        "Need Categories",
        "Urgency",
        "Keen To Volunteer",
        "Skills",
        "Services Referenced",
        "DP Query",
        "Notes",
    ]
    assert headers[2] == ["Service ID", "Name", "Category", "Areas Served", "Contact", "Aliases"]
    calls = pd.read_csv(paths[1], dtype=str, keep_default_na=False)
    assert calls["Date"].str.fullmatch(r"\d\d/\d\d/2020 \d\d:\d\d").all()
    assert set(calls["Outcome"]) <= {
        "Answered",
        "No Answer",
        "Voicemail",
        "Busy",
        "Wrong Number",
        "Call Back Later",
        "Refused",
        "Do Not Call",
        "Deceased/Moved",
    }
    assert calls["Need Categories"].str.contains("; ").any()
    with pytest.raises(InputError, match="Supported formats: csv, xlsx, parquet"):
        synthetic.write_exports(demo, tmp_path, "doc")


def test_geography_is_coherent(demo):
    geo = demo.geography
    assert geo["postcode"].is_unique and geo["postcode"].str.fullmatch(POSTCODE).all()
    assert (geo["constituency"] == "Northvale").all()
    assert 5 <= geo["branch"].nunique() <= 8
    assert (geo.groupby("sector")["ward"].nunique() == 1).all()  # a sector lies in one ward
    assert (geo.groupby("ward")["branch"].nunique() == 1).all()  # a ward lies in one branch
    assert (geo["postcode"].str[:-2] == geo["sector"]).all()  # a postcode lies in its sector
    placed = demo.members.merge(geo, on="postcode", how="left", suffixes=("", "_geo"))
    assert (placed["ward"] == placed["ward_geo"]).all() and (placed["branch"] == placed["branch_geo"]).all()
    per_ward = demo.members["ward"].value_counts()
    assert per_ward.min() < 10 and per_ward.max() > 150  # small cells and large ones


def test_a_large_organisation_can_have_more_branches_in_the_same_strict_hierarchy():
    # The benchmarks' union has 20 branches, so its branches do not grow with it.
    org = synthetic.generate(None, members=4_000, calls=0, seed=7, branches=synthetic_geo.MAX_BRANCHES)
    geo = org.geography
    assert geo["branch"].nunique() == synthetic_geo.MAX_BRANCHES
    assert set(synthetic_geo.BRANCH_NAMES) < set(geo["branch"])  # the demo's names come first
    assert not set(geo["branch"]) & set(geo["ward"])
    assert geo["postcode"].is_unique and geo["postcode"].str.fullmatch(POSTCODE).all()
    assert geo["sector"].str.extract(r"^NV(\d+) ")[0].astype(int).max() <= 99  # a district has two digits
    assert (geo.groupby("ward")["branch"].nunique() == 1).all()
    assert org.members["branch"].nunique() == synthetic_geo.MAX_BRANCHES
    for wrong in (0, synthetic_geo.MAX_BRANCHES + 1):
        with pytest.raises(InputError, match="out of range"):
            synthetic.generate(None, members=300, calls=0, branches=wrong)


def test_no_member_is_named_like_a_ward_or_branch():
    # The release scan refuses a report holding a member's full name, so a synthetic member called
    # Holly Green beside a ward called Holly Green would stop every report (the union's 30 branches
    # had 24 such members). Names made from a pool of one first name, mostly one surname:
    geo = synthetic_geo.build(np.random.default_rng(1), Faker("en_GB"))
    geo = dataclasses.replace(geo, wards=np.array(["Holly Green", *geo.wards[1:]], dtype=object))
    first, last = np.array(["Holly"], dtype=object), np.array(["Green", "Smith"], dtype=object)
    pools = synthetic_members.NamePools(first, last, np.array([0.9, 0.1]), first, last)
    people = synthetic_members.build(np.random.default_rng(1), pools, geo, 300)
    assert set(people["last_name"]) == {"Smith"}  # every Holly Green moved on to the next surname
    assert (people["first_name"] == "Holly").all() and len(people) == 300


def test_members_look_like_a_party_membership(demo):
    m = demo.members
    assert m["membership_number"].str.fullmatch(r"SYN\d{7}").all() and m["membership_number"].is_unique
    assert m["age"].min() >= 18 and 50 <= m["age"].median() <= 65
    assert (m["age"] >= 65).mean() > (m["age"] < 35).mean() * 2
    assert m["last_name"].nunique() > 300


def test_outcome_rates_are_plausible(demo):
    rates = demo.calls["outcome"].value_counts(normalize=True)
    assert 0.35 <= rates["answered"] <= 0.45
    assert 0.01 <= rates["do_not_call"] <= 0.03
    assert set(rates.index) == set(synthetic.OUTCOMES)
    answered = demo.calls[demo.calls["outcome"] == "answered"]
    assert 0.10 <= answered["needs_support"].mean() <= 0.15
    assert demo.calls.loc[demo.calls["outcome"] != "answered", "wellbeing"].isna().all()
    assert answered["wellbeing"].between(1, 5).all()
    assert len(demo.calls) == pytest.approx(synthetic.PRESETS["demo"][1], rel=0.05)
    assert demo.calls["round"].nunique() == 3 and 40 <= demo.calls["caller"].nunique() <= 300
    hours = demo.calls["called_at"].dt.hour
    assert hours.between(9, 20).all()


def test_needs_correlate_with_age_and_services_leave_gaps(demo):
    needs = demo.call_needs.merge(demo.calls[["call_id", "membership_number"]]).merge(demo.members)
    old, young = needs[needs["age"] >= 65], needs[needs["age"] < 35]
    assert (old["category"] == "medicine").mean() > (young["category"] == "medicine").mean()
    referenced = demo.call_needs.merge(demo.call_services, on="call_id", how="left")
    assert referenced["service_id"].notna().any() and referenced["service_id"].isna().any()
    assert 30 <= len(demo.services) <= 60
    assert (demo.services["areas"].map(len) == 0).any() and (demo.services["areas"].map(len) > 0).any()


def test_answers_evolve_across_rounds_for_the_same_member(demo):
    answered = demo.calls[demo.calls["outcome"] == "answered"]
    by_member = answered.groupby("membership_number")["wellbeing"].agg(["nunique", "size"])
    repeat = by_member[by_member["size"] > 1]
    assert len(repeat) > 100 and (repeat["nunique"] > 1).mean() > 0.3


def test_households_share_landlines_at_demo(demo):
    m = demo.members.dropna(subset=["phone"])
    per_phone = m.groupby("phone").agg(
        households=("address", "nunique"), members=("membership_number", "size")
    )
    assert (per_phone["members"] > 1).sum() > 50
    assert (per_phone["households"] == 1).all()  # below the pool size, nobody else shares it


def test_no_phone_reuse_across_households_at_branch(branch):
    m = branch.members.dropna(subset=["phone"])
    assert m.assign(home=m["address"] + m["postcode"]).groupby("phone")["home"].nunique().max() == 1


def test_objectors_keep_unique_numbers_above_the_pool_size():
    org = synthetic.generate(members=30_000, calls=60_000, seed=3)
    phones = org.members["phone"].dropna()
    assert phones.duplicated().any()  # the pool is too small: numbers are reused
    objected = org.calls.loc[
        org.calls["outcome"].isin(["do_not_call", "refused"]), "membership_number"
    ].unique()
    assert len(objected) > 500
    their = org.members.loc[org.members["membership_number"].isin(objected), "phone"]
    assert their.notna().all()
    counts = phones.value_counts()
    assert (counts.reindex(their).to_numpy() == 1).all()  # shared with nobody, not even family
    assert len(org.calls) == pytest.approx(60_000, rel=0.05)


def test_custom_sizes_and_bad_arguments():
    org = synthetic.generate(None, members=300, calls=0, seed=1)
    assert len(org.members) == 300 and org.calls.empty and org.call_needs.empty
    with pytest.raises(InputError, match="Choose one of"):
        synthetic.generate("huge")
    with pytest.raises(InputError):
        synthetic.generate(members=0)


def test_build_store_fills_an_encrypted_store_with_identity_kept_apart(tmp_path: Path, demo):
    path = tmp_path / "s.duckdb"
    db.init_store(path, "pw")
    con = db.connect(path, "pw")
    try:
        with transaction(con):
            counts = synthetic.build_store(con, demo)
        assert counts["members"] == counts["identities"] == len(demo.members)
        assert counts["calls"] == len(demo.calls) and counts["call_needs"] == len(demo.call_needs)
        assert counts["services"] == len(demo.services) and counts["call_services"] == len(demo.call_services)
        for table, n in counts.items():
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == n, table
        assert counts["followups"] > 0
        assert con.execute("SELECT count(*) FROM calls c JOIN members m USING (member_key)").fetchone()[
            0
        ] == len(demo.calls)
        # Identity columns exist only in identities.
        identity = {"membership_number", "first_name", "last_name", "phone", "email", "address"}
        columns = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database()"
        ).fetchall()
        assert {t for t, c in columns if c in identity} == {"identities"}
        assert con.execute("SELECT value FROM meta WHERE key = 'synthetic'").fetchone()[0] == "demo:2020"
        assert con.execute("SELECT count(*) FROM optouts").fetchone()[0] == 0  # opt-outs are optouts.py's job
        con.execute("CHECKPOINT")
    finally:
        con.close()
    surname = demo.members["last_name"].value_counts().index[0]
    assert surname.encode() not in path.read_bytes()
    assert np.all([b not in path.read_bytes() for b in (b"Northvale Food Bank", b"SYN100")])


def test_committed_demo_sample_is_what_its_readme_says_regenerates_it(tmp_path):
    """synthetic_data/README.md says `workbench synth --preset demo --seed 2020` makes these files."""
    committed = Path(__file__).resolve().parents[2] / "synthetic_data" / "demo"
    made = synthetic.write_exports(synthetic.generate("demo", seed=2020), tmp_path, "csv")
    for path in made:
        assert path.read_bytes() == (committed / path.name).read_bytes(), path.name

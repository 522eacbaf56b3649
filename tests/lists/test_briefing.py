"""The callers' briefing: only active services of the branch's wards, the dp contact, the labels the import
reads back, no identity (scanned as releases are), and an A4 printout that cuts nothing off."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import InputError
from workbench.ingest.headers import normalise
from workbench.ingest.labels import lookup
from workbench.lists import briefing
from workbench.reports.disclosure import WORD, scan_release
from workbench.store import settings
from workbench.store.db import DEMO_PASSPHRASE

ASHCOMBE = {"Elmwell", "Rush Hill", "Salt Green"}  # the tiny organisation's Ashcombe wards
LONG_NAME = "Salt Green and Rush Hill Volunteer Shopping, Prescriptions and Friendly Phone Calls Service End1"
LONG_CONTACT = "saltgreen-rushhill-volunteer-shopping-and-prescriptions-service-end2@example.org"
needs_chromium = pytest.mark.skipif(
    not shutil.which("chromium") and os.environ.get("CI") != "true",
    reason="Chromium is not installed (under CI=true this test must run)",
)


@pytest.fixture
def directory(synthetic_con):
    """The tiny store's directory with statuses as an ORUK import records them, and a long entry."""
    con = synthetic_con
    con.execute("UPDATE services SET status = 'inactive' WHERE name = 'Ashcombe Housing Advice Surgery'")
    con.execute("UPDATE services SET status = 'defunct' WHERE name = 'Northvale Advice Centre'")
    con.execute("UPDATE services SET status = 'temporarily closed' WHERE name = 'Elmbury Tech Buddies'")
    # A service with no status recorded counts as active.
    con.execute("UPDATE services SET status = NULL WHERE name = 'Salt Green Walking Group'")
    con.execute(
        "INSERT INTO services (service_id, name, category, areas, contact, aliases, status) "
        "VALUES ('SV-LONG', ?, 'food', ['Salt Green'], ?, [], 'active')",
        [LONG_NAME, LONG_CONTACT],
    )
    settings.set(con, "dp_contact", "privacy@ashcombe-labour.example.org", actor="dp")
    return con


def _names(brief: briefing.Briefing) -> set[str]:
    return {s.name for services in brief.services.values() for s in services}


def test_only_active_services_of_the_branch_wards(directory):
    brief = briefing.briefing(directory, branch="Ashcombe")
    assert set(brief.wards) == ASHCOMBE
    expected = {
        "Northvale Food Bank", "Northvale Pharmacy Delivery Volunteers", "Northvale Befriending Line",
        "Northvale Mind Matters", "Northvale Council Community Hub",  # everywhere (no areas)
        "Ashcombe Good Neighbours", "Salt Green Walking Group", LONG_NAME,
    }  # fmt: skip
    assert _names(brief) == expected  # not the inactive surgery, the defunct centre, or other branches
    assert list(brief.services) == ["Food", "Medicine", "Isolation", "Mental health", "Other"]
    one_ward = briefing.briefing(directory, branch="Ashcombe", ward="Elmwell")
    assert "Salt Green Walking Group" not in _names(one_ward)
    assert "Ashcombe Good Neighbours" in _names(one_ward)


def test_a_service_area_names_its_ward_in_any_case(directory):
    # A council directory spells areas its own way; the gaps view already read "salt green " as the
    # ward Salt Green, and the briefing must offer the same services the gaps count as covering it.
    directory.execute("INSERT INTO services (service_id, name, category, areas, contact, aliases, status) "
                      "VALUES ('SV-CASE', 'Salt Green Larder', 'food', ['  salt GREEN '], '', [], 'active')")
    assert "Salt Green Larder" in _names(briefing.briefing(directory, branch="Ashcombe", ward="Salt Green"))
    assert "Salt Green Larder" not in _names(briefing.briefing(directory, branch="Ashcombe", ward="Elmwell"))


def test_every_service_counts_as_active_until_an_import_says_otherwise(synthetic_con):
    names = _names(briefing.briefing(synthetic_con, branch="Ashcombe"))
    assert {"Ashcombe Housing Advice Surgery", "Northvale Advice Centre"} <= names


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"branch": ""}, "give --branch NAME"),
        ({"branch": "Atlantis"}, 'Unknown branch "Atlantis"'),
        ({"branch": "Ashcombe", "ward": "Kings Park"}, 'Ward "Kings Park" is not in branch Ashcombe'),
        ({"branch": "Ashcombe", "round": "r" * 41}, "--round must be a name of 1 to 40 characters"),
    ],
)
def test_bad_requests_are_refused(synthetic_con, options, message):
    with pytest.raises(InputError, match=re.escape(message)):
        briefing.briefing(synthetic_con, **options)


def test_every_label_to_record_reads_back_as_what_it_means():
    codes = {(row.vocabulary, row.label): row.code for row in lookup().itertuples()}
    vocabulary = {"Outcome": "outcome", "Support needed": "category", "Urgency": "urgency",
                  "Data-protection query": "dp_query"}
    labels = briefing.record_labels()
    for heading, rows in labels.items():
        read_back = [codes[(vocabulary[heading], normalise(label))] for label, _ in rows]
        assert len(set(read_back)) == len(rows), f"two {heading} labels read back the same"
    assert [codes[("outcome", normalise(label))] for label, _ in labels["Outcome"]][-2:] == [
        "do_not_call", "deceased_moved"]


def test_the_page_carries_the_contact_the_purpose_and_the_rules(directory, tmp_path):
    with pytest.raises(InputError, match="call_purpose must be one or two sentences"):
        settings.set(directory, "call_purpose", "x", actor="ana")
    settings.set(directory, "call_purpose", "to see how members are & who needs a hand.", actor="ana")
    path = briefing.write_briefing(directory, tmp_path / "b.html", branch="Ashcombe", round="round 3")
    html = path.read_text(encoding="utf-8")
    assert html.count("privacy@ashcombe-labour.example.org") == 3  # how we got it, complaints, report it
    css = re.sub(r"\\([0-9a-f]+) ", lambda m: chr(int(m[1], 16)), html)  # the footer is a CSS string
    assert "Questions about data: privacy@ashcombe-labour.example.org" in css
    assert "to see how members are &amp; who needs a hand." in html  # their words, escaped, one stop
    assert "hand.." not in html
    for words in ("Report it:", "Shred it:", "Secure it:", "Please don't call me again",
                  "How did you get my number?", "How do I complain?", "Call Back Later", "Do Not Call",
                  "Mental Health", "round 3", "Northvale Labour Party"):
        assert words.replace("'", "&#39;") in html or words in html, words
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_briefing_holds_no_identity(directory, tmp_path):
    path = briefing.write_briefing(directory, tmp_path / "b.html", branch="Ashcombe")
    # Contact details of services and the dp team are meant to be there; everything else is scanned.
    contacts = [c for (c,) in directory.execute("SELECT contact FROM services").fetchall() if c]
    safe = ["privacy@ashcombe-labour.example.org", *sorted(contacts, key=len, reverse=True)]
    text = path.read_text(encoding="utf-8")
    own = {w.lower() for w in WORD.findall(briefing.render_briefing(
        briefing.briefing(directory, branch="Ashcombe")))}  # fmt: skip
    assert scan_release(directory, [path], known_safe=safe, allowed_words=frozenset(own)) == []
    people = directory.execute("SELECT first_name, last_name, phone, email FROM identities").fetchall()
    for person in people:
        assert f"{person[0]} {person[1]}" not in text
        assert all(value not in text for value in person[2:] if value)


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils is not installed")
@needs_chromium
def test_the_pdf_prints_on_a4_and_cuts_nothing_off(directory, tmp_path):
    pdf = briefing.write_briefing(directory, tmp_path / "b.pdf", branch="Ashcombe", round="round 3")
    info = subprocess.run([shutil.which("pdfinfo"), str(pdf)], check=True, capture_output=True, text=True)
    assert "(A4)" in info.stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))
    text = subprocess.run([shutil.which("pdftotext"), str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    flat = re.sub(r"\s+", "", text)
    for page in range(1, pages + 1):
        assert f"Page {page} of {pages}" in text
    for name in _names(briefing.briefing(directory, branch="Ashcombe")):
        assert re.sub(r"\s+", "", name) in flat, f"{name} is cut off"
    assert "End1" in text and "end2@example.org" in flat  # the ends of the longest cells survive
    assert "Secure it:" in text and "Data-protection query" in text  # the last sections are there


def test_cli_writes_the_briefing(synthetic_store, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", DEMO_PASSPHRASE)
    out = tmp_path / "briefing.html"
    assert main(["briefing", "--db", str(synthetic_store), "--branch", "Ashcombe", "--out", str(out)]) == 0
    assert "no member's data" in capsys.readouterr().out and "Ashcombe Good Neighbours" in out.read_text()
    assert main(["briefing", "--db", str(synthetic_store), "--branch", "Ashcombe", "--out",
                 str(tmp_path / "b.docx")]) == 1
    assert "Supported formats: .html, .pdf" in capsys.readouterr().err
    assert main(["briefing", "--db", str(synthetic_store), "--branch", "Ashcombe", "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_a_briefing_is_not_a_list(directory, tmp_path):
    before = directory.execute("SELECT count(*) FROM lists").fetchone()[0]
    briefing.write_briefing(directory, Path(tmp_path / "b.html"), branch="Ashcombe")
    assert directory.execute("SELECT count(*) FROM lists").fetchone()[0] == before

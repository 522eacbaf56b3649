"""The report builder on a hand-made store whose answers are known, the release scan, the risk gate
on real extracts, the manifest golden file, and bad input through the real CLI."""

from __future__ import annotations

import io
import json
import re
import stat
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from workbench import reports
from workbench.cli import main
from workbench.errors import DisclosureError, InputError
from workbench.privacy import pseudonymise
from workbench.reports import disclosure
from workbench.store import db, snapshot, snapshot_file

GOLDEN = Path(__file__).parent / "data" / "report_manifest.json"
AS_OF = "2020-05-01"
BRANCHES = {"Alder": ["Ashby", "Ward End"], "Birch": ["Beckton", "Brook"]}
# Surnames include words a report uses ("Ward", "Brook"): those alone are not a leak, a full name is.
FIRST = ["Zebedee", "Quintessa", "Orlaith", "Thaddeus", "Ysolde"]
LAST = ["Quillfeather", "Ward", "Brook", "Marchbanks", "Vexley"]


def _populate(con, *, ward_names: dict[str, list[str]] | None = None) -> None:
    """120 members: per branch, two age bands x three need states x 10 people, spread over wards,
    postcode sectors and two weeks of April 2020; one caller pseudonym per ward; a note on some calls."""
    branches = ward_names or BRANCHES
    members, identities, calls, call_needs = [], [], [], []
    number = 0
    for b, (branch, wards) in enumerate(branches.items()):
        for age in (40, 70):
            for state in ("none", "food", "not asked"):
                for i in range(10):
                    number += 1
                    key = f"mk{number:04d}"
                    ward = wards[i % 2]
                    members.append((key, branch, ward, f"ZZ{b + 1} {i % 5}AB", age))
                    identities.append(
                        (
                            key,
                            f"HM{number:06d}",
                            FIRST[i % 5],
                            LAST[(i + number) % 5],
                            f"+4477009{number:05d}",
                            f"person{number}@example.com",
                            f"{number} Lane",
                        )
                    )
                    called = datetime(2020, 4, 6 + 7 * (i % 2), 10, number % 60)
                    outcome = "no_answer" if state == "not asked" else "answered"
                    note = "Lives alone since spring, daughter visits on Sundays" if i == 0 else None
                    calls.append(
                        (
                            f"CL{number:05d}",
                            key,
                            "R1",
                            f"C{b}{i % 2}",
                            called,
                            outcome,
                            3 if outcome == "answered" else None,
                            state == "food",
                            "high" if state == "food" else None,
                            age == 70,   # volunteers come in tens: volunteer is a quasi-identifier
                            note,
                        )
                    )
                    if state == "food":
                        call_needs.append((f"CL{number:05d}", "food"))
    con.executemany(
        "INSERT INTO members (member_key, branch, ward, postcode, age, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, now(), now())",
        members,
    )
    con.executemany(
        "INSERT INTO identities (member_key, membership_number, first_name, last_name, phone, email, "
        "address) VALUES (?, ?, ?, ?, ?, ?, ?)",
        identities,
    )
    con.executemany(
        "INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome, wellbeing, "
        "needs_support, urgency, keen_to_volunteer, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        calls,
    )
    con.executemany("INSERT INTO call_needs VALUES (?, ?)", call_needs)
    con.execute(
        "INSERT INTO services (service_id, name, category, areas, contact, aliases) "
        "VALUES ('S1', 'Alder Pantry', 'food', ['Ashby'], 'pantry@example.org', [])"
    )
    con.execute("INSERT INTO call_services VALUES ('CL00002', 'S1', 'Alder Pantry')")


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    """Where releases go: a folder of their own, so "nothing was written" can be checked exactly."""
    folder = tmp_path / "releases"
    folder.mkdir()
    return folder


@pytest.fixture
def store(con):
    _populate(con)
    return con


def _csv(path: Path) -> pd.DataFrame:
    """A released CSV without its notice lines, every cell as text."""
    lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines() if not line.startswith('"#')]
    return pd.read_csv(io.StringIO("\n".join(lines)), dtype=str, keep_default_na=False)


def _files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8-sig") for p in sorted(folder.iterdir())}


def test_report_writes_every_file_private_and_whole(store, outdir):
    result = reports.build(store, outdir / "out", actor="tester", as_of=AS_OF)
    names = sorted(p.name for p in (outdir / "out").iterdir())
    assert names == sorted(
        [
            f"{t}.csv"
            for t in (
                "outreach_by_period",
                "outreach_by_branch",
                "outreach_by_ward",
                "outcome_mix",
                "needs_by_ward",
                "waiting",
                "services_usage",
                "signposting_gaps",
            )
        ]
        + ["report.html", "manifest.json"]
    )
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (outdir / "out").iterdir())
    assert result.released and not [p for p in outdir.iterdir() if "staging" in p.name]
    page = (outdir / "out" / "report.html").read_text(encoding="utf-8")
    # Offline: plotly.js is inline, and no script is fetched from anywhere.
    assert page.count("<script") >= 2 and not re.search(r"<script[^>]*\bsrc=", page)
    assert "How this was protected" in page and page.count('class="plotly-graph-div"') == 6


def test_tables_have_the_known_answers(store, outdir):
    reports.build(store, outdir / "out", actor="tester", as_of=AS_OF)
    branch = _csv(outdir / "out" / "outreach_by_branch.csv")
    # 60 members called per branch, 40 reached; 120 and 80 in total: all multiples of 5 already.
    assert branch.set_index("branch").loc["Total", ["members_called", "reached"]].tolist() == ["120", "80"]
    assert branch.set_index("branch").loc["Alder", "contact_rate_%"] == "66.7"
    waiting = _csv(outdir / "out" / "waiting.csv").set_index("urgency")
    assert waiting.loc["high", "Total"] == "40"  # 40 food needs, all high, none resolved
    gaps = _csv(outdir / "out" / "signposting_gaps.csv")
    # The pantry covers Ashby only: food in the other three wards is a gap, with 10 members each.
    food = gaps[gaps["category"] == "food"].set_index("ward")["members"].to_dict()
    assert food == {"Beckton": "10", "Brook": "10", "Ward End": "10"}


def test_no_identity_in_any_file_written(store, outdir):
    reports.build(
        store,
        outdir / "out",
        actor="tester",
        as_of=AS_OF,
        extract=True,
        area="branch",
        period="quarter",
        needs_detail="any",
    )
    # plotly.js itself is inlined whole; it is the library's code, not data, so it is left out here.
    text = "\n".join(_files(outdir / "out").values()).replace(get_plotlyjs(), "")
    identities = store.execute(
        "SELECT membership_number, first_name || ' ' || last_name, phone, email, address FROM identities"
    ).fetchall()
    lowered = text.lower()
    for row in identities:
        for value in row:
            assert value.lower() not in lowered
    assert "quillfeather" not in lowered and "marchbanks" not in lowered
    assert "daughter visits" not in lowered and not re.search(r"\bc[01][01]\b", lowered)
    assert "mk0001" not in lowered  # no member_key either: the extract carries release pseudonyms


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ("Orlaith Quillfeather,12", "full name"),
        ("zebedee ward", "full name"),  # "Ward" alone is a word the report uses; with a first name, a person
        ("ward,Quillfeather", "surname"),
        ("id HM000007", "membership number"),
        ("call 07700 900123", "phone number"),
        ("+447700900001", "phone number"),
        ("person1@example.com", "email"),
        ("ZZ1 0AB", "full postcode"),
        ("note: lives alone since spring, daughter visits on sundays", "call note"),
        ("caller C01", "caller id"),
    ],
)
def test_the_scan_names_the_kind_and_file_never_the_value(store, outdir, content, kind):
    leaked = outdir / "table.csv"
    leaked.write_text(f"header\n{content}\n", encoding="utf-8")
    with pytest.raises(DisclosureError) as caught:
        disclosure.check_release(
            store, [leaked], allowed_words=frozenset({"ward", "note", "call", "caller", "id"})
        )
    message = str(caught.value)
    assert kind in message and "table.csv" in message
    assert content not in message and "Quillfeather" not in message and "zebedee" not in message.lower()


def test_common_words_that_are_surnames_are_not_leaks_on_their_own(store, outdir):
    page = outdir / "ok.csv"
    page.write_text("ward,brook\nWard End,10\nBrook,5\n", encoding="utf-8")
    assert disclosure.scan_release(store, [page], allowed_words=frozenset({"ward", "end", "brook"})) == []


def test_a_scan_finding_releases_nothing_and_is_audited(con, outdir):
    # A ward named like a member: the report would print a full name, so nothing may leave.
    _populate(con, ward_names={"Alder": ["Orlaith Quillfeather", "Ashby"], "Birch": ["Beckton", "Brook"]})
    with pytest.raises(DisclosureError, match="full name in .*csv"):
        reports.build(con, outdir / "out", actor="tester", as_of=AS_OF)
    assert list(outdir.iterdir()) == []
    assert (
        con.execute("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()[0]
        == "report.blocked"
    )
    assert con.execute("SELECT count(*) FROM keys WHERE name LIKE 'release:%'").fetchone()[0] == 0


def test_the_gate_blocks_a_specific_extract_and_says_what_to_try(store, outdir):
    with pytest.raises(DisclosureError) as caught:
        reports.build(store, outdir / "out", actor="tester", as_of=AS_OF, extract=True)
    message = str(caught.value)
    assert "(area, age_band, period, outcome, needs, volunteer) has" in message
    assert "--area district" in message
    assert "ZZ" not in message and "W15" not in message  # a group is never named by its values
    assert "Zebedee" not in message and not (outdir / "out").exists()
    action, counts = store.execute(
        "SELECT action, counts FROM audit_log ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert action == "report.blocked" and json.loads(counts)["k_min"] < 8


def test_the_gate_passes_a_coarse_extract_with_pseudonyms_per_release(store, outdir):
    coarse = {"area": "branch", "period": "quarter", "needs_detail": "any", "as_of": AS_OF, "actor": "t"}
    first = reports.build(store, outdir / "one", extract=True, **coarse)
    assert first.metrics["k_min"] == 10 and first.metrics["l_min"] == 2 and first.metrics["passed"]
    extract = _csv(outdir / "one" / "extract.csv")
    assert list(extract.columns) == [
        "pseudonym",
        "area",
        "age_band",
        "period",
        "outcome",
        "needs",
        "volunteer",
    ]
    assert len(extract) == 120 and extract["pseudonym"].str.fullmatch(r"[0-9a-f]{16}").all()
    reports.build(store, outdir / "two", extract=True, **coarse)
    linked = reports.build(store, outdir / "three", extract=True, link_to=first.release_id, **coarse)
    pseudonyms = [set(_csv(outdir / n / "extract.csv")["pseudonym"]) for n in ("one", "two", "three")]
    assert not pseudonyms[0] & pseudonyms[1]  # two releases cannot be linked ...
    assert pseudonyms[0] == pseudonyms[2]  # ... unless the organiser asks
    assert linked.manifest["extract"]["linked_to"] == first.release_id
    # An extract over an overlapping but different window is a slice of the first: refused unless
    # the organiser gives a reason, which the ledger keeps.
    with pytest.raises(DisclosureError, match="its extract overlaps release"):
        reports.build(store, outdir / "four", extract=True, branch="Alder", **coarse)
    reports.build(store, outdir / "four", extract=True, branch="Alder", allow_overlap="audit sample",
                  **coarse)
    assert json.loads(store.execute("SELECT counts FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()[0])[
        "allow_overlap"] == "audit sample"
    audited = store.execute("SELECT count(*) FROM audit_log WHERE action = 'report.release'").fetchone()[0]
    assert audited == 4


STATES = ("none", "food", "not asked")


def _call_again_in_may(con) -> None:
    """A second round for all 120 members, in May. In each block of ten who shared April's need state,
    five keep it and five move to the next: every May group is ten again, but the pairs of April and
    May states are groups of five."""
    rows = con.execute("SELECT member_key, age FROM members ORDER BY member_key").fetchall()
    calls, call_needs = [], []
    for number, (key, age) in enumerate(rows):
        state, i = (number % 30) // 10, number % 10
        may = STATES[state if i < 5 else (state + 1) % 3]
        outcome = "no_answer" if may == "not asked" else "answered"
        calls.append((f"MY{number:05d}", key, "R2", "C9", datetime(2020, 5, 11 + 7 * (i % 2), 10),
                      outcome, 3 if outcome == "answered" else None, may == "food",
                      "high" if may == "food" else None, age == 70))
        if may == "food":
            call_needs.append((f"MY{number:05d}", "food"))
    con.executemany("INSERT INTO calls (call_id, member_key, round, caller, called_at, outcome, wellbeing, "
                    "needs_support, urgency, keen_to_volunteer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", calls)
    con.executemany("INSERT INTO call_needs VALUES (?, ?)", call_needs)


def test_a_linked_extract_is_judged_with_the_extracts_it_joins(store, outdir):
    # Each month's extract passes alone (groups of ten), but linked on their pseudonyms every member
    # has an April state and a May state, and those pairs come in groups of five: refused, audited.
    _call_again_in_may(store)
    coarse = {"area": "branch", "period": "quarter", "needs_detail": "any", "actor": "t"}
    april = reports.build(store, outdir / "april", extract=True, date_from="2020-04-01",
                          date_to="2020-04-30", as_of=AS_OF, **coarse)
    may = {"date_from": "2020-05-01", "date_to": "2020-05-31", "as_of": "2020-06-01", **coarse}
    alone = reports.build(store, outdir / "may-alone", extract=True, **may)
    assert april.metrics["passed"] and alone.metrics["passed"]
    with pytest.raises(DisclosureError, match=f"linked to {april.release_id}.*single people out") as refused:
        reports.build(store, outdir / "may", extract=True, link_to=april.release_id, **may)
    assert "fewer than 8 members" in str(refused.value) and not (outdir / "may").exists()
    action, counts = store.execute("SELECT action, counts FROM audit_log ORDER BY seq DESC LIMIT 1"
                                   ).fetchone()
    assert action == "report.blocked" and json.loads(counts)["reason"] == "linked history"
    # Linking the same month again joins the same records: nothing new to single anyone out.
    again = reports.build(store, outdir / "april-again", extract=True, link_to=april.release_id,
                          date_from="2020-04-01", date_to="2020-04-30", as_of=AS_OF, **coarse)
    assert again.manifest["extract"]["pseudonym"].endswith(f"release {april.release_id}'s key (linked)")
    assert "excluded_by_optouts" not in again.manifest["extract"]


def test_an_extract_is_never_linked_across_profiles(store, outdir):
    coarse = {"area": "branch", "period": "quarter", "needs_detail": "any", "as_of": AS_OF, "actor": "t"}
    internal = reports.build(store, outdir / "internal", extract=True, **coarse)
    with pytest.raises(DisclosureError, match="is internal and this one is public"):
        reports.build(store, outdir / "public", extract=True, profile="public",
                      link_to=internal.release_id, **coarse)
    with pytest.raises(InputError, match="no extract in the ledger"):
        reports.build(store, outdir / "tables", extract=True, link_to="R-nothing", **coarse)


def test_an_extract_over_changed_data_is_refused_whatever_the_reason(store, outdir):
    # A refresh of the same extract after an opt-out: the two files would differ by that member's row.
    from workbench.privacy import optouts

    coarse = {"area": "branch", "period": "quarter", "needs_detail": "any", "as_of": AS_OF, "actor": "t"}
    reports.build(store, outdir / "first", extract=True, **coarse)
    optouts.add(store, member_key="mk0001", actor="t", reason="asked_not_to_be_called")
    with pytest.raises(DisclosureError, match="data changed since.*subtract row by row"):
        reports.build(store, outdir / "refresh", extract=True, allow_overlap="weekly refresh", **coarse)
    # Tables are perturbed: the same scope again is a slice a reason may approve.
    reports.build(store, outdir / "tables", allow_overlap="tables after an opt-out", **coarse)


def test_public_profile_suppresses_under_ten_including_zeros(store, outdir):
    reports.build(store, outdir / "out", actor="tester", as_of=AS_OF, profile="public")
    needs_table = _csv(outdir / "out" / "needs_by_ward.csv")
    assert (needs_table["medicine"] == "*").all()  # all zeros: suppressed under ONS 10-5
    period = _csv(outdir / "out" / "outreach_by_period.csv")
    assert period["period"].tolist() == ["2020-04", "Total"]  # months, not weeks


def _charts(page: Path) -> dict[str, dict]:
    """Each chart on a report page: its div id -> the figure data plotly draws."""
    found = re.findall(r'Plotly\.newPlot\(\s*"(chart-[^"]+)",\s*(\[.*?\]),\s*\{', page.read_text(), re.S)
    return {div: json.loads(data) for div, data in found}


def test_charts_draw_the_released_numbers_with_suppressed_cells_as_gaps(store, outdir):
    reports.build(store, outdir / "out", actor="tester", as_of=AS_OF, profile="public")
    charts = _charts(outdir / "out" / "report.html")
    needs = _csv(outdir / "out" / "needs_by_ward.csv")
    total = needs[needs.iloc[:, 0] == "Total"].iloc[0]
    [bars] = charts["chart-needs_by_ward"]
    assert bars["type"] == "bar" and "medicine" in bars["x"]
    assert bars["y"] == [None if total[c] == "*" else int(total[c]) for c in bars["x"]]
    assert bars["y"][bars["x"].index("medicine")] is None  # suppressed: a gap, not an estimate
    period = _csv(outdir / "out" / "outreach_by_period.csv")
    shown = period[period["period"] != "Total"]
    for trace in charts["chart-outreach_by_period"]:
        column = trace["name"].replace(" ", "_")
        assert trace["x"] == shown["period"].tolist()
        assert trace["y"] == [None if v == "*" else int(v) for v in shown[column]]


def test_exact_counts_use_secondary_suppression(store, outdir):
    result = reports.build(store, outdir / "out", actor="tester", as_of=AS_OF, rounding=False)
    assert result.manifest["disclosure"]["secondary_suppression"] is True
    mix = _csv(outdir / "out" / "outcome_mix.csv")
    for _, row in mix.iterrows():
        assert (row == "*").sum() != 1


VOLATILE = ("release_id", "created_at", "workbench_version")


def _stable(manifest: dict) -> dict:
    data = {k: v for k, v in manifest.items() if k not in VOLATILE}
    data["files"] = [f["name"] for f in manifest["files"]]  # hashes carry the release id
    return data


def test_manifest_matches_the_golden_file(store, outdir):
    # Record keys come from a random secret per store; a fixed one makes the perturbed counts repeatable.
    pseudonymise.record_secret(store)
    store.execute("UPDATE keys SET secret = ? WHERE name = ?",
                  [b"golden" * 5 + b"!!", pseudonymise.RECORD_KEY_NAME])
    result = reports.build(
        store,
        outdir / "out",
        actor="tester",
        as_of=AS_OF,
        extract=True,
        area="branch",
        period="quarter",
        needs_detail="any",
    )
    written = json.loads((outdir / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert written == result.manifest and written["workbench_version"] == reports.version()
    got = _stable(written)
    if not GOLDEN.exists():
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.fail(f"Wrote {GOLDEN}; review it, commit it, and run the test again.")
    assert got == json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"branch": "Nowhere"}, 'Unknown branch "Nowhere". Known branches: Alder, Birch'),
        ({"date_from": "2020-05-01", "date_to": "2020-04-01"}, "later than --to"),
        ({"date_from": "2021-01-01", "date_to": "2021-02-01"}, "No calls from 2021-01-01 to 2021-02-01"),
        ({"date_from": "soon"}, "is not a date"),
        ({"profile": "secret"}, 'Unknown disclosure profile "secret"'),
        ({"area": "street", "extract": True}, 'Unknown area "street"'),
    ],
)
def test_bad_input_says_what_is_wrong_and_writes_nothing(store, outdir, options, expected):
    with pytest.raises(InputError) as caught:
        reports.build(store, outdir / "out", actor="tester", **options)
    assert expected in str(caught.value)
    assert list(outdir.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(store, outdir):
    (outdir / "out").mkdir()
    (outdir / "out" / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InputError, match="Choose a new --out folder"):
        reports.build(store, outdir / "out", actor="tester")
    assert _files(outdir / "out") == {"keep.txt": "mine"}


@pytest.fixture
def store_file(store_path):
    connection = db.connect(store_path, "correct horse battery staple")
    _populate(connection)
    connection.close()
    return store_path


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--branch", "Nowhere"], "Unknown branch"),
        (["--from", "2020-05-01", "--to", "2020-04-01"], "later than --to"),
        (["--from", "2021-01-01"], "No calls"),
    ],
)
def test_cli_bad_input_is_one_line_without_traceback(
    store_file, outdir, capsys, monkeypatch, extra, expected
):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "correct horse battery staple")
    rc = main(["report", "--db", str(store_file), "--out", str(outdir / "out"), *extra])
    err = capsys.readouterr().err
    assert rc == 1 and expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (outdir / "out").exists()


def test_cli_report_and_keys_rotate(store_file, outdir, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "correct horse battery staple")
    rc = main(
        [
            "report",
            "--db",
            str(store_file),
            "--out",
            str(outdir / "out"),
            "--extract",
            "--area",
            "branch",
            "--period",
            "quarter",
            "--needs",
            "any",
            "--by",
            "ana",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "extract.csv" in out and "k-min 10" in out
    release_id = re.search(r"Released report (\S+)", out).group(1)
    assert main(["keys", "list", "--db", str(store_file)]) == 0
    assert release_id in capsys.readouterr().out
    assert main(["keys", "rotate", "--db", str(store_file), "--by", "ana"]) == 0
    assert "Retired 1 release key" in capsys.readouterr().out
    rc = main(
        [
            "report",
            "--db",
            str(store_file),
            "--out",
            str(outdir / "again"),
            "--extract",
            "--area",
            "branch",
            "--period",
            "quarter",
            "--needs",
            "any",
            "--link-to",
            release_id,
        ]
    )
    assert rc == 1 and "retired" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["report", "keys"])
def test_help_ends_with_a_worked_example(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "Example:\n  workbench " + command in capsys.readouterr().out


def test_no_identity_in_a_report_from_the_synthetic_store(synthetic_con, outdir):
    reports.build(synthetic_con, outdir / "out", actor="tester", profile="public")
    text = "\n".join(_files(outdir / "out").values()).replace(get_plotlyjs(), "").lower()
    rows = synthetic_con.execute(
        "SELECT membership_number, first_name || ' ' || last_name, phone, email FROM identities"
    ).fetchall()
    leaked = [i for i, row in enumerate(rows) for value in row if value and value.lower() in text]
    assert leaked == []
    notes = [
        r[0]
        for r in synthetic_con.execute("SELECT DISTINCT notes FROM calls WHERE length(notes) > 30").fetchall()
    ]
    assert notes and not [n for n in notes if n.lower() in text]
    assert not disclosure.PHONE_PATTERNS[0].search(text) and not disclosure.EMAIL_PATTERN.search(text)


def _store_file(con) -> Path:
    return Path(con.execute(snapshot.STORE_PATH_QUERY).fetchone()[0])


def test_preview_shows_the_protected_tables_and_writes_nothing(synthetic_con, tmp_path):
    from workbench import privacy

    # Whether an analysis snapshot is built here must not depend on the tests run before this one.
    snapshot.clear()
    before, files = len(privacy.log(synthetic_con)), set(tmp_path.rglob("*"))
    shown = reports.preview(synthetic_con, profile="public", extract=True, area="branch", period="quarter")
    assert shown.tables and shown.metrics is not None and shown.metrics.k_min >= 1
    assert all(t.frame is not None for t in shown.tables)
    assert len(privacy.log(synthetic_con)) == before
    # No release file: only the analysis snapshot any look at the store keeps beside it.
    kept = snapshot_file.path_for(_store_file(synthetic_con))
    assert set(tmp_path.rglob("*")) - {kept} == files


def test_a_ward_name_two_branches_share_is_counted_within_each_branch(con, outdir):
    # Ward names repeat across councils: both branches have a "Central" ward.
    _populate(con, ward_names={"Alder": ["Central", "Ward End"], "Birch": ["Central", "Brook"]})
    reports.build(con, outdir / "out", actor="tester", as_of=AS_OF, rounding=False)
    branch = _csv(outdir / "out" / "outreach_by_branch.csv").set_index("branch")
    # 60 members called in each branch (perturbation moves a count by 2 at most), not 90 and 30.
    assert all(abs(int(branch.loc[b, "members_called"]) - 60) <= 2 for b in ("Alder", "Birch"))
    ward = _csv(outdir / "out" / "outreach_by_ward.csv")
    central = ward[ward["ward"] == "Central"].set_index("branch")["members_called"]
    assert sorted(central.index) == ["Alder", "Birch"]
    assert all(abs(int(n) - 30) <= 2 for n in central)


def test_every_period_of_the_window_has_a_row_whether_or_not_it_had_calls(store, outdir):
    # Calls on 6 and 13 April only: a row for just those weeks would say the others had none.
    reports.build(store, outdir / "out", actor="tester", as_of=AS_OF, date_from="2020-03-30",
                  date_to="2020-04-26")
    period = _csv(outdir / "out" / "outreach_by_period.csv")
    assert period["period"].tolist() == ["2020-W14", "2020-W15", "2020-W16", "2020-W17", "Total"]
    quiet = period.set_index("period").loc[["2020-W14", "2020-W17"], ["attempts", "members_called"]]
    assert (quiet == "0").all().all()  # no suppressed count shares their line: zeros stay zeros

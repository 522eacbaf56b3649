"""The exports of the tools organisers use load as they come: recognised by their headers, matched to
members by whatever id they carry, with their own labels, dates and do-not-call flags.

Every file is written by workbench.synthetic.tool_exports from the tiny synthetic organisation, in
the tool's real shape; nothing is mocked and no file is edited by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest

from workbench import ingest
from workbench.analysis import needs
from workbench.errors import InputError
from workbench.ingest import ImportRejected, profiles
from workbench.lists import followups
from workbench.synthetic import tool_exports, write_exports


@pytest.fixture(scope="module")
def tools(tmp_path_factory, tiny_org) -> dict[str, Path]:
    """Every tool's export of the tiny organisation, written once for this module."""
    return tool_exports.write_tool_exports(tiny_org, tmp_path_factory.mktemp("tools"))


def as_text_copy(path: Path, tmp_path: Path) -> Path:
    # VAN's ".xls" is UTF-16 text; reading the .xls name is the file reader's job (issue 12,
    # "Encodings and containers"). Until that lands, the profile is tested on the same bytes as .txt.
    copy = tmp_path / (path.stem + ".txt")
    shutil.copyfile(path, copy)
    return copy


@pytest.mark.parametrize(
    ("name", "kind", "profile"),
    [
        ("nationbuilder_people", "members", "nationbuilder_people"),
        ("nationbuilder_contacts", "calls", "nationbuilder_contacts"),
        ("callhub", "calls", "callhub"),
        ("council_log", "calls", "council_log"),
        ("plain", "calls", "plain"),
        ("spoke", "members", "spoke"),
    ],
)
def test_each_format_is_recognised_by_its_headers(tools, name, kind, profile):
    with pd.option_context("display.width", 200):
        headers = pd.read_csv(tools[name], nrows=0, encoding="cp1252").columns.tolist()
    assert profiles.recognise(kind, headers).name == profile


def test_profiles_are_listed_with_what_identifies_them():
    listing = {name: (kinds, identified) for name, _title, kinds, identified in profiles.listing()}
    assert listing["callhub"] == ("calls", "contact, disposition, campaign_name")
    assert listing["plain"][1] == "anything no other profile claims"
    assert set(listing) >= {"nationbuilder_people", "van", "van_survey", "van_us", "spoke", "council_log"}


def test_an_unknown_or_wrong_kind_of_profile_is_refused(con, tools):
    with pytest.raises(InputError, match='No format profile "callhubb". Profiles: nationbuilder_people'):
        ingest.import_calls(con, tools["callhub"], profile="callhubb")
    with pytest.raises(InputError, match="is for calls imports, not members"):
        ingest.import_members(con, tools["nationbuilder_people"], profile="callhub")


def test_nationbuilder_do_not_call_puts_members_on_the_register_and_off_every_list(
    con, tools, tiny_org, tmp_path
):
    people = pd.read_csv(tools["nationbuilder_people"], dtype=str)
    marked = set(people.loc[people["do_not_call"] == "true", "membership_number"])
    assert marked, "the fixture marks some people do-not-call"

    result = ingest.import_members(con, tools["nationbuilder_people"], actor="ana")
    assert result.profile == "nationbuilder_people"
    assert result.source_optouts == len(marked)
    assert "marked do-not-call in the file were added to the opt-out register" in result.summary()
    # Leading apostrophes are gone; NationBuilder ids are kept as aliases on the identity row.
    row = con.execute(
        "SELECT phone, nationbuilder_id FROM identities WHERE membership_number = ?",
        [people["membership_number"].iloc[0]],
    ).fetchone()
    assert row[0].startswith("+44") and row[1] == people["nationbuilder_id"].iloc[0].lstrip("'")
    entries = con.execute(
        "SELECT i.membership_number, o.source, o.scope FROM optouts o JOIN identities i USING (member_key)"
    ).fetchdf()
    assert set(entries["membership_number"]) == marked
    assert set(entries["source"]) == {"import"} and set(entries["scope"]) == {"calls"}
    audit = con.execute("SELECT counts FROM audit_log WHERE action = 'optout.add'").fetchone()[0]
    assert '"source":"import"' in audit and result.sha256 in audit

    # Re-importing the same file changes nothing; a re-export of it adds no second entry.
    again = ingest.import_members(con, tools["nationbuilder_people"], actor="ana")
    assert again.already_imported
    copy = tmp_path / "people-again.csv"
    copy.write_bytes(tools["nationbuilder_people"].read_bytes() + b"\n")
    assert ingest.import_members(con, copy, actor="ana").source_optouts == 0

    # From then on they are on no list: not the triage queue, not the next round.
    calls = write_exports(tiny_org, tmp_path / "std")[1]
    ingest.import_calls(con, calls, actor="ana")
    keys = dict(con.execute("SELECT membership_number, member_key FROM identities").fetchall())
    marked_keys = {keys[n] for n in marked}
    queued = needs.queue(con)
    assert not marked_keys & set(queued["member_key"])
    next_round = followups.compose_next_round(con, checkin_after_days=1)
    assert len(next_round.rows) and not marked_keys & set(next_round.rows["member_key"])


def test_callhub_matches_members_by_phone_and_first_name_and_refuses_a_shared_line(con, tools):
    ingest.import_members(con, tools["callhub_members"], actor="ana")
    report = pd.read_csv(tools["callhub"], dtype=str)
    with pytest.raises(ImportRejected) as rejected:
        ingest.import_calls(con, tools["callhub"], mapping=tools["callhub_mapping"], actor="ana")
    problems = rejected.value.result.problems
    # Only the call to the shared household landline is refused, naming its row, never its number.
    assert problems["row"].tolist() == [len(report) + 1]
    assert problems["column"].tolist() == ["contact"]
    assert "belongs to 2 members with this first name" in problems["problem"].iloc[0]
    assert problems["value"].iloc[0] == "(phone withheld, 12 characters)"
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 0

    result = ingest.import_calls(
        con, tools["callhub"], mapping=tools["callhub_mapping"], actor="ana", skip_invalid=True
    )
    assert (result.profile, result.loaded, result.rejected) == ("callhub", len(report) - 1, 1)
    assert con.execute("SELECT DISTINCT round FROM calls").fetchall() == [("Spring welfare calls",)]
    outcomes = dict(con.execute("SELECT outcome, count(*) FROM calls GROUP BY 1").fetchall())
    expected = (
        report["disposition"]
        .iloc[:-1]
        .map(
            {
                **{k: v for v, k in tool_exports.CALLHUB.items()},
                "Not interested": "refused",
                "Moved away": "deceased_moved",
            }
        )
    )
    assert outcomes == expected.value_counts().to_dict()
    # A DO_NOT_CALL disposition is an opt-out at once (source "call").
    assert result.optouts_recorded == (report["disposition"].iloc[:-1] == "DO_NOT_CALL").sum()


def test_survey_answers_are_read_through_the_mapping_files_answers_table(con, tools):
    ingest.import_members(con, tools["callhub_members"], actor="ana")
    ingest.import_calls(con, tools["callhub"], mapping=tools["callhub_mapping"], skip_invalid=True)
    report = pd.read_csv(tools["callhub"], dtype=str).iloc[:-1]
    answered = report[tool_exports.CATEGORY_QUESTION].dropna()
    wanted = {v: k for k, v in tool_exports.CATEGORY_ANSWERS.items()}
    expected = sorted(wanted[a] for cell in answered for a in cell.split("; "))
    held = sorted(r[0] for r in con.execute("SELECT category FROM call_needs").fetchall())
    assert held == expected and "medicine" in held
    # Yes/no-like answers need no table: "Yes, happy to help" is yes, "No thanks" is no.
    keen = con.execute(
        "SELECT count(*) FILTER (keen_to_volunteer), count(keen_to_volunteer) FROM calls"
    ).fetchone()
    column = report[tool_exports.VOLUNTEER_QUESTION].dropna()
    assert keen == ((column == "Yes, happy to help").sum(), len(column))


def test_an_answers_table_that_maps_to_nothing_says_what_is_allowed(con, tools, tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        f'[columns]\nneed_categories = "{tool_exports.CATEGORY_QUESTION}"\n'
        '[answers.need_categories]\n"Food shopping" = "groceries"\n'
    )
    with pytest.raises(InputError, match='"Food shopping" maps to "groceries", which is not one of: food'):
        ingest.import_calls(con, tools["callhub"], mapping=mapping, dry_run=True)


def test_van_contact_history_matches_by_van_id_with_last_first_names(con, tools, tmp_path):
    ingest.import_members(con, tools["members_with_van_ids"], actor="ana")
    van = as_text_copy(tools["van"], tmp_path)
    result = ingest.import_calls(con, van, actor="ana")
    history = pd.read_csv(van, sep="\t", encoding="utf-16", dtype=str)
    assert (result.profile, result.loaded) == ("van", len(history))
    assert any("one round named" in n for n in result.notes)
    outcomes = dict(con.execute("SELECT outcome, count(*) FROM calls GROUP BY 1").fetchall())
    assert (
        outcomes
        == history["Result"].map({v: k for k, v in tool_exports.VAN.items()}).value_counts().to_dict()
    )
    # Day first: 30/03/2020 is 30 March.
    assert con.execute("SELECT min(called_at)::DATE FROM calls").fetchone()[0] == dt.date(2020, 3, 30)


def _survey(tools) -> pd.DataFrame:
    return pd.read_csv(tools["van_survey"], sep="\t", encoding="utf-16", dtype=str)


def _expected_needs(survey: pd.DataFrame) -> list[str]:
    wanted = {v: k for k, v in tool_exports.CATEGORY_ANSWERS.items()}
    categories = survey[survey["Survey Question Name"] == tool_exports.CATEGORY_QUESTION]
    return sorted(wanted[a] for a in categories["Survey Response"])


def _held_needs(con) -> list[str]:
    return sorted(r[0] for r in con.execute("SELECT category FROM call_needs").fetchall())


def test_van_survey_answers_complete_the_calls_of_the_contact_history(con, tools):
    """The long file (one row per answer, UTF-16 text named .xls) becomes one row per contact; each
    contact's answers land on the call its contact history brought in, and add no call."""
    ingest.import_members(con, tools["members_with_van_ids"], actor="ana")
    ingest.import_calls(con, tools["van"], actor="ana")
    calls_before = con.execute("SELECT count(*) FROM calls").fetchone()[0]
    assert con.execute("SELECT count(needs_support) FROM calls").fetchone()[0] == 0  # no answers yet

    survey = _survey(tools)
    result = ingest.import_calls(con, tools["van_survey"], mapping=tools["callhub_mapping"], actor="ana")
    contacts = survey.drop_duplicates(["VANID", "Date Canvassed", "Canvassed By"])
    assert result.profile == "van_survey"
    assert (result.rows_read, result.loaded, result.updated) == (len(contacts), 0, len(contacts))
    assert f"{len(survey):,} answer rows were read as one row per contact" in result.summary()
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == calls_before

    support = survey[survey["Survey Question Name"] == tool_exports.SUPPORT_QUESTION]
    held = dict(con.execute("SELECT needs_support, count(*) FROM calls GROUP BY 1").fetchall())
    assert (held.get(True, 0), held.get(False, 0)) == (
        (support["Survey Response"] == "Yes").sum(), (support["Survey Response"] == "No").sum()
    )
    # Multi-choice: a contact's two rows for one question are two needs on one call.
    assert _held_needs(con) == _expected_needs(survey)
    assert con.execute(
        "SELECT count(*) FROM (SELECT call_id, category FROM call_needs GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()[0] == 0
    # Each call still once, and the held outcome kept: the answers never overwrite.
    assert con.execute("SELECT count(*) - count(DISTINCT call_id) FROM calls").fetchone()[0] == 0
    kept = "SELECT count(*) FROM calls WHERE needs_support AND outcome <> 'answered'"
    assert con.execute(kept).fetchone()[0] == 0


def test_van_survey_answers_alone_make_answered_calls(con, tools):
    ingest.import_members(con, tools["members_with_van_ids"], actor="ana")
    survey = _survey(tools)
    result = ingest.import_calls(
        con, tools["van_survey"], mapping=tools["callhub_mapping"], actor="ana", round_name="Spring"
    )
    contacts = survey.drop_duplicates(["VANID", "Date Canvassed", "Canvassed By"])
    assert (result.loaded, result.updated, result.rejected) == (len(contacts), 0, 0)
    assert "every contact's outcome is answered" in result.summary()
    assert con.execute("SELECT DISTINCT outcome, round FROM calls").fetchall() == [("answered", "Spring")]
    assert _held_needs(con) == _expected_needs(survey)


def test_a_survey_question_named_like_a_column_is_refused_by_name(con, tools, tmp_path):
    survey = _survey(tools)
    survey.loc[survey.index[0], "Survey Question Name"] = "vanid"
    hostile = tmp_path / "survey.txt"
    survey.to_csv(hostile, sep="\t", index=False, encoding="utf-16")
    with pytest.raises(InputError, match='has the same name as a column of the file \\("vanid"\\)'):
        ingest.import_calls(con, hostile, dry_run=True)


def test_van_us_reads_month_first_only_when_told(con, tools, tiny_org, tmp_path):
    ingest.import_members(con, tools["members_with_van_ids"], actor="ana")
    us = tool_exports.van_contact_history(tiny_org, tmp_path / "van_us.txt", month_first=True)
    with pytest.raises(ImportRejected, match="Date Canvassed"):
        ingest.import_calls(con, us)  # 3/30/2020 is no day-first date
    result = ingest.import_calls(con, us, profile="van_us")
    assert result.profile == "van_us"
    assert con.execute("SELECT min(called_at)::DATE FROM calls").fetchone()[0] == dt.date(2020, 3, 30)


def test_a_van_id_no_member_holds_is_a_row_problem(con, tools, tmp_path):
    van = as_text_copy(tools["van"], tmp_path)
    with pytest.raises(ImportRejected) as rejected:
        ingest.import_calls(con, van)
    problem = rejected.value.result.problems["problem"].iloc[0]
    assert 'its VAN id (column "Voter File VANID") matches no member' in problem


def test_council_log_combines_date_and_time_columns_and_warns_of_an_unreadable_time(con, tools, tiny_org):
    from workbench.synthetic import write_exports as _  # noqa: F401 - the members come from the same org

    members = pd.DataFrame({"Membership Number": tiny_org.members["membership_number"]})
    path = tools["council_log"].with_name("council_members.csv")
    members.to_csv(path, index=False)
    ingest.import_members(con, path)
    result = ingest.import_calls(con, tools["council_log"], actor="ana")
    assert result.profile == "council_log"
    assert any('1 time in column "Time of call" could not be read (rows 3)' in w for w in result.warnings)
    log = pd.read_csv(tools["council_log"], dtype=str, encoding="cp1252")
    held = con.execute(
        "SELECT i.membership_number, c.called_at FROM calls c JOIN identities i USING (member_key)"
    ).fetchdf()
    once = log[~log["Resident ref"].duplicated(keep=False)].reset_index(drop=True)
    when = dict(zip(held["membership_number"], held["called_at"], strict=True))
    time = once["Time of call"]
    shapes = {"%H:%M": time.str.contains(":"), "%H.%M": time.str.contains(r"\."), "%H%M": time.str.isdigit()}
    for shape, rows in shapes.items():
        assert rows.any()
        for ref, written in zip(once.loc[rows, "Resident ref"], time[rows], strict=True):
            assert when[ref].strftime(shape) == written
    bad = log.loc[log["Time of call"] == "lunchtime"].iloc[0]
    kept = held.loc[held["membership_number"] == bad["Resident ref"], "called_at"]
    assert dt.time(0, 0) in set(kept.dt.time)  # the call keeps its date, at midnight
    assert (
        con.execute("SELECT count(*) FROM calls WHERE outcome = 'answered'").fetchone()[0]
        == (log["Contact Sucessful "] == "Y").sum()
    )
    # The log's own notes column is read as notes, not left out with a warning.
    assert not any("Notes / Comments" in w for w in result.warnings)
    noted = log["Notes / Comments  "].fillna("").str.strip() != ""
    assert noted.any()
    kept = con.execute("SELECT count(*) FROM calls WHERE nullif(trim(notes), '') IS NOT NULL").fetchone()[0]
    assert kept == noted.sum()


def test_a_plain_export_with_date_called_gets_a_round_from_its_dates_or_from_round(con, tools, tmp_path):
    result = ingest.import_calls(con, tools["plain"], dry_run=True)
    assert result.columns["called_at"] == ("Date Called", 100.0)
    assert result.columns["membership_number"][0] == "Member No"
    dates = pd.to_datetime(pd.read_csv(tools["plain"])["Date Called"], dayfirst=True)
    name = f"{dates.min():%d %b %Y} to {dates.max():%d %b %Y}"
    assert any(f'one round named "{name}" from the first and last call dates' in n for n in result.notes)
    assert "Columns used (field <- column, match score out of 100):" in result.summary()
    ingest.import_calls(con, tools["plain"], round_name="April check-ins")
    assert con.execute("SELECT DISTINCT round FROM calls").fetchall() == [("April check-ins",)]


def test_nationbuilder_contact_log_reaches_its_people_by_id_at_uk_local_time(con, tools):
    ingest.import_members(con, tools["nationbuilder_people"])
    members = con.execute("SELECT count(*) FROM members").fetchone()[0]
    result = ingest.import_calls(con, tools["nationbuilder_contacts"])
    assert result.profile == "nationbuilder_contacts"
    # Every call reaches a person of the people export by their NationBuilder id: none made a new,
    # empty member ("person_id" is also a synonym of the membership number).
    assert con.execute("SELECT count(*) FROM members").fetchone()[0] == members
    assert con.execute("SELECT count(*) FROM calls JOIN members USING (member_key) WHERE branch IS NULL"
                       ).fetchone()[0] == 0
    log = pd.read_csv(tools["nationbuilder_contacts"], dtype=str)
    # 2020-03-30T08:24:00+00:00 was 09:24 in London (British Summer Time).
    stamp = pd.Timestamp(log["created_at"].iloc[0]).tz_convert("Europe/London").tz_localize(None)
    assert (
        con.execute("SELECT count(*) FROM calls WHERE called_at = ?", [stamp.to_pydatetime()]).fetchone()[0]
        >= 1
    )


def test_spoke_opt_outs_join_the_register(con, tools):
    spoke = pd.read_csv(tools["spoke"], dtype=str)
    result = ingest.import_members(con, tools["spoke"])
    assert result.profile == "spoke"
    assert result.source_optouts == (spoke["contact[optOut]"] == "true").sum() > 0


@pytest.mark.parametrize(
    ("label", "outcome"),
    [
        ("Engaged", "busy"),
        ("Voicemail left", "voicemail"),
        ("Do not call again", "do_not_call"),
        ("Moved away", "deceased_moved"),
        ("Line engaged", "busy"),
        ("Voicemial left", "voicemail"),
        ("Number not in service", "wrong_number"),
        ("Not a good time, call back", "call_back_later"),
        ("Never call again", "do_not_call"),
    ],
)
def test_wordy_outcome_labels_are_matched_by_meaning(con, tmp_path, label, outcome):
    path = tmp_path / "calls.csv"
    pd.DataFrame(
        {"Membership Number": ["SYN1"], "Round": ["R1"], "Date": ["01/04/2020"], "Outcome": [label]}
    ).to_csv(path, index=False)
    ingest.import_calls(con, path)
    assert con.execute("SELECT outcome FROM calls").fetchone()[0] == outcome


@pytest.mark.parametrize("label", ["Away", "Interested", "A:", "Not busy", "Not contacted", "Never answered",
                                   "表ポあA鷗ŒéＢ逍Üßªąñ2丂㐀𠀀"])
def test_a_label_holding_fewer_words_than_an_outcome_or_a_negation_it_lacks_is_not_matched(label):
    # Token-set ratio scores a subset 100: "Away" read as deceased or moved left a member off every
    # list, "Contact" read as do not call put them on the register.
    from workbench.ingest import labels

    assert labels.by_meaning([label]) == {}


def test_an_outcome_label_that_means_nothing_is_still_a_row_problem(con, tmp_path):
    path = tmp_path / "calls.csv"
    pd.DataFrame(
        {"Membership Number": ["SYN1"], "Round": ["R1"], "Date": ["01/04/2020"], "Outcome": ["Maybe"]}
    ).to_csv(path, index=False)
    with pytest.raises(ImportRejected) as rejected:
        ingest.import_calls(con, path)
    assert (
        "is not an outcome we know. Accepted labels: Answered"
        in rejected.value.result.problems["problem"].iloc[0]
    )


def test_the_cli_lists_profiles_and_takes_profile_and_round(store_path, tools, capsys, monkeypatch):
    from tests.conftest import PASSPHRASE
    from workbench.cli import main

    assert main(["import", "--profiles"]) == 0
    listing = capsys.readouterr().out
    assert "callhub" in listing and "recognised by: contact, disposition, campaign_name" in listing
    assert "only --profile van_us" in listing

    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    db = ["--db", str(store_path)]
    assert main(["import", "calls", str(tools["plain"]), *db, "--round", "R9", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "read as Plain export" in out and 'called_at <- "Date Called" (100)' in out
    assert 'every call was given the round "R9" (--round)' in out
    assert main(["import", "calls", str(tools["plain"]), *db, "--profile", "nope"]) == 1
    assert 'No format profile "nope"' in capsys.readouterr().err


# -- Open Referral UK -----------------------------------------------------------------------------


def test_an_open_referral_directory_loads_with_categories_areas_and_status(con, tools, tiny_org, tmp_path):
    result = ingest.import_services(con, tools["oruk"], actor="ana")
    assert (result.profile, result.loaded) == ("open_referral_uk", len(tiny_org.services))
    assert any("matched no need category" in w and '"Community hubs"' in w for w in result.warnings)
    held = con.execute("SELECT service_id, name, category, areas, status FROM services").fetchdf()
    source = pd.read_csv(tools["oruk"] / "services.csv", dtype=str)
    assert set(held["service_id"]) == set(source["id"])  # keyed by the ORUK id
    by_name = held.set_index("name")
    for _, service in tiny_org.services.iterrows():
        row = by_name.loc[service["name"]]
        assert row["category"] == service["category"]  # every term but "Community hubs" maps
        assert sorted(row["areas"]) == sorted(service["areas"])
    assert sorted(held["status"].value_counts().items()) == [
        ("active", len(held) - 2),
        ("defunct", 1),
        ("inactive", 1),
    ]

    # The same directory again changes nothing; read through its datapackage.json it is the same too.
    assert ingest.import_services(con, tools["oruk"]).already_imported
    assert ingest.import_services(con, tools["oruk"] / "datapackage.json").already_imported

    # An edited copy updates in place, keyed by ORUK id: a service closes, a term gets mapped.
    copy = tmp_path / "edited"
    shutil.copytree(tools["oruk"], copy)
    edited = source.assign(status=source["status"].where(source.index != 0, "temporarily closed"))
    edited.to_csv(copy / "services.csv", index=False)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[categories]\n"Community hubs" = "isolation"\n')
    again = ingest.import_services(con, copy, mapping=mapping)
    assert (again.loaded, again.updated) == (0, 1 + (tiny_org.services["category"] == "other").sum())
    assert con.execute("SELECT count(*) FROM services").fetchone()[0] == len(tiny_org.services)
    assert con.execute("SELECT count(*) FROM services WHERE category = 'other'").fetchone()[0] == 0


def test_a_folder_without_a_services_table_is_refused(con, tmp_path):
    (tmp_path / "taxonomy.csv").write_text("id,name\n1,Food\n")
    with pytest.raises(InputError, match="no services table, so this is not an Open Referral UK directory"):
        ingest.import_services(con, tmp_path)


def test_a_datapackage_naming_a_file_outside_its_folder_is_refused(con, tools, tmp_path):
    package = tmp_path / "package"
    shutil.copytree(tools["oruk"], package)
    secret = tmp_path / "elsewhere.csv"
    secret.write_text("id,name,status\n1,Not a directory table,active\n")
    meta = json.loads((package / "datapackage.json").read_text())
    meta["resources"][0]["path"] = "../elsewhere.csv"
    (package / "datapackage.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="names a table outside its folder"):
        ingest.import_services(con, package / "datapackage.json")


def test_a_directory_table_beyond_the_limits_is_refused_like_any_file(con, tools, tmp_path):
    from workbench.ingest import limits

    folder = tmp_path / "oruk"
    shutil.copytree(tools["oruk"], folder)
    wide = ",".join(["id", "name", "status"] + [f"c{i}" for i in range(limits.MAX_COLUMNS)])
    (folder / "services.csv").write_text(wide + "\n")
    with pytest.raises(InputError, match="services.csv has 1,003 columns .*reads at most 1,000"):
        ingest.import_services(con, folder)


def test_inactive_services_are_not_offered_for_signposting_but_stay_in_history(synthetic_con, tmp_path):
    from workbench.analysis import services

    before = services.gaps(synthetic_con)
    used_before = services.usage(synthetic_con)
    held = synthetic_con.execute("SELECT service_id, name, category FROM services").fetchdf()
    food = held[held["category"] == "food"]
    path = tmp_path / "closures.csv"
    pd.DataFrame(
        {"Service ID": food["service_id"], "Name": food["name"], "Category": "Food", "Status": "Inactive"}
    ).to_csv(path, index=False)
    assert ingest.import_services(synthetic_con, path).updated == len(food)
    after = services.gaps(synthetic_con)
    newly = set(map(tuple, after.uncovered[["ward", "category"]].to_numpy())) - set(
        map(tuple, before.uncovered[["ward", "category"]].to_numpy())
    )
    assert newly and {c for _, c in newly} == {"food"}
    # What was referenced stays in the history.
    pd.testing.assert_frame_equal(services.usage(synthetic_con), used_before)


# -- survey questions -----------------------------------------------------------------------------


def test_survey_questions_are_listed_and_a_mapping_file_is_written_that_loads(con, tools, tmp_path):
    from workbench.ingest import survey

    found = {q.column: q.answers for q in survey.questions(con, tools["callhub"])}
    # The yes/no questions are found by meaning ("need ... support", "keen to volunteer"); only the
    # category question needs a person to say what it is.
    assert set(found) == {tool_exports.CATEGORY_QUESTION}
    assert "Yes - medicine" in found[tool_exports.CATEGORY_QUESTION]  # split on ";"
    assert not con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0]
    assert survey.suggest("need_categories", "Food shopping") == "food"
    assert survey.suggest("needs_support", "Yes, please") == "yes"
    answers = {a: survey.suggest("need_categories", a) for a in found[tool_exports.CATEGORY_QUESTION]}
    answers["Someone to talk to"], answers["Something else"] = "isolation", "other"
    text = survey.mapping_text(
        {"need_categories": tool_exports.CATEGORY_QUESTION},
        {"need_categories": {a: v for a, v in answers.items() if v}},
    )
    mapping = survey.save(text, tmp_path / "survey.toml")
    assert stat.S_IMODE(mapping.stat().st_mode) == 0o600  # its answers are text from a call export
    with pytest.raises(InputError, match="a file already exists there.*--force"):
        survey.save("[columns]\n", mapping)  # never replaced unasked
    assert survey.save(text, mapping, force=True).read_text() == text
    ingest.import_members(con, tools["callhub_members"])
    result = ingest.import_calls(con, tools["callhub"], mapping=mapping, skip_invalid=True)
    assert result.rejected == 1 and con.execute("SELECT count(*) FROM call_needs").fetchone()[0] > 0
    with pytest.raises(InputError, match='"groceries" is not one of: food'):
        survey.mapping_text({}, {"need_categories": {"Food shopping": "groceries"}})


def test_a_store_from_before_aliases_and_status_is_upgraded_when_opened(store_path):
    from tests.conftest import PASSPHRASE
    from workbench.store import db

    con = db.connect(store_path, PASSPHRASE)
    for table, column in (
        ("identities", "nationbuilder_id"),
        ("identities", "van_id"),
        ("identities", "external_id"),
        ("services", "status"),
    ):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.close()
    con = db.connect(store_path, PASSPHRASE)
    try:
        columns = {r[0] for r in con.execute("DESCRIBE identities").fetchall()}
        assert {"nationbuilder_id", "van_id", "external_id"} <= columns
        assert "status" in {r[0] for r in con.execute("DESCRIBE services").fetchall()}
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        assert version == str(db.SCHEMA_VERSION)
    finally:
        con.close()


def test_services_named_in_survey_answers_go_to_the_call_already_held(con, tools, tmp_path):
    ingest.import_members(con, tools["members_with_van_ids"], actor="ana")
    ingest.import_calls(con, tools["van"], actor="ana")
    survey = _survey(tools)
    contacts = survey.drop_duplicates(["VANID", "Date Canvassed", "Canvassed By"]).head(3)
    question = "Which services did you tell them about?"
    told = contacts.assign(**{"Survey Question Name": question, "Survey Response": "Northvale Food Bank"})
    answers = tmp_path / "survey_with_services.txt"
    pd.concat([survey, told]).to_csv(answers, sep="\t", index=False, encoding="utf-16")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        tools["callhub_mapping"].read_text(encoding="utf-8").replace(
            "[columns]\n", f'[columns]\nservices_referenced = "{question}"\n'
        ),
        encoding="utf-8",
    )
    calls_before = con.execute("SELECT count(*) FROM calls").fetchone()[0]

    for _ in range(2):  # the same answers twice: each service once on each call
        ingest.import_calls(con, answers, mapping=mapping, actor="ana")
    referenced = con.execute(
        "SELECT count(*), count(DISTINCT call_id) FROM call_services WHERE raw_name = 'Northvale Food Bank'"
    ).fetchone()
    assert referenced == (3, 3)
    held = "SELECT count(*) FROM call_services s JOIN calls c USING (call_id)"
    assert con.execute(held).fetchone()[0] == 3  # on calls held, not on new ones
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == calls_before


def test_a_spoke_export_has_no_date_so_it_loads_as_calls_with_date(con, tools):
    ingest.import_members(con, tools["members_with_van_ids"], actor="ana")
    with pytest.raises(InputError, match=r"give the day the calls were made with --date dd/mm/yyyy"):
        ingest.import_calls(con, tools["spoke"], dry_run=True)
    spoke = pd.read_csv(tools["spoke"], dtype=str)
    contacted = spoke[spoke["contact[messageStatus]"] != "needsMessage"]
    result = ingest.import_calls(con, tools["spoke"], call_date="03/04/2020", actor="ana")
    assert (result.profile, result.loaded, result.rejected) == ("spoke", len(contacted), 0)
    assert f"{len(contacted):,} calls with no date were given 03/04/2020 (--date)." in result.summary()
    assert con.execute("SELECT DISTINCT called_at FROM calls").fetchall() == [(dt.datetime(2020, 4, 3),)]
    assert result.source_optouts == (spoke["contact[optOut]"] == "true").sum() > 0


@pytest.mark.parametrize(
    ("given", "message"),
    [("31/02/2020", '--date "31/02/2020" is not a date we can read'), ("April", '--date "April" is not'),
     (dt.date.today() + dt.timedelta(days=2), "is in the future")],
)
def test_a_date_that_cannot_be_the_calls_day_is_refused_by_value(con, tools, given, message):
    with pytest.raises(InputError, match=message):
        ingest.import_calls(con, tools["spoke"], call_date=given, dry_run=True)


def test_the_command_takes_the_calls_day():
    from workbench.cli import build_parser

    args = build_parser().parse_args(["import", "calls", "spoke.csv", "--date", "03/04/2020"])
    assert args.call_date == "03/04/2020"


def test_nationbuilder_apostrophes_go_only_from_the_numbers_excel_kept_as_text(con, tools, tmp_path):
    # The profile strips Excel's text marker ('07700900123); it stripped every leading apostrophe of
    # every column: 't Hooft became t Hooft, and a value of just quotes became blank.
    people = pd.read_csv(tools["nationbuilder_people"], dtype=str, keep_default_na=False)
    people.loc[0, "last_name"] = "'t Hooft"
    people.loc[1, "last_name"] = "''"
    people.loc[2, "first_name"] = "'Ann'"
    path = tmp_path / "nationbuilder-people.csv"
    people.to_csv(path, index=False)
    ingest.import_members(con, path, actor="ana")
    names = dict(con.execute("SELECT nationbuilder_id, first_name || '|' || last_name FROM identities")
                 .fetchall())
    ids = people["nationbuilder_id"].str.lstrip("'")
    assert names[ids[0]].endswith("|'t Hooft") and names[ids[1]].endswith("|''")
    assert names[ids[2]].startswith("'Ann'|")
    phone = con.execute("SELECT phone FROM identities WHERE nationbuilder_id = ?", [ids[0]]).fetchone()[0]
    assert phone.startswith("+44")

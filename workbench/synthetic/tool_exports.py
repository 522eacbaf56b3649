"""The synthetic organisation written out as the tools organisers use would export it.

Each function writes one real-shaped file: the tool's exact headers, value labels, encodings and
quirks (NationBuilder's leading apostrophes and true/false flags, CallHub's 447700900123 phones and
one column per survey question, VAN's UTF-16 tab-separated ".xls" with "Last, First" names, a
council log's typo'd headers in Windows-1252 with times written three ways). Values are fake:
phones from Ofcom's drama ranges, emails at example.* domains, membership numbers SYN…

Every file loads with no hand-editing and no mapping file (survey questions aside): the import
tests and `workbench synth --tools` use them.

Examples:
    >>> org = generate("tiny")                                   # doctest: +SKIP
    >>> paths = write_tool_exports(org, Path("practice/tools"))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from workbench.synthetic import Organisation

# CallHub's default dispositions, VAN's results and NationBuilder's contact statuses, per outcome.
CALLHUB = {
    "answered": "ANSWER",
    "no_answer": "NO_ANSWER",
    "voicemail": "MACHINE",
    "busy": "USER_BUSY",
    "wrong_number": "BAD_NUMBER",
    "call_back_later": "CALLBACK",
    "refused": "Not interested",  # a campaign's own free-text disposition
    "do_not_call": "DO_NOT_CALL",
    "deceased_moved": "Moved away",
}
VAN = {
    "answered": "Canvassed",
    "no_answer": "Not Home",
    "voicemail": "Left Message",
    "busy": "Busy",
    "wrong_number": "Wrong Number",
    "call_back_later": "Call Back",
    "refused": "Refused",
    "do_not_call": "Do Not Call",
    "deceased_moved": "Moved",
}
NATIONBUILDER = {
    "answered": "meaningful_interaction",
    "no_answer": "no_answer",
    "voicemail": "left_message",
    "busy": "no_answer",
    "wrong_number": "bad_info",
    "call_back_later": "answered",
    "refused": "not_interested",
    "do_not_call": "not_interested",
    "deceased_moved": "bad_info",
}
COUNCIL = {"answered": "Y"}  # anything else: N
SUPPORT_QUESTION = "Do you need any support at the moment?"
CATEGORY_QUESTION = "What kind of support would help? (tick all that apply)"
VOLUNTEER_QUESTION = "Would you be keen to volunteer to help others?"
CATEGORY_ANSWERS = {
    "food": "Food shopping",
    "medicine": "Yes - medicine",
    "isolation": "Someone to talk to",
    "mental_health": "Mental health",
    "financial": "Money worries",
    "housing": "Housing",
    "digital": "Getting online",
    "other": "Something else",
}
DO_NOT_CALL_RATE = 0.03


def _private_writer(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> Callable:
    def write(frame: pd.DataFrame) -> Path:
        # Fake people only, so an earlier run's file is written over; but never through a symbolic link.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            frame.to_csv(handle, index=False, sep=delimiter, quoting=csv.QUOTE_MINIMAL)
        return path

    return write


def _calls_with_people(org: Organisation) -> pd.DataFrame:
    calls = org.calls.merge(org.members, on="membership_number", how="left", suffixes=("", "_m"))
    needs = org.call_needs.groupby("call_id")["category"].agg(list)
    calls["categories"] = calls["call_id"].map(needs)
    return calls


def _local(e164: pd.Series) -> pd.Series:
    """+447700900123 as people write it: 07700900123 (None stays None)."""
    return ("0" + e164.fillna("").str[3:]).where(e164.notna(), None)


def _yes_no(values: pd.Series, yes: str = "Yes", no: str = "No") -> pd.Series:
    return values.map({True: yes, False: no}).astype(object).where(values.notna(), None)


def nationbuilder_people(org: Organisation, path: Path, seed: int = 2020) -> Path:
    """A NationBuilder people export: snake_case, 'apostrophe-kept ids and phones, true/false flags.

    About 3% of people are marked do_not_call=true.
    """
    rng = np.random.default_rng(seed)
    m = org.members
    n = len(m)
    mobile = m["phone"].fillna("").str.startswith("+447")
    local = _local(m["phone"])
    dnc = rng.random(n) < DO_NOT_CALL_RATE
    frame = pd.DataFrame(
        {
            "nationbuilder_id": [f"'{100000 + i}" for i in range(n)],
            "first_name": m["first_name"],
            "last_name": m["last_name"],
            "email1": m["email"],
            "email1_is_bad": "false",
            "phone_number": ("'" + local).where(~mobile, None),
            "work_phone_number": None,
            "mobile_number": ("'" + local).where(mobile, None),
            "primary_address1": m["address"].str.split(",").str[0],
            "primary_city": "Northvale",
            "primary_zip": m["postcode"],
            "zip_royal_mail": m["postcode"],
            "tag_list": np.where(rng.random(n) < 0.2, "volunteer, phone bank", "member"),
            "do_not_call": np.where(dnc, "true", "false"),
            "is_volunteer": np.where(rng.random(n) < 0.1, "true", "false"),
            "created_at": pd.to_datetime(m["joined_on"]).dt.strftime("%Y-%m-%dT09:30:00+00:00"),
            "membership_number": m["membership_number"],
            "ward": m["ward"],
            "branch": m["branch"],
        }
    )
    return _private_writer(path)(frame)


def nationbuilder_ids(org: Organisation) -> pd.Series:
    """membership number -> the NationBuilder id `nationbuilder_people` gave them."""
    return pd.Series(
        [str(100000 + i) for i in range(len(org.members))], index=org.members["membership_number"].to_numpy()
    )


def nationbuilder_contacts(org: Organisation, path: Path) -> Path:
    """A NationBuilder contact log: person_id, sender_id, method, status, note, ISO times with an offset."""
    calls = org.calls[org.calls["round"] == org.calls["round"].iloc[0]]
    when = pd.to_datetime(calls["called_at"])
    # Spring 2020 is British Summer Time from 29 March: the export writes UTC with its offset.
    utc = when.dt.tz_localize("Europe/London", ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert(
        "UTC"
    )
    frame = pd.DataFrame(
        {
            "person_id": calls["membership_number"].map(nationbuilder_ids(org)).to_numpy(),
            "sender_id": calls["caller"].str[1:].astype(int).to_numpy(),
            "method": "phone_call",
            "status": calls["outcome"].map(NATIONBUILDER).to_numpy(),
            "note": calls["notes"].to_numpy(),
            "created_at": utc.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_numpy(),
        }
    )
    return _private_writer(path)(frame)


def callhub_call_report(org: Organisation, path: Path) -> tuple[Path, pd.DataFrame]:
    """A CallHub call report: one row per attempt, identified only by phone and name.

    The last row is a call to a landline two members with the same first name share (set up in
    the returned members frame, which the test imports first): it must be refused, not guessed.

    Returns:
        (path, the members as they must be held for the report to match: with the shared line).
    """
    members = org.members.copy()
    # Two members on one household landline, with one first name (a father and son, say).
    a, b = members.index[-2], members.index[-1]
    members.loc[b, ["phone", "first_name"]] = members.loc[a, ["phone", "first_name"]].to_numpy()
    calls = _calls_with_people(org)
    pair = members.loc[[a, b], "membership_number"]
    calls = calls[(calls["round"] == calls["round"].iloc[0]) & ~calls["membership_number"].isin(pair)]
    shared = calls.iloc[[-1]].copy()
    shared[["phone", "first_name", "last_name"]] = members.loc[
        [b], ["phone", "first_name", "last_name"]
    ].to_numpy()
    calls = pd.concat([calls, shared], ignore_index=True)
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(calls["called_at"]).dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(),
            "campaign_name": "Spring welfare calls",
            "agent": ("agent" + calls["caller"].str[1:]).to_numpy(),
            "contact": calls["phone"].str.lstrip("+").to_numpy(),
            "contact_firstname": calls["first_name"].to_numpy(),
            "contact_lastname": calls["last_name"].to_numpy(),
            "disposition": calls["outcome"].map(CALLHUB).to_numpy(),
            "notes": calls["notes"].to_numpy(),
            SUPPORT_QUESTION: _yes_no(calls["needs_support"]).to_numpy(),
            CATEGORY_QUESTION: calls["categories"]
            .map(lambda cs: "; ".join(CATEGORY_ANSWERS[c] for c in cs) if isinstance(cs, list) else None)
            .to_numpy(),
            VOLUNTEER_QUESTION: _yes_no(
                calls["keen_to_volunteer"], "Yes, happy to help", "No thanks"
            ).to_numpy(),
        }
    )
    return _private_writer(path)(frame), members


def callhub_all_rounds(org: Organisation, path: Path, rows: int | None = None) -> Path:
    """Every call as one CallHub call report, for the national benchmark: vectorised, no survey.

    Only calls to members whose phone and first name no other member shares: synthetic phones
    come from the 20,000 drama numbers, so at national size many households "share" a line, and
    those calls would (rightly) be refused rather than measured.

    Args:
        rows: top the report up to this many rows with redials (the same call two hours later,
            unanswered), as a call report lists every attempt.
    """
    m = org.members[["membership_number", "first_name", "last_name", "phone"]]
    pair = m["phone"].astype(str) + "|" + m["first_name"].astype(str)
    m = m[m["phone"].notna() & ~pair.duplicated(keep=False)]
    calls = org.calls[["membership_number", "called_at", "round", "caller", "outcome", "notes"]].merge(
        m, on="membership_number"
    )
    if rows and rows > len(calls):
        redials = calls.iloc[np.arange(rows - len(calls)) % len(calls)].copy()
        redials["called_at"] = pd.to_datetime(redials["called_at"]) + pd.Timedelta(hours=2)
        redials["outcome"], redials["notes"] = "no_answer", None
        calls = pd.concat([calls, redials], ignore_index=True)
    when = pd.to_datetime(calls["called_at"])
    frame = pd.DataFrame(
        {
            "date": when.dt.strftime("%Y-%m-%d %H:%M:%S"),
            "campaign_name": "Welfare calls " + calls["round"].astype(str),
            "agent": "agent" + calls["caller"].astype(str).str[1:],
            "contact": calls["phone"].str[1:],
            "contact_firstname": calls["first_name"],
            "contact_lastname": calls["last_name"],
            "disposition": calls["outcome"].astype(str).map(CALLHUB),
            "notes": calls["notes"],
        }
    )
    return _private_writer(path)(frame)


def plain_members(members: pd.DataFrame, path: Path) -> Path:
    """A plain member list (Membership Number, names, phone as people write it, ward, branch)."""
    frame = pd.DataFrame(
        {
            "Membership Number": members["membership_number"],
            "First Name": members["first_name"],
            "Last Name": members["last_name"],
            "Phone": _local(members["phone"]),
            "Ward": members["ward"],
            "Branch": members["branch"],
        }
    )
    return _private_writer(path)(frame)


CALLHUB_MAPPING = f'''# Which CallHub survey question means what, and what its answers mean.
[columns]
needs_support = "{SUPPORT_QUESTION}"
need_categories = "{CATEGORY_QUESTION}"
keen_to_volunteer = "{VOLUNTEER_QUESTION}"

[answers.need_categories]
{chr(10).join(f'"{answer}" = "{code}"' for code, answer in CATEGORY_ANSWERS.items())}
'''


def van_ids(org: Organisation) -> pd.Series:
    """membership number -> the VAN id the member list and VAN's export carry."""
    return pd.Series(
        [str(3_000_000 + 7 * i) for i in range(len(org.members))],
        index=org.members["membership_number"].to_numpy(),
    )


def members_with_van_ids(org: Organisation, path: Path) -> Path:
    """The member list with a VAN id column, as a branch that also uses VAN keeps it."""
    frame = org.members.rename(columns={"membership_number": "Membership Number"})[
        ["Membership Number"]
    ].copy()
    frame["First Name"], frame["Last Name"] = org.members["first_name"], org.members["last_name"]
    frame["Ward"], frame["Branch"] = org.members["ward"], org.members["branch"]
    frame["VANID"] = van_ids(org).to_numpy()
    return _private_writer(path)(frame)


def van_contact_history(org: Organisation, path: Path, *, month_first: bool = False) -> Path:
    """VAN's contact-history ".xls": really UTF-16 tab-separated text, names as "Last, First"."""
    calls = _calls_with_people(org)
    calls = calls[calls["round"] == calls["round"].iloc[0]]
    when = pd.to_datetime(calls["called_at"])
    frame = pd.DataFrame(
        {
            "Voter File VANID": calls["membership_number"].map(van_ids(org)).to_numpy(),
            "Contact Name": (calls["last_name"] + ", " + calls["first_name"]).to_numpy(),
            "Date Canvassed": when.dt.strftime("%-m/%-d/%Y" if month_first else "%d/%m/%Y").to_numpy(),
            "Result": calls["outcome"].map(VAN).to_numpy(),
            "Contact Type": "Phone",
            "Canvassed By": ("Volunteer " + calls["caller"].str[1:]).to_numpy(),
            "Input Type Name": "Virtual Phone Bank",
        }
    )
    return _private_writer(path, encoding="utf-16", delimiter="\t")(frame)


def van_survey_responses(org: Organisation, path: Path) -> Path:
    """VAN's survey responses for the contact history's canvasses: a long file, one row per answer
    (VANID, Date Canvassed, Canvassed By, Survey Question Name, Survey Response), UTF-16 text named
    ".xls". A contact who ticked two kinds of support has two rows for that question."""
    calls = _calls_with_people(org)
    calls = calls[(calls["round"] == calls["round"].iloc[0]) & (calls["outcome"] == "answered")]
    contact = pd.DataFrame(
        {
            "VANID": calls["membership_number"].map(van_ids(org)).to_numpy(),
            "Date Canvassed": pd.to_datetime(calls["called_at"]).dt.strftime("%d/%m/%Y").to_numpy(),
            "Canvassed By": ("Volunteer " + calls["caller"].str[1:]).to_numpy(),
        }
    )
    answers = [
        contact.assign(**{"Survey Question Name": SUPPORT_QUESTION,
                          "Survey Response": _yes_no(calls["needs_support"]).to_numpy()}),
        contact.assign(**{"Survey Question Name": VOLUNTEER_QUESTION,
                          "Survey Response": _yes_no(calls["keen_to_volunteer"], "Yes, happy to help",
                                                     "No thanks").to_numpy()}),
        contact.assign(**{"Survey Question Name": CATEGORY_QUESTION,
                          "Survey Response": calls["categories"].to_numpy()}).explode("Survey Response"),
    ]
    frame = pd.concat(answers, ignore_index=True).dropna(subset=["Survey Response"])
    frame.loc[frame["Survey Question Name"] == CATEGORY_QUESTION, "Survey Response"] = frame[
        "Survey Response"
    ].map(CATEGORY_ANSWERS)
    frame = frame.sort_values(["VANID", "Survey Question Name"], kind="stable")
    return _private_writer(path, encoding="utf-16", delimiter="\t")(frame)


COUNCIL_HEADERS = {
    "ref": "Resident ref",
    "name": "Name ",
    "date": "Contact attempted (date)  Format:  06/04/2020",
    "time": "Time of call",
    "outcome": "Contact Sucessful ",
    "support": "Needs Support?",
    "categories": "Support Needed",
    "notes": "Notes / Comments  ",
}


def council_welfare_log(org: Organisation, path: Path) -> Path:
    """A council or mutual-aid welfare log in Windows-1252: typo'd verbose headers, the date and
    the time in separate columns, times written 14:08, 14.08 or 1408, and one unreadable time."""
    calls = _calls_with_people(org)
    calls = calls[calls["round"] == calls["round"].iloc[0]].head(200)
    when = pd.to_datetime(calls["called_at"])
    hhmm = when.dt.strftime("%H%M").to_numpy()
    styles = np.arange(len(calls)) % 3
    times = np.where(
        styles == 0,
        [t[:2] + ":" + t[2:] for t in hhmm],
        np.where(styles == 1, [t[:2] + "." + t[2:] for t in hhmm], hhmm),
    )
    times[1] = "lunchtime"
    frame = pd.DataFrame(
        {
            COUNCIL_HEADERS["ref"]: calls["membership_number"].to_numpy(),
            COUNCIL_HEADERS["name"]: (calls["first_name"] + " " + calls["last_name"]).to_numpy(),
            COUNCIL_HEADERS["date"]: when.dt.strftime("%d/%m/%Y").to_numpy(),
            COUNCIL_HEADERS["time"]: times,
            COUNCIL_HEADERS["outcome"]: np.where(calls["outcome"] == "answered", "Y", "N"),
            COUNCIL_HEADERS["support"]: _yes_no(calls["needs_support"], "Y", "N").to_numpy(),
            COUNCIL_HEADERS["categories"]: calls["categories"]
            .map(
                lambda cs: (
                    "; ".join(c.replace("_", " ").title() for c in cs) if isinstance(cs, list) else None
                )
            )
            .to_numpy(),
            COUNCIL_HEADERS["notes"]: calls["notes"].fillna("").str.replace("'", "’").to_numpy(),
        }
    )
    return _private_writer(path, encoding="cp1252")(frame)


def plain_date_called(org: Organisation, path: Path) -> Path:
    """A plain spreadsheet export: "Member No", "Date Called", "Result"; no round column."""
    calls = org.calls[org.calls["round"] == org.calls["round"].iloc[0]]
    frame = pd.DataFrame(
        {
            "Member No": calls["membership_number"].to_numpy(),
            "Date Called": pd.to_datetime(calls["called_at"]).dt.strftime("%d/%m/%Y %H:%M").to_numpy(),
            "Result": calls["outcome"].map(lambda o: o.replace("_", " ").title()).to_numpy(),
        }
    )
    return _private_writer(path)(frame)


def spoke_contacts(org: Organisation, path: Path, seed: int = 2020) -> Path:
    """A Spoke campaign-data export: contact[...] columns, contact[optOut] true/false, and a
    question[...] column per survey question. contact[external_id] is the membership number."""
    rng = np.random.default_rng(seed + 1)
    m = org.members
    opted = rng.random(len(m)) < DO_NOT_CALL_RATE
    frame = pd.DataFrame(
        {
            "campaignId": 7,
            "campaign": "Welfare texts",
            "contact[firstName]": m["first_name"],
            "contact[lastName]": m["last_name"],
            "contact[cell]": m["phone"],
            "contact[zip]": m["postcode"],
            "contact[external_id]": m["membership_number"],
            "contact[optOut]": np.where(opted, "true", "false"),
            "contact[messageStatus]": rng.choice(["messaged", "convo", "closed", "needsMessage"], len(m)),
            f"question[{SUPPORT_QUESTION}]": rng.choice(["Yes", "No", ""], len(m)),
        }
    )
    return _private_writer(path)(frame)


# Taxonomy terms as a council's directory words them, per workbench category.
ORUK_TERMS = {
    "food": "Food banks and community meals",
    "medicine": "Prescription collection and delivery",
    "isolation": "Befriending",
    "mental_health": "Mental health and wellbeing support",
    "financial": "Money and debt advice",
    "housing": "Housing advice",
    "digital": "Digital inclusion",
    "other": "Community hubs",
}
ORUK_NAMESPACE = uuid.UUID("6f1c1c4e-2d3b-4b8e-9a55-0a5b2f1d7e01")  # fixed, so ids repeat run to run


def _uuid(kind: str, key: object) -> str:
    return str(uuid.uuid5(ORUK_NAMESPACE, f"{kind}:{key}"))


def oruk_directory(org: Organisation, out: Path) -> Path:
    """An Open Referral UK directory: one CSV per table, UUID ids, and a datapackage.json.

    The second service is inactive and the third defunct; "Community hubs" matches no category.
    """
    out.mkdir(parents=True, exist_ok=True)
    s = org.services.reset_index(drop=True)
    ids = [_uuid("service", i) for i in s["service_id"]]
    status = ["active"] * len(s)
    status[1], status[2] = "inactive", "defunct"
    contact = s["contact"].fillna("")
    tables = {
        "services": pd.DataFrame(
            {
                "id": ids,
                "name": s["name"],
                "description": "A community service in Northvale.",
                "url": "https://" + s["service_id"].str.lower() + ".example.org",
                "email": contact.where(contact.str.contains("@"), None),
                "status": status,
            }
        ),
        "taxonomy": pd.DataFrame(
            {
                "id": [_uuid("term", c) for c in ORUK_TERMS],
                "name": list(ORUK_TERMS.values()),
                "parent_id": None,
                "vocabulary": "Northvale Directory",
            }
        ),
        "services_taxonomy": pd.DataFrame(
            {
                "id": [_uuid("st", i) for i in ids],
                "service_id": ids,
                "taxonomy_id": [_uuid("term", c) for c in s["category"]],
            }
        ),
        "service_areas": pd.DataFrame(
            [
                {
                    "id": _uuid("area", f"{i}-{a}"),
                    "service_id": i,
                    "service_area": a,
                    "extent": None,
                    "uri": None,
                }
                for i, areas in zip(ids, s["areas"], strict=True)
                for a in list(areas)  # none: the service covers the whole area
            ]
        ),
        "locations": pd.DataFrame({"id": [_uuid("loc", i) for i in ids], "name": s["name"]}),
        "physical_addresses": pd.DataFrame(
            {
                "id": [_uuid("addr", i) for i in ids],
                "location_id": [_uuid("loc", i) for i in ids],
                "address_1": "1 High Street",
                "city": "Northvale",
                "postal_code": "NV1 1AA",
            }
        ),
        "services_at_location": pd.DataFrame(
            {
                "id": [_uuid("sal", i) for i in ids],
                "service_id": ids,
                "location_id": [_uuid("loc", i) for i in ids],
            }
        ),
    }
    for name, frame in tables.items():
        _private_writer(out / f"{name}.csv")(frame)
    package = {
        "name": "northvale-directory",
        "resources": [{"name": name, "path": f"{name}.csv", "format": "csv"} for name in tables],
    }
    (out / "datapackage.json").write_text(json.dumps(package, indent=2), encoding="utf-8")
    return out


def write_tool_exports(org: Organisation, out: Path) -> dict[str, Path]:
    """Write every tool's export of `org` into `out` (mode 0600 files); return name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    callhub, members = callhub_call_report(org, out / "callhub_call_report.csv")
    plain_members(members, out / "callhub_members.csv")
    (out / "callhub_mapping.toml").write_text(CALLHUB_MAPPING, encoding="utf-8")
    return {
        "nationbuilder_people": nationbuilder_people(org, out / "nationbuilder_people.csv"),
        "nationbuilder_contacts": nationbuilder_contacts(org, out / "nationbuilder_contacts.csv"),
        "callhub": callhub,
        "callhub_mapping": out / "callhub_mapping.toml",
        "callhub_members": out / "callhub_members.csv",
        "members_with_van_ids": members_with_van_ids(org, out / "members_with_van_ids.csv"),
        "van": van_contact_history(org, out / "van_contact_history.xls"),
        "van_survey": van_survey_responses(org, out / "van_survey_responses.xls"),
        "council_log": council_welfare_log(org, out / "council_welfare_log.csv"),
        "plain": plain_date_called(org, out / "plain_date_called.csv"),
        "spoke": spoke_contacts(org, out / "spoke_contacts.csv"),
        "oruk": oruk_directory(org, out / "oruk_directory"),
    }


__all__ = [
    "CALLHUB_MAPPING",
    "callhub_all_rounds",
    "callhub_call_report",
    "council_welfare_log",
    "members_with_van_ids",
    "nationbuilder_contacts",
    "nationbuilder_people",
    "oruk_directory",
    "plain_date_called",
    "plain_members",
    "spoke_contacts",
    "van_contact_history",
    "van_survey_responses",
    "write_tool_exports",
]

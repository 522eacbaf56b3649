"""Format profiles: what the exports of the tools organisers use look like, as data.

A profile is a small declarative description of one tool's export: the headers that give it away,
its own names for the workbench's fields, its value labels, how it writes dates, and how it says
who a row is about. The import code reads profiles; it has no code path per tool, so adding the
next tool is a new entry in PROFILES, not new logic.

A file is recognised by its headers: the profile whose telltale headers are all present (compared
in normalised form) and which names the most of them wins; "plain" takes everything else.

Examples:
    >>> recognise("calls", ["date", "campaign_name", "agent", "contact", "contact_firstname",
    ...                     "disposition"]).name
    'callhub'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.errors import InputError
from workbench.ingest.headers import normalise


@dataclass(frozen=True)
class Profile:
    """One tool's export format.

    Attributes:
        name: what --profile takes.
        title: what a person calls it.
        kinds: the imports it serves (members, calls, services).
        telltales: headers that must all be present for the file to be this format.
        columns: field -> this tool's header names for it, tried before the general synonyms.
        outcomes: this tool's outcome labels -> workbench outcome.
        month_first: dates are written M/D/YYYY (a US instance); otherwise day first.
        strip_apostrophe: values may carry a leading ' that kept them as text in Excel.
        name_order: "first last" or "last, first" for a single name column.
        identity: how a row names its member: "membership_number", an alias field
            (nationbuilder_id, van_id, external_id) or "phone_first_name".
        skip_outcomes: labels that mean no call happened (e.g. a text never sent); such rows
            are left out and counted.
        identified: how the format is recognised when that is not by its headers.
        long_answers: (question header, answer header) when the file holds one row per answer
            (VAN's survey responses): its rows are turned into one per contact, one column per
            question, before anything else (see formats.widen).
        implied_outcome: the outcome every row has when the file has no outcome column (a survey
            answer means a conversation happened).
    """

    name: str
    title: str
    kinds: tuple[str, ...]
    telltales: tuple[str, ...] = ()
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    month_first: bool = False
    strip_apostrophe: bool = False
    name_order: str = "first last"
    identity: str = "membership_number"
    skip_outcomes: tuple[str, ...] = ()
    identified: str = ""  # how it is recognised, when that is not by headers
    long_answers: tuple[str, str] = ()
    implied_outcome: str = ""

    def identified_by(self) -> str:
        """The telltale headers, for `workbench import --profiles`."""
        if self.identified:
            return self.identified
        if self.telltales:
            return ", ".join(self.telltales)
        return "anything no other profile claims" if self.name == "plain" else f"only --profile {self.name}"


CALLHUB_OUTCOMES = {
    "ANSWER": "answered",
    "CALLBACK": "call_back_later",
    "BAD_NUMBER": "wrong_number",
    "DO_NOT_CALL": "do_not_call",
    "MACHINE": "voicemail",
    "NO_ANSWER": "no_answer",
    "USER_BUSY": "busy",
    "LEFT_MESSAGE": "voicemail",
    "UNALLOCATED_NUMBER": "wrong_number",
    "CONGESTION": "no_answer",
    "NORMAL_TEMPORARY_FAILURE": "no_answer",
    "ORIGINATOR_CANCEL": "no_answer",
}

VAN_OUTCOMES = {
    "Canvassed": "answered",
    "Not Home": "no_answer",
    "Refused": "refused",
    "Moved": "deceased_moved",
    "Deceased": "deceased_moved",
    "Wrong Number": "wrong_number",
    "Disconnected": "wrong_number",
    "Left Message": "voicemail",
    "Busy": "busy",
    "Call Back": "call_back_later",
    "Do Not Call": "do_not_call",
    "Inaccessible": "no_answer",
}

VAN_COLUMNS = {
    "van_id": ("Voter File VANID", "VANID"),
    "full_name": ("Contact Name",),
    "called_at": ("Date Canvassed",),
    "outcome": ("Result",),
    "caller": ("Canvassed By",),
    "round": ("MiniVAN Campaign",),
}

PROFILES: tuple[Profile, ...] = (
    Profile(
        "nationbuilder_people",
        "NationBuilder people export",
        ("members",),
        telltales=("nationbuilder_id", "first_name", "do_not_call"),
        columns={
            "nationbuilder_id": ("nationbuilder_id",),
            "phone": ("mobile_number", "phone_number"),
            "email": ("email1", "email"),
            "address": ("primary_address1",),
            "postcode": ("primary_zip", "zip_royal_mail"),
            "joined_on": ("created_at",),
            "do_not_call": ("do_not_call",),
        },
        strip_apostrophe=True,
    ),
    Profile(
        "nationbuilder_contacts",
        "NationBuilder contact log",
        ("calls",),
        telltales=("person_id", "sender_id", "method", "status", "created_at"),
        columns={
            "nationbuilder_id": ("person_id",),
            "caller": ("sender_id",),
            "outcome": ("status",),
            "called_at": ("created_at",),
            "notes": ("note",),
        },
        outcomes={
            "answered": "answered",
            "meaningful_interaction": "answered",
            "send_information": "answered",
            "no_answer": "no_answer",
            "left_message": "voicemail",
            "bad_info": "wrong_number",
            "not_interested": "refused",
            "inaccessible": "no_answer",
            "other": "answered",
        },
        strip_apostrophe=True,
        identity="nationbuilder_id",
    ),
    Profile(
        "callhub",
        "CallHub call report or campaign results",
        ("calls",),
        telltales=("contact", "disposition", "campaign_name"),
        columns={
            "phone": ("contact",),
            "first_name": ("contact_firstname",),
            "last_name": ("contact_lastname",),
            "caller": ("agent",),
            "round": ("campaign_name",),
            "outcome": ("disposition",),
            "called_at": ("date",),
        },
        outcomes=CALLHUB_OUTCOMES,
        identity="phone_first_name",
    ),
    Profile(
        "van_survey",
        "NGP VAN / EveryAction survey responses (one row per answer; day-first dates)",
        ("calls",),
        telltales=("survey_question_name", "survey_response", "date_canvassed"),
        columns=VAN_COLUMNS,
        outcomes=VAN_OUTCOMES,
        name_order="last, first",
        identity="van_id",
        long_answers=("Survey Question Name", "Survey Response"),
        implied_outcome="answered",
    ),
    Profile(
        "van",
        "NGP VAN / EveryAction contact history (day-first dates)",
        ("calls",),
        telltales=("contact_name", "date_canvassed", "result"),
        columns=VAN_COLUMNS,
        outcomes=VAN_OUTCOMES,
        name_order="last, first",
        identity="van_id",
    ),
    Profile(
        "van_us",
        "NGP VAN contact history from a US instance (M/D/YYYY dates; only with --profile van_us)",
        ("calls",),
        columns=VAN_COLUMNS,
        outcomes=VAN_OUTCOMES,
        month_first=True,
        name_order="last, first",
        identity="van_id",
    ),
    Profile(
        "spoke",
        "Spoke texting campaign export",
        ("members", "calls"),
        telltales=("contact[cell]", "contact[messageStatus]"),
        columns={
            # Spoke carries the id its contacts were uploaded with: the membership number.
            "membership_number": ("contact[external_id]",),
            "first_name": ("contact[firstName]",),
            "last_name": ("contact[lastName]",),
            "phone": ("contact[cell]",),
            "do_not_call": ("contact[optOut]",),
            "outcome": ("contact[messageStatus]",),
            "round": ("campaign[title]", "campaign"),
            "called_at": ("contact[updatedAt]", "message[createdAt]"),
        },
        outcomes={
            "convo": "answered",
            "closed": "answered",
            "needsResponse": "answered",
            "messaged": "no_answer",
        },
        skip_outcomes=("needsMessage",),
    ),
    Profile(
        "council_log",
        "Council or mutual-aid welfare log",
        ("calls",),
        telltales=("contact_attempted_date", "contact_sucessful"),
        columns={
            "called_at": ("Contact attempted (date)",),
            "call_time": ("Time of call", "Contact attempted (time)"),
            "outcome": ("Contact Sucessful", "Contact Successful"),
            "membership_number": ("Resident ref", "Member ref"),
            "notes": ("Notes / Comments", "Notes"),
        },
        outcomes={"Y": "answered", "Yes": "answered", "N": "no_answer", "No": "no_answer"},
    ),
    Profile(
        "open_referral_uk",
        "Open Referral UK directory (a folder of tables, or its datapackage.json)",
        ("services",),
        identified="a folder holding services.csv (or service.csv) with the tables linking services to "
        "taxonomy terms (ORUK 1.0 services_taxonomy.csv and taxonomy.csv, or 3.0 attribute.csv and "
        "taxonomy_terms.csv) and service_areas.csv, or the datapackage.json naming them",
    ),
    Profile("plain", "Plain export (any headers the workbench recognises)", ("members", "calls", "services")),
)

BY_NAME = {p.name: p for p in PROFILES}


def _telltale_form(header: str) -> str:
    # A council log's "Contact attempted (date)  Format:  06/04/2020" still begins with its telltale.
    return normalise(header)


def _present(telltale: str, forms: set[str]) -> bool:
    wanted = normalise(telltale)
    return any(form == wanted or form.startswith(wanted) for form in forms)


def recognise(kind: str, headers: list[str], forced: str | None = None) -> Profile:
    """The profile for a file of `kind` with these headers, or the one --profile names.

    Args:
        kind: members | calls | services.
        headers: the file's headers.
        forced: a profile name given with --profile.

    Raises:
        InputError: an unknown profile name, or one that does not serve this kind of import.
    """
    if forced:
        profile = BY_NAME.get(forced)
        if profile is None:
            raise InputError(f'No format profile "{forced}". Profiles: {", ".join(BY_NAME)}.')
        if kind not in profile.kinds:
            raise InputError(
                f'The profile "{forced}" ({profile.title}) is for {" or ".join(profile.kinds)} '
                f"imports, not {kind}. Try: workbench import {profile.kinds[0]} FILE --profile {forced}"
            )
        return profile
    forms = {_telltale_form(h) for h in headers}
    matching = [
        p
        for p in PROFILES
        if p.telltales and kind in p.kinds and all(_present(t, forms) for t in p.telltales)
    ]
    return max(matching, key=lambda p: len(p.telltales), default=BY_NAME["plain"])


def listing() -> list[tuple[str, str, str, str]]:
    """(name, title, kinds, identified by) for every profile, for `workbench import --profiles`."""
    return [(p.name, p.title, ", ".join(p.kinds), p.identified_by()) for p in PROFILES]


__all__ = ["Profile", "PROFILES", "BY_NAME", "recognise", "listing"]

"""Header matching: normalised forms, synonyms, mapping files and the missing-column message."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.ingest import headers


@pytest.mark.parametrize(
    "text", ["Membership No.", "membership_number", "MEMBERSHIP NUMBER", " Membership-Number "]
)
def test_spellings_normalise_alike(text):
    assert headers.normalise(text) in ("membershipno", "membershipnumber")
    assert headers.match("members", [text, "Ward"]).columns["membership_number"] == text


def test_synonyms_and_extra_columns():
    found = headers.match("calls", ["Member ID", "Campaign", "Call Date", "Result", "Favourite colour"])
    assert found.columns == {
        "membership_number": "Member ID",
        "round": "Campaign",
        "called_at": "Call Date",
        "outcome": "Result",
    }
    assert found.extra == ["Favourite colour"]


def test_mapping_wins_over_synonyms(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('[columns]\nmembership_number = "Ref"\nphone = "Phone"\n')
    found = headers.match("members", ["Ref", "Membership Number", "Phone"], headers.load_mapping(path))
    assert found.columns["membership_number"] == "Ref" and found.extra == ["Membership Number"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[columns\n", "map.toml is not a valid TOML mapping file"),
        ("[colours]\nx = 1\n", "map.toml: unknown section [colours]; a mapping file has [columns]"),
        ('[columns]\nshoe_size = "Shoe"\n', '"shoe_size" is not a members field. Fields: membership_number'),
        (
            '[columns]\nphone = "Tel No"\n',
            'Mapping: the file has no column "Tel No" (for phone). Columns found: Membership No (and 1 '
            "cell more, not repeated",
        ),
    ],
)
def test_mapping_errors_say_what_is_allowed(tmp_path, text, message):
    path = tmp_path / "map.toml"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        headers.match("members", ["Membership No", "Ref"], headers.load_mapping(path))
    assert message in str(error.value)


@pytest.mark.parametrize("kind", ["members", "calls"])
def test_a_first_row_of_sentences_is_counted_never_repeated(kind):
    """A notes tab read as the header row: its cells are a person's name and needs."""
    row = ["Mrs Leach needs her prescription collected", "Gary Bates - lonely since his wife died", "Chase"]
    with pytest.raises(InputError) as error:
        headers.match(kind, row, {})
    message = str(error.value)
    assert "Leach" not in message and "Bates" not in message and "lonely" not in message
    assert "3 cells, none named like a column the workbench knows" in message
    assert "--sheet NAME" in message


def test_the_header_names_found_are_still_listed_beside_a_cell_that_is_not_one():
    with pytest.raises(InputError) as error:
        headers.match("calls", ["Membership Number", "Outcome", "Gary Bates - lonely"], {})
    message = str(error.value)
    assert "Found: Membership Number, Outcome (and 1 cell more, not repeated" in message
    assert "Bates" not in message


def test_missing_mapping_file(tmp_path):
    with pytest.raises(InputError, match="Cannot read the mapping file"):
        headers.load_mapping(tmp_path / "none.toml")


@pytest.mark.parametrize(
    ("columns", "kind"),
    [
        (["Membership Number", "Date", "Outcome"], "calls"),
        (["Membership Number", "Postcode", "Phone"], "members"),
        (["Name", "Category", "Areas Served"], "services"),
        (["Colour"], None),
    ],
)
def test_guess_kind(columns, kind):
    assert headers.guess_kind(columns) == kind


# -- matching by meaning -------------------------------------------------------------------------

SYNONYMS = [(field, name) for field, names in headers.CALL_FIELDS.items() for name in names if " " in name]


@st.composite
def respelled(draw):
    """A known synonym with its case, spacing, punctuation and word order changed."""
    field, name = draw(st.sampled_from(SYNONYMS))
    words = draw(st.permutations(name.split()))
    words = [draw(st.sampled_from([w, w.upper(), w.title(), w.capitalize()])) for w in words]
    glue = [draw(st.sampled_from([" ", "  ", "_", "-", ". ", " / ", "_ "])) for _ in words[1:]]
    text = words[0] + "".join(g + w for g, w in zip(glue, words[1:], strict=True))
    text = (
        draw(st.sampled_from(["", " ", "(", "#"]))
        + text
        + draw(st.sampled_from(["", " ", "?", ":", ")", " *"]))
    )
    return field, name, text


@settings(max_examples=300, deadline=None)
@given(respelled())
def test_any_respelling_of_a_synonym_chooses_the_same_field(case):
    field, name, text = case
    plain = headers.match("calls", [name, "Membership Number", "Date", "Outcome"]).columns
    chosen = headers.match("calls", [text, "Membership Number", "Date", "Outcome"]).columns
    expected = next(f for f, h in plain.items() if h == name) if name in plain.values() else None
    assert expected is not None
    assert next(f for f, h in chosen.items() if h == text) == expected


@pytest.mark.parametrize("header", ["Date Called", "Call date/time", "When called"])
def test_call_time_spellings_find_the_call_date(header):
    found = headers.match("calls", ["Membership Number", header, "Outcome"])
    assert found.columns["called_at"] == header


def test_values_decide_between_competing_columns():
    values = {"Needs Support?": ["Y", "N"], "Support Needed": ["Food; Medicine", "Isolation"]}

    def fit(header, vocabulary):
        known = {"yes_no": {"Y", "N"}, "category": {"Food", "Medicine", "Isolation"}}[vocabulary]
        cells = values.get(header, [])
        parts = [all(p.strip() in known for p in c.split(";")) for c in cells]
        return sum(parts) / len(parts) if parts else 1.0

    for order in (["Support Needed", "Needs Support?"], ["Needs Support?", "Support Needed"]):
        found = headers.match("calls", ["Membership Number", "Date", "Outcome", *order], fit=fit)
        assert found.columns["needs_support"] == "Needs Support?"
        assert found.columns["need_categories"] == "Support Needed"
    # Swap what the columns hold, and the fields follow the values, not the names.
    values = {"Needs Support?": ["Food; Medicine"], "Support Needed": ["Y", "N"]}
    found = headers.match(
        "calls", ["Membership Number", "Date", "Outcome", "Needs Support?", "Support Needed"], fit=fit
    )
    assert (found.columns["needs_support"], found.columns["need_categories"]) == (
        "Support Needed",
        "Needs Support?",
    )


def test_two_equally_good_fuzzy_columns_are_a_problem_naming_both():
    with pytest.raises(InputError) as error:
        headers.match("calls", ["Membership Number", "Date", "Outcome", "Wellbeing scores", "Wellbeing scor"])
    message = str(error.value)
    assert '"Wellbeing scores" and "Wellbeing scor" could be Wellbeing' in message
    assert "--mapping ([columns] wellbeing =" in message


def test_a_near_miss_is_reported_not_used():
    found = headers.match("calls", ["Membership Number", "Date", "Outcome", "Urgncy lvl"])
    assert "urgency" not in found.columns
    assert found.weak and found.weak[0].startswith('"Urgncy lvl" looks a little like Urgency')

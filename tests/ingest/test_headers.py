"""Header matching: normalised forms, synonyms, mapping files and the missing-column message."""

import pytest

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
            'Mapping: the file has no column "Tel No" (for phone). Columns found: Ref',
        ),
    ],
)
def test_mapping_errors_say_what_is_allowed(tmp_path, text, message):
    path = tmp_path / "map.toml"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        headers.match("members", ["Ref"], headers.load_mapping(path))
    assert message in str(error.value)


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

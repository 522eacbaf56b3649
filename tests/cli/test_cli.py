"""Every command explains itself with a worked example, and no error becomes a traceback."""

import argparse
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pytest

from workbench.cli import COMMAND_AREAS, build_parser, common, main


def _subcommands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subcommands(sub, (*prefix, name))


COMMANDS = list(_subcommands(build_parser()))


def test_there_are_commands():
    assert len(COMMANDS) >= 4


@pytest.mark.parametrize("name,parser", COMMANDS, ids=[" ".join(n) for n, _ in COMMANDS])
def test_every_command_has_help_ending_with_an_example(name, parser):
    assert parser.description, f"{' '.join(name)} is missing its help"
    leaf = not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
    if leaf:
        example = parser.epilog or ""
        assert "Example:\n  " in example and "workbench " in example, f"{' '.join(name)} has no example"


def test_the_map_of_commands_to_areas_names_every_command_and_only_those():
    top = [name for (name, *rest), _ in COMMANDS if not rest]
    assert sorted(COMMAND_AREAS) == sorted(top)
    for command, area in COMMAND_AREAS.items():
        registered = {name for (name, *rest), _ in _subcommands(build_parser(command)) if not rest}
        assert registered == {c for c, a in COMMAND_AREAS.items() if a == area}


def test_a_command_imports_its_own_area_and_no_other():
    # `workbench needs --help` in a new Python: only the views area is imported (startup speed).
    code = ("import sys; from workbench.cli import main\n"
            "try:\n    main(['needs', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('workbench.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "['workbench.cli.common', 'workbench.cli.views']"


def test_unexpected_errors_are_one_line_without_traceback(capsys, tmp_path):
    # A directory where a store file should be: DuckDB fails in a way nobody planned for.
    rc = main(["info", "--db", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc != 0 and "Traceback" not in err and err.startswith("workbench: ")


def test_tables_line_up_right_aligned_whatever_the_cells_hold():
    # Braces in a cell are text, never part of the line's format; missing values show as pandas shows them.
    frame = pd.DataFrame({
        "member_key": ["m{0}", "m{x}{}", None],
        "days": [1, 22, 333],
        "escalated": [True, False, True],
        "categories": ["food; medicine", "", "{:>99}"],
        "share": [0.5, None, 0.25],
    })
    assert common.aligned(frame).split("\n") == [
        "member_key days escalated     categories share",
        "      m{0}    1      True food; medicine   0.5",
        "    m{x}{}   22     False                  NaN",
        "      None  333      True         {:>99}  0.25",
    ]


def test_an_arrow_table_lines_up_as_its_dataframe_would():
    # Text, whole numbers and true/false by Arrow's kernels; other types as Python writes them.
    table = pa.table({
        "member_key": pa.array(["m{0}", "ünïcode", None], pa.string()),
        "days": pa.array([1, 22, 333], pa.int32()),
        "escalated": [True, False, True],
        "categories": ["food; medicine", "", "{:>99}"],
    })
    assert common.aligned_table(table) == common.aligned(table.to_pandas())
    odd = pa.table({"share": [0.5, None, 0.25], "when": pa.array([None, 18000, 18001], pa.date32())})
    assert common.aligned_table(odd).split("\n") == [
        "share       when",
        "  0.5       None",
        "  NaN 2019-04-14",
        " 0.25 2019-04-15",
    ]


def test_import_services_takes_an_open_referral_uk_datapackage(tiny_org, tmp_path, monkeypatch, capsys):
    # `--help` says a directory may be given as its datapackage.json: the CLI must not read that file
    # as a table, but pass it to the import, which reads the tables it names.
    from workbench.store import db
    from workbench.synthetic import tool_exports

    folder = tool_exports.oruk_directory(tiny_org, tmp_path / "oruk")
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", db.DEMO_PASSPHRASE)
    store = tmp_path / "store.duckdb"
    assert main(["init", "--db", str(store)]) == 0
    assert main(["import", "services", str(folder / "datapackage.json"), "--db", str(store)]) == 0
    out = capsys.readouterr().out
    assert "loaded" in out and "new services" in out


def test_a_directory_s_problems_name_its_services_table(tiny_org, tmp_path, monkeypatch, capsys):
    import csv

    from workbench.store import db
    from workbench.synthetic import tool_exports

    folder = tool_exports.oruk_directory(tiny_org, tmp_path / "oruk")
    with (folder / "services.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[2][rows[0].index("name")] = ""
    with (folder / "services.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", db.DEMO_PASSPHRASE)
    assert main(["init", "--db", str(tmp_path / "s.duckdb")]) == 0
    assert main(["import", "services", str(folder), "--db", str(tmp_path / "s.duckdb")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("workbench: oruk/services.csv: 1 problem in 1 of ") and "row 3, name" in err


def test_a_passphrase_file_saved_with_a_byte_order_mark_opens_the_store(tmp_path, monkeypatch, capsys):
    # Older Windows Notepad saves UTF-8 with a BOM; the passphrase is the text after it.
    store = tmp_path / "s.duckdb"
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", "correct horse battery staple")
    assert main(["init", "--db", str(store)]) == 0
    monkeypatch.delenv("WORKBENCH_PASSPHRASE")
    secret = tmp_path / "pass.txt"
    secret.write_text("correct horse battery staple\r\n", encoding="utf-8-sig")
    assert main(["info", "--db", str(store), "--passphrase-file", str(secret)]) == 0
    assert "wrong passphrase" not in capsys.readouterr().err

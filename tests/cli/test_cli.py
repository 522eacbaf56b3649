"""Every command explains itself with a worked example, and no error becomes a traceback."""

import argparse

import pandas as pd
import pytest

from workbench.cli import build_parser, common, main


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

"""The one safe file writer (exports.atomic_write) and every writer of personal data that uses it.

Real files and symlinks in pytest's tmp_path: a symlink at the target is never followed, an existing
file is never replaced without force, and what is written is new, whole, 0600 and ours.
"""

from __future__ import annotations

import csv
import locale
import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from workbench import exports
from workbench.errors import InputError

FRAME = pd.DataFrame({"Row": [1], "First name": ["Pat"]})
WRITERS = {
    "atomic": lambda path, **kw: exports.atomic_write(path, lambda t: t.write_text("new"), **kw),
    "csv": lambda path, **kw: exports.write_csv(FRAME, path, **kw),
    "xlsx": lambda path, **kw: exports.write_xlsx(FRAME, path, **kw),
    "html": lambda path, **kw: exports.write_html(FRAME, path, notice=exports.Notice("N"), title="T", **kw),
}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.mark.parametrize("writer", WRITERS)
def test_a_symlink_at_the_target_is_refused_and_the_other_file_is_untouched(tmp_path, writer):
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file")
    victim.chmod(0o644)
    target = tmp_path / f"out.{writer}"
    target.symlink_to(victim)
    with pytest.raises(InputError, match="a symbolic link already exists there.*--force"):
        WRITERS[writer](target)
    assert victim.read_text() == "someone else's file" and _mode(victim) == 0o644
    assert target.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["victim.txt", target.name])


@pytest.mark.parametrize("writer", WRITERS)
def test_force_replaces_the_symlink_itself_never_what_it_points_to(tmp_path, writer):
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file")
    target = tmp_path / f"out.{writer}"
    target.symlink_to(victim)
    WRITERS[writer](target, force=True)
    assert not target.is_symlink() and target.is_file() and _mode(target) == 0o600
    assert victim.read_text() == "someone else's file"


@pytest.mark.parametrize("writer", WRITERS)
def test_an_existing_file_is_refused_then_replaced_with_force_by_a_new_private_file(tmp_path, writer):
    target = tmp_path / f"out.{writer}"
    target.write_text("planted by another user")
    target.chmod(0o666)
    before = target.stat().st_ino
    with pytest.raises(InputError, match="a file already exists there.*Nothing was written"):
        WRITERS[writer](target)
    assert target.read_text() == "planted by another user"
    WRITERS[writer](target, force=True)
    after = target.stat()
    assert after.st_ino != before  # a new file, not the planted one rewritten in place
    assert _mode(target) == 0o600 and after.st_uid == os.getuid()
    assert target.read_bytes() != b"planted by another user"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left behind


def test_a_folder_at_the_target_is_refused_even_with_force(tmp_path):
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(InputError, match="a folder already exists there; choose another name\\."):
        exports.write_csv(FRAME, tmp_path / "out.csv", force=True)


def test_a_file_that_appears_while_writing_is_not_replaced(tmp_path):
    target = tmp_path / "out.txt"

    def slow_write(temp: Path) -> None:
        temp.write_text("ours")
        target.write_text("appeared meanwhile")  # another process wins the name

    with pytest.raises(InputError, match="already exists"):
        exports.atomic_write(target, slow_write)
    assert target.read_text() == "appeared meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_the_temporary_file_is_private_from_its_first_byte(tmp_path):
    seen = {}

    def write(temp: Path) -> None:
        seen["mode"] = _mode(temp)
        seen["name"] = temp.name
        seen["folder"] = temp.parent
        temp.write_text("x")

    exports.atomic_write(tmp_path / "out.txt", write)
    assert seen["mode"] == 0o600 and seen["folder"] == tmp_path
    assert seen["name"].startswith(".out.txt.") and seen["name"].endswith(".part")


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(InputError, match="the folder .*missing.* does not exist"):
        exports.atomic_write(tmp_path / "missing" / "out.txt", lambda t: t.write_text("x"))


def test_a_folder_nobody_can_create_files_in_is_a_clear_error():
    # /proc refuses new files even to root, so this holds whoever runs the tests.
    with pytest.raises(InputError, match="Cannot write in /proc"):
        exports.atomic_write(Path("/proc/out.txt"), lambda t: t.write_text("x"))


def test_the_csv_header_row_is_escaped_too(tmp_path):
    # Branch names become column headers in a report's cross-table.
    frame = pd.DataFrame({"=cmd|'/c calc'!A0": [1], "\n=1+1": [2], "＝2": [3], "Ashcombe": [4]})
    path = exports.write_csv(frame, tmp_path / "t.csv")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == ["'=cmd|'/c calc'!A0", "'\n=1+1", "'＝2", "Ashcombe"]
    assert '"\'=cmd' in path.read_text(encoding="utf-8-sig")  # quoted as well as escaped


def test_the_stdout_csv_is_the_same_safe_csv(tmp_path):
    import io

    frame = pd.DataFrame({"ward": ['=HYPERLINK("http://evil.example/","x")', "@SUM(1)"], "n": [1, 2]})
    out = io.StringIO()
    exports.write_csv_to(out, frame)
    path = exports.write_csv(frame, tmp_path / "t.csv")
    with open(path, encoding="utf-8-sig", newline="") as written:
        assert out.getvalue() == written.read()
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://evil.example/\",\"x\")", "'@SUM(1)"]


def test_a_scratch_copy_is_a_new_private_file_never_one_already_there(tmp_path):
    copy = tmp_path / "utf8.csv"
    with exports.private_file(copy) as out:
        assert _mode(copy) == 0o600  # private before the first byte
        out.write(b"Membership Number\n")
    assert copy.read_bytes() == b"Membership Number\n"
    with pytest.raises(InputError) as taken:
        exports.private_file(copy)
    assert str(taken.value) == "Cannot write utf8.csv: something is already there."
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file")
    (tmp_path / "link.csv").symlink_to(victim)
    with pytest.raises(InputError, match="something is already there"):
        exports.private_file(tmp_path / "link.csv")
    assert victim.read_text() == "someone else's file"
    with pytest.raises(InputError, match="Cannot write in /proc: "):
        exports.private_file(Path("/proc/utf8.csv"))


def test_text_and_bytes_are_written_whole_and_private(tmp_path):
    page = exports.write_text(tmp_path / "page.html", "<p>naïve café</p>")
    assert page.read_bytes() == "<p>naïve café</p>".encode() and _mode(page) == 0o600
    data = exports.write_bytes(tmp_path / "list.pdf", b"%PDF-1.7 ...")
    assert data.read_bytes() == b"%PDF-1.7 ..." and _mode(data) == 0o600
    with pytest.raises(InputError, match="a file already exists there"):
        exports.write_bytes(data, b"again")
    assert exports.write_bytes(data, b"again", force=True).read_bytes() == b"again"
    assert exports.write_text(page, "new", force=True).read_text() == "new"


def test_a_file_the_writer_recreates_by_name_is_still_made_private(tmp_path):
    """A writer that deletes and recreates its temporary file (mode 0644) still leaves a 0600 file."""

    def recreate(temp: Path) -> None:
        temp.unlink()
        temp.write_text("rewritten")
        temp.chmod(0o644)

    path = exports.atomic_write(tmp_path / "out.txt", recreate)
    assert path.read_text() == "rewritten" and _mode(path) == 0o600


def test_a_temporary_file_swapped_for_a_symlink_is_never_followed(tmp_path):
    """If the temporary name becomes a symlink, its target keeps its mode and no link is placed."""
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file")
    victim.chmod(0o644)

    def swap(temp: Path) -> None:
        temp.unlink()
        temp.symlink_to(victim)

    with pytest.raises((NotImplementedError, OSError)):
        exports.atomic_write(tmp_path / "out.txt", swap)
    assert _mode(victim) == 0o644 and victim.read_text() == "someone else's file"
    assert [p.name for p in tmp_path.iterdir()] == ["victim.txt"]


def test_protect_makes_a_file_owner_only_and_passes_over_a_missing_one(tmp_path):
    """protect() sets 0600 on a file, and a file already gone is no error."""
    path = tmp_path / "list.csv"
    path.write_text("x")
    path.chmod(0o644)
    exports.protect(path)
    assert _mode(path) == 0o600
    exports.protect(tmp_path / "gone.csv")
    assert not (tmp_path / "gone.csv").exists()


def test_write_text_refuses_an_existing_file_unless_forced(tmp_path):
    """write_text, like every writer, never replaces a file without force."""
    page = exports.write_text(tmp_path / "page.html", "first")
    with pytest.raises(InputError, match="a file already exists there"):
        exports.write_text(page, "second")
    assert page.read_text() == "first"


def test_text_is_written_as_utf8_whatever_the_machine_locale(tmp_path):
    """Under an ASCII-only locale (a bare server's "C"), text is still written as UTF-8."""
    before = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        page = exports.write_text(tmp_path / "page.html", "<p>Zoë, naïve café</p>")
    finally:
        locale.setlocale(locale.LC_CTYPE, before)
    assert page.read_bytes() == "<p>Zoë, naïve café</p>".encode()


def test_a_long_file_name_is_written_and_one_too_long_is_a_clear_error(tmp_path):
    """Names up to 236 characters work (the temporary name adds 19); a longer one is refused cleanly."""
    longest = tmp_path / ("a" * 232 + ".csv")
    assert exports.write_text(longest, "x").read_text() == "x"
    with pytest.raises(InputError, match="Cannot write in .*: File name too long"):
        exports.write_text(tmp_path / ("b" * 233 + ".csv"), "x")
    assert [p.name for p in tmp_path.iterdir()] == [longest.name]


def test_checking_a_target_ahead_refuses_an_existing_file_unless_forced(tmp_path):
    """check_target (run before slow work) refuses an existing file by default, and allows it with force."""
    taken = tmp_path / "list.csv"
    taken.write_text("x")
    with pytest.raises(InputError, match="a file already exists there; choose another name, or add --force"):
        exports.check_target(taken)
    exports.check_target(taken, force=True)
    exports.check_target(tmp_path / "free.csv")

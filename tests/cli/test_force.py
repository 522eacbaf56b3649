"""`sar`, `breach`, `report`, `followups export|next-round` and `import --rejects` refuse what is
already at the target, and replace it only with --force.

The real CLI on the tiny synthetic store: a symlink planted at the target never leads the data
elsewhere, and a forced write is a new 0600 file of ours.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.store import db


@pytest.fixture
def store(synthetic_store: Path, monkeypatch) -> Path:
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", db.DEMO_PASSPHRASE)
    monkeypatch.setenv("WORKBENCH_USER", "dpo")
    return synthetic_store


def _number(store: Path) -> str:
    with db.session(store, db.DEMO_PASSPHRASE, read_only=True) as con:
        return con.execute("SELECT membership_number FROM identities ORDER BY 1 LIMIT 1").fetchone()[0]


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "someone-elses.txt"
    victim.write_text("not yours")
    victim.chmod(0o644)
    return victim


def test_sar_refuses_a_symlink_then_replaces_the_link_itself_with_force(store, tmp_path, capsys):
    victim = _victim(tmp_path)
    (tmp_path / "sar.json").symlink_to(victim)
    argv = ["sar", "--db", str(store), "--membership-number", _number(store), "--out", str(tmp_path / "sar")]
    assert main(argv) == 1
    assert "symbolic link already exists" in capsys.readouterr().err
    assert victim.read_text() == "not yours" and not (tmp_path / "sar.html").exists()  # neither file written
    assert main([*argv, "--force"]) == 0
    for name in ("sar.json", "sar.html"):
        written = tmp_path / name
        assert not written.is_symlink() and stat.S_IMODE(written.stat().st_mode) == 0o600
        assert written.stat().st_uid == os.getuid()
    assert victim.read_text() == "not yours" and stat.S_IMODE(victim.stat().st_mode) == 0o644


def test_report_refuses_a_folder_with_files_and_replaces_it_whole_with_force(store, tmp_path, capsys):
    out = tmp_path / "june"
    out.mkdir()
    (out / "old.csv").write_text("an earlier release")
    argv = ["report", "--db", str(store), "--out", str(out)]
    assert main(argv) == 1
    assert "not an empty folder" in capsys.readouterr().err and (out / "old.csv").exists()
    assert main([*argv, "--force"]) == 0
    assert not (out / "old.csv").exists() and (out / "manifest.json").is_file()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o600}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # nothing left aside


def test_report_never_follows_a_symlinked_folder(store, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "june").symlink_to(elsewhere)
    assert main(["report", "--db", str(store), "--out", str(tmp_path / "june")]) == 1
    assert "symbolic link" in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []
    assert main(["report", "--db", str(store), "--out", str(tmp_path / "june"), "--force"]) == 0
    assert not (tmp_path / "june").is_symlink() and list(elsewhere.iterdir()) == []


def test_breach_refuses_an_existing_file_then_replaces_it_with_force(store, tmp_path, capsys):
    listed = tmp_path / "list.csv"
    with db.session(store, db.DEMO_PASSPHRASE, read_only=True) as con:
        branch = con.execute("SELECT branch FROM members GROUP BY 1 ORDER BY count(*) DESC").fetchone()[0]
    assert main(["followups", "export", "--db", str(store), "--branch", branch, "--purpose", "call-backs",
                 "--recipient", "secretary", "--out", str(listed), "--unprotected", "fake people"]) == 0
    with db.session(store, db.DEMO_PASSPHRASE, read_only=True) as con:
        list_id = con.execute("SELECT list_id FROM lists").fetchone()[0]
    capsys.readouterr()
    target = tmp_path / "breach.md"
    target.write_text("planted")
    argv = ["breach", list_id, "--db", str(store), "--out", str(target)]
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err and target.read_text() == "planted"
    assert main([*argv, "--force"]) == 0
    assert list_id in target.read_text() and stat.S_IMODE(target.stat().st_mode) == 0o600


def _branch(store: Path) -> str:
    with db.session(store, db.DEMO_PASSPHRASE, read_only=True) as con:
        return con.execute("SELECT branch FROM members GROUP BY 1 ORDER BY count(*) DESC").fetchone()[0]


def _lists(store: Path) -> int:
    with db.session(store, db.DEMO_PASSPHRASE, read_only=True) as con:
        return con.execute("SELECT count(*) FROM lists").fetchone()[0]


def _list_argv(store: Path, command: str, out: Path) -> list[str]:
    scope = ["--branch", _branch(store)] if command == "export" else ["--attempts", "1"]
    return ["followups", command, "--db", str(store), *scope, "--purpose", "call-backs",
            "--recipient", "secretary", "--out", str(out), "--unprotected", "fake people"]


@pytest.mark.parametrize("command", ["export", "next-round"])
def test_lists_refuse_an_existing_file_saying_how_then_replace_it_with_force(store, tmp_path, capsys,
                                                                             command):
    target = tmp_path / "list.csv"
    target.write_text("last week's list")
    target.chmod(0o644)
    argv = _list_argv(store, command, target)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "a file already exists there" in err and "add --force to replace it" in err
    assert target.read_text() == "last week's list" and _lists(store) == 0  # nothing written or registered
    assert main([*argv, "--force"]) == 0
    assert "last week's list" not in target.read_text() and "CONFIDENTIAL" in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and _lists(store) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


@pytest.mark.parametrize("command", ["export", "next-round"])
def test_lists_never_follow_a_symlink_even_with_force(store, tmp_path, capsys, command):
    victim = _victim(tmp_path)
    target = tmp_path / "list.csv"
    target.symlink_to(victim)
    argv = _list_argv(store, command, target)
    assert main(argv) == 1
    assert "symbolic link already exists" in capsys.readouterr().err and _lists(store) == 0
    assert main([*argv, "--force"]) == 0
    assert not target.is_symlink() and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert victim.read_text() == "not yours" and stat.S_IMODE(victim.stat().st_mode) == 0o644


def test_import_refuses_an_existing_rejects_file_then_replaces_it_with_force(store, tmp_path, capsys):
    calls = tmp_path / "members.csv"
    calls.write_text("Membership Number,First Name,Last Name,Phone,Branch,Ward,Age\n"
                     "SYN9000001,Ada,Test,07700 900001,Ashcombe,North,abc\n"
                     "SYN9000002,Bo,Test,07700 900002,Ashcombe,North,40\n")
    rejects = tmp_path / "rejected.csv"
    rejects.write_text("an earlier run's rejects")
    argv = ["import", "members", str(calls), "--db", str(store), "--skip-invalid", "--rejects", str(rejects)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "a file already exists there" in err and "--force" in err
    assert rejects.read_text() == "an earlier run's rejects"
    assert main([*argv, "--force"]) == 0
    assert "SYN9000001" in rejects.read_text() and "SYN9000002" not in rejects.read_text()
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600

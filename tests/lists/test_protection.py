"""Secure it: lists leave encrypted (AES-256 XLSX and PDF), their passphrase is kept nowhere, a plain list
needs a recorded reason, the breach report says what protection means, and protected returns come home.

Each protected file is opened by msoffcrypto-tool and pikepdf themselves, not by the workbench.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import msoffcrypto
import openpyxl
import pikepdf
import pytest
from msoffcrypto.exceptions import InvalidKeyError

from tests.conftest import PASSPHRASE
from tests.lists.test_followups import AWKWARD_NAMES, ON_LIST, _build, _fill_xlsx, awkward_names
from workbench.cli import main
from workbench.errors import InputError
from workbench.ingest.returned import read_table as read_returned
from workbench.lists import breach, followups, protection, registry, returns
from workbench.store import db

ON_THE_LIST = ("Alice", "Tabby", "Nala", "7700 900001", "7700900001")  # names and a phone from the list
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM and os.environ.get("CI") != "true",
    reason="Chromium is not installed (under CI=true this test must run)",
)


@pytest.fixture
def store(con):
    _build(con)
    return con


def _export(con, out: Path, **options) -> followups.Exported:
    args = {"branch": "Ashcombe", "purpose": "welfare call-backs", "recipient": "Ashcombe secretary",
            "out": out, "actor": "ana", **options}
    return followups.export(con, **args)


def _shows_no_name(data: bytes) -> None:
    for text in ON_THE_LIST:
        for encoding in ("utf-8", "utf-16-le"):
            assert text.encode(encoding) not in data, f"{text!r} readable in the encrypted bytes"


def _decrypt(path: Path, secret: str) -> bytes:
    office = msoffcrypto.OfficeFile(io.BytesIO(path.read_bytes()))
    office.load_key(password=secret)
    out = io.BytesIO()
    office.decrypt(out)
    return out.getvalue()


def _workbook_text(plain: bytes) -> str:
    ws = openpyxl.load_workbook(io.BytesIO(plain)).active
    return "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)


# ---- the protected formats -------------------------------------------------------------------------------


def test_the_default_list_is_an_aes256_workbook_that_opens_only_with_its_passphrase(store, tmp_path):
    done = _export(store, tmp_path / "list.xlsx")  # no format, no reason: protected
    secret = done.passphrase
    assert secret and len(secret.split("-")) == protection.WORDS
    assert all(word.isalpha() and word.islower() for word in secret.split("-"))
    data = done.path.read_bytes()
    assert protection.is_encrypted_office(data)
    assert b'cipherAlgorithm="AES"' in data and b'keyBits="256"' in data  # agile encryption, AES-256
    _shows_no_name(data)
    with pytest.raises(InvalidKeyError):
        _decrypt(done.path, "wrong-horse-battery-staple-again")
    text = _workbook_text(_decrypt(done.path, secret))
    assert "Alice" in text and "Tabby" in text and done.list_id in text and "SHRED BY" in text
    assert oct(done.path.stat().st_mode & 0o777) == "0o600"
    assert registry.get(store, done.list_id).protection == protection.Protection(protection.XLSX_METHOD)


def test_each_list_gets_its_own_passphrase(store, tmp_path):
    first = _export(store, tmp_path / "a.xlsx")
    second = _export(store, tmp_path / "b.xlsx")
    assert first.passphrase != second.passphrase
    with pytest.raises(InvalidKeyError):
        _decrypt(second.path, first.passphrase)


@needs_chromium
def test_a_pdf_list_is_aes256_and_prints_the_same_a4_page(store, tmp_path):
    done = _export(store, tmp_path / "list.pdf")
    data = done.path.read_bytes()
    _shows_no_name(data)
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(done.path)
    with pikepdf.open(done.path, password=done.passphrase) as pdf:
        assert pdf.is_encrypted and pdf.encryption.R == 6 and pdf.encryption.bits == 256
        assert pdf.encryption.stream_method.name == "aesv3"  # AES-256 (PDF 2.0)
        plain = tmp_path / "opened.pdf"
        pdf.save(plain)  # pikepdf keeps nothing of the encryption once opened with the passphrase
    info = subprocess.run([shutil.which("pdfinfo"), str(plain)], check=True, capture_output=True,
                          text=True).stdout
    assert "(A4)" in info
    text = subprocess.run([shutil.which("pdftotext"), "-layout", str(plain), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert "Alice" in text and "Tabby" in text and f"List {done.list_id}" in text and "Page 1 of" in text
    assert registry.get(store, done.list_id).protection.method == protection.PDF_METHOD


def test_without_chromium_a_pdf_is_refused_with_the_install_command(store, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser on the path
    with pytest.raises(followups.printing.PrintError, match="apt-get install chromium"):
        _export(store, tmp_path / "list.pdf")
    assert registry.lists(store).empty and not (tmp_path / "list.pdf").exists()


def test_the_passphrase_is_kept_nowhere(store_path, tmp_path, capsys, monkeypatch):
    with db.session(store_path, PASSPHRASE) as con:
        _build(con)
        done = _export(con, tmp_path / "list.xlsx")
        nxt = followups.next_round(con, purpose="round 2", recipient="calling team", out=tmp_path / "r2.xlsx",
                                   actor="ana", as_of="2020-06-01")
        breach.write_breach(con, done.list_id, tmp_path / "breach.md", actor="dp")
        tables = {t: con.execute(f"SELECT * FROM {t}").df().to_csv()  # noqa: S608 - fixed names
                  for t in ("audit_log", "lists", "list_protection", "list_members", "settings")}
    secrets_given = [done.passphrase, nxt.passphrase]
    forms = [f for s in secrets_given for f in (s, s.replace("-", " "))]
    assert done.passphrase not in repr(done)
    for name, text in tables.items():
        assert not any(f in text for f in forms), f"a passphrase is in {name}"
    for path in [store_path, *tmp_path.rglob("*")]:
        if path.is_file():
            raw = path.read_bytes()
            assert not any(f.encode() in raw for f in forms), f"a passphrase is in {path.name}"
    audit = tables["audit_log"]
    assert protection.XLSX_METHOD in audit  # the fact and the method are recorded


# ---- unprotected lists need a reason ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "reason", "message"),
    [
        ("csv", None, 'give --unprotected "REASON"'),
        ("html", None, "cannot be encrypted"),
        ("csv", "   ", "--unprotected needs a reason"),
        ("csv", "ring Ana on 07700 900123 first", "no phone number or email"),
        ("xlsx", "x" * 301, "at most 300 characters"),
    ],
)
def test_a_plain_list_without_a_proper_reason_is_refused(store, tmp_path, fmt, reason, message):
    with pytest.raises(InputError, match=message):
        _export(store, tmp_path / f"list.{fmt}", unprotected=reason)
    assert registry.lists(store).empty and not list(tmp_path.glob("*list.*"))


def test_a_plain_list_records_its_reason_in_the_registry_and_the_audit_log(store, tmp_path):
    reason = "branch secretary prints it; the paper copy is kept locked"
    done = _export(store, tmp_path / "list.csv", unprotected=reason)
    assert done.passphrase is None
    assert "Alice" in done.path.read_text(encoding="utf-8-sig")
    assert registry.get(store, done.list_id).protection == protection.Protection("none", reason)
    row = registry.lists(store).set_index("list_id").loc[done.list_id]
    assert row["protection"] == f"NOT encrypted: {reason}"
    counts = store.execute(
        "SELECT counts FROM audit_log WHERE action = 'list_created' AND object_id = ?", [done.list_id]
    ).fetchone()[0]
    assert reason in counts and '"protection":"none"' in counts


def test_cli_refuses_unprotected_without_a_reason(store_path, tmp_path, capsys, monkeypatch):
    with db.session(store_path, PASSPHRASE) as con:
        _build(con)
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    base = ["followups", "export", "--db", str(store_path), "--by", "ana", "--branch", "Ashcombe",
            "--purpose", "call-backs", "--recipient", "secretary"]
    assert main([*base, "--out", str(tmp_path / "l.csv")]) == 1
    assert 'give --unprotected "REASON"' in capsys.readouterr().err
    with pytest.raises(SystemExit) as stopped:  # argparse: --unprotected takes a reason
        main([*base, "--out", str(tmp_path / "l.csv"), "--unprotected"])
    assert stopped.value.code == 2
    assert main([*base, "--out", str(tmp_path / "l.csv"), "--unprotected", ""]) == 1
    assert "--unprotected needs a reason" in capsys.readouterr().err
    assert not list(tmp_path.glob("l.*"))


def test_cli_prints_the_passphrase_once_with_the_advice(store_path, tmp_path, capsys, monkeypatch):
    with db.session(store_path, PASSPHRASE) as con:
        _build(con)
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    out = tmp_path / "ash.xlsx"
    assert main(["followups", "export", "--db", str(store_path), "--by", "ana", "--branch", "Ashcombe",
                 "--purpose", "call-backs", "--recipient", "secretary", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    line = next(li for li in printed.splitlines() if li.startswith("Passphrase to open it"))
    secret = line.rsplit(": ", 1)[1]
    assert printed.count(secret) == 1 and "different channel" in printed
    assert "Alice" in _workbook_text(_decrypt(out, secret))
    assert main(["lists", "--db", str(store_path), "--by", "ana"]) == 0
    shown = capsys.readouterr().out
    assert "encrypted (AES-256 XLSX)" in shown and secret not in shown


# ---- the breach report -----------------------------------------------------------------------------------


def test_breach_report_for_a_protected_list_quotes_the_rule_not_a_verdict(store, tmp_path):
    done = _export(store, tmp_path / "list.xlsx")
    report = breach.render_breach(breach.breach(store, done.list_id, actor="dp"))
    assert "## How the list was protected" in report
    assert "AES-256 (Office agile encryption)" in report
    assert "Article 34(3)(a)" in report and "render the personal data unintelligible" in report
    assert "stays with the data-protection lead" in report
    assert "did the passphrase travel with the file" in report
    assert "cannot be relied on" not in report and done.passphrase not in report


def test_breach_report_for_an_unprotected_list_says_it_is_readable(store, tmp_path):
    done = _export(store, tmp_path / "list.html", unprotected="printed for a branch with no computer")
    html = breach.render_breach(breach.breach(store, done.list_id, actor="dp"), "html")
    assert "NOT encrypted (reason recorded: printed for a branch with no computer)" in html
    assert "can read every name, phone number and need" in html and "cannot be relied on" in html
    assert "much lower risk" not in html


def test_breach_report_for_a_list_made_before_protection_was_recorded(store, tmp_path):
    done = _export(store, tmp_path / "list.xlsx")
    store.execute("DELETE FROM list_protection WHERE list_id = ?", [done.list_id])
    report = breach.render_breach(breach.breach(store, done.list_id, actor="dp"))
    assert "Protection: not recorded" in report and "Treat it as not encrypted" in report
    assert registry.lists(store)["protection"].tolist() == ["not recorded"]


# ---- returns from a protected workbook -------------------------------------------------------------------


def _protected_return(done: followups.Exported, tmp_path: Path, outcomes: dict) -> Path:
    """What a branch sends back: the list opened in Excel, filled in, saved with its password kept."""
    opened = tmp_path / "opened.xlsx"
    opened.write_bytes(_decrypt(done.path, done.passphrase))
    filled = _fill_xlsx(opened, outcomes, tmp_path / "filled.xlsx")
    back = tmp_path / "returned.xlsx"
    back.write_bytes(protection.encrypt_xlsx(filled.read_bytes(), done.passphrase))
    opened.unlink()
    filled.unlink()
    return back


def test_an_encrypted_list_that_comes_back_unprotected_is_flagged(store, tmp_path):
    # The list went out as an encrypted workbook; a volunteer saved it without its password.
    done = _export(store, tmp_path / "list.xlsx")
    opened = tmp_path / "opened.xlsx"
    plain = protection.decrypt_xlsx(done.path.read_bytes(), done.passphrase, file_name="list.xlsx")
    opened.write_bytes(plain)
    book = openpyxl.load_workbook(opened)
    sheet = book.active
    header_row = next(c.row for c in sheet["A"] if c.value == followups.LIST_ID)
    header = [c.value for c in sheet[header_row]]
    sheet.cell(header_row + 1, header.index(followups.OUTCOME) + 1, "resolved")
    book.save(opened)
    result = returns.import_results(store, opened, actor="ana")
    assert result.changed == {"resolved": 1}
    assert any("went out encrypted and came back unprotected" in w for w in result.warnings)
    again = _protected_return(done, tmp_path, {2: ("unreachable",)})
    assert not returns.import_results(store, again, actor="ana", passphrase=done.passphrase).warnings


def test_returns_from_a_protected_workbook(store, tmp_path):
    done = _export(store, tmp_path / "list.xlsx")
    today = registry.now().strftime("%d/%m/%Y")  # a call is made on or after the day its list was
    back = _protected_return(done, tmp_path, {1: ("resolved", today, "AB"), 4: ("opted out",)})
    assert returns.needs_passphrase(back)
    with pytest.raises(InputError, match="is a password-protected list"):
        returns.import_results(store, back, actor="ana")
    with pytest.raises(InputError, match="that passphrase does not open this list"):
        returns.import_results(store, back, actor="ana", passphrase="not-the-right-one")  # noqa: S106
    assert store.execute("SELECT count(outcome) FROM list_members").fetchone()[0] == 0
    as_read_out = done.passphrase.replace("-", " ").upper()  # typed from a phone call
    result = returns.import_results(store, back, actor="ana", passphrase=as_read_out)
    assert result.changed == {"resolved": 1, "opted_out": 1} and result.rows_read == ON_LIST
    assert returns.import_results(store, back, actor="ana", passphrase=done.passphrase).already_imported


def test_names_a_workbook_escapes_come_back_exactly_from_the_unmodified_protected_list(store, tmp_path):
    awkward_names(store)
    done = _export(store, tmp_path / "list.xlsx")
    plain = protection.decrypt_xlsx(done.path.read_bytes(), done.passphrase, file_name="list.xlsx")
    header, rows = read_returned(done.path, header_first=followups.LIST_ID, data=plain)
    assert sorted(cells[header.index(followups.FIRST)] for _, cells in rows) == sorted(AWKWARD_NAMES)
    result = returns.import_results(store, done.path, actor="ana", passphrase=done.passphrase)
    assert (result.changed, result.not_called, result.warnings) == ({}, ON_LIST, ())


def test_cli_imports_a_protected_return_with_a_passphrase_file(store_path, tmp_path, capsys, monkeypatch):
    with db.session(store_path, PASSPHRASE) as con:
        _build(con)
        done = _export(con, tmp_path / "list.xlsx")
    back = _protected_return(done, tmp_path, {2: ("unreachable",)})
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    base = ["followups", "import-results", str(back), "--db", str(store_path), "--by", "ana"]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: nobody to ask
    assert main(base) == 1
    assert "--list-passphrase-file" in capsys.readouterr().err
    secret_file = tmp_path / "passphrase.txt"
    secret_file.write_text(done.passphrase + "\n", encoding="utf-8")
    assert main([*base, "--list-passphrase-file", str(secret_file)]) == 0
    assert "Recorded: 1 unreachable" in capsys.readouterr().out

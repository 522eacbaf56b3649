"""The follow-up tab's protected lists, driven in-process: the passphrase is shown once with a copy button,
plain formats ask why, protected returns take their passphrase, and the callers' briefing is one click."""

from __future__ import annotations

import io
import re

import msoffcrypto
import openpyxl

from tests.lists.test_protection import _protected_return
from tests.widgets.test_widgets import _branch_with_people, shown
from workbench.lists import followups
from workbench.store import db
from workbench.widgets.lists import BriefingView, FollowupListView, ReturnsView
from workbench.widgets.store import StoreView


def _page(synthetic_store, tmp_path) -> FollowupListView:
    page = FollowupListView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.branch.value = _branch_with_people(synthetic_store)
    page.purpose.value, page.recipient.value = "call-backs", "Branch secretary"
    page.folder.value = str(tmp_path / "out")
    return page


def test_protected_formats_come_first_and_the_passphrase_is_shown_once(synthetic_store, tmp_path):
    page = _page(synthetic_store, tmp_path)
    assert [value for _, value in page.fmt.options][:2] == ["xlsx", "pdf"] and page.fmt.value == "xlsx"
    assert page.reason.layout.display == "none"  # no reason asked for a protected list
    page.export_button.click()
    assert page.exported is not None, page.feedback.text
    assert page.exported.passphrase is None  # the view keeps no copy
    secret = re.search(r"class='wb-passphrase'[^>]*>([a-z-]+)<", page.passphrase.value).group(1)
    box = page.passphrase.value
    assert f"data-passphrase='{secret}'" in box and "navigator.clipboard" in box  # the copy button
    assert "different channel" in shown(page.passphrase) and "encrypted" in page.feedback.text
    office = msoffcrypto.OfficeFile(io.BytesIO(page.exported.path.read_bytes()))
    office.load_key(password=secret)
    plain = io.BytesIO()
    office.decrypt(plain)
    cells = [str(c.value) for row in openpyxl.load_workbook(plain).active.iter_rows() for c in row]
    assert any(page.exported.list_id in cell for cell in cells)
    page.hide_button.click()
    assert page.passphrase.value == "" and page.hide_button.layout.display == "none"


def test_a_plain_format_asks_why_before_writing(synthetic_store, tmp_path):
    page = _page(synthetic_store, tmp_path)
    page.fmt.value = "csv-plain"
    assert page.reason.layout.display is None  # the reason box appears
    page.export_button.click()
    assert "Say why this list is not protected" in page.feedback.text and page.exported is None
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    page.reason.value = "the calling tool only takes CSV"
    page.export_button.click()
    assert page.exported.path.suffix == ".csv" and page.passphrase.value == ""
    assert "NOT encrypted" in page.feedback.text


def test_a_protected_return_is_imported_with_its_passphrase(synthetic_store, tmp_path):
    branch = _branch_with_people(synthetic_store)
    with db.session(synthetic_store, db.DEMO_PASSPHRASE) as con:
        done = followups.export(con, branch=branch, purpose="call-backs", recipient="secretary",
                                out=tmp_path / "list.xlsx", actor="ana")
    back = _protected_return(done, tmp_path, {1: ("resolved",)})
    view = ReturnsView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    view.path.value = str(back)
    view.import_button.click()
    assert "password-protected" in view.feedback.text and "Traceback" not in view.feedback.value
    view.list_passphrase.value = done.passphrase
    view.import_button.click()
    assert "changed: 1 resolved" in view.feedback.text, view.feedback.text
    assert view.list_passphrase.value == ""  # not kept in the box


def test_the_briefing_button_writes_a_briefing(synthetic_store, tmp_path):
    view = BriefingView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    view.branch.value = "Ashcombe"
    assert "Elmwell" in view.ward.options
    view.fmt.value, view.folder.value, view.round.value = "html", str(tmp_path), "round 3"
    view.make_button.click()
    assert view.written is not None and view.written.name.startswith("briefing-ashcombe-"), view.feedback.text
    assert "Ashcombe Good Neighbours" in view.written.read_text(encoding="utf-8")

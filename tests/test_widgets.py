"""The widget views, driven in-process as a person would: set a value, click, read what is shown.

Real stores (the conftest fixtures), real library calls; no kernel and no browser needed here.
"""

from __future__ import annotations

import html

import pytest

from workbench import db
from workbench.widgets.feedback import Feedback
from workbench.widgets.store import SettingsView, StoreView
from tests.conftest import PASSPHRASE


def shown(widget) -> str:
    """The text a person would read in an HTML widget."""
    import re

    return html.unescape(re.sub(r"<[^>]+>", " ", widget.value))


# --- feedback ----------------------------------------------------------------------------------

@pytest.mark.parametrize("error,expected", [
    (ValueError("+447700900123 is bad"), "unexpected"),
    (KeyError("Jane Smith"), "unexpected"),
])
def test_unexpected_errors_show_their_type_only(error, expected):
    note = Feedback()
    with note.guard():
        raise error
    assert expected in note.text and type(error).__name__ in note.text
    assert "Traceback" not in note.value and "7700" not in note.value and "Jane" not in note.value


def test_workbench_errors_show_their_own_message_escaped():
    from workbench.errors import InputError

    note = Feedback()
    assert note.call(lambda: (_ for _ in ()).throw(InputError("<b>row 3</b>, column Phone"))) is None
    assert note.text == "<b>row 3</b>, column Phone" and "<b>row" not in note.value


def test_a_guarded_callback_returns_its_value_when_it_works():
    note = Feedback()
    assert note.guarded(lambda x: x + 1)(1) == 2 and note.value == ""


# --- the store ---------------------------------------------------------------------------------

def test_store_opens_with_the_right_passphrase_and_tells_waiting_views(store_path):
    view = StoreView(store_path, PASSPHRASE)
    seen = []
    view.when_open(seen.append)
    assert view.store is not None and seen == [view.store]
    assert "Opened" in view.feedback.text and "encrypted" in shown(view.summary)
    assert PASSPHRASE not in repr(view.store)


@pytest.mark.parametrize("passphrase,message", [
    ("wrong", "wrong passphrase"),
    ("", "is encrypted"),
])
def test_store_errors_are_one_readable_line(store_path, passphrase, message):
    view = StoreView(store_path, passphrase, auto_open=False)
    assert view.open_store() is None and view.store is None
    assert message in view.feedback.text and "Traceback" not in view.feedback.value


def test_a_missing_store_offers_the_demo_build(tmp_path):
    view = StoreView(tmp_path / "none.duckdb", "", auto_open=False)
    view.open_store()
    assert "no store" in view.feedback.text.lower() and view.demo_button.layout.display != "none"


def test_store_auto_opens_from_the_environment(store_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DB", str(store_path))
    monkeypatch.setenv("WORKBENCH_PASSPHRASE", PASSPHRASE)
    view = StoreView()
    assert view.store is not None and view.store.path == store_path


def test_settings_are_shown_and_saved_and_bad_values_refused(store_path):
    view = StoreView(store_path, PASSPHRASE)
    page = SettingsView(view)
    assert page.boxes["shred_after_days"].value == "14"
    page.boxes["shred_after_days"].value = "10"
    page.save_button.click()
    assert "Saved 1" in page.feedback.text
    with db.session(store_path, PASSPHRASE, read_only=True) as con:
        from workbench import settings

        assert settings.get(con, "shred_after_days") == "10"
    page.boxes["dp_contact"].value = "not an email"
    page.save_button.click()
    assert "must be an email" in page.feedback.text and "Traceback" not in page.feedback.value


# --- opt-outs ------------------------------------------------------------------------------------

def _a_member(path) -> tuple[str, str]:
    with db.session(path, db.DEMO_PASSPHRASE, read_only=True) as con:
        return con.execute("SELECT member_key, membership_number FROM identities ORDER BY member_key "
                           "LIMIT 1").fetchone()


def test_optouts_view_adds_looks_up_and_withdraws(synthetic_store):
    from workbench.widgets.optouts import OptOutsView

    key, number = _a_member(synthetic_store)
    page = OptOutsView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.identifier.value = number
    page.lookup_button.click()
    assert "Not on the register" in shown(page.status)
    page.reason.value = "asked_not_to_be_called"
    page.add_button.click()
    assert "Added" in page.feedback.text and key in page.register.value
    page.lookup_button.click()
    assert "On the register" in shown(page.status) and number not in page.entries.value
    page.withdraw_reason.value = "re_consented"
    page.withdraw_button.click()
    assert "Withdrew 1" in page.feedback.text
    page.lookup_button.click()
    assert "Not on the register" in shown(page.status) and "re_consented" in page.entries.value


@pytest.mark.parametrize("by,value,message", [
    ("Phone number", "12345", "not a UK phone number"),
    ("Membership number", "NOBODY-999", "No member has that membership number"),
    ("Membership number", "", "exactly one"),
])
def test_optouts_view_bad_input_is_a_readable_message(synthetic_store, by, value, message):
    from workbench.widgets.optouts import OptOutsView

    page = OptOutsView(StoreView(synthetic_store, db.DEMO_PASSPHRASE))
    page.by.value, page.identifier.value = by, value
    page.lookup_button.click()
    assert message in page.feedback.text and "Traceback" not in page.feedback.value
    assert value == "" or value not in page.feedback.text

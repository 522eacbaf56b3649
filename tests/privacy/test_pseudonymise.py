"""Keyed pseudonyms: per-release keys, linking on request, rotation, and no hashing without a key."""

from __future__ import annotations

import json

import pytest

from workbench.errors import InputError
from workbench.privacy import pseudonymise

KEYS = ["mk0001", "mk0002", "mk0003"]


def test_each_release_gets_its_own_key_so_releases_cannot_be_linked(con):
    one = pseudonymise.release_pseudonyms(pseudonymise.release_key(con, "r1"), KEYS)
    two = pseudonymise.release_pseudonyms(pseudonymise.release_key(con, "r2"), KEYS)
    assert len(set(one)) == 3 and not set(one) & set(two)
    assert all(len(p) == 16 for p in one)
    assert pseudonymise.release_keys(con) == ["r1", "r2"]


def test_link_to_reuses_the_earlier_release_key(con):
    first = pseudonymise.release_key(con, "r1")
    linked = pseudonymise.release_key(con, "r2", link_to="r1")
    assert linked == first
    assert pseudonymise.release_pseudonyms(linked, KEYS) == pseudonymise.release_pseudonyms(first, KEYS)


def test_release_keys_are_not_the_member_or_suppression_keys(con):
    secret = pseudonymise.release_key(con, "r1")
    rows = con.execute("SELECT secret FROM keys WHERE name IN ('member', 'suppression')").fetchall()
    others = {bytes(r[0]) for r in rows}
    assert secret not in others and len(secret) == 32


@pytest.mark.parametrize(("release_id", "link_to", "expected"), [
    ("r1", None, 'Release "r1" already has a key'),
    ("r2", "nope", 'No key for release "nope"'),
])
def test_release_key_errors(con, release_id, link_to, expected):
    pseudonymise.release_key(con, "r1")
    with pytest.raises(InputError, match=expected):
        pseudonymise.release_key(con, release_id, link_to=link_to)


def test_rotation_retires_release_keys_keeps_the_others_and_is_audited(con):
    pseudonymise.release_key(con, "r1")
    pseudonymise.release_key(con, "r2")
    assert pseudonymise.rotate_release_keys(con, actor="ana") == 2
    assert pseudonymise.release_keys(con) == []
    names = {r[0] for r in con.execute("SELECT name FROM keys").fetchall()}
    assert {"member", "suppression"} <= names
    action, counts = con.execute("SELECT action, counts FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert action == "keys.rotate" and json.loads(counts) == {"retired": 2}
    with pytest.raises(InputError, match="retired"):
        pseudonymise.release_key(con, "r3", link_to="r1")


def test_nothing_is_hashed_without_a_key():
    with pytest.raises(ValueError, match="without one"):
        pseudonymise.release_pseudonyms(b"", ["07700900123"])

"""Container ACLs as Swift's keystoneauth reads them: cleaning, referrers and who may pass."""
from __future__ import annotations

import pytest

from overcast.keystone import Identity
from services.objectstore.acl import acl_allows, clean_acl, parse_acl, referrer_allowed


def identity(**overrides) -> Identity:
    fields = {"user_id": "uid", "user_name": "alice", "project_id": "pid",
              "project_name": "team", "roles": frozenset({"member"}), "expires": 1e12}
    return Identity(**{**fields, **overrides})


@pytest.mark.parametrize(("raw", "clean"), [
    ("bob, sue", "bob,sue"),
    ("bob,,,sue", "bob,sue"),
    (".referrer : *", ".r:*"),
    (".ref:*.example.com", ".r:.example.com"),
    (".r:*, .rlistings", ".r:*,.rlistings"),
    (".r:-thief.com", ".r:-thief.com"),
    ("pid:uid", "pid:uid"),
])
def test_clean_acl(raw, clean):
    assert clean_acl("X-Container-Read", raw) == clean


@pytest.mark.parametrize(("header", "raw", "message"), [
    ("X-Container-Write", ".r:*", "Referrers not allowed in write ACL"),
    ("X-Container-Read", ".r:", "No host/domain value"),
    ("X-Container-Read", ".r:-", "No host/domain value"),
    ("X-Container-Read", ".x:y", "Unknown designator"),
])
def test_clean_acl_refuses(header, raw, message):
    with pytest.raises(ValueError, match=message):
        clean_acl(header, raw)


def test_parse_acl_splits_referrers_from_groups():
    assert parse_acl(".r:*,.rlistings,pid:uid,admin") == (
        ["*"], [".rlistings", "pid:uid", "admin"])
    assert parse_acl(None) == ([], [])


@pytest.mark.parametrize(("referrer", "acl", "allowed"), [
    (None, ["*"], True),
    ("http://www.example.com/x", [".example.com"], True),
    ("http://example.org/", [".example.com"], False),
    ("http://evil.example.com/", [".example.com", "-evil.example.com"], False),
    ("http://good.example.com/", [".example.com", "-evil.example.com"], True),
    ("http://[bad", ["www.example.com"], False),
    (None, [], False),
])
def test_referrer_allowed(referrer, acl, allowed):
    assert referrer_allowed(referrer, acl) is allowed


@pytest.mark.parametrize("item", ["pid:uid", "*:uid", "pid:*", "*:*", "team:alice"])
def test_project_user_forms_let_another_project_in(item):
    assert acl_allows(item, identity=identity(), own_account=False, is_object=True,
                      referrer=None)


def test_names_match_only_in_the_default_domain():
    elsewhere = identity(user_domain_id="other")
    assert not acl_allows("team:alice", identity=elsewhere, own_account=False,
                          is_object=True, referrer=None)
    assert acl_allows("pid:uid", identity=elsewhere, own_account=False, is_object=True,
                      referrer=None)


def test_roles_in_an_acl_count_only_in_the_accounts_own_project():
    observer = identity(roles=frozenset({"Observer"}))
    assert acl_allows("observer", identity=observer, own_account=True, is_object=True,
                      referrer=None)
    assert not acl_allows("observer", identity=observer, own_account=False, is_object=True,
                          referrer=None)


def test_referrers_read_objects_and_list_only_with_rlistings():
    assert acl_allows(".r:*", identity=None, own_account=False, is_object=True,
                      referrer=None)
    assert not acl_allows(".r:*", identity=None, own_account=False, is_object=False,
                          referrer=None)
    assert acl_allows(".r:*,.rlistings", identity=None, own_account=False, is_object=False,
                      referrer=None)


def test_other_users_are_not_let_in():
    assert not acl_allows("pid:someone-else,other:*", identity=identity(),
                          own_account=False, is_object=True, referrer=None)
    assert not acl_allows("", identity=None, own_account=False, is_object=True,
                          referrer=None)


@pytest.mark.parametrize("referrer", [None, "http://anywhere.example/page"])
def test_a_referrer_in_a_write_acl_opens_nothing_to_anonymous_writers(referrer):
    """A write ACL stored before ACLs were checked may hold ``.r:*``; it grants no writes."""
    assert not acl_allows(".r:*", identity=None, own_account=False, is_object=True,
                          referrer=referrer, write=True)
    assert acl_allows(".r:*", identity=None, own_account=False, is_object=True,
                      referrer=referrer)

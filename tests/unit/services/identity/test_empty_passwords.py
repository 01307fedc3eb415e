"""An empty password can be neither set nor used to log in (Keystone with a password rule)."""
from __future__ import annotations

from services.identity.models import User
from services.identity.passwords import hash_password, verify_password

V3 = "/identity/v3"
REFUSED = "The password does not match the requirements: the password must not be empty."


def _bad_request(resp) -> None:
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == 400
    assert resp.json()["error"]["message"] == REFUSED


def _login(client, h, name: str, password: str):
    return client.post(f"{V3}/auth/tokens", json=h.password_body(name, password))


def test_admin_could_create_a_user_with_an_empty_password(client, h, admin_token):
    resp = client.post(f"{V3}/users", headers=h.auth(admin_token),
                       json={"user": {"name": "blank", "password": ""}})
    _bad_request(resp)
    names = {u["name"] for u in client.get(f"{V3}/users", headers=h.auth(admin_token)).json()[
        "users"]}
    assert "blank" not in names


def test_admin_could_set_an_empty_password(client, h, admin_token):
    user = client.post(f"{V3}/users", headers=h.auth(admin_token),
                       json={"user": {"name": "eve", "password": "s3cret"}}).json()["user"]
    _bad_request(client.patch(f"{V3}/users/{user['id']}", headers=h.auth(admin_token),
                              json={"user": {"password": ""}}))
    assert _login(client, h, "eve", "s3cret").status_code == 201


def test_user_could_change_their_password_to_an_empty_one(client, h, admin_token):
    user = client.post(f"{V3}/users", headers=h.auth(admin_token),
                       json={"user": {"name": "eve", "password": "s3cret"}}).json()["user"]
    _bad_request(client.post(f"{V3}/users/{user['id']}/password", json={
        "user": {"original_password": "s3cret", "password": ""}}))
    assert _login(client, h, "eve", "s3cret").status_code == 201


def test_user_without_a_password_cannot_log_in_with_an_empty_one(client, h, admin_token):
    assert client.post(f"{V3}/users", headers=h.auth(admin_token),
                       json={"user": {"name": "nopass"}}).status_code == 201
    resp = _login(client, h, "nopass", "")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == 401


def test_empty_password_stored_before_the_rule_no_longer_logs_in(manager, client, h):
    user = manager.users.create_user(name="legacy", password="placeholder")
    # The row as a release that still took empty passwords would have left it.
    with manager.db.session() as s:
        s.get(User, user.id).password_hash = hash_password("")
    assert _login(client, h, "legacy", "").status_code == 401


def test_verify_password_refuses_the_empty_password_even_against_its_own_hash():
    assert verify_password("", hash_password("")) is False
    assert verify_password("x", hash_password("x")) is True

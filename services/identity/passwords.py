"""Password hashing: scrypt with a random salt per password, compared in constant time;
and the rule every new password must meet."""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os

from overcast.errors import BadRequest

# Keystone refuses passwords longer than this (max_password_length); so do we.
MAX_PASSWORD_LENGTH = 4096
# Keystone's password_regex (security_compliance), as an operator hardening it sets it:
# here fixed to "not empty", described the way Keystone's password_regex_description is.
PASSWORD_RULE = "the password must not be empty"


def check_new_password(password: str) -> None:
    """``BadRequest`` with Keystone's ``PasswordRequirementsValidationError`` message unless
    ``password`` may be set as a user's password (not empty)."""
    if not password:
        raise BadRequest(f"The password does not match the requirements: {PASSWORD_RULE}.")

_N, _R, _P, _DKLEN = 2**14, 8, 1, 32


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=256 * n * r + 1024 * 1024)


def hash_password(password: str) -> str:
    """A self-describing hash ``scrypt$n$r$p$salt$digest`` of ``password``, freshly salted."""
    salt = os.urandom(16)
    digest = _derive(password, salt, _N, _R, _P, _DKLEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str | None) -> bool:
    """Whether ``password`` matches ``encoded``; false for a missing or malformed hash.

    With no hash to check against, a dummy hash is still computed, so that an unknown user
    costs the caller as much time as a wrong password does. An empty password never matches,
    not even the hash of an empty password stored before new passwords had to be non-empty.
    """
    checkable = encoded is not None and 0 < len(password) <= MAX_PASSWORD_LENGTH
    if not checkable:
        encoded, password = _dummy_hash(), ""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = _derive(password, _unb64(salt), int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected) and checkable


@functools.cache
def _dummy_hash() -> str:
    return hash_password(_b64(os.urandom(16)))

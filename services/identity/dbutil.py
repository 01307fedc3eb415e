"""Small helpers the identity stores share."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast.db import Database
from overcast.errors import Conflict, NotFound

T = TypeVar("T")


@contextlib.contextmanager
def writing(db: Database, what: str) -> Iterator[Session]:
    """A session whose commit turns a uniqueness violation into ``Conflict`` about ``what``."""
    try:
        with db.session() as s:
            yield s
    except IntegrityError as exc:
        raise Conflict(f"Conflict occurred attempting to store {what} - "
                       "Duplicate entry found.") from exc


def get_or_404(s: Session, model: type[T], ident: Any, kind: str) -> T:
    """The row of ``model`` with primary key ``ident``; ``NotFound`` names ``kind``."""
    row = s.get(model, ident) if ident is not None else None
    if row is None:
        raise NotFound(f"Could not find {kind}: {ident}.")
    return row


def apply_changes(row: object, changes: dict[str, Any], allowed: frozenset[str]) -> None:
    """Set the given attributes on ``row``; a key outside ``allowed`` is a programming error."""
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    for key, value in changes.items():
        setattr(row, key, value)

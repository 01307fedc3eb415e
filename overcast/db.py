"""Database helpers: SQLAlchemy 2 engines with SQLite WAL by default, any URL accepted.

Services keep transactions short and call them straight from the event loop: with SQLite in
WAL mode a commit costs well under a millisecond, which is cheaper than a thread hop.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator

from sqlalchemy import MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    """Shared declarative base; each service keeps its tables in its own database."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """An engine, its tables and a session factory."""

    def __init__(self, url: str, metadata: MetaData) -> None:
        self.engine = make_engine(url)
        metadata.create_all(self.engine)
        add_missing_columns(self.engine, metadata)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Add the columns a table has gained since its database was made (additive changes
    only: a new column is added as nullable, or with its scalar default when it has one).
    Returns ``table.column`` for each column added."""
    existing = inspect(engine)
    added = []
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if not existing.has_table(table.name):
                continue
            have = {column["name"] for column in existing.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                default = column.default.arg if column.default is not None \
                    and column.default.is_scalar else None
                clause = ""
                if isinstance(default, bool):
                    clause = f" DEFAULT {int(default)}"
                elif isinstance(default, (int, float)):
                    clause = f" DEFAULT {default}"
                elif isinstance(default, str):
                    clause = " DEFAULT '" + default.replace("'", "''") + "'"
                conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" '
                                  f"{kind}{clause}"))
                added.append(f"{table.name}.{column.name}")
    return added


def sqlite_url(path: str | os.PathLike[str]) -> str:
    return f"sqlite:///{path}"

"""A database made by an older release gains the columns its tables have since grown."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, inspect, text

from overcast.db import Database, sqlite_url


def _table(metadata: MetaData, *extra: Column) -> Table:
    return Table("things", metadata, Column("id", Integer, primary_key=True),
                 Column("name", String(20)), *extra)


def test_new_columns_are_added_with_their_defaults(tmp_path):
    url = sqlite_url(tmp_path / "db.sqlite")
    old = MetaData()
    _table(old)
    Database(url, old).close()
    with Database(url, old).engine.begin() as conn:
        conn.execute(text("INSERT INTO things (id, name) VALUES (1, 'a')"))
    new = MetaData()
    _table(new, Column("locked", Boolean, nullable=False, default=False),
           Column("reason", String(255), nullable=True),
           Column("flavor", String(20), nullable=False, default="m1"))
    db = Database(url, new)
    columns = {c["name"] for c in inspect(db.engine).get_columns("things")}
    assert {"locked", "reason", "flavor"} <= columns
    with db.engine.begin() as conn:
        row = conn.execute(text("SELECT locked, reason, flavor FROM things")).one()
    assert tuple(row) == (0, None, "m1")
    db.close()

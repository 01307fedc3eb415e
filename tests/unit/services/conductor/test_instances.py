"""The instance store: a database made before volumes gains the mapping column."""
from __future__ import annotations

import sqlite3

from overcast.db import Database
from services.conductor.instances import InstanceStore, payload_of
from services.conductor.models import Base, Instance

FLAVOR = {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}


def test_an_instance_of_a_database_made_before_volumes_has_no_mappings(tmp_path):
    path = tmp_path / "c.db"
    db = Database(f"sqlite:///{path}", Base.metadata)
    with db.session() as session:
        session.add(Instance(id="i1", name="vm", project_id="p1", user_id="u1",
                             flavor=FLAVOR))
    db.close()
    with sqlite3.connect(path) as conn:  # as the table was before volumes
        conn.execute("ALTER TABLE instances DROP COLUMN block_device_mapping")
    db = Database(f"sqlite:///{path}", Base.metadata)  # adds the missing column
    store = InstanceStore(db)
    assert store.get("i1")["block_device_mapping"] == []
    assert payload_of(store.get("i1")).block_device_mapping == ()
    with store.edit("i1") as (_session, inst):
        inst.block_device_mapping = [{"volume_id": "v1", "attachment_id": "a1",
                                      "device_name": "/dev/vdb", "status": "attached"}]
    assert [d.volume_id for d in payload_of(store.get("i1")).block_device_mapping] == ["v1"]
    db.close()

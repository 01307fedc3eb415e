"""The config drive, laid out as Nova's."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from agents.compute.contract import FlavorSpec, InstancePayload
from agents.guest import configdrive

FLAVOR = FlavorSpec(id="1", name="m1.tiny", vcpus=1, ram=128, disk=1)


def _instance(**fields: object) -> InstancePayload:
    base = {"id": "9f1c", "name": "Web Server_1", "project_id": "demo", "user_id": "alice",
            "flavor": FLAVOR, "key_name": "mykey", "key_data": "ssh-ed25519 AAAA me\n",
            "metadata": {"role": "web"}, "availability_zone": "nova", "launch_index": 2}
    return InstancePayload(**{**base, **fields})


def test_layout_follows_nova(tmp_path: Path):
    user_data = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    path = configdrive.write(tmp_path / "cd", _instance(user_data=user_data))
    meta = json.loads((path / "openstack/latest/meta_data.json").read_text())
    assert meta["uuid"] == "9f1c" and meta["name"] == "Web Server_1"
    assert meta["hostname"] == "web-server-1"
    assert (meta["launch_index"], meta["availability_zone"], meta["project_id"]) == \
        (2, "nova", "demo")
    assert meta["meta"] == {"role": "web"}
    assert meta["public_keys"] == {"mykey": "ssh-ed25519 AAAA me\n"}
    assert meta["keys"] == [{"name": "mykey", "type": "ssh", "data": "ssh-ed25519 AAAA me\n"}]
    assert (path / "openstack/latest/user_data").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (path / "overcast/hostname").read_text() == "web-server-1\n"
    assert (path / "overcast/authorized_keys").read_text() == "ssh-ed25519 AAAA me\n"


def test_without_key_or_user_data(tmp_path: Path):
    path = configdrive.write(tmp_path / "cd", _instance(key_name=None, key_data=None))
    meta = json.loads((path / "openstack/latest/meta_data.json").read_text())
    assert meta["public_keys"] == {} and meta["keys"] == []
    assert not (path / "openstack/latest/user_data").exists()
    assert (path / "overcast/authorized_keys").read_text() == ""


def test_rewriting_replaces_the_old_drive(tmp_path: Path):
    configdrive.write(tmp_path / "cd", _instance(user_data=base64.b64encode(b"x").decode()))
    configdrive.write(tmp_path / "cd", _instance())
    assert not (tmp_path / "cd/openstack/latest/user_data").exists()


def test_user_data_that_is_not_base64_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="base64"):
        configdrive.write(tmp_path / "cd", _instance(user_data="not base64!"))


@pytest.mark.parametrize(("name", "hostname"), [("...", "server-9f1c"), ("UPPER", "upper"),
                                                ("a" * 80, "a" * 63)])
def test_hostname_is_sanitised(name: str, hostname: str):
    assert configdrive.hostname_for(_instance(name=name)) == hostname

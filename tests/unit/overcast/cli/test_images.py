"""The image builder's choices: official base, cached Debian base, or a fresh debootstrap."""
from __future__ import annotations

import pytest

from overcast.cli import images


@pytest.fixture
def docker(monkeypatch):
    """A fake daemon: which tags it has, which pulls succeed, what was built."""
    state = {"have": set(), "pullable": set(), "pulled": [], "bootstrapped": 0}
    monkeypatch.setattr(images, "image_id",
                        lambda tag: f"sha256:{tag}" if tag in state["have"] else None)

    def pull(tag, **_):
        state["pulled"].append(tag)
        if tag in state["pullable"]:
            state["have"].add(tag)
            return True
        return False

    def bootstrap(**_):
        state["bootstrapped"] += 1
        state["have"].add(images.BASE_TAG)

    monkeypatch.setattr(images, "try_pull", pull)
    monkeypatch.setattr(images, "build_debian_base", bootstrap)
    return state


def test_official_base_already_present_is_used_without_a_pull(docker):
    docker["have"].add("python:3.11-slim")
    assert images.resolve_base(images.PROJECT, pull=False) == "python:3.11-slim"
    assert docker["pulled"] == []


def test_official_base_is_pulled_when_a_registry_answers(docker):
    docker["pullable"].add("rabbitmq:3-management")
    assert images.resolve_base(images.RABBITMQ, pull=False) == "rabbitmq:3-management"
    assert docker["bootstrapped"] == 0


def test_no_registry_builds_the_debian_base_once(docker):
    assert images.resolve_base(images.PROJECT, pull=False) == images.BASE_TAG
    assert images.resolve_base(images.RABBITMQ, pull=False) == images.BASE_TAG
    assert docker["bootstrapped"] == 1
    # Once offline, later builds do not wait on the registry again...
    assert docker["pulled"] == ["python:3.11-slim"]
    # ...unless asked to.
    images.resolve_base(images.PROJECT, pull=True)
    assert docker["pulled"] == ["python:3.11-slim", "python:3.11-slim"]


def test_context_hash_follows_content_and_base_not_bytecode(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    spec = images.ImageSpec(tag="t", official_base="b", dockerfile=tmp_path / "Dockerfile",
                            context=tmp_path, inputs=("pkg",))
    first = images.context_hash(spec, "base1")
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert images.context_hash(spec, "base1") == first
    assert images.context_hash(spec, "base2") != first
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    assert images.context_hash(spec, "base1") != first

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


# -- the Debian mirror, from the host's apt configuration --------------------------------

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
ONE_LINE = f"""\
# the archive, through the site's proxy
deb [arch=amd64 signed-by={KEYRING}] http://proxy.example:3142/debian bookworm main contrib
deb-src http://proxy.example:3142/debian bookworm main
deb http://proxy.example:3142/debian bookworm-updates main
deb http://security.proxy.example/debian-security bookworm-security main  # security
"""

DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""

THIRD_PARTY = """\
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
"""


def _apt(tmp_path, *, sources_list: str = "", parts: dict[str, str] | None = None):
    (tmp_path / "sources.list.d").mkdir()
    if sources_list:
        (tmp_path / "sources.list").write_text(sources_list)
    for name, text in (parts or {}).items():
        (tmp_path / "sources.list.d" / name).write_text(text)
    return tmp_path


def test_one_line_format_skips_options_deb_src_and_comments():
    sources = images.parse_one_line_sources(ONE_LINE)
    assert [(s.uri, s.suites, s.components) for s in sources] == [
        ("http://proxy.example:3142/debian", ("bookworm",), ("main", "contrib")),
        ("http://proxy.example:3142/debian", ("bookworm-updates",), ("main",)),
        ("http://security.proxy.example/debian-security", ("bookworm-security",), ("main",)),
    ]


def test_deb822_format_keeps_enabled_deb_stanzas_only():
    sources = images.parse_deb822_sources(DEB822)
    assert [(s.uri, s.suites) for s in sources] == [
        ("http://mirror.example/debian", ("bookworm", "bookworm-updates")),
        ("http://mirror.example/debian-security", ("bookworm-security",)),
    ]


def test_deb822_continuation_lines_and_case_insensitive_fields():
    sources = images.parse_deb822_sources(
        "types: deb\nuris: http://a.example/debian\n  http://b.example/debian\n"
        "suites: trixie\ncomponents: main\n")
    assert [s.uri for s in sources] == ["http://a.example/debian", "http://b.example/debian"]


def test_mirror_from_a_one_line_sources_list(tmp_path):
    apt = _apt(tmp_path, sources_list=ONE_LINE)
    mirror = images.debian_mirror(environ={}, apt_root=apt)
    assert mirror == images.DebianMirror(
        archive="http://proxy.example:3142/debian",
        security="http://security.proxy.example/debian-security")
    assert mirror.sources_list("bookworm") == (
        "deb http://proxy.example:3142/debian bookworm main\n"
        "deb http://proxy.example:3142/debian bookworm-updates main\n"
        "deb http://security.proxy.example/debian-security bookworm-security main\n")


def test_mirror_from_deb822_sources_after_a_third_party_repository(tmp_path):
    apt = _apt(tmp_path, parts={"a-nodesource.sources": THIRD_PARTY, "debian.sources": DEB822,
                                "ignored.list.disabled": "deb http://no.example/debian sid main\n"})
    mirror = images.debian_mirror(environ={}, apt_root=apt)
    assert mirror.archive == "http://mirror.example/debian"
    assert mirror.security == "http://mirror.example/debian-security"


def test_mirror_plus_file_uri_gives_its_first_mirror(tmp_path):
    mirrors = tmp_path / "mirrors.list"
    mirrors.write_text("# the cloud's mirror\nhttps://cloud-mirror.example/debian\n")
    apt = _apt(tmp_path, parts={"debian.sources": f"Types: deb\nURIs: mirror+file://{mirrors}\n"
                                                  "Suites: bookworm\nComponents: main\n"})
    assert images.debian_mirror(environ={}, apt_root=apt).archive == \
        "https://cloud-mirror.example/debian"


def test_host_without_a_security_line_gets_no_security_source(tmp_path):
    apt = _apt(tmp_path, sources_list="deb http://local.example/debian bookworm main\n")
    mirror = images.debian_mirror(environ={}, apt_root=apt)
    assert mirror == images.DebianMirror(archive="http://local.example/debian", security=None)
    assert "security" not in mirror.sources_list("bookworm")


def test_environment_overrides_the_host(tmp_path):
    apt = _apt(tmp_path, sources_list=ONE_LINE)
    mirror = images.debian_mirror(environ={"OVERCAST_DEBIAN_MIRROR": "http://env.example/debian/"},
                                  apt_root=apt)
    # The archive from the variable; the security archive still from the host.
    assert mirror.archive == "http://env.example/debian"
    assert mirror.security == "http://security.proxy.example/debian-security"
    env = {"OVERCAST_DEBIAN_MIRROR": "http://env.example/debian",
           "OVERCAST_DEBIAN_SECURITY_MIRROR": "http://env.example/debian-security"}
    assert images.debian_mirror(environ=env, apt_root=apt).security == \
        "http://env.example/debian-security"
    no_security = {"OVERCAST_DEBIAN_SECURITY_MIRROR": ""}
    assert images.debian_mirror(environ=no_security, apt_root=apt).security is None


def test_no_apt_configuration_falls_back_to_deb_debian_org(tmp_path):
    mirror = images.debian_mirror(environ={}, apt_root=_apt(tmp_path))
    assert mirror == images.DebianMirror(archive="http://deb.debian.org/debian", security=None)


def test_a_mirror_on_this_machine_is_built_on_the_host_network():
    assert images.DebianMirror(archive="http://127.0.0.1:3142/debian").on_loopback()
    assert images.DebianMirror(archive="http://localhost:3142/debian").on_loopback()
    assert not images.DebianMirror(archive="http://deb.debian.org/debian").on_loopback()


def test_debian_archive_wins_over_a_third_party_repository_naming_the_same_suite(tmp_path):
    apt = _apt(tmp_path, sources_list=(
        "deb [arch=amd64] https://packages.example.com/debian/12/prod bookworm main\n"
        "deb http://ftp.example.org/debian bookworm main\n"))
    assert images.debian_mirror(environ={}, apt_root=apt).archive == \
        "http://ftp.example.org/debian"

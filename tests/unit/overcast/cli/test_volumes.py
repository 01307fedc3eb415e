"""The volume service seen from the host: its os-services rows, read as admin, and when it
counts as up."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from overcast.cli import volumes


class Cloud(BaseHTTPRequestHandler):
    """Keystone's token issue and Cinder's os-services, just enough of each."""

    services: ClassVar[list[dict]] = []
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        password = body["auth"]["identity"]["password"]["user"]["password"]
        self.send_response(201 if password == "adm-pw" else 401)
        self.send_header("X-Subject-Token", "tok-admin")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("X-Auth-Token")))
        data = json.dumps({"services": self.services}).encode()
        self.send_response(200 if self.path == "/volume/v3/os-services" else 404)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def cloud_url() -> Iterator[str]:
    Cloud.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Cloud)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def ask(url: str, password: str = "adm-pw") -> str:
    return volumes.problem(identity_url=f"{url}/identity/v3", volume_url=url,
                           passwords={"admin_password": password})


def test_up_once_cinder_volume_is_up_whatever_backups_say(cloud_url, monkeypatch):
    monkeypatch.setattr(Cloud, "services", [
        {"binary": "cinder-volume", "host": "volume@file", "state": "up"},
        {"binary": "cinder-backup", "host": "volume", "state": "down"}])
    assert ask(cloud_url) == ""
    assert Cloud.seen == [("/volume/v3/os-services", "tok-admin")]


@pytest.mark.parametrize(("services", "said"), [
    ([], "no cinder-volume"),
    ([{"binary": "cinder-volume", "state": "down"}], "cinder-volume is down"),
    ([{"binary": "cinder-backup", "state": "up"}], "no cinder-volume")])
def test_not_up_says_why(cloud_url, monkeypatch, services, said):
    monkeypatch.setattr(Cloud, "services", services)
    assert said in ask(cloud_url)


def test_unreachable_or_refused_is_a_problem_not_a_crash(cloud_url):
    assert "401" in ask(cloud_url, password="wrong")
    assert ask("http://127.0.0.1:1").startswith("volume API: ")

"""OvercastCloud's own wait strategies: ready once the conductor sees every hypervisor up, and
once the volume service is up."""
from __future__ import annotations

import pytest

from overcast.cli import compose
from overcast.testing.stack import ComputeHostsUp, VolumeServiceUp


def _strategy(timeout: float) -> ComputeHostsUp:
    return ComputeHostsUp(compose.ComposeCloud(), {"admin_password": "x"}) \
        .with_startup_timeout(timeout).with_poll_interval(0.01)


def test_ready_once_no_host_is_missing(monkeypatch):
    answers = iter([ConnectionError("api not up"), {"hypervisor-2"}, set()])

    def missing(_cloud, _passwords):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer
    monkeypatch.setattr(compose, "missing_hosts", missing)
    _strategy(5).wait_until_ready(None)
    assert next(answers, "done") == "done"


def test_times_out_saying_which_hosts_are_missing(monkeypatch):
    monkeypatch.setattr(compose, "missing_hosts", lambda _cloud, _passwords: {"hypervisor-3"})
    with pytest.raises(TimeoutError, match="hosts not up: hypervisor-3"):
        _strategy(0.05).wait_until_ready(None)


def _volume_strategy(timeout: float) -> VolumeServiceUp:
    return VolumeServiceUp(compose.ComposeCloud(), {"admin_password": "x"}) \
        .with_startup_timeout(timeout).with_poll_interval(0.01)


def test_volume_ready_once_its_service_is_up(monkeypatch):
    answers = iter(["volume API: connection refused", "cinder-volume is down", ""])
    monkeypatch.setattr(compose, "volume_service_problem", lambda _c, _p: next(answers))
    _volume_strategy(5).wait_until_ready(None)
    assert next(answers, "done") == "done"


def test_volume_times_out_saying_why(monkeypatch):
    monkeypatch.setattr(compose, "volume_service_problem",
                        lambda _c, _p: "cinder-volume is down")
    with pytest.raises(TimeoutError,
                       match=r"volume service was not up .*\(cinder-volume is down\)"):
        _volume_strategy(0.05).wait_until_ready(None)

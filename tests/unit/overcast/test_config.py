"""The configuration loader: environment, ``_FILE`` secrets, YAML file, defaults."""
from __future__ import annotations

import dataclasses

import pytest

from overcast import config


@dataclasses.dataclass(frozen=True)
class SampleConfig:
    transport_url: str = "amqp://default/"
    workers: int = 1


def test_a_setting_is_read_from_the_file_its_file_variable_names(tmp_path):
    secret = tmp_path / "transport_url"
    secret.write_text("amqp://overcast:s3cret@rabbitmq:5672/overcast\n")
    loaded = config.load(SampleConfig, "api",
                         environ={"OVERCAST_TRANSPORT_URL_FILE": str(secret)})
    assert loaded.transport_url == "amqp://overcast:s3cret@rabbitmq:5672/overcast"


def test_the_plain_variable_wins_over_its_file_form(tmp_path):
    secret = tmp_path / "url"
    secret.write_text("amqp://from-file/")
    loaded = config.load(SampleConfig, "api", environ={
        "OVERCAST_TRANSPORT_URL": "amqp://plain/", "OVERCAST_TRANSPORT_URL_FILE": str(secret)})
    assert loaded.transport_url == "amqp://plain/"


def test_the_service_specific_file_wins_over_the_shared_variable(tmp_path):
    secret = tmp_path / "workers"
    secret.write_text("4")
    loaded = config.load(SampleConfig, "api", environ={
        "OVERCAST_API_WORKERS_FILE": str(secret), "OVERCAST_WORKERS": "2"})
    assert loaded.workers == 4


def test_a_missing_secret_file_is_an_error_not_the_default(tmp_path):
    with pytest.raises(RuntimeError, match="cannot read"):
        config.load(SampleConfig, "api",
                    environ={"OVERCAST_TRANSPORT_URL_FILE": str(tmp_path / "absent")})


def test_the_bus_key_reaches_a_process_from_its_file_and_stays_out_of_its_repr(tmp_path):
    key_file = tmp_path / "bus_signing_key"
    key_file.write_text("k3y\n")
    cfg = config.load(config.CommonConfig, "conductor",
                      environ={"OVERCAST_BUS_SIGNING_KEY_FILE": str(key_file)})
    assert cfg.bus_signing_key == "k3y"
    assert "k3y" not in repr(cfg)

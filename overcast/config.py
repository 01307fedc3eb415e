"""Configuration: one frozen object per process, read from the environment or a file.

Every field of a config dataclass ``XConfig`` for service ``svc`` is read from
``OVERCAST_<SVC>_<FIELD>`` first, then ``OVERCAST_<FIELD>`` (shared settings such as the
broker URL), then from the optional YAML file named by ``OVERCAST_CONFIG``
(``{svc: {field: value}}``), then the dataclass default.

A secret is never put in the environment, where ``docker inspect`` and ``/proc/*/environ``
show it: each of those names also has a ``_FILE`` form (``OVERCAST_TRANSPORT_URL_FILE``),
whose value is the path of a file holding the setting (a Compose secret under
``/run/secrets``); the file's content, stripped of its trailing newline, is the value. The
plain name wins when both are set.
"""
from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(RuntimeError):
    """The process is configured in a way it must not run with; it refuses to start."""


@dataclasses.dataclass(frozen=True)
class CommonConfig:
    """Settings every process shares."""

    host: str = "localhost"
    # Holds the broker password: kept out of the repr, as the signing key is.
    transport_url: str = dataclasses.field(default="amqp://guest:guest@127.0.0.1:5672/", repr=False)
    state_dir: str = "./state"
    log_level: str = "INFO"
    rpc_timeout: float = 30.0
    # The cloud's key for signing bus messages (``overcast.bus.signing``); give it as
    # OVERCAST_BUS_SIGNING_KEY_FILE. A process that uses the bus refuses to start without it.
    bus_signing_key: str = dataclasses.field(default="", repr=False)

    def state_path(self, *parts: str) -> Path:
        path = Path(self.state_dir, *parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def _coerce(raw: Any, kind: Any) -> Any:
    if isinstance(kind, str):
        kind = {"str": str, "int": int, "float": float, "bool": bool}.get(
            kind.split("|")[0].strip(), str)
    origin = typing.get_origin(kind)
    if origin is typing.Union or str(origin) == "types.UnionType":
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if kind is bool:
        return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
    if kind in (int, float, str):
        return kind(raw)
    if typing.get_origin(kind) is tuple or kind is tuple:
        if isinstance(raw, str):
            return tuple(p.strip() for p in raw.split(",") if p.strip())
        return tuple(raw)
    return raw


def load(cls: type[T], service: str, *, environ: dict[str, str] | None = None,
         **overrides: Any) -> T:
    """Build ``cls`` for ``service`` from overrides, the environment, the file and defaults."""
    env = os.environ if environ is None else environ
    file_values: dict[str, Any] = {}
    if env.get("OVERCAST_CONFIG"):
        data = yaml.safe_load(Path(env["OVERCAST_CONFIG"]).read_text()) or {}
        file_values = {**(data.get("common") or {}), **(data.get(service) or {})}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    prefix = service.upper().replace("-", "_")
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = field.name
        if name in overrides:
            values[name] = overrides[name]
            continue
        for key in (f"OVERCAST_{prefix}_{name.upper()}", f"OVERCAST_{name.upper()}"):
            if key in env:
                values[name] = _coerce(env[key], hints.get(name, str))
                break
            if f"{key}_FILE" in env:
                values[name] = _coerce(_read_secret(env[f"{key}_FILE"]), hints.get(name, str))
                break
        else:
            if name in file_values:
                values[name] = _coerce(file_values[name], hints.get(name, str))
    return cls(**values)


def _read_secret(path: str) -> str:
    """The value held in a secret file; a missing file is an error, never a silent default."""
    try:
        return Path(path).read_text().rstrip("\n")
    except OSError as exc:
        raise RuntimeError(f"cannot read the setting's file {path}: {exc.strerror}") from exc

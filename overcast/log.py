"""JSON-lines logging that carries the service, the host and the current request id."""
from __future__ import annotations

import logging
import re
import sys
import time

import orjson

from overcast import context

_SECRET_WORDS = ("password", "token", "secret", "private_key")
# A secret in a URL's query (a console URL's ?token=, which uvicorn logs with the path).
_QUERY_SECRET = re.compile(r"(?i)([?&][^=&\s]*(?:password|token|secret)[^=&\s]*=)[^&\s\"']+")


def redact_query(text: str) -> str:
    """``text`` with the values of secret-looking URL query parameters masked."""
    return _QUERY_SECRET.sub(r"\1***", text) if "=" in text else text


class JsonFormatter(logging.Formatter):
    def __init__(self, *, service: str, host: str) -> None:
        super().__init__()
        self.service = service
        self.host = host

    def format(self, record: logging.LogRecord) -> str:
        ctx = context.current()
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "host": self.host,
            "logger": record.name,
            "msg": redact_query(record.getMessage()),
        }
        if ctx is not None:
            entry["request_id"] = ctx.request_id
            if ctx.project_id:
                entry["project_id"] = ctx.project_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def redact(data: dict) -> dict:
    """A copy of ``data`` fit for a log line: values of secret-looking keys are masked."""
    out = {}
    for key, value in data.items():
        if any(word in key.lower() for word in _SECRET_WORDS):
            out[key] = "***"
        elif isinstance(value, dict):
            out[key] = redact(value)
        else:
            out[key] = value
    return out


def setup(*, service: str, host: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service=service, host=host))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aio_pika", "aiormq", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

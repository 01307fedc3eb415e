"""Log lines never carry a secret from a URL's query (uvicorn logs a websocket's path with
its query, and a console URL's token is there)."""
from __future__ import annotations

import logging

from overcast.log import JsonFormatter, redact_query


def test_query_secrets_are_masked():
    assert redact_query('1.2.3.4 - "WebSocket /compute/serial?token=abc-DEF_1&rows=3" 403') \
        == '1.2.3.4 - "WebSocket /compute/serial?token=***&rows=3" 403'
    assert redact_query("/x?a=1&auth_token=zz&password=p w") \
        == "/x?a=1&auth_token=***&password=*** w"
    assert redact_query("nothing here") == "nothing here"


def test_the_formatter_masks_them():
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1,
                               '%s - "WebSocket %s" [accepted]',
                               ("127.0.0.1:1", "/compute/serial?token=s3cr3t"), None)
    line = JsonFormatter(service="api", host="api").format(record)
    assert "s3cr3t" not in line and "token=***" in line

"""The JSON response class every REST route answers with."""
from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """JSON rendered by orjson: several times faster for large server lists."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)

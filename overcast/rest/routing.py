"""Routes that render their dict results straight to JSON.

FastAPI would otherwise walk every returned dict through its generic encoder, which costs
more than the rest of a large listing put together. Headers that dependencies want on the
response go in ``request.state.response_headers``; the app's middleware adds them.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from overcast.rest.responses import FastJSONResponse


def add_response_header(request: Request, name: str, value: str) -> None:
    headers = getattr(request.state, "response_headers", None)
    if headers is None:
        headers = request.state.response_headers = {}
    headers[name] = value


class JSONRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        status_code = kwargs.get("status_code") or 200

        @functools.wraps(endpoint)
        async def render(*args: Any, **kw: Any) -> Any:
            result = await endpoint(*args, **kw)
            if isinstance(result, (dict, list)):
                return FastJSONResponse(result, status_code=status_code)
            return result

        kwargs["response_model"] = None
        super().__init__(path, render, **kwargs)

"""Domain errors. Services raise these; each edge (REST, AMQP, gRPC) maps them to its own form."""
from __future__ import annotations

EXCERPT_CHARS = 40  # the most of a caller's input an error message quotes


class OvercastError(Exception):
    """Base of errors that the caller caused or should expect; not logged as crashes."""

    code = 500
    title = "internalError"

    def __init__(self, message: str = "", **details: object) -> None:
        super().__init__(message or self.__class__.__doc__ or self.title)
        self.message = message or (self.__class__.__doc__ or self.title).strip()
        self.details = details


def excerpt(value: object, *, limit: int = EXCERPT_CHARS) -> str:
    """``value`` as an error message quotes it: its repr for a non-string, cut to ``limit``
    characters with "..." so a huge input never comes back whole (a 32 MB name would
    otherwise give a 32 MB error). Unencodable characters are escaped, not passed on."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[:limit] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class BadRequest(OvercastError):
    """The request is malformed."""
    code = 400
    title = "badRequest"


class Unauthorized(OvercastError):
    """The request needs valid credentials."""
    code = 401
    title = "unauthorized"


class Forbidden(OvercastError):
    """The credentials do not allow this."""
    code = 403
    title = "forbidden"


class NotFound(OvercastError):
    """The resource could not be found."""
    code = 404
    title = "itemNotFound"


class Conflict(OvercastError):
    """The request conflicts with the resource's current state."""
    code = 409
    title = "conflictingRequest"


class PayloadTooLarge(OvercastError):
    """The request is too large."""
    code = 413
    title = "overLimit"


class QuotaExceeded(Forbidden):
    """Quota exceeded."""
    code = 403
    title = "forbidden"


class NoValidHost(OvercastError):
    """No valid host was found."""
    code = 500
    title = "noValidHost"


class NotSupported(OvercastError):
    """The requested functionality is not supported."""
    code = 501
    title = "notImplemented"


class ServiceUnavailable(OvercastError):
    """A service this request needs is not answering."""
    code = 503
    title = "serviceUnavailable"


BY_NAME: dict[str, type[OvercastError]] = {
    cls.__name__: cls
    for cls in (OvercastError, BadRequest, Unauthorized, Forbidden, NotFound, Conflict,
                PayloadTooLarge, QuotaExceeded, NoValidHost, NotSupported,
                ServiceUnavailable)
}

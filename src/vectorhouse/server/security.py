"""Bearer-token authentication and the request-size limit, as plain ASGI middleware.

The token comes from an environment variable or a file, never from the command line
(where other users of the machine can read it in the process list). It is compared in
constant time. ``GET /api/v2/heartbeat`` stays open, for health checks, and so do the
web console's page and static files (its data calls need the token).

    >>> import os
    >>> os.environ["VH_DOCTEST_TOKEN"] = "s3cret"
    >>> load_token(env="VH_DOCTEST_TOKEN")
    's3cret'
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from vectorhouse.api.http_wire import API_PREFIX, dumps, error_body
from vectorhouse.errors import InvalidArgumentError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({f"{API_PREFIX}/heartbeat", "/"})
"""Paths answered without a token: the heartbeat and the console's page."""
OPEN_PREFIXES = ("/console/static/",)
"""Path prefixes answered without a token: the console's script and style (no data)."""


def load_token(*, env: str | None = None, file: str | os.PathLike[str] | None = None) -> str:
    """The token from environment variable ``env`` or the first line of ``file``.

    >>> try:
    ...     load_token(env="VH_NO_SUCH_VARIABLE")
    ... except InvalidArgumentError as exc:
    ...     print(exc)
    environment variable VH_NO_SUCH_VARIABLE is not set or empty
    """
    if (env is None) == (file is None):
        raise InvalidArgumentError("give exactly one of a token environment variable or file")
    if env is not None:
        token = os.environ.get(env, "").strip()
        if not token:
            raise InvalidArgumentError(f"environment variable {env} is not set or empty")
        return token
    assert file is not None
    try:
        lines = Path(file).read_text("utf-8").splitlines()
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read the token file {file}: {exc}") from exc
    token = lines[0].strip() if lines else ""
    if not token:
        raise InvalidArgumentError(f"the token file {file} is empty")
    return token


def _presented_token(scope: Scope) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            scheme, _, rest = value.partition(b" ")
            if scheme.lower() == b"bearer":
                return bytes(rest.strip())
        elif key == b"x-chroma-token":
            return bytes(value.strip())
    return None


async def _send_json(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def openai_error(message: str, type_: str, code: str | None, param: str | None = None) -> Any:
    """An error body in OpenAI's format.

    >>> openai_error("bad", "invalid_request_error", None)["error"]["type"]
    'invalid_request_error'
    """
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class BearerAuth:
    """Reject requests without ``Authorization: Bearer <token>`` (or Chroma's
    ``X-Chroma-Token``) with 401, in the error format of the route family.

    >>> BearerAuth(None, "t").token
    b't'
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if scope["type"] != "http" or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        presented = _presented_token(scope)
        if presented is not None and hmac.compare_digest(presented, self.token):
            await self.app(scope, receive, send)
            return
        problem = "missing" if presented is None else "wrong"
        message = f"{problem} bearer token: send the header 'Authorization: Bearer <token>'"
        if scope["path"].startswith("/v1/"):
            body = openai_error(message, "invalid_request_error", "invalid_api_key")
        else:
            body = error_body("unauthorized", message, "AuthError")
        await _send_json(send, 401, body, [(b"www-authenticate", b"Bearer")])


class BodyTooLargeError(Exception):
    """A request body went past the limit while it was being read."""


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413: at once when Content-Length
    says so, else by raising :class:`BodyTooLargeError` while the body is read.

    >>> BodyLimit(None, 10).max_bytes
    10
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self.refuse(scope, send)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLargeError(self.message())
            return message

        await self.app(scope, counted, send)

    def message(self) -> str:
        """What a refused request is told."""
        return f"request body is larger than this server's limit of {self.max_bytes} bytes"

    async def refuse(self, scope: Scope, send: Send) -> None:
        """Answer 413 in the error format of the route family."""
        if scope["path"].startswith("/v1/"):
            body = openai_error(self.message(), "invalid_request_error", "request_too_large")
        else:
            body = error_body(InvalidArgumentError.code, self.message(), "InvalidArgumentError")
        await _send_json(send, 413, body, [(b"connection", b"close")])

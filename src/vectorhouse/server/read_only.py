"""A read-only server (``vectorhouse serve --read-only``): every request that could
change the database is refused with 403 and :class:`~vectorhouse.errors.ReadOnlyError`.

What may pass is listed, not what may not: ``GET``/``HEAD``/``OPTIONS``, Chroma's
``get`` and ``query`` (which are POSTs), OpenAI's ``/v1/embeddings`` and the console's
reads. A route added later is refused until it is listed here.

    >>> is_read_request("POST", "/api/v2/tenants/t/databases/d/collections/c1/query")
    True
    >>> is_read_request("POST", "/api/v2/tenants/t/databases/d/collections/c1/delete")
    False
"""

from __future__ import annotations

import re

from vectorhouse.api.http_wire import API_PREFIX, error_response
from vectorhouse.errors import ReadOnlyError
from vectorhouse.server.security import ASGIApp, Receive, Scope, Send, _send_json

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that never write."""

_READ_POST = re.compile(
    "^" + re.escape(API_PREFIX) + r"/tenants/[^/]+/databases/[^/]+/collections/[^/]+/(get|query)$"
)
READ_POSTS = frozenset({"/v1/embeddings"})
"""POST paths, besides Chroma's ``get``/``query``, that read only."""
READ_POST_PREFIXES = ("/console/api/",)
"""POST path prefixes that read only (the console's records, search and map)."""


def is_read_request(method: str, path: str) -> bool:
    """Whether a request with ``method`` and ``path`` only reads.

    >>> is_read_request("GET", "/api/v2/collections_count"), is_read_request("PUT", "/x")
    (True, False)
    """
    if method in SAFE_METHODS:
        return True
    if method != "POST":
        return False
    return path in READ_POSTS or path.startswith(READ_POST_PREFIXES) or bool(_READ_POST.match(path))


class ReadOnly:
    """ASGI middleware answering every writing request with 403.

    >>> ReadOnly(None).app is None
    True
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_read_request(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        exc = ReadOnlyError(
            f"this server is read-only (started with --read-only): {scope['method']}"
            f" {scope['path']} would change the database"
        )
        status, body = error_response(exc)
        await _send_json(send, status, body)

"""The HTTP server: Chroma's v2 REST API and OpenAI's embeddings API over one database.

Run it with ``vectorhouse serve``; embed it in another ASGI stack with
:func:`create_app`; start it as a child process for tests with :func:`running_server`.

    >>> from fastapi.testclient import TestClient
    >>> from vectorhouse.server import create_app
    >>> with TestClient(create_app()) as http:
    ...     http.get("/api/v2/heartbeat").status_code
    200
"""

from vectorhouse.server.app import ServerConfig, create_app
from vectorhouse.server.launch import RunningServer, running_server

__all__ = ["RunningServer", "ServerConfig", "create_app", "running_server"]

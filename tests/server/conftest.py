"""Fixtures for the server tests: real ``vectorhouse serve`` processes on free ports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import vectorhouse
from vectorhouse.server import RunningServer, running_server

TOKEN = "test-token-1234567890"
"""The bearer token of the shared server."""

BODY_LIMIT = 1_000_000
"""The shared server's request-size limit."""

ALLOWED_ORIGIN = "http://allowed.example"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the whole session: token auth, a 1 MB body limit, one CORS origin."""
    path = tmp_path_factory.mktemp("served-db")
    args = ["--max-body-bytes", str(BODY_LIMIT), "--cors-origin", ALLOWED_ORIGIN]
    with running_server(path, token=TOKEN, args=args) as running:
        yield running


@pytest.fixture
def http_client(server: RunningServer) -> Iterator[vectorhouse.HttpClient]:
    with vectorhouse.HttpClient(host=server.host, port=server.port, headers=server.headers) as c:
        yield c


@pytest.fixture
def name() -> str:
    """A collection name no other test uses (the server is shared)."""
    return f"col-{uuid.uuid4().hex[:12]}"


def db_path(server: RunningServer) -> str:
    return f"{server.url}/api/v2/tenants/default_tenant/databases/default_database"


@pytest.fixture
def bare_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server with every default: no token, no CORS, reset not allowed."""
    with running_server(tmp_path / "db") as running:
        yield running

"""The server over plain HTTP: error bodies and statuses, auth, limits, CORS, OpenAPI,
and a graceful shutdown."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import vectorhouse
from vectorhouse.cli.serve import serve
from vectorhouse.engine.index_files import IndexFiles
from vectorhouse.server import RunningServer, ServerConfig, create_app, running_server
from vectorhouse.server.app import ServerClient

from .conftest import ALLOWED_ORIGIN, BODY_LIMIT, TOKEN, db_path


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=db_path(server), headers=server.headers, timeout=30) as c:
        yield c


@pytest.fixture
def collection_id(http: httpx.Client, name: str) -> str:
    created = http.post(
        "/collections", json={"name": name, "configuration": {"embedding_function": None}}
    )
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == code, body
    assert set(body) == {"error", "message", "code"}
    return str(body["message"])


def test_bad_json_is_a_400(http: httpx.Client, collection_id: str) -> None:
    response = http.post(f"/collections/{collection_id}/add", content=b'{"ids": [')
    assert "not valid JSON" in _error(response, 400, "invalid_argument")
    response = http.post(f"/collections/{collection_id}/get", content=b"[1, 2]")
    assert "must be a JSON object" in _error(response, 400, "invalid_argument")
    response = http.post(f"/collections/{collection_id}/get", content=b"\xff\xfe")
    _error(response, 400, "invalid_argument")


def test_wrong_types_are_400s_from_the_embedded_validation(
    http: httpx.Client, collection_id: str
) -> None:
    add = f"/collections/{collection_id}/add"
    message = _error(http.post(add, json={"ids": [5], "embeddings": [[1]]}), 400, "invalid_id")
    assert message == (
        "Expected ID to be a str, got 5 in add: ids must be strings; ids[0] is int 5"
    )
    response = http.post(add, json={"ids": ["a"], "embeddings": [["x"]]})
    assert response.json()["error"] == "InvalidArgumentError"
    _error(response, 400, "invalid_embedding")
    response = http.post(add, json={"ids": ["a"], "embeddings": ["!!notbase64"]})
    assert "base64" in _error(response, 400, "invalid_embedding")
    query = f"/collections/{collection_id}/query"
    _error(
        http.post(query, json={"query_embeddings": [[1]], "n_results": "x"}),
        400,
        "invalid_n_results",  # an InvalidArgumentError that is also a TypeError, as Chroma's
    )
    _error(
        http.post(query, json={"query_embeddings": [[1]], "where": {"a": {"$bad": 1}}}),
        400,
        "invalid_filter",
    )
    response = http.post("/collections", json={"name": "x", "get_or_create": "yes"})
    assert "get_or_create" in _error(response, 400, "invalid_argument")
    _error(http.get("/collections", params={"limit": "many"}), 400, "invalid_argument")
    _error(
        http.post(f"/collections/{collection_id}/delete", json={"ids": ["a"], "limit": 1}),
        400,
        "invalid_argument",
    )


def test_base64_embeddings_are_accepted(http: httpx.Client, collection_id: str) -> None:
    import base64

    packed = base64.b64encode(np.array([1.5, -2.0], dtype="<f4").tobytes()).decode()
    assert (
        http.post(
            f"/collections/{collection_id}/add", json={"ids": ["a"], "embeddings": [packed]}
        ).status_code
        == 200
    )
    got = http.post(f"/collections/{collection_id}/get", json={"include": ["embeddings"]}).json()
    assert got["embeddings"] == [[1.5, -2.0]]


def test_missing_things_are_404s_and_conflicts_409s(
    http: httpx.Client, name: str, collection_id: str
) -> None:
    _error(http.get("/collections/no-such-collection"), 404, "collection_not_found")
    _error(http.post("/collections", json={"name": name}), 409, "collection_exists")
    add = f"/collections/{collection_id}/add"
    assert http.post(add, json={"ids": ["a"], "embeddings": [[1.0]]}).status_code == 200
    # add skips an existing id, as Chroma does (409 id_already_exists only with
    # strict_add_ids, see tests/compat/test_add_existing.py)
    assert http.post(add, json={"ids": ["a"], "embeddings": [[2.0]]}).status_code == 200
    _error(
        http.get(f"/collections/{'0' * 8}-0000-0000-0000-{'0' * 12}/count"),
        404,
        "collection_not_found",
    )
    _error(http.get("/collections/by-id/xyz"), 400, "invalid_argument")
    base = http.base_url.join("/api/v2")
    assert http.get(f"{base}/tenants/default_tenant/databases").json() == [
        {
            "id": "00000000-0000-0000-0000-000000000000",
            "name": "default_database",
            "tenant": "default_tenant",
        }
    ]
    assert http.get(f"{base}/auth/identity").json()["databases"] == ["default_database"]
    _error(http.get(f"{base}/tenants/other"), 404, "not_found")
    _error(http.get(f"{base}/tenants/default_tenant/databases/other/collections"), 404, "not_found")
    _error(http.get(f"{base}/no/such/route"), 404, "not_found")
    _error(http.delete(f"{base}/version"), 405, "method_not_allowed")
    _error(http.post(f"{base}/reset"), 403, "reset_not_allowed")


def test_oversize_bodies_are_refused_with_413(server: RunningServer, collection_id: str) -> None:
    url = f"{db_path(server)}/collections/{collection_id}/add"
    big = b'{"ids": ["' + b"x" * BODY_LIMIT + b'"]}'
    with httpx.Client(headers=server.headers) as c:
        response = c.post(url, content=big)
        assert "larger than this server's limit" in _error(response, 413, "invalid_argument")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
            yield b'{"ids": ["'
            for _ in range(20):
                yield b"y" * (BODY_LIMIT // 10)
            yield b'"]}'

        _error(c.post(url, content=chunks()), 413, "invalid_argument")
        assert c.get(f"{db_path(server)}/collections/{collection_id}/count").json() == 0


def test_requests_without_the_right_token_get_401(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/api/v2/heartbeat").status_code == 200
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}):
            response = c.get("/api/v2/version", headers=headers)
            _error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"] == "Bearer"
        response = c.post("/v1/embeddings", json={"model": "x", "input": "y"})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert c.get("/openapi.json").status_code == 401
        assert (
            c.get("/api/v2/version", headers={"Authorization": f"bearer {TOKEN}"}).status_code
            == 200
        )


def test_the_openapi_document_describes_both_apis(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers) as c:
        spec = c.get("/openapi.json").json()
        assert c.get("/docs").status_code == 200
    paths = spec["paths"]
    assert "/v1/embeddings" in paths and "/api/v2/heartbeat" in paths
    query = paths["/api/v2/tenants/{tenant}/databases/{database}/collections/{collection_id}/query"]
    schema = query["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"query_embeddings", "n_results", "where"} <= set(schema["properties"])


def test_cors_answers_only_configured_origins(
    server: RunningServer, bare_server: RunningServer
) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    with httpx.Client() as c:
        ok = c.options(
            f"{server.url}/api/v2/version", headers={"Origin": ALLOWED_ORIGIN, **preflight}
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        other = c.options(
            f"{server.url}/api/v2/version", headers={"Origin": "http://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers
        plain = c.get(f"{bare_server.url}/api/v2/version", headers={"Origin": ALLOWED_ORIGIN})
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


def test_unexpected_errors_are_logged_500s_that_leak_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(self: ServerClient) -> int:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(ServerClient, "count_collections", boom)
    with TestClient(create_app()) as http, caplog.at_level(logging.ERROR, "vectorhouse.server"):
        response = http.get(
            "/api/v2/tenants/default_tenant/databases/default_database/collections_count"
        )
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error" and body["error"] == "InternalError"
    assert "secret" not in response.text
    incident = body["message"].split("incident ")[1].split(";")[0]
    assert incident in caplog.text and "secret internal detail" in caplog.text


def test_shutdown_saves_the_index_and_reports_ready(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with running_server(path) as srv:
        assert any(line.startswith("vectorhouse serving") for line in srv.output)
        with vectorhouse.HttpClient(port=srv.port) as client:
            col = client.create_collection("kept", embedding_function=None)
            col.add(ids=[f"r{i}" for i in range(50)], embeddings=np.eye(50, 8, dtype=np.float32))
        assert IndexFiles(path / "index").latest(str(col.id)) is None
        assert srv.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
        assert "indexes saved" in srv.log_tail()
    assert IndexFiles(path / "index").latest(str(col.id)) is not None
    with vectorhouse.PersistentClient(path=path) as reopened:
        assert reopened.get_collection("kept").count() == 50


def test_a_token_can_come_from_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n")
    args = ["--token-file", str(token_file)]
    with running_server(tmp_path / "db", args=args) as srv, httpx.Client(base_url=srv.url) as c:
        assert c.get("/api/v2/version").status_code == 401
        ok = c.get("/api/v2/version", headers={"Authorization": "Bearer from-a-file"})
        assert ok.status_code == 200


def test_serve_takes_no_token_on_the_command_line() -> None:
    runner = CliRunner()
    assert "No such option" in runner.invoke(serve, ["--token", "x"]).output
    result = runner.invoke(serve, ["--token-env", "A", "--token-file", "b"], env={"A": "t"})
    assert result.exit_code == 1 and "exactly one" in result.output
    result = runner.invoke(serve, ["--model", "nonsense"])
    assert result.exit_code == 2 and "ID=NAME" in result.output


def test_server_config_rejects_a_zero_body_limit() -> None:
    with pytest.raises(vectorhouse.InvalidArgumentError):
        create_app(ServerConfig(max_body_bytes=0))

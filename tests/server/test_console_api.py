"""The web console's routes: its static files, its data calls and their token, the
record browser, the search, the PCA map, and a read-only server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import vectorhouse
from vectorhouse.server import ServerConfig, create_app, running_server
from vectorhouse.server.console_routes import MAP_MAX_POINTS
from vectorhouse.server.projection import Projection

TOKEN = "console-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/console/api"
DB = "/api/v2/tenants/default_tenant/databases/default_database"


@pytest.fixture
def http() -> Iterator[TestClient]:
    """The app in process, with a token and an in-memory database."""
    with TestClient(create_app(ServerConfig(token=TOKEN))) as client:
        yield client


def server_client(http: TestClient) -> vectorhouse.Client:
    client: vectorhouse.Client = http.app.state.client  # type: ignore[attr-defined]
    return client


def clustered(n_per: int, dim: int, seed: int = 7) -> tuple[np.ndarray, list[str]]:
    """Three well-separated clusters of ``n_per`` vectors each, and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 5.0, (3, dim))
    vectors = np.concatenate([c + rng.normal(0.0, 0.5, (n_per, dim)) for c in centres])
    labels = [name for name in ("red", "green", "blue") for _ in range(n_per)]
    return vectors.astype(np.float32), labels


def raw_collection(http: TestClient, name: str, n_per: int = 20, dim: int = 16) -> np.ndarray:
    vectors, labels = clustered(n_per, dim)
    col = server_client(http).create_collection(name, embedding_function=None)
    col.add(
        ids=[f"r{i:04d}" for i in range(len(labels))],
        embeddings=vectors,
        documents=[f"document {i} of {label}" for i, label in enumerate(labels)],
        metadatas=[{"colour": label, "n": i} for i, label in enumerate(labels)],
    )
    return vectors


def post(http: TestClient, path: str, body: dict[str, Any], status: int = 200) -> Any:
    response = http.post(path, json=body, headers=AUTH)
    assert response.status_code == status, response.text
    return response.json()


# -- static files and the token -----------------------------------------------------------


def test_the_page_and_its_files_load_without_a_token(http: TestClient) -> None:
    page = http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<canvas id="map"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in [
        ("console.js", "text/javascript"),
        ("console.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ]:
        response = http.get(f"/console/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(kind)


def test_files_the_console_does_not_ship_are_not_found(http: TestClient) -> None:
    for path in ["/console/static/secrets.txt", "/console/static/..%2Fapp.py", "/console/x"]:
        assert http.get(path, headers=AUTH).status_code == 404, path


def test_the_shipped_files_load_nothing_from_another_host() -> None:
    folder = resources.files("vectorhouse.server") / "console"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["console.css", "console.js", "favicon.svg", "index.html"]
    for name in names:
        text = (folder / name).read_text("utf-8")
        urls = re.findall(r"https?://[^\s\"')]+", text)
        assert urls == [] or (name == "favicon.svg" and urls == ["http://www.w3.org/2000/svg"])
    page = (folder / "index.html").read_text("utf-8")
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs and all(ref.startswith("/console/static/") for ref in refs)


def test_every_data_call_needs_the_token(http: TestClient) -> None:
    raw_collection(http, "needs-token")
    calls = [
        ("GET", f"{API}/info", None),
        ("GET", f"{API}/collections", None),
        ("POST", f"{API}/collections/needs-token/records", {}),
        ("POST", f"{API}/collections/needs-token/map", {}),
        ("POST", f"{API}/collections/needs-token/search", {"query": "x"}),
    ]
    for method, path, body in calls:
        refused = http.request(method, path, json=body)
        assert refused.status_code == 401, path
        assert refused.json()["code"] == "unauthorized"
        wrong = http.request(method, path, json=body, headers={"Authorization": "Bearer no"})
        assert wrong.status_code == 401, path
    assert http.get(f"{API}/info", headers=AUTH).json() == {
        "version": vectorhouse.__version__,
        "read_only": False,
        "token_required": True,
        "search_modes": ["dense"],
        "map_max_points": MAP_MAX_POINTS,
    }


# -- collections and records --------------------------------------------------------------


def test_the_collections_list_gives_count_dimension_space_and_model(http: TestClient) -> None:
    raw_collection(http, "raw-vectors", n_per=5, dim=8)
    client = server_client(http)
    client.create_collection("texts", metadata={"hnsw:space": "cosine", "owner": "me"})
    listed = {c["name"]: c for c in http.get(f"{API}/collections", headers=AUTH).json()}
    raw, texts = listed["raw-vectors"], listed["texts"]
    assert (raw["count"], raw["dimension"], raw["space"], raw["model"]) == (15, 8, "l2", None)
    assert (texts["count"], texts["dimension"], texts["space"]) == (0, None, "cosine")
    assert texts["model"] == {"name": "default", "model": "all-MiniLM-L6-v2", "served": True}
    assert texts["metadata"] == {"hnsw:space": "cosine", "owner": "me"}


def test_records_come_a_page_at_a_time_with_the_total(http: TestClient) -> None:
    raw_collection(http, "paged")
    first = post(http, f"{API}/collections/paged/records", {"limit": 25})
    assert (first["total"], len(first["ids"]), first["ids"][0]) == (60, 25, "r0000")
    last = post(http, f"{API}/collections/paged/records", {"limit": 25, "offset": 50})
    assert last["ids"] == [f"r{i:04d}" for i in range(50, 60)]
    assert last["documents"][0] == "document 50 of blue"
    assert last["metadatas"][0] == {"colour": "blue", "n": 50}


def test_records_apply_the_where_filter_to_the_page_and_the_total(http: TestClient) -> None:
    raw_collection(http, "filtered")
    body = {"where": {"$and": [{"colour": "green"}, {"n": {"$gte": 35}}]}, "limit": 3}
    page = post(http, f"{API}/collections/filtered/records", body)
    assert page["total"] == 5
    assert page["ids"] == ["r0035", "r0036", "r0037"]
    one = post(http, f"{API}/collections/filtered/records", {"ids": ["r0002"]})
    assert (one["total"], one["ids"]) == (1, ["r0002"])


def test_records_report_a_bad_filter_or_page_size_as_400(http: TestClient) -> None:
    raw_collection(http, "bad-args")
    bad = post(http, f"{API}/collections/bad-args/records", {"where": {"n": {"$gt": "x"}}}, 400)
    assert bad["code"] == "invalid_filter"
    assert "$gt" in bad["message"]
    too_many = post(http, f"{API}/collections/bad-args/records", {"limit": 501}, 400)
    assert "limit must be an integer from 1 to 500" in too_many["message"]
    missing = post(http, f"{API}/collections/no-such/records", {}, 404)
    assert missing["code"] == "collection_not_found"


def test_deleting_through_the_api_the_console_uses(http: TestClient) -> None:
    raw_collection(http, "deletable", n_per=2)
    listed = {c["name"]: c for c in http.get(f"{API}/collections", headers=AUTH).json()}
    path = f"{DB}/collections/{listed['deletable']['id']}/delete"
    assert post(http, path, {"ids": ["r0001"]}) == {"deleted": 1}
    assert post(http, f"{API}/collections/deletable/records", {})["total"] == 5


# -- the map ------------------------------------------------------------------------------


def test_the_map_is_the_pca_of_the_vectors(http: TestClient) -> None:
    vectors = raw_collection(http, "mapped")
    got = post(http, f"{API}/collections/mapped/map", {})
    assert got["total"] == 60 and got["ids"] == [f"r{i:04d}" for i in range(60)]
    xy = np.column_stack([got["x"], got["y"]])
    x = vectors.astype(np.float64)
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T
    for axis in range(2):  # the same axes, up to a sign
        sign = np.sign(expected[:, axis] @ xy[:, axis])
        np.testing.assert_allclose(xy[:, axis], sign * expected[:, axis], atol=1e-4)
    # three separated clusters stay separated on the map
    labels = np.array(got["metadata"]["colour"])
    centres = {c: xy[labels == c].mean(axis=0) for c in ("red", "green", "blue")}
    spread = max(np.linalg.norm(xy[labels == c] - centres[c], axis=1).max() for c in centres)
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a, b in [("red", "green"), ("red", "blue")]]
    assert min(gaps) > spread
    assert got["metadata"]["n"] == list(range(60))
    assert got["documents"][3] == "document 3 of red"
    projection = Projection.from_json(got["projection"])
    np.testing.assert_allclose(projection.transform(vectors), xy, atol=1e-5)
    assert sum(got["projection"]["explained"]) > 0.9


def test_the_map_draws_a_seeded_sample_of_at_most_the_points_asked(http: TestClient) -> None:
    raw_collection(http, "sampled", n_per=100)
    first = post(http, f"{API}/collections/sampled/map", {"sample": 50})
    again = post(http, f"{API}/collections/sampled/map", {"sample": 50})
    other = post(http, f"{API}/collections/sampled/map", {"sample": 50, "seed": 1})
    assert first["total"] == 300 and len(first["ids"]) == len(first["x"]) == 50
    assert first["ids"] == again["ids"] == sorted(first["ids"])
    assert other["ids"] != first["ids"]
    assert len(set(first["metadata"]["colour"])) == 3
    refused = post(http, f"{API}/collections/sampled/map", {"sample": MAP_MAX_POINTS + 1}, 400)
    assert f"sample must be an integer from 1 to {MAP_MAX_POINTS}" in refused["message"]


def test_the_map_applies_the_filter_and_handles_no_match(http: TestClient) -> None:
    raw_collection(http, "map-filter")
    blue = post(http, f"{API}/collections/map-filter/map", {"where": {"colour": "blue"}})
    assert blue["total"] == 20 and set(blue["metadata"]["colour"]) == {"blue"}
    none = post(http, f"{API}/collections/map-filter/map", {"where": {"colour": "pink"}})
    assert (none["total"], none["ids"], none["projection"]) == (0, [], None)


# -- search with the real default model ---------------------------------------------------


DOCS = {
    "py": ("I love Python programming", {"lang": "en", "kind": "code"}),
    "js": ("JavaScript is fun", {"lang": "en", "kind": "code"}),
    "pasta": ("I enjoy cooking pasta", {"lang": "en", "kind": "food"}),
    "soup": ("Soup is best on cold days", {"lang": "en", "kind": "food"}),
}


def text_collection(http: TestClient, name: str) -> None:
    col = server_client(http).create_collection(name, metadata={"hnsw:space": "cosine"})
    col.add(
        ids=list(DOCS),
        documents=[d for d, _ in DOCS.values()],
        metadatas=[m for _, m in DOCS.values()],
    )


def test_search_embeds_the_text_with_the_collections_model(http: TestClient) -> None:
    text_collection(http, "searchable")
    got = post(
        http, f"{API}/collections/searchable/search", {"query": "coding in Python", "n_results": 2}
    )
    assert [r["id"] for r in got["results"]] == ["py", "js"]
    top = got["results"][0]
    assert top["document"] == "I love Python programming"
    assert top["metadata"] == {"lang": "en", "kind": "code"}
    assert top["matched_terms"] == ["python"]
    assert got["results"][1]["matched_terms"] == []
    assert got["terms"] == ["coding", "python"]
    assert (got["mode"], got["space"]) == ("dense", "cosine")
    assert got["score_name"] == "cosine similarity"
    assert top["score"] == pytest.approx(1 - top["distance"])
    assert top["score"] > got["results"][1]["score"]
    assert got["query_point"] is None


def test_search_applies_the_filter_and_places_the_query_on_the_map(http: TestClient) -> None:
    text_collection(http, "search-map")
    mapped = post(http, f"{API}/collections/search-map/map", {})
    body = {
        "query": "coding in Python",
        "where": {"kind": "food"},
        "projection": mapped["projection"],
    }
    got = post(http, f"{API}/collections/search-map/search", body)
    assert {r["id"] for r in got["results"]} == {"pasta", "soup"}
    query_vector = vectorhouse.DefaultEmbeddingFunction()(["coding in Python"])
    expected = Projection.from_json(mapped["projection"]).transform(query_vector)[0]
    np.testing.assert_allclose(got["query_point"], expected, atol=1e-4)
    # the query lands nearer the code records than the food ones
    xy = dict(zip(mapped["ids"], zip(mapped["x"], mapped["y"], strict=True), strict=True))
    near = {k: np.hypot(*(np.array(xy[k]) - got["query_point"])) for k in xy}
    assert near["py"] < min(near["pasta"], near["soup"])


def test_search_refuses_bad_queries_modes_and_projections(http: TestClient) -> None:
    text_collection(http, "search-bad")
    path = f"{API}/collections/search-bad/search"
    assert "non-empty text" in post(http, path, {"query": "  "}, 400)["message"]
    assert "offers: dense" in post(http, path, {"query": "x", "mode": "hybrid"}, 400)["message"]
    small = {"mean": [0.0, 0.0], "components": [[1.0, 0.0], [0.0, 1.0]]}
    assert "2-d projection" in post(http, path, {"query": "x", "projection": small}, 400)["message"]
    broken = {"mean": [0.0], "components": [["a"], [0]]}
    assert post(http, path, {"query": "x", "projection": broken}, 400)["code"] == "invalid_argument"
    raw_collection(http, "no-model", n_per=1)
    refused = post(http, f"{API}/collections/no-model/search", {"query": "x"}, 400)
    assert "has no embedding function" in refused["message"]


# -- read-only ----------------------------------------------------------------------------


def test_a_read_only_server_serves_reads_and_refuses_every_write() -> None:
    with TestClient(create_app(ServerConfig(read_only=True))) as http:
        raw_collection(http, "kept", n_per=3)
        col_id = http.get(f"{DB}/collections/kept").json()["id"]
        assert http.get(f"{API}/info").json()["read_only"] is True
        assert http.post(f"{API}/collections/kept/map", json={}).json()["total"] == 9
        assert http.post(f"{DB}/collections/{col_id}/get", json={}).status_code == 200
        assert http.get(f"{DB}/collections/{col_id}/count").json() == 9
        query = {"query_embeddings": [[0.0] * 16], "n_results": 1}
        assert http.post(f"{DB}/collections/{col_id}/query", json=query).status_code == 200
        writes = [
            ("POST", f"{DB}/collections", {"name": "new-one"}),
            ("POST", f"{DB}/collections/{col_id}/add", {"ids": ["x"], "embeddings": [[0] * 16]}),
            ("POST", f"{DB}/collections/{col_id}/upsert", {"ids": ["x"]}),
            ("POST", f"{DB}/collections/{col_id}/update", {"ids": ["r0001"]}),
            ("POST", f"{DB}/collections/{col_id}/delete", {"ids": ["r0001"]}),
            ("PUT", f"{DB}/collections/{col_id}", {"new_name": "renamed"}),
            ("DELETE", f"{DB}/collections/kept", None),
            ("POST", "/api/v2/reset", None),
        ]
        for method, path, body in writes:
            response = http.request(method, path, json=body)
            assert response.status_code == 403, (method, path)
            assert response.json()["code"] == "read_only"
            assert "read-only" in response.json()["message"]
        assert http.post(f"{API}/collections/kept/records", json={}).json()["total"] == 9


def test_serve_read_only_makes_http_client_raise_read_only_error(tmp_path: Path) -> None:
    with vectorhouse.PersistentClient(path=tmp_path) as setup:
        setup.create_collection("kept", embedding_function=None).add(
            ids=["a"], embeddings=[[1.0, 0.0]]
        )
    with (
        running_server(tmp_path, args=["--read-only"]) as server,
        vectorhouse.HttpClient(host=server.host, port=server.port) as client,
    ):
        assert any(line.endswith("(no auth, read-only)") for line in server.output)
        col = client.get_collection("kept", embedding_function=None)
        assert col.count() == 1
        with pytest.raises(vectorhouse.ReadOnlyError, match="read-only"):
            col.add(ids=["b"], embeddings=[[0.0, 1.0]])
        with pytest.raises(PermissionError):
            client.delete_collection("kept")
        assert col.get()["ids"] == ["a"]

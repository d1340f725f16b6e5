"""Chroma's own HTTP client (the pinned ``chromadb-client`` package) against a real
``vectorhouse serve``.

The client lives in a virtual environment of its own (it ships a ``chromadb`` module
that must not meet the test environment's), built on first use and kept in pytest's
cache, so later runs start at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vectorhouse.server import running_server

CHROMADB_CLIENT = "chromadb-client==1.5.9"
SCRIPT = Path(__file__).with_name("chroma_client_script.py")


@pytest.fixture(scope="session")
def chroma_python(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a venv holding only ``chromadb-client`` (built once, then cached)."""
    cache = getattr(request.config, "cache", None)
    name = CHROMADB_CLIENT.replace("==", "-")
    root = cache.mkdir(name) if cache is not None else tmp_path_factory.getbasetemp().parent / name
    root.mkdir(parents=True, exist_ok=True)
    venv, done = root / "venv", root / "installed"
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time
        if not done.exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", CHROMADB_CLIENT],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert pip.returncode == 0, (
                f"installing {CHROMADB_CLIENT} failed:\n{pip.stderr[-3000:]}"
            )
            done.write_text(CHROMADB_CLIENT + "\n")
    return venv / "bin" / "python"


def test_chromas_http_client_drives_every_supported_route(
    chroma_python: Path, tmp_path: Path
) -> None:
    token = "chroma-wire-token"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["ANONYMIZED_TELEMETRY"] = "False"
    with running_server(tmp_path / "db", token=token) as server:
        run = subprocess.run(
            [str(chroma_python), str(SCRIPT), server.host, str(server.port), token],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert run.returncode == 0, f"{run.stderr[-4000:]}\nserver log:\n{server.log_tail()}"
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["chromadb"] == "1.5.9"
    assert out["no_token"] == "ChromaAuthError"
    assert out["heartbeat_positive"] is True
    assert out["version"] == "0.1.0"
    assert out["max_batch_size"] > 0
    assert out["created"] == ["chroma-wire", {"hnsw:space": "cosine", "team": "a"}]
    assert out["count"] == 4
    # get(ids=["b", "a"]) answers in insertion order, as Chroma's own server does
    assert out["get"]["ids"] == ["a", "b"]
    assert out["get"]["documents"] == ["apple pie", "blue sky"]
    assert out["get"]["metadatas"] == [{"k": 1, "tags": ["x", "y"]}, {"k": 2}]
    assert out["get"]["embeddings"] == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert out["get_where"]["ids"] == ["d"] and out["get_where"]["documents"] == ["apple juice"]
    assert out["get_page"] == ["b", "c"]
    assert out["query"]["ids"] == [["a", "b"]]
    assert out["query"]["documents"] == [["apple pie", "blue sky"]]
    assert out["query"]["distances"][0] == pytest.approx([0.0061, 0.8896], abs=2e-4)
    assert out["query_ids"] == [["c", "a"]]
    assert out["after_writes"]["ids"] == ["a", "b", "e"]
    assert out["after_writes"]["documents"] == ["A", "blue sky", "E"]
    assert out["after_writes"]["metadatas"] == [{"k": 1, "tags": ["x", "y"]}, {"k": 20}, None]
    assert out["peek"] == ["a"]
    assert out["after_delete"] == ["a", "d", "e"]
    assert out["modified"] == [
        "chroma-wire-renamed",
        {"team": "b"},
        3,
        True,
    ]
    assert out["default_function"] == "default"
    assert out["get_or_create_same"] is True
    assert out["listed"] == ["chroma-default", "chroma-wire-renamed"]
    assert out["listed_page"] == 1
    assert out["count_collections"] == 2
    assert out["errors"] == {
        "missing": "NotFoundError",
        "exists": "UniqueConstraintError",
        "id_exists": "no error",  # add skips existing ids, as Chroma does
        "dimension": "InvalidDimensionException",
        "bad_regex": "InvalidArgumentError",
    }
    assert out["final_count"] == 0

"""``export`` / ``import`` between the embedded database and Milvus (milvus-lite),
in both directions, exactly; an interrupted import finished with ``--resume``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

import vectorhouse
from conftest import FakeEmbeddingFunction
from vectorhouse.cli import main


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="vectorhouse")


def ok(*args: str | Path) -> str:
    result = run(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """An embedded database: 2,500 records (more than one page) with the fake model."""
    path = tmp_path / "db"
    rng = np.random.default_rng(21)
    with vectorhouse.PersistentClient(path=path) as client:
        col = client.create_collection(
            "notes", embedding_function=FakeEmbeddingFunction(), metadata={"hnsw:space": "cosine"}
        )
        n = 2_500
        col.add(
            ids=[f"n{i}" for i in range(n)],
            embeddings=rng.normal(size=(n, 16)).astype(np.float32),
            documents=[None if i % 10 == 0 else f"note {i}" for i in range(n)],
            metadatas=[{"i": i, "odd": bool(i % 2)} if i % 7 else None for i in range(n)],
        )
    return path


def _lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines()]


def test_a_collection_moves_to_milvus_and_back_exactly(
    source: Path, tmp_path: Path, milvus_client: vectorhouse.Client, milvus_uri: str
) -> None:
    original = ok("export", "--db", source, "-c", "notes")
    path = tmp_path / "notes.jsonl"
    path.write_text(original, encoding="utf-8")
    out = ok("import", path, "--milvus", milvus_uri)
    assert out == "Imported 2,500 records into collection 'notes'.\n"
    from_milvus = ok("export", "--milvus", milvus_uri, "-c", "notes")
    assert _lines(from_milvus) == _lines(original)
    back = tmp_path / "back.jsonl"
    back.write_text(from_milvus, encoding="utf-8")
    ok("import", back, "--db", tmp_path / "db2")
    assert _lines(ok("export", "--db", tmp_path / "db2", "-c", "notes")) == _lines(original)
    col = milvus_client.get_collection("notes")
    assert col.embedding_function.name() == "fake-test"
    assert col.metadata == {"hnsw:space": "cosine"}


def test_an_interrupted_import_is_finished_by_resume(
    source: Path, tmp_path: Path, milvus_client: vectorhouse.Client, milvus_uri: str
) -> None:
    lines = ok("export", "--db", source, "-c", "notes").splitlines(keepends=True)
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(lines[:1_201]), encoding="utf-8")  # header + 1,200 records
    ok("import", partial, "--milvus", milvus_uri)
    full = tmp_path / "full.jsonl"
    full.write_text("".join(lines), encoding="utf-8")
    refused = run("import", full, "--milvus", milvus_uri)
    assert refused.exit_code == 1
    out = ok("import", full, "--milvus", milvus_uri, "--resume")
    assert out == "Imported 1,300 records into collection 'notes' (1,200 already there).\n"
    assert milvus_client.get_collection("notes").count() == 2_500
    assert _lines(ok("export", "--milvus", milvus_uri, "-c", "notes")) == _lines("".join(lines))


def test_progress_is_shown_on_standard_error_when_asked(source: Path, tmp_path: Path) -> None:
    result = run("export", "--db", source, "-c", "notes", "--progress", "-o", tmp_path / "x")
    assert result.exit_code == 0
    assert "Exporting" in result.stderr
    assert result.stdout == f"Exported 2,500 records of collection 'notes' to {tmp_path / 'x'}.\n"

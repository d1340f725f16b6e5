"""``Client.check()`` and ``vectorhouse check``: find damage, repair what is derived."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

import vectorhouse
from vectorhouse.cli import main
from vectorhouse.cli.check import EXIT_PROBLEMS, EXIT_REPAIRED
from vectorhouse.engine.check import FULL_TEXT_CHECKS


def _vectors(seed: int, n: int, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def _fill(path: Path, name: str = "docs", seed: int = 1, n: int = 300) -> str:
    with vectorhouse.PersistentClient(path=path) as client:
        col = client.get_or_create_collection(name, embedding_function=None)
        col.add(
            ids=[f"r{i}" for i in range(n)],
            embeddings=_vectors(seed, n),
            documents=[f"document {name} {i}" for i in range(n)],
        )
        return str(col.id)


def _cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["check", *map(str, args)], prog_name="vectorhouse")


def test_a_sound_database_checks_clean_with_exit_status_0(db_path: Path) -> None:
    _fill(db_path)
    _fill(db_path, "other", seed=2)
    with vectorhouse.PersistentClient(path=db_path) as client:
        client.create_collection("empty", embedding_function=None)
    result = _cli("--db", db_path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "ok     sqlite     database: integrity_check ok",
        "ok     count      docs: 300 records",
        "ok     index      docs: index file agrees (300 vectors)",
        "ok     lexical    docs: BM25 table holds all 300 documents",
        "ok     count      other: 300 records",
        "ok     index      other: index file agrees (300 vectors)",
        "ok     lexical    other: BM25 table holds all 300 documents",
        "ok     count      empty: 0 records",
        "ok     index      empty: no vectors yet",
        "ok     lexical    empty: BM25 table holds all 0 documents",
        "ok     full_text  documents_fts: agrees with the records",
        "No problems found.",
    ]
    data = json.loads(_cli("--db", db_path, "--json").output)
    assert data["ok"] and not data["found_problems"] and len(data["findings"]) == 11


def test_a_foreign_graph_file_is_found_left_alone_then_repaired(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cid = _fill(db_path)
    other = _fill(db_path, "other", seed=2)
    (graph,) = (db_path / "index").glob(f"{cid}.*.usearch")
    (theirs,) = (db_path / "index").glob(f"{other}.*.usearch")
    shutil.copyfile(theirs, graph)
    result = _cli("--db", db_path)
    assert result.exit_code == EXIT_PROBLEMS, result.output
    assert "FAIL   index      docs: index file" in result.output and "checksum" in result.output
    assert result.output.endswith(
        "1 problem(s) found (--repair rebuilds index files and full-text tables, and"
        " recounts records).\n"
    )
    assert graph.read_bytes() == theirs.read_bytes()  # a check alone changes nothing
    result = _cli("--db", db_path, "--repair", "--json")
    assert result.exit_code == EXIT_REPAIRED, result.output
    findings = json.loads(result.output)["findings"]
    (finding,) = [f for f in findings if f["check"] == "index" and f["subject"] == "docs"]
    assert finding["repaired"] and not finding["ok"]
    assert _cli("--db", db_path).exit_code == 0
    with (
        caplog.at_level(logging.WARNING, logger="vectorhouse"),
        vectorhouse.PersistentClient(path=db_path) as client,
    ):
        got = client.get_collection("docs").query(query_embeddings=_vectors(1, 1), n_results=1)
        assert got["ids"] == [["r0"]]
    assert not caplog.records


def test_index_files_whose_labels_or_vectors_disagree_with_the_records_are_found(
    db_path: Path,
) -> None:
    _fill(db_path)
    with contextlib.closing(sqlite3.connect(db_path / "vectorhouse.sqlite3")) as conn, conn:
        conn.execute("DELETE FROM records WHERE id = 'r3'")  # bypasses the deletion log
        conn.execute(
            "UPDATE records SET embedding = ? WHERE id = 'r4'",
            (np.zeros(8, np.float32).tobytes(),),
        )
    with vectorhouse.PersistentClient(path=db_path) as client:
        report = client.check()
        (finding,) = [f for f in report.findings if f.check == "index"]
        assert not report.ok and finding.problem
        assert "labels point at records that do not exist" in finding.detail
        assert client.check(repair=True).found_problems
        assert client.check().ok


def test_a_tampered_graph_in_memory_is_found_and_rebuilt(db_path: Path) -> None:
    _fill(db_path)
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.get_collection("docs")
        col.query(query_embeddings=_vectors(1, 1), n_results=1)
        state = client._engine._indexes[str(col.id)]
        labels = state.index.labels()[:5]
        state.index.add(labels, state.index.get_vectors(labels) + 1)
        (finding,) = [f for f in client.check().findings if f.check == "index"]
        assert finding.detail == "in memory: 5 vectors differ from the stored ones"
        client.check(repair=True)
        assert client.check().ok
        assert col.query(query_embeddings=_vectors(1, 1), n_results=1)["ids"] == [["r0"]]


def test_a_wrong_kept_record_count_is_found_and_set_from_the_table(db_path: Path) -> None:
    _fill(db_path)
    with contextlib.closing(sqlite3.connect(db_path / "vectorhouse.sqlite3")) as conn, conn:
        conn.execute("UPDATE collections SET record_count = 7")
    result = _cli("--db", db_path)
    assert result.exit_code == EXIT_PROBLEMS, result.output
    assert (
        "FAIL   count      docs: the collection's kept count says 7 records, the table"
        " holds 300" in result.output
    )
    result = _cli("--db", db_path, "--repair")
    assert result.exit_code == EXIT_REPAIRED, result.output
    with vectorhouse.PersistentClient(path=db_path) as client:
        assert client.get_collection("docs").count() == 300
        assert client.check().ok


def test_a_full_text_table_out_of_step_is_found_and_rebuilt(db_path: Path) -> None:
    _fill(db_path)
    with contextlib.closing(sqlite3.connect(db_path / "vectorhouse.sqlite3")) as conn, conn:
        conn.execute(
            "INSERT INTO documents_fts (documents_fts, rowid, document)"
            " SELECT 'delete', rowid, document FROM records WHERE id = 'r7'"
        )
    with vectorhouse.PersistentClient(path=db_path) as client:
        col = client.get_collection("docs")
        damaged = col.get(ids=["r7"], where_document={"$contains": "docs 7"})
        assert damaged["ids"] == []  # the damage: the text search misses r7
        (finding,) = [f for f in client.check().findings if f.check == "full_text"]
        assert finding.subject == "documents_fts" and finding.problem
    result = _cli("--db", db_path, "--repair")
    assert result.exit_code == EXIT_REPAIRED, result.output
    assert "fixed  full_text  documents_fts: disagrees with the records" in result.output
    assert result.output.endswith("Problems found and repaired.\n")
    with vectorhouse.PersistentClient(path=db_path) as client:
        got = client.get_collection("docs").get(ids=["r7"], where_document={"$contains": "docs 7"})
        assert got["ids"] == ["r7"]
    assert [c.table for c in FULL_TEXT_CHECKS] == ["documents_fts"]


def test_a_damaged_sqlite_file_is_reported_with_what_to_do(db_path: Path) -> None:
    _fill(db_path, n=3_000)
    path = db_path / "vectorhouse.sqlite3"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 // 4096 * 4096
    data[middle : middle + 8192] = np.random.default_rng(0).bytes(8192)
    path.write_bytes(bytes(data))
    result = _cli("--db", db_path)
    assert result.exit_code == EXIT_PROBLEMS, result.output
    assert result.output.startswith("FAIL   sqlite     database: ")
    assert "restore a backup" in result.output


def test_the_check_of_a_collection_made_with_the_default_model(tmp_path: Path) -> None:
    with vectorhouse.PersistentClient(path=tmp_path / "db") as client:
        col = client.create_collection("texts")
        col.add(ids=["a", "b"], documents=["I love Python programming", "I enjoy cooking pasta"])
        assert client.check().ok
    assert _cli("--db", tmp_path / "db").exit_code == 0


def test_a_bm25_table_out_of_step_is_found_and_rebuilt(db_path: Path) -> None:
    cid = _fill(db_path)
    table = "lexical_" + cid.replace("-", "")
    with contextlib.closing(sqlite3.connect(db_path / "vectorhouse.sqlite3")) as conn, conn:
        conn.execute(
            f"INSERT INTO {table} ({table}, rowid, document)"
            " SELECT 'delete', rowid, document FROM records WHERE id = 'r7'"
        )

    def lexical_top(client: vectorhouse.Client) -> list[str]:
        col = client.get_collection("docs")
        ids: list[str] = col.query(query_texts=["7"], mode="lexical", n_results=1)["ids"][0]
        return ids

    with vectorhouse.PersistentClient(path=db_path) as client:
        assert lexical_top(client) != ["r7"]  # the damage: BM25 no longer sees r7
        (finding,) = [f for f in client.check().findings if f.check == "lexical"]
        assert finding.problem
        assert finding.detail == "BM25 table holds 299 documents, the records 300"
    result = _cli("--db", db_path, "--repair")
    assert result.exit_code == EXIT_REPAIRED, result.output
    assert "fixed  lexical    docs: BM25 table holds 299 documents, the records 300; rebuilt" in (
        result.output
    )
    with vectorhouse.PersistentClient(path=db_path) as client:
        assert lexical_top(client) == ["r7"]
        assert client.check().ok

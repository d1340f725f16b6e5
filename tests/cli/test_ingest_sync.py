"""Incremental ingestion through the library: what is written, rewritten, kept, deleted."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ingest_fixtures import LOGGING_MD, write_tree

import vectorhouse
from conftest import FakeEmbeddingFunction
from vectorhouse.ingest import ChunkOptions, ingest_files, sync
from vectorhouse.ingest.sync import stored_sources


class RecordingFunction(FakeEmbeddingFunction):
    """The fake model, remembering every text it embedded (the probe text apart)."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__(dim)
        self.texts: list[str] = []

    def __call__(self, input: list[str]) -> list[np.ndarray]:
        self.texts.extend(t for t in input if not t.startswith("vectorhouse model fingerprint"))
        return super().__call__(input)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    write_tree(root)
    return root


@pytest.fixture
def model() -> RecordingFunction:
    return RecordingFunction()


@pytest.fixture
def col(tmp_path: Path, model: RecordingFunction) -> Any:
    client = vectorhouse.PersistentClient(path=tmp_path / "db")
    yield client.create_collection("docs", embedding_function=model)
    client.close()


def snapshot(col: Any) -> list[tuple[str, str, str]]:
    """Every record as (id, document, metadata JSON), sorted: what a sync must produce."""
    got = col.get(include=["documents", "metadatas"])
    rows = zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    return sorted((i, d, json.dumps(m, sort_keys=True)) for i, d, m in rows)


def clean_snapshot(tmp_path: Path, tree: Path, **kwargs: Any) -> list[tuple[str, str, str]]:
    """What a first sync of ``tree`` into a fresh collection gives."""
    with vectorhouse.PersistentClient(path=tmp_path / "clean") as client:
        name = f"clean{len(client.list_collections())}"
        fresh = client.create_collection(name, embedding_function=FakeEmbeddingFunction())
        ingest_files(fresh, [tree], base=tree, **kwargs)
        return snapshot(fresh)


def sources_of(col: Any) -> dict[str, int]:
    return {k: sum(c for c, _ in s.by_hash.values()) for k, s in stored_sources(col).items()}


def test_first_sync_writes_every_file_with_its_metadata(col: Any, tree: Path) -> None:
    report = ingest_files(col, [tree], base=tree)
    assert report.summary() == "6 files: 6 new, 0 changed, 0 deleted, 0 unchanged"
    assert sources_of(col) == {
        "docs/deploy.rst": 2,
        "docs/guide.pdf": 1,
        "docs/index.html": 2,
        "docs/ops.md": 3,
        "notes.txt": 1,
        "src/tool.py": 4,
    }
    assert report.chunks_written == col.count() == 13
    got = col.get(where={"source": "docs/ops.md"}, include=["documents", "metadatas"])
    meta = got["metadatas"][1]
    assert meta == {
        "source": "docs/ops.md",
        "ext": ".md",
        "chunk": 1,
        "chunks": 3,
        "title": "Operations",
        "section": "Operations > Log rotation",
        "source_hash": meta["source_hash"],
        "line_start": 5,
        "line_end": 8,
    }
    assert got["ids"][1].startswith("docs/ops.md#1-")
    pdf = col.get(where={"ext": ".pdf"})["metadatas"][0]
    assert (pdf["page_start"], pdf["page_end"], pdf["title"]) == (1, 2, "Guide")


def test_a_second_sync_embeds_nothing_and_writes_nothing(
    col: Any, tree: Path, model: RecordingFunction
) -> None:
    ingest_files(col, [tree], base=tree)
    before, embedded = snapshot(col), len(model.texts)
    report = ingest_files(col, [tree], base=tree)
    assert report.summary() == "6 files: 0 new, 0 changed, 0 deleted, 6 unchanged"
    assert (report.chunks_written, report.chunks_deleted) == (0, 0)
    assert len(model.texts) == embedded
    assert snapshot(col) == before


def test_ids_are_stable_across_databases(col: Any, tree: Path, tmp_path: Path) -> None:
    ingest_files(col, [tree], base=tree)
    assert snapshot(col) == clean_snapshot(tmp_path, tree)


def test_a_changed_file_embeds_only_its_new_chunks_and_drops_the_old(
    col: Any, tree: Path, model: RecordingFunction, tmp_path: Path
) -> None:
    ingest_files(col, [tree], base=tree)
    model.texts.clear()
    changed = LOGGING_MD.replace("nightly", "hourly")
    (tree / "docs/ops.md").write_text(changed)
    report = ingest_files(col, [tree], base=tree)
    assert report.summary() == "6 files: 0 new, 1 changed, 0 deleted, 5 unchanged"
    assert model.texts == ["Backups\n\nBackups run hourly to the object store."]
    assert (report.chunks_written, report.chunks_deleted) == (3, 1)
    assert snapshot(col) == clean_snapshot(tmp_path, tree)


def test_a_deleted_file_loses_its_chunks(col: Any, tree: Path, tmp_path: Path) -> None:
    ingest_files(col, [tree], base=tree)
    (tree / "src/tool.py").unlink()
    report = ingest_files(col, [tree], base=tree)
    assert report.summary() == "5 files: 0 new, 0 changed, 1 deleted, 5 unchanged"
    assert report.chunks_deleted == 4
    assert "src/tool.py" not in sources_of(col)
    assert snapshot(col) == clean_snapshot(tmp_path, tree)


def test_a_renamed_file_reuses_its_vectors(
    col: Any, tree: Path, model: RecordingFunction, tmp_path: Path
) -> None:
    ingest_files(col, [tree], base=tree)
    model.texts.clear()
    (tree / "docs/ops.md").rename(tree / "docs/operations.md")
    report = ingest_files(col, [tree], base=tree)
    assert report.summary() == "6 files: 1 new, 0 changed, 1 deleted, 5 unchanged"
    assert model.texts == []  # same texts: the stored vectors are reused
    assert "docs/ops.md" not in sources_of(col)
    assert sources_of(col)["docs/operations.md"] == 3
    assert snapshot(col) == clean_snapshot(tmp_path, tree)


def test_a_file_that_no_longer_gives_text_loses_its_chunks(col: Any, tree: Path) -> None:
    ingest_files(col, [tree], base=tree)
    (tree / "notes.txt").write_text("\n\n")
    report = ingest_files(col, [tree], base=tree)
    assert (report.changed, report.empty, report.chunks_deleted) == (1, 1, 1)
    assert "notes.txt" not in sources_of(col)


def test_files_no_longer_selected_are_removed(col: Any, tree: Path) -> None:
    ingest_files(col, [tree], base=tree)
    report = ingest_files(col, [tree], base=tree, exclude=["*.pdf", "src"])
    assert report.deleted == 2
    assert set(sources_of(col)) == {
        "docs/deploy.rst",
        "docs/index.html",
        "docs/ops.md",
        "notes.txt",
    }


def test_sources_outside_the_given_roots_are_left_alone(col: Any, tree: Path) -> None:
    ingest_files(col, [tree / "docs", tree / "src"], base=tree)
    (tree / "src/tool.py").unlink()
    report = ingest_files(col, [tree / "docs"], base=tree)
    assert report.summary() == "4 files: 0 new, 0 changed, 0 deleted, 4 unchanged"
    assert "src/tool.py" in sources_of(col)
    assert ingest_files(col, [tree / "src"], base=tree).deleted == 1


def test_records_not_written_by_ingest_are_never_touched(col: Any, tree: Path) -> None:
    col.add(ids=["manual"], documents=["hand made"], metadatas=[{"source": "notes.txt"}])
    ingest_files(col, [tree], base=tree)
    (tree / "notes.txt").unlink()
    ingest_files(col, [tree], base=tree)
    assert col.get(ids=["manual"])["documents"] == ["hand made"]


def test_new_chunk_options_rechunk_every_file(col: Any, tree: Path, tmp_path: Path) -> None:
    ingest_files(col, [tree], base=tree)
    options = ChunkOptions(max_tokens=12, overlap=2)
    report = ingest_files(col, [tree], base=tree, options=options)
    assert report.changed == 6
    assert snapshot(col) == clean_snapshot(tmp_path, tree, options=options)


def test_an_unreadable_file_is_reported_and_keeps_what_was_stored(col: Any, tree: Path) -> None:
    ingest_files(col, [tree], base=tree)
    (tree / "docs/guide.pdf").write_bytes(b"%PDF-1.4 now broken")
    report = ingest_files(col, [tree], base=tree)
    assert [k for k, _ in report.skipped] == ["docs/guide.pdf"]
    assert "cannot read PDF" in report.skipped[0][1]
    assert sources_of(col)["docs/guide.pdf"] == 1


def test_dry_run_lists_changes_and_writes_nothing(col: Any, tree: Path) -> None:
    ingest_files(col, [tree], base=tree)
    (tree / "notes.txt").write_text("Changed.")
    (tree / "src/tool.py").unlink()
    (tree / "new.md").write_text("# New")
    before = snapshot(col)
    report = ingest_files(col, [tree], base=tree, dry_run=True)
    assert report.changes == [
        ("new", "new.md"),
        ("changed", "notes.txt"),
        ("deleted", "src/tool.py"),
    ]
    assert snapshot(col) == before


def test_writes_go_in_batches_of_the_given_size(
    col: Any, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    upsert = col.upsert

    def spy(**kwargs: Any) -> None:
        sizes.append(len(kwargs["ids"]))
        upsert(**kwargs)

    monkeypatch.setattr(col, "upsert", spy)
    ingest_files(col, [tree], base=tree, batch_size=5)
    assert sizes == [5, 5, 3]


def test_an_interrupted_write_is_finished_by_the_next_sync(
    col: Any, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upsert = col.upsert
    calls = 0

    def interrupted(**kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        upsert(**kwargs)

    monkeypatch.setattr(col, "upsert", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ingest_files(col, [tree], base=tree, batch_size=2)
    monkeypatch.setattr(col, "upsert", upsert)
    assert col.count() == 4
    report = ingest_files(col, [tree], base=tree, batch_size=2)
    assert report.unchanged + report.new + report.changed == 6
    assert report.new + report.changed >= 4
    assert snapshot(col) == clean_snapshot(tmp_path, tree)


def test_an_interruption_between_write_and_cleanup_is_cleaned_up_next_time(
    col: Any, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_files(col, [tree], base=tree)
    (tree / "docs/ops.md").write_text(LOGGING_MD.replace("nightly", "hourly"))
    delete = col.delete

    def interrupted(**kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(col, "delete", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ingest_files(col, [tree], base=tree)
    monkeypatch.setattr(col, "delete", delete)
    assert sources_of(col)["docs/ops.md"] == 4  # the new chunks and the old one
    report = ingest_files(col, [tree], base=tree)
    assert (report.changed, report.chunks_deleted) == (1, 1)
    assert snapshot(col) == clean_snapshot(tmp_path, tree)


def test_sync_refuses_chunks_longer_than_the_model_reads(tmp_path: Path, tree: Path) -> None:
    col = vectorhouse.Client().create_collection("docs")  # the default model: 254 tokens
    with pytest.raises(vectorhouse.InvalidArgumentError, match="at most 254"):
        ingest_files(col, [tree], options=ChunkOptions(max_tokens=300, overlap=0))


def test_ingest_and_query_through_the_default_model(tmp_path: Path, tree: Path) -> None:
    with vectorhouse.PersistentClient(path=tmp_path / "real") as client:
        col = client.create_collection("docs", metadata={"hnsw:space": "cosine"})
        report = ingest_files(col, [tree], base=tree)
        assert report.chunks_written == 13
        hits = col.query(query_texts=["how often are log files rotated?"], n_results=2).hits[0]
        assert hits[0].metadata is not None
        assert hits[0].metadata["section"] == "Operations > Log rotation"
        hits = col.query(query_texts=["who do I page during an incident"], n_results=1).hits[0]
        assert hits[0].metadata is not None and hits[0].metadata["source"] == "docs/guide.pdf"
        assert sync(col, _same(tree)).unchanged == 6


def _same(tree: Path) -> Any:
    from vectorhouse.ingest import FileCorpus

    return FileCorpus([tree], base=tree)


def test_paths_given_relative_resolve_from_the_current_folder(
    col: Any, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree)
    ingest_files(col, ["docs"])
    assert set(sources_of(col)) == {
        "docs/deploy.rst",
        "docs/guide.pdf",
        "docs/index.html",
        "docs/ops.md",
    }
    assert os.path.isabs(next(iter(sources_of(col)))) is False

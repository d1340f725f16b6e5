"""Every ``vectorhouse`` command through click's runner, with exact output where stable."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner, Result
from ingest_fixtures import write_tree
from rich.console import Console

import vectorhouse
from conftest import FakeEmbeddingFunction
from vectorhouse.cli import main
from vectorhouse.cli.ingest import BarProgress
from vectorhouse.ingest import FileCorpus, sync


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "tree"
    write_tree(root)
    monkeypatch.chdir(root)
    monkeypatch.setenv("COLUMNS", "100")
    for name in ("VECTORHOUSE_DB", "VECTORHOUSE_COLLECTION", "VECTORHOUSE_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database whose collection 'notes' uses the fake model (so the CLI does too)."""
    path = tmp_path / "db"
    with vectorhouse.PersistentClient(path=path) as client:
        client.create_collection(
            "notes", embedding_function=FakeEmbeddingFunction(), metadata={"hnsw:space": "cosine"}
        )
    return path


def run(*args: str | Path, input: str | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], input=input, prog_name="vectorhouse")


def ok(*args: str | Path, input: str | None = None) -> str:
    result = run(*args, input=input)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture
def ingested(tree: Path, db: Path) -> Path:
    ok("ingest", ".", "--db", db, "-c", "notes")
    return db


def test_every_command_is_documented_with_an_example() -> None:
    ctx = click.Context(main)
    assert set(main.list_commands(ctx)) == {
        "check",
        "collections",
        "delete",
        "export",
        "get",
        "import",
        "info",
        "ingest",
        "peek",
        "query",
        "serve",
    }
    for name in main.list_commands(ctx):
        output = ok(name, "--help")
        assert output.startswith(f"Usage: vectorhouse {name} ")
        if name != "serve":  # documented by its own owner
            assert "Example:\n    vectorhouse " in output, name


def test_ingest_prints_the_scan_and_the_result(tree: Path, db: Path) -> None:
    lines = ok("ingest", ".", "--db", db, "-c", "notes").splitlines()
    assert lines[0] == "Scanning 6 files ... 6 new, 0 changed, 0 deleted, 0 unchanged"
    assert re.fullmatch(
        r"Wrote 13 chunks in \d+\.\d s \([\d,]+ chunks/s\); collection 'notes' holds 13 chunks",
        lines[1],
    )
    assert len(lines) == 2
    assert ok("ingest", ".", "--db", db, "-c", "notes") == (
        "Scanning 6 files ... 0 new, 0 changed, 0 deleted, 6 unchanged\n"
        "Up to date: collection 'notes' holds 13 chunks\n"
    )


def test_ingest_reports_changes_deletions_and_renames(ingested: Path, tree: Path) -> None:
    (tree / "notes.txt").write_text("Remember the bread.")
    (tree / "src/tool.py").unlink()
    (tree / "docs/deploy.rst").rename(tree / "docs/deploying.rst")
    output = ok("ingest", ".", "--db", ingested, "-c", "notes")
    lines = output.splitlines()
    assert lines[0] == "Scanning 5 files ... 1 new, 1 changed, 2 deleted, 3 unchanged"
    assert re.fullmatch(
        r"Wrote 3 chunks in .* chunks/s\), deleted 7 old chunks; collection 'notes' holds 9"
        r" chunks",
        lines[1],
    )


def test_ingest_dry_run_lists_what_would_change(ingested: Path, tree: Path) -> None:
    (tree / "notes.txt").unlink()
    (tree / "extra.md").write_text("# Extra\n")
    assert ok("ingest", ".", "--db", ingested, "-c", "notes", "--dry-run") == (
        "Scanning 6 files ... 1 new, 0 changed, 1 deleted, 5 unchanged\n"
        "  new      extra.md\n"
        "  deleted  notes.txt\n"
    )
    assert ok("ingest", ".", "--db", ingested, "-c", "notes", "--dry-run").count("\n") == 3


def test_ingest_quiet_prints_nothing_and_json_prints_the_report(tree: Path, db: Path) -> None:
    assert ok("ingest", "docs", "--db", db, "-c", "notes", "--quiet") == ""
    report = json.loads(ok("ingest", ".", "--db", db, "-c", "notes", "--json"))
    assert {k: report[k] for k in ("scanned", "new", "unchanged", "count", "collection")} == {
        "scanned": 6,
        "new": 2,
        "unchanged": 4,
        "count": 13,
        "collection": "notes",
    }


def test_ingest_creates_a_collection_with_the_default_model(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "fresh"
    assert ok("ingest", "notes.txt", "--db", db, "-c", "memo", "--dry-run") == (
        "Scanning 1 file ... 1 new, 0 changed, 0 deleted, 0 unchanged\n  new      notes.txt\n"
    )
    assert not db.exists()  # a dry run creates nothing
    ok("ingest", "notes.txt", "--db", db, "-c", "memo")
    with vectorhouse.PersistentClient(path=db) as client:
        col = client.get_collection("memo")
        assert col.embedding_function.name() == "default"
        assert col.configuration_json["hnsw"]["space"] == "cosine"
        assert col.count() == 1


def test_ingest_warns_about_unreadable_files_and_goes_on(tree: Path, db: Path) -> None:
    (tree / "docs/broken.pdf").write_bytes(b"%PDF-1.4 broken")
    result = run("ingest", ".", "--db", db, "-c", "notes")
    assert result.exit_code == 0
    assert result.stdout.startswith("Scanning 7 files ... 7 new,")
    assert result.stderr.startswith("Warning: skipped docs/broken.pdf: cannot read PDF")


def test_query_prints_a_table_of_the_nearest_chunks(ingested: Path) -> None:
    assert ok("query", "log rotation daily", "--db", ingested, "-c", "notes", "-k", "3") == (
        "#  distance  source                chunk\n"
        "1  0.302     docs/index.html#L6-7  Holidays Ask two weeks ahead. Use the holiday"
        " calendar.\n"
        "2  0.438     docs/ops.md#L5-8      Log rotation Log rotation is configured with logrotate:"
        " files ro…\n"
        "3  0.590     docs/deploy.rst#L1-5  Deploying Deploys go through the pipeline.\n"
    )


def test_query_filters_and_json(ingested: Path) -> None:
    args = ["query", "log rotation daily", "--db", ingested, "-c", "notes"]
    data = json.loads(ok(*args, "--where", '{"ext": ".md"}', "--json", "-k", "2"))
    assert [r["source"] for r in data["results"]] == ["docs/ops.md#L5-8", "docs/ops.md#L1-3"]
    first = data["results"][0]
    assert first["id"].startswith("docs/ops.md#1-")
    assert first["metadata"]["section"] == "Operations > Log rotation"
    assert first["document"].startswith("Log rotation\n\n")
    data = json.loads(ok(*args, "--where-document", '{"$contains": "milk"}', "--json"))
    assert [r["source"] for r in data["results"]] == ["notes.txt#L1-3"]
    assert ok(*args, "--where", '{"ext": ".none"}') == "No results.\n"


def test_query_mode_lexical_and_hybrid_rank_by_words(ingested: Path) -> None:
    args = ["query", "logrotate", "--db", ingested, "-c", "notes", "-k", "1"]
    out = ok(*args, "--mode", "lexical")
    assert out.startswith("#  score")
    assert "docs/ops.md#L5-8" in out
    hybrid = json.loads(ok(*args, "--mode", "hybrid", "--fusion", "rrf", "--json"))
    assert hybrid["mode"] == "hybrid"
    assert [r["source"] for r in hybrid["results"]] == ["docs/ops.md#L5-8"]
    assert hybrid["results"][0]["distance"] < 0  # minus the fused score
    filtered = ok(*args, "--mode", "lexical", "--where", '{"ext": ".txt"}')
    assert filtered == "No results.\n"


def test_collections_lists_counts_model_dimension_and_space(ingested: Path) -> None:
    with vectorhouse.PersistentClient(path=ingested) as client:
        client.create_collection("raw", embedding_function=None)
    assert ok("collections", "--db", ingested) == (
        "name   records  model                dimension  space\n"
        "notes       13  fake-test                   16  cosine\n"
        "raw          0  none (vectors only)          -  l2\n"
    )
    assert json.loads(ok("collections", "--db", ingested, "--json"))[0] == {
        "name": "notes",
        "records": 13,
        "model": "fake-test",
        "dimension": 16,
        "space": "cosine",
    }


def test_info_shows_config_model_fingerprint_counts_and_disk(ingested: Path) -> None:
    lines = ok("info", "notes", "--db", ingested).splitlines()
    fields = {line[:12].strip(): line[14:] for line in lines}
    assert list(fields) == [
        "collection",
        "id",
        "records",
        "sources",
        "model",
        "model config",
        "dimension",
        "space",
        "hnsw",
        "fingerprint",
        "metadata",
        "database",
        "index",
    ]
    assert fields["records"] == "13"
    assert fields["sources"] == "6 ingested"
    assert fields["model config"] == '{"dim": 16}'
    assert fields["hnsw"] == "ef_construction=100 ef_search=100 max_neighbors=16"
    assert re.fullmatch(r"sha256 [0-9a-f]{16} of the 16-d probe vector", fields["fingerprint"])
    assert re.fullmatch(r"[\d.]+ KiB \(all collections\)", fields["database"])
    data = json.loads(ok("info", "--db", ingested, "-c", "notes", "--json"))
    assert data["fingerprint"]["dimension"] == 16
    assert data["disk"]["database_bytes"] > 0


def test_peek_shows_the_first_records(ingested: Path) -> None:
    assert ok("peek", "--db", ingested, "-c", "notes", "-n", "2") == (
        "id                              source                 chunk\n"
        "docs/deploy.rst#0-7aa4bbddd67a  docs/deploy.rst#L1-5   Deploying Deploys go through"
        " the pipeline.\n"
        "docs/deploy.rst#1-c925ea2c468a  docs/deploy.rst#L7-10  Rollback Run the rollback job"
        " to return to t…\n"
    )
    assert json.loads(ok("peek", "--db", ingested, "-c", "notes", "-n", "1", "--json"))["ids"] == [
        "docs/deploy.rst#0-7aa4bbddd67a"
    ]


def test_get_by_id_and_where_prints_whole_records(ingested: Path) -> None:
    output = ok("get", "--db", ingested, "-c", "notes", "--where", '{"source": "notes.txt"}')
    meta = json.loads(output.splitlines()[1].removeprefix("  metadata: "))
    assert output == (
        "notes.txt#0-65841d61c1bd\n"
        f"  metadata: {json.dumps(meta)}\n"
        "  document:\n"
        "    Remember the milk.\n"
        "\n"
        "    And the eggs.\n"
        "\n"
        "1 record\n"
    )
    data = json.loads(
        ok("get", "--db", ingested, "-c", "notes", "--id", "notes.txt#0-65841d61c1bd", "--json")
    )
    assert data["documents"] == ["Remember the milk.\n\nAnd the eggs."]
    data = json.loads(
        ok("get", "--db", ingested, "-c", "notes", "--limit", "1", "--embeddings", "--json")
    )
    assert len(data["embeddings"][0]) == 16
    assert ok("get", "--db", ingested, "-c", "notes", "--id", "missing") == "0 records\n"


def test_delete_records_by_id_and_where(ingested: Path) -> None:
    assert ok("delete", "--db", ingested, "-c", "notes", "--where", '{"ext": ".md"}') == (
        "Deleted 3 records from collection 'notes'.\n"
    )
    assert ok("delete", "--db", ingested, "-c", "notes", "--id", "notes.txt#0-65841d61c1bd") == (
        "Deleted 1 record from collection 'notes'.\n"
    )


def test_delete_a_collection_asks_first(ingested: Path) -> None:
    result = run("delete", "--db", ingested, "-c", "notes", input="n\n")
    assert result.exit_code == 1
    assert result.output == "Delete collection 'notes' and its 13 records? [y/N]: n\nAborted!\n"
    assert ok("delete", "--db", ingested, "-c", "notes", input="y\n").endswith(
        "Deleted collection 'notes' (13 records).\n"
    )
    assert ok("collections", "--db", ingested) == f"No collections in {ingested}.\n"


def exported(db: Path, name: str) -> list[Any]:
    return [json.loads(line) for line in ok("export", "--db", db, "-c", name).splitlines()]


def test_export_and_import_round_trip_exactly(ingested: Path, tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    assert ok("export", "--db", ingested, "-c", "notes", "-o", path) == (
        f"Exported 13 records of collection 'notes' to {path}.\n"
    )
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "vectorhouse-export"
    assert (header["collection"], header["count"], header["dimension"]) == ("notes", 13, 16)
    assert set(json.loads(lines[1])) == {"id", "document", "metadata", "embedding"}

    other = tmp_path / "other"
    assert ok("import", path, "--db", other) == "Imported 13 records into collection 'notes'.\n"
    assert exported(other, "notes") == exported(ingested, "notes")
    with (
        vectorhouse.PersistentClient(path=ingested) as a,
        vectorhouse.PersistentClient(path=other) as b,
    ):
        ea = a.get_collection("notes").get(include=["embeddings"])["embeddings"]
        eb = b.get_collection("notes").get(include=["embeddings"])["embeddings"]
        assert ea.dtype == eb.dtype == np.float32
        assert ea.tobytes() == eb.tobytes()
        copy = b.get_collection("notes")
        assert (
            copy.configuration_json["hnsw"] == a.get_collection("notes").configuration_json["hnsw"]
        )
        assert copy.embedding_function.name() == "fake-test"


def test_import_refuses_an_existing_collection_unless_upsert(
    ingested: Path, tmp_path: Path
) -> None:
    path = tmp_path / "notes.jsonl"
    ok("export", "--db", ingested, "-c", "notes", "-o", path)
    result = run("import", path, "--db", ingested)
    assert result.exit_code == 1
    assert result.output == (
        "Error: collection 'notes' already exists; choose another with --collection,"
        " or pass --upsert to write into it\n"
    )
    assert ok("import", path, "--db", ingested, "--upsert").startswith("Imported 13 records")
    assert ok("import", path, "--db", ingested, "-c", "copy").startswith("Imported 13 records")


def test_import_of_a_file_that_is_not_an_export_fails_cleanly(tmp_path: Path, db: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"hello": 1}\n')
    result = run("import", path, "--db", db)
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {path} is not a vectorhouse export (no header line)\n",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["query", "x", "-c", "nope"],
            "Error: collection 'nope' does not exist; collections: notes",
        ),
        (
            ["get", "-c", "notes", "--where", '{"ext": {"$gt": "x"}}'],
            "Error: where filter at ext: $gt needs a number, got 'x'",
        ),
        (
            ["ingest", ".", "-c", "notes", "--chunk-tokens", "40", "--overlap", "30"],
            "Error: overlap (30) must be below half of max_tokens (40)",
        ),
    ],
)
def test_errors_print_one_line_and_exit_1(ingested: Path, args: list[str], message: str) -> None:
    result = run(*args, "--db", ingested)
    assert (result.exit_code, result.output) == (1, message + "\n")
    assert "Traceback" not in result.output


def test_a_missing_database_is_not_created_by_read_commands(tmp_path: Path) -> None:
    missing = tmp_path / "nothing"
    for args in (["query", "x"], ["collections"], ["info"], ["peek"], ["get"], ["export"]):
        result = run(*args, "--db", missing)
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: no database at {missing} (make one with:")
    assert not missing.exists()


def test_bad_json_options_are_usage_errors(ingested: Path) -> None:
    result = run("get", "--db", ingested, "-c", "notes", "--where", "{oops")
    assert result.exit_code == 2
    assert "Invalid value for --where: not valid JSON" in result.output


def test_debug_shows_the_real_exception(ingested: Path) -> None:
    args = ["get", "--db", str(ingested), "-c", "notes", "--where", '{"ext": {"$gt": "x"}}']
    result = CliRunner().invoke(main, ["--debug", *args])
    assert isinstance(result.exception, vectorhouse.InvalidFilterError)


def test_unexpected_errors_are_one_line_too(
    ingested: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Iterator[Any]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(vectorhouse.Collection, "peek", broken)
    monkeypatch.setattr(vectorhouse.Collection, "get", broken)
    result = run("peek", "--db", ingested, "-c", "notes")
    assert (result.exit_code, result.output) == (
        1,
        "Error: RuntimeError: disk on fire (run with --debug for the traceback)\n",
    )


def test_environment_variables_choose_database_and_collection(
    ingested: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VECTORHOUSE_DB", str(ingested))
    monkeypatch.setenv("VECTORHOUSE_COLLECTION", "notes")
    assert ok("peek", "-n", "1", "--json").count("deploy.rst#0") == 1


def test_serve_is_still_a_command() -> None:
    assert "serve" in main.commands


def test_progress_bars_show_counts_rate_and_time_on_a_terminal(tree: Path) -> None:
    screen = io.StringIO()
    lines: list[str] = []
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    hooks = BarProgress(console, lines.append)
    assert hooks.bars is True
    fake = FakeEmbeddingFunction()
    col = vectorhouse.Client().create_collection("notes", embedding_function=fake)
    sync(col, FileCorpus([tree], base=tree), progress=hooks, batch_size=4)
    assert lines == ["Scanning 6 files ... 6 new, 0 changed, 0 deleted, 0 unchanged"]
    final = screen.getvalue().rsplit("\r", 1)[-1]
    assert re.search(r"Embedding 13 chunks .*100% 13/13 [\d,]+ chunks/s \d:\d\d:\d\d", final)


def test_progress_bars_stay_off_when_not_a_terminal() -> None:
    assert BarProgress(Console(file=io.StringIO()), print).bars is False

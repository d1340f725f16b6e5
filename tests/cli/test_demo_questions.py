"""The demo's corpus and questions, through the real default model on a small part of
the standard library (the modules that answer the questions, and some that do not)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import vectorhouse
from vectorhouse.ingest import DEMO_MODULES, StdlibCorpus, sync

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"

DISTRACTORS = ["tarfile", "threading", "os.path", "random", "string"]
"""Modules near the questions' topics that answer none of them."""


def load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("vectorhouse_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_modules_are_all_in_this_standard_library() -> None:
    from vectorhouse.ingest.stdlib import ModuleSource

    for name in DEMO_MODULES:
        assert len(ModuleSource(name).fingerprint()) == 64, name


@pytest.mark.slow
def test_each_demo_question_finds_a_relevant_module_in_the_top_3(tmp_path: Path) -> None:
    demo = load_demo()
    modules = [expected[0] for _, expected in demo.QUESTIONS] + DISTRACTORS
    with vectorhouse.PersistentClient(path=tmp_path / "db") as client:
        col = client.create_collection("stdlib", metadata={"hnsw:space": "cosine"})
        report = sync(col, StdlibCorpus(modules))
        assert report.new == len(modules) and not report.skipped
        misses = []
        for question, expected in demo.QUESTIONS:
            hits = col.query(query_texts=[question], n_results=3).hits[0]
            found = [demo.module_of(h.metadata) for h in hits]
            if not set(found) & set(expected):
                misses.append((question, found))
        assert misses == []
        again = sync(col, StdlibCorpus(modules))
        assert (again.unchanged, again.chunks_written, again.chunks_deleted) == (len(modules), 0, 0)


@pytest.mark.slow
def test_the_demo_script_runs_and_its_second_run_embeds_nothing(tmp_path: Path) -> None:
    args = [sys.executable, str(DEMO), "--path", str(tmp_path / "db"), "--modules", "csv,gzip"]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    assert "Scanning 2 modules ... 2 new, 0 changed, 0 deleted, 0 unchanged" in first.stdout
    assert "? how do I read a CSV file\n  1  " in first.stdout
    assert "chunks/s" in first.stdout
    second = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    assert "0 new, 0 changed, 0 deleted, 2 unchanged" in second.stdout
    assert "Nothing changed: no chunk embedded (checked in" in second.stdout

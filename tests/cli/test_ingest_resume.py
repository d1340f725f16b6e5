"""An ingest killed (SIGKILL) or interrupted (Ctrl-C) in the middle resumes with no
duplicate and no orphan: the next run ends exactly where a clean run would."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import vectorhouse
from vectorhouse.ingest import ingest_files

SLOW_MODEL = '''
import hashlib, os, time
import numpy as np
from vectorhouse.embeddings.base import EmbeddingFunction, register

@register
class SlowModel(EmbeddingFunction):
    """Hashed words; each call sleeps and leaves a line in $SLOW_MODEL_LOG."""

    def __init__(self, delay=0.0):
        self.delay = delay

    def __call__(self, input):
        log = os.environ.get("SLOW_MODEL_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{len(input)}\\n")
        time.sleep(self.delay)
        out = []
        for text in input:
            vec = np.zeros(8, dtype=np.float32)
            for word in text.lower().split():
                vec[hashlib.sha256(word.encode()).digest()[0] % 8] += 1.0
            vec[-1] += 0.01
            out.append(vec / np.linalg.norm(vec))
        return out

    @staticmethod
    def name():
        return "slow-model-test"

    def get_config(self):
        return {}

    @staticmethod
    def build_from_config(config):
        return SlowModel(float(os.environ.get("SLOW_MODEL_DELAY", "0")))
'''

RUNNER = """
import sys
sys.path.insert(0, {folder!r})
import slow_model
import vectorhouse
from vectorhouse.cli import main

db, tree = sys.argv[1], sys.argv[2]
with vectorhouse.PersistentClient(path=db) as client:
    client.get_or_create_collection("docs", embedding_function=slow_model.SlowModel())
main(["ingest", tree, "--db", db, "-c", "docs", "--batch-size", "3", "--base", tree])
"""


def load_model(folder: Path) -> Any:
    (folder / "slow_model.py").write_text(SLOW_MODEL)
    spec = importlib.util.spec_from_file_location("slow_model", folder / "slow_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_notes(root: Path, n: int) -> None:
    for i in range(n):
        path = root / f"notes/note{i:02d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Note {i}\n\nFirst point of note {i}.\n\n## More\n\nSecond point {i}.\n")


def snapshot(col: Any) -> list[tuple[str, str, str]]:
    got = col.get(include=["documents", "metadatas"])
    rows = zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    return sorted((i, d, json.dumps(m, sort_keys=True)) for i, d, m in rows)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_a_killed_ingest_resumes_with_no_duplicate_and_no_orphan(
    tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = load_model(tmp_path)
    tree, db, log = tmp_path / "tree", tmp_path / "db", tmp_path / "calls.log"
    write_notes(tree, 20)  # 40 chunks: 14 batches of 3
    script = tmp_path / "runner.py"
    script.write_text(textwrap.dedent(RUNNER.format(folder=str(tmp_path))))
    env = {**os.environ, "SLOW_MODEL_LOG": str(log), "SLOW_MODEL_DELAY": "0.3"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(db), str(tree)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the probe, then a few batches
        if log.exists() and len(log.read_text().split()) >= 5:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if how == "SIGINT":
        assert proc.returncode == 130
        assert "Interrupted. What was written is kept" in err
        assert "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL

    # meanwhile, one file changes and one goes away
    (tree / "notes/note03.md").write_text("# Note 3\n\nRewritten.\n")
    (tree / "notes/note19.md").unlink()

    monkeypatch.delenv("SLOW_MODEL_LOG", raising=False)
    with vectorhouse.PersistentClient(path=db) as client:
        col = client.get_collection("docs", embedding_function=model.SlowModel())
        partial = col.count()
        assert 0 < partial < 40
        report = ingest_files(col, [tree], base=tree, batch_size=3)
        assert report.new + report.changed + report.unchanged == 19
        resumed = snapshot(col)
        ids = [row[0] for row in resumed]
        assert len(ids) == len(set(ids)) == col.count()
    with vectorhouse.PersistentClient(path=tmp_path / "clean") as client:
        clean = client.create_collection("docs", embedding_function=model.SlowModel())
        ingest_files(clean, [tree], base=tree)
        assert resumed == snapshot(clean)

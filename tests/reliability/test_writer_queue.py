"""Writers wait for each other: another process's write lock delays a write up to
``Settings.busy_timeout_s``, and only past it does the write fail, with
``DatabaseLockedError``, leaving the database as it was."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import vectorhouse
from vectorhouse.api.client import DATABASE_FILE

pytestmark = pytest.mark.reliability

HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


def _hold_write_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path / DATABASE_FILE), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_a_write_waits_for_another_process_and_then_succeeds(tmp_path: Path) -> None:
    client = vectorhouse.PersistentClient(
        path=tmp_path, settings=vectorhouse.Settings(busy_timeout_s=20.0)
    )
    col = client.create_collection("docs", embedding_function=None)
    with _hold_write_lock(tmp_path, 1.0) as holder:
        started = time.monotonic()
        col.add(ids=["a"], embeddings=np.ones((1, 4), np.float32))
        assert time.monotonic() - started >= 0.8  # it waited for the holder's 1 s
        assert holder.wait(30) == 0
    assert col.count() == 1
    client.close()


def test_past_the_timeout_a_write_fails_with_database_locked_and_changes_nothing(
    tmp_path: Path,
) -> None:
    client = vectorhouse.PersistentClient(
        path=tmp_path, settings=vectorhouse.Settings(busy_timeout_s=0.5)
    )
    col = client.create_collection("docs", embedding_function=None)
    col.add(ids=["a"], embeddings=np.ones((1, 4), np.float32))
    with _hold_write_lock(tmp_path, 30.0) as holder:
        try:
            started = time.monotonic()
            with pytest.raises(vectorhouse.DatabaseLockedError):
                col.add(ids=["b"], embeddings=np.zeros((1, 4), np.float32))
            assert time.monotonic() - started >= 0.45  # it waited for the timeout first
            assert col.count() == 1 and col.get()["ids"] == ["a"]  # reads go on meanwhile
        finally:
            holder.kill()
    col.add(ids=["b"], embeddings=np.zeros((1, 4), np.float32))
    assert col.count() == 2
    client.close()

"""Helpers for tests that kill processes: a child that dies (as by SIGKILL) at a chosen
call, and a parent that reads a child's acknowledgements and SIGKILLs it.

Used by tests/integration/test_crash_recovery.py and tests/reliability/. A child
process makes this module importable with ``sys.path.insert(0, TESTS_DIR)``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).resolve().parent

CRASH_ENV = "VH_TEST_CRASH_AT"
"""``module:attribute:n`` (e.g. ``vectorhouse.engine.index_files:_fsync:2``): a child
that calls :func:`crash_hook_from_env` dies by SIGKILL at the n-th call of that
function or method (``Class.method`` for a method)."""


def install_crash_hook(spec: str) -> None:
    """Make this process SIGKILL itself at the n-th call of ``module:attribute:n``
    (in a child process only: the hook stays for the life of the process)."""
    module_name, attribute, nth = spec.split(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = attribute.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    static = isinstance(inspect.getattr_static(owner, name), staticmethod)
    original = getattr(owner, name)
    calls = {"n": 0}

    def crashing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(owner, name, staticmethod(crashing) if static else crashing)


def crash_hook_from_env() -> None:
    """Install the crash hook named by the ``VH_TEST_CRASH_AT`` environment variable."""
    spec = os.environ.get(CRASH_ENV, "")
    if spec:
        install_crash_hook(spec)


def run_until_killed(
    cmd: Sequence[str],
    stderr: Path,
    *,
    kill_after: int | None,
    delay_s: float = 0.0,
    timeout_s: float = 60.0,
    env: dict[str, str] | None = None,
) -> list[str]:
    """Run ``cmd``, which prints one line per acknowledged write (flushed once the call
    returned). SIGKILL it ``delay_s`` after its ``kill_after``-th line, or, with
    ``kill_after=None``, wait for it to die by itself (a crash hook). Returns the lines
    (stripped), those printed between the last read and the kill included, and fails
    the test unless the child ended by SIGKILL."""
    import pytest  # here, not at the top: children import this module without pytest

    with open(stderr, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    acked: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while kill_after is None or len(acked) < kill_after:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the child acknowledged only {len(acked)} writes in {timeout_s} s")
            if line is None:
                break
            acked.append(line.strip())
        if kill_after is not None:
            assert proc.poll() is None, f"the child died early: {stderr.read_text()}"
            time.sleep(delay_s)
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    assert proc.stdout is not None
    proc.stdout.close()
    while True:  # lines printed between the last read and the kill
        try:
            line = lines.get_nowait()
        except queue.Empty:
            break
        if line is not None:
            acked.append(line.strip())
    assert proc.returncode == -signal.SIGKILL, stderr.read_text()
    return acked

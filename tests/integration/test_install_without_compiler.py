"""``pip install vectorhouse`` needs no compiler: every dependency comes as a wheel.

The package is installed into a fresh venv with ``CC``/``CXX`` set to ``false`` and
``cc``, ``gcc``, ``c++``, ``g++`` and ``clang`` on ``PATH`` failing, so any dependency
that would build from source fails the install; then a text query runs through the
bundled default model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

QUERY = """
import vectorhouse
client = vectorhouse.Client()
col = client.create_collection("notes")
col.add(ids=["a", "b"], documents=["The cat sat on the mat", "Stock prices fell sharply"])
print(col.query(query_texts=["a kitten resting on a rug"], n_results=1)["ids"])
"""


@pytest.mark.slow
def test_installs_into_a_fresh_venv_without_a_compiler_and_answers_a_query(
    tmp_path: Path,
) -> None:
    no_compiler = tmp_path / "no-compiler"
    no_compiler.mkdir()
    for name in ("cc", "gcc", "c++", "g++", "clang", "clang++"):
        tool = no_compiler / name
        tool.write_text("#!/bin/sh\necho 'no compiler here' >&2\nexit 1\n")
        tool.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        CC="false",
        CXX="false",
        PATH=f"{no_compiler}{os.pathsep}{env.get('PATH', '')}",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [str(python), "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("vectorhouse-*.whl")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    frozen = subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, env=env
    ).stdout
    assert "usearch==" in frozen and "hnswlib" not in frozen
    run = subprocess.run(
        [str(python), "-c", QUERY],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "[['a']]"

"""The four tutorial examples run as programs and print exactly what the tutorial shows;
the local OpenAI-compatible endpoint they fall back to answers in OpenAI's format."""

from __future__ import annotations

import base64
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import numpy as np
import openai
import pytest

from vectorhouse.embeddings.default import DefaultEmbeddingFunction

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOP_TWO = "[['I love Python programming', 'JavaScript is fun']]\n"
EXPECTED = {
    "01_manual_flow.py": TOP_TWO,
    "02_auto_embedding.py": TOP_TWO,
    "03_openai_embedding_function.py": TOP_TWO,
    "04_langchain.py": "I love Python programming\nJavaScript is fun\n",
    "05_hybrid_search.py": (
        "dense    ['e4012', 'e2104', 'e4210']\n"
        "lexical  ['e4021', 'e2104', 'e4012']\n"
        "hybrid   ['e4021', 'e4012', 'e2104']\n"
        "e4021 -0.292\n"
        "e4012 0.21\n"
        "[['e4012', 'e2104', 'e4021']]\n"
    ),
}


def run_example(name: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_numbered_example_is_checked() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("0*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_prints_what_the_tutorial_shows(name: str, tmp_path: Path) -> None:
    out = run_example(name, tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == EXPECTED[name]
    assert out.stderr == ""


def test_the_langchain_example_persists_and_runs_again_unchanged(tmp_path: Path) -> None:
    first = run_example("04_langchain.py", tmp_path)
    assert (tmp_path / "vh_db" / "vectorhouse.sqlite3").is_file()
    second = run_example("04_langchain.py", tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout == EXPECTED["04_langchain.py"]


# --- the endpoint ------------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_openai_endpoint", EXAMPLES / "_openai_endpoint.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def local(
    endpoint_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str, str]]:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with endpoint_module.openai_endpoint() as found:
        yield found


def test_endpoint_serves_the_built_in_models_vectors_in_openais_format(
    local: tuple[str, str, str],
) -> None:
    base_url, api_key, model = local
    texts = ["I love Python programming", "JavaScript is fun"]
    body = httpx.post(
        f"{base_url}/embeddings",
        json={"model": model, "input": texts, "encoding_format": "float"},
        headers={"Authorization": f"Bearer {api_key}"},
    ).json()
    assert set(body) == {"object", "data", "model", "usage"}
    assert body["object"] == "list" and body["model"] == model == "all-MiniLM-L6-v2"
    assert [(d["object"], d["index"]) for d in body["data"]] == [("embedding", 0), ("embedding", 1)]
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > len(texts)
    expected = np.stack(DefaultEmbeddingFunction()(texts))
    np.testing.assert_allclose([d["embedding"] for d in body["data"]], expected, atol=1e-7)
    packed = httpx.post(
        f"{base_url}/embeddings",
        json={"model": model, "input": texts[0], "encoding_format": "base64"},
        headers={"Authorization": f"Bearer {api_key}"},
    ).json()
    vector = np.frombuffer(base64.b64decode(packed["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_array_equal(vector, expected[0])


def test_endpoint_answers_the_openai_client_and_its_errors(local: tuple[str, str, str]) -> None:
    base_url, api_key, model = local
    client = openai.OpenAI(base_url=base_url, api_key=api_key)
    response = client.embeddings.create(model=model, input=["Python coding"])
    assert len(response.data[0].embedding) == 384
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base_url, api_key="wrong").embeddings.create(model=model, input="x")
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.embeddings.create(model="text-embedding-3-small", input="x")
    with pytest.raises(openai.BadRequestError, match="input"):
        client.embeddings.create(model=model, input=[""])


def test_with_an_api_key_the_examples_use_openai(
    endpoint_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with endpoint_module.openai_endpoint() as found:
        assert found == ("https://api.openai.com/v1", "sk-test", "text-embedding-3-small")

"""``/v1/embeddings`` and ``/v1/models`` through the official ``openai`` package."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

import vectorhouse
from vectorhouse.server import RunningServer, running_server

from .conftest import TOKEN

TEXTS = ["I love Python programming", "I enjoy cooking pasta", "hi"]


@pytest.fixture
def oai(server: RunningServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=server.openai_base_url, api_key=TOKEN, max_retries=0)
    yield client
    client.close()


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return np.asarray(vectorhouse.DefaultEmbeddingFunction()(TEXTS))


def test_embeddings_are_the_default_models_vectors(
    oai: openai.OpenAI, reference: np.ndarray
) -> None:
    result = oai.embeddings.create(model="all-MiniLM-L6-v2", input=TEXTS)  # base64 on the wire
    assert result.object == "list" and result.model == "all-MiniLM-L6-v2"
    assert [d.index for d in result.data] == [0, 1, 2]
    assert all(d.object == "embedding" for d in result.data)
    vectors = np.asarray([d.embedding for d in result.data])
    np.testing.assert_allclose(vectors, reference, atol=1e-6)
    counts = vectorhouse.DefaultEmbeddingFunction().count_tokens(TEXTS)
    assert result.usage.prompt_tokens == result.usage.total_tokens == sum(counts)


def test_float_and_base64_encodings_carry_the_same_vector(
    oai: openai.OpenAI, reference: np.ndarray
) -> None:
    as_float = oai.embeddings.create(model="all-MiniLM-L6-v2", input="hi", encoding_format="float")
    assert len(as_float.data) == 1
    np.testing.assert_allclose(as_float.data[0].embedding, reference[2], atol=1e-6)
    as_b64 = oai.embeddings.create(model="default", input=["hi"], encoding_format="base64")
    packed = as_b64.data[0].embedding
    assert isinstance(packed, str)
    unpacked = np.frombuffer(base64.b64decode(packed), dtype="<f4")
    assert unpacked.tolist() == np.asarray(as_float.data[0].embedding, dtype=np.float32).tolist()


def test_models_are_listed_and_retrieved(oai: openai.OpenAI) -> None:
    listed = oai.models.list()
    assert [m.id for m in listed.data] == ["all-MiniLM-L6-v2"]
    model = oai.models.retrieve("all-MiniLM-L6-v2")
    assert (model.id, model.object, model.owned_by) == ("all-MiniLM-L6-v2", "model", "vectorhouse")
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-4")


def test_errors_come_in_openais_format(oai: openai.OpenAI, server: RunningServer) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        oai.embeddings.create(model="text-embedding-3-small", input="x")
    assert missing.value.code == "model_not_found"
    for bad in ([], [""], [[1, 2, 3]], [1, 2], ["ok", None]):
        with pytest.raises(openai.BadRequestError) as info:
            oai.embeddings.create(model="all-MiniLM-L6-v2", input=bad)  # type: ignore[arg-type]
        assert info.value.param == "input"
    with pytest.raises(openai.BadRequestError, match="dimensions"):
        oai.embeddings.create(model="all-MiniLM-L6-v2", input="x", dimensions=128)
    wrong = openai.OpenAI(base_url=server.openai_base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.embeddings.create(model="all-MiniLM-L6-v2", input="x")
    wrong.close()


def test_the_response_is_openais_exact_shape(server: RunningServer) -> None:
    response = httpx.post(
        f"{server.openai_base_url}/embeddings",
        headers=server.headers,
        json={"model": "all-MiniLM-L6-v2", "input": "hello", "encoding_format": "float"},
    )
    body = response.json()
    assert set(body) == {"object", "data", "model", "usage"}
    assert set(body["data"][0]) == {"object", "index", "embedding"}
    assert set(body["usage"]) == {"prompt_tokens", "total_tokens"}
    assert len(body["data"][0]["embedding"]) == 384
    response = httpx.post(
        f"{server.openai_base_url}/embeddings", headers=server.headers, content=b"not json"
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_more_models_can_be_served(tmp_path: Path) -> None:
    spec = "mini-128=default:" + json.dumps({"max_length": 128})
    with running_server(tmp_path / "db", args=["--model", spec]) as srv:
        client = openai.OpenAI(base_url=srv.openai_base_url, api_key="unused", max_retries=0)
        assert sorted(m.id for m in client.models.list().data) == ["all-MiniLM-L6-v2", "mini-128"]
        long_text = "word " * 300
        short = client.embeddings.create(model="mini-128", input=long_text)
        assert short.usage.total_tokens == 128
        client.close()


def test_vectorhouses_openai_provider_embeds_through_the_endpoint(
    server: RunningServer, reference: np.ndarray
) -> None:
    from vectorhouse.embedding_functions import OpenAIEmbeddingFunction

    ef = OpenAIEmbeddingFunction(
        api_key=TOKEN, api_base=server.openai_base_url, model_name="all-MiniLM-L6-v2"
    )
    np.testing.assert_allclose(np.asarray(ef(TEXTS)), reference, atol=1e-6)

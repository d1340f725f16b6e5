"""LangChain's standard vector-store suite (sync and async), over memory and disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

import vectorhouse
from vectorhouse.langchain import Vectorhouse


class TestVectorhouseStandard(VectorStoreIntegrationTests):
    @pytest.fixture(params=["memory", "persistent"])
    def vectorstore(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
        if request.param == "memory":
            client = vectorhouse.Client()
        else:
            client = vectorhouse.PersistentClient(path=tmp_path / "db")
        store = Vectorhouse(embedding_function=self.get_embeddings(), client=client)
        try:
            yield store
        finally:
            store.delete_collection()
            client.close()

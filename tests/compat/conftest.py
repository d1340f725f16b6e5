"""Fixtures for the Chroma compatibility tests: the real chromadb 1.5.9, in memory and
offline (collections are made with ``embedding_function=None``, so it never downloads
its default model), beside vectorhouse clients."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import vectorhouse
from vectorhouse.server import RunningServer, running_server

chromadb = pytest.importorskip("chromadb")

_names = itertools.count()


@pytest.fixture(scope="session")
def chroma_client() -> Any:
    """One in-memory chromadb client for the session (chromadb keeps one per process)."""
    return chromadb.EphemeralClient()


@pytest.fixture
def chroma_collection(chroma_client: Any) -> Iterator[Callable[..., Any]]:
    """Make chromadb collections with fresh names; they are deleted after the test."""
    made: list[str] = []

    def make(**kwargs: Any) -> Any:
        name = f"compat-{next(_names)}"
        made.append(name)
        kwargs.setdefault("embedding_function", None)
        return chroma_client.create_collection(name, **kwargs)

    yield make
    for name in made:
        with contextlib.suppress(Exception):  # a test may have deleted it already
            chroma_client.delete_collection(name)


@pytest.fixture(scope="session")
def vh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One ``vectorhouse serve`` for the session; reset between tests."""
    env = {**os.environ, "VECTORHOUSE_ALLOW_RESET": "true"}
    with running_server(tmp_path_factory.mktemp("compat-served"), env=env) as running:
        yield running


@pytest.fixture(params=["memory", "persistent", "http"])
def vh_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A vectorhouse client of each kind: in memory, on disk, and over HTTP."""
    client: Any
    if request.param == "memory":
        client = vectorhouse.Client()
    elif request.param == "persistent":
        client = vectorhouse.PersistentClient(path=str(tmp_path / "db"))
    else:
        server = request.getfixturevalue("vh_server")
        client = vectorhouse.HttpClient(host=server.host, port=server.port)
        client.reset()
    with client:
        yield client


def chroma_error(call: Callable[[], Any]) -> BaseException:
    """The exception chromadb raises for ``call`` (the test fails if it raises none)."""
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("chromadb raised nothing")

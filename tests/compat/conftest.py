"""Fixtures for the Chroma compatibility tests: the real chromadb 1.5.9, in memory and
offline (collections are made with ``embedding_function=None``, so it never downloads
its default model), beside vectorhouse clients."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import vectorhouse

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
        return chroma_client.create_collection(name, embedding_function=None, **kwargs)

    yield make
    for name in made:
        with contextlib.suppress(Exception):  # a test may have deleted it already
            chroma_client.delete_collection(name)


@pytest.fixture(params=["memory", "persistent"])
def vh_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[vectorhouse.Client]:
    """A vectorhouse client of each local kind."""
    if request.param == "memory":
        client = vectorhouse.Client()
    else:
        client = vectorhouse.PersistentClient(path=str(tmp_path / "db"))
    with client:
        yield client


def chroma_error(call: Callable[[], Any]) -> BaseException:
    """The exception chromadb raises for ``call`` (the test fails if it raises none)."""
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("chromadb raised nothing")

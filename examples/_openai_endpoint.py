"""The OpenAI-compatible embeddings endpoint the examples talk to, in one place.

``openai_endpoint()`` yields ``(base_url, api_key, model_name)``:

- with ``OPENAI_API_KEY`` set, OpenAI itself and ``text-embedding-3-small``;
- otherwise ``vectorhouse serve`` started on 127.0.0.1 (a free port, a throw-away
  database folder, a bearer token), whose ``POST /v1/embeddings`` answers in OpenAI's
  format with the built-in model's vectors (all-MiniLM-L6-v2). It needs the server
  extra: ``pip install 'vectorhouse[server]'``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from vectorhouse.embeddings.default import MODEL_NAME
from vectorhouse.server.launch import running_server

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_MODEL = "text-embedding-3-small"
LOCAL_API_KEY = "sk-local-vectorhouse"


@contextlib.contextmanager
def openai_endpoint() -> Iterator[tuple[str, str, str]]:
    """``(base_url, api_key, model_name)`` of OpenAI, or of a local server while open."""
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        yield OPENAI_BASE_URL, key, OPENAI_MODEL
        return
    with (
        tempfile.TemporaryDirectory(prefix="vectorhouse-openai-") as folder,
        running_server(folder, token=LOCAL_API_KEY) as server,
    ):
        yield server.openai_base_url, LOCAL_API_KEY, MODEL_NAME

"""The OpenAI-compatible embeddings endpoint the examples talk to, in one place.

``openai_endpoint()`` yields ``(base_url, api_key, model_name)``:

- with ``OPENAI_API_KEY`` set, OpenAI itself and ``text-embedding-3-small``;
- otherwise a local server on 127.0.0.1 (a free port) that answers
  ``POST /v1/embeddings`` with the built-in model's vectors (all-MiniLM-L6-v2), in
  OpenAI's response format, as float lists or base64, whichever the request asks for.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from vectorhouse.embeddings.default import MODEL_NAME, DefaultEmbeddingFunction

OPENAI_BASE_URL = "https://api.openai.com/v1"
OPENAI_MODEL = "text-embedding-3-small"
LOCAL_API_KEY = "sk-local-vectorhouse"


def _error(status: int, message: str, code: str, param: str | None = None) -> tuple[int, Any]:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return status, {"error": error}


def embeddings_response(
    body: Any, model: DefaultEmbeddingFunction, tokenizer: Tokenizer
) -> tuple[int, Any]:
    """Status and JSON body answering one ``/v1/embeddings`` request body."""
    if not isinstance(body, dict):
        return _error(400, "the request body must be a JSON object", "invalid_body")
    if body.get("model") != MODEL_NAME:
        return _error(
            404, f"The model {body.get('model')!r} does not exist", "model_not_found", "model"
        )
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        return _error(
            400, "input must be a non-empty string or list of them", "invalid_input", "input"
        )
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        return _error(
            400, "encoding_format must be 'float' or 'base64'", "invalid_value", "encoding_format"
        )
    vectors = np.asarray(model(texts), dtype=np.float32)
    if body.get("dimensions") not in (None, vectors.shape[1]):
        return _error(
            400,
            f"{MODEL_NAME} only makes {vectors.shape[1]} dimensions",
            "invalid_value",
            "dimensions",
        )
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode()
            if encoding == "base64"
            else v.tolist(),
        }
        for i, v in enumerate(vectors)
    ]
    tokens = sum(len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False))
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return 200, {"object": "list", "data": data, "model": MODEL_NAME, "usage": usage}


@contextlib.contextmanager
def openai_endpoint() -> Iterator[tuple[str, str, str]]:
    """``(base_url, api_key, model_name)`` of OpenAI, or of a local stand-in while open."""
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        yield OPENAI_BASE_URL, key, OPENAI_MODEL
        return
    model = DefaultEmbeddingFunction()
    tokenizer = Tokenizer.from_str(
        (files("vectorhouse.embeddings") / "tokenizer.json").read_text(encoding="utf-8")
    )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path.rstrip("/") != "/v1/embeddings":
                status, body = _error(404, f"no route {self.path}", "not_found")
            elif self.headers.get("Authorization") != f"Bearer {LOCAL_API_KEY}":
                status, body = _error(401, "Incorrect API key provided", "invalid_api_key")
            else:
                try:
                    status, body = embeddings_response(json.loads(raw), model, tokenizer)
                except json.JSONDecodeError:
                    status, body = _error(400, "the request body is not JSON", "invalid_json")
            out = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", LOCAL_API_KEY, MODEL_NAME
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""HTTP plumbing shared by the HTTP embedding providers (OpenAI-compatible, Ollama).

One POST with bounded retries, the server's error message pulled out of its body, and
batching of texts under per-request limits. ``httpx`` is imported only when a request
is made, so the providers can be imported, configured and rebuilt without it.

Retry policy (the same as OpenAI's own SDK): a request that fails with HTTP 408, 429
or 5xx, or that cannot reach the server at all (connection refused, timeout), is sent
again up to ``max_retries`` times. Before attempt ``n + 1`` it waits the server's
``Retry-After`` (or ``retry-after-ms``) when that is given and at most
``max_retry_after`` seconds, else ``min(max_delay, base_delay * 2**n)`` shortened by up
to a quarter at random (jitter), so clients that failed together do not retry together::

    >>> policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    >>> [round(policy.delay(n, jitter=0.0), 2) for n in range(6)]
    [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    >>> policy.delay(0, retry_after=3.0)
    3.0

Every other 4xx fails at once: retrying a bad key or a bad request cannot help.
"""

from __future__ import annotations

import email.utils
import functools
import random
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vectorhouse.errors import EmbeddingError

if TYPE_CHECKING:
    import httpx

_sleep: Callable[[float], None] = time.sleep
"""How retries wait; tests replace it to record the delays instead of sleeping."""


def is_retryable(status: int) -> bool:
    """Whether an HTTP status is worth retrying (408, 429, 5xx).

    >>> [is_retryable(s) for s in (400, 401, 408, 429, 500, 503)]
    [False, False, True, True, True, True]
    """
    return status in (408, 429) or status >= 500


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failed request.

    >>> RetryPolicy(max_retries=2).max_retries
    2
    """

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(
        self, attempt: int, retry_after: float | None = None, jitter: float | None = None
    ) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (counting from 0)."""
        if retry_after is not None and 0.0 <= retry_after <= self.max_retry_after:
            return retry_after
        backoff = min(self.max_delay, self.base_delay * 2.0**attempt)
        return backoff * (1.0 - 0.25 * (random.random() if jitter is None else jitter))


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a server asked for: ``retry-after-ms``, or ``Retry-After`` in seconds or
    as an HTTP date; None when absent or unreadable.

    >>> retry_after_seconds({"retry-after": "2"})
    2.0
    >>> retry_after_seconds({"retry-after-ms": "250"})
    0.25
    >>> retry_after_seconds({}) is None
    True
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return float(lowered["retry-after-ms"]) / 1000.0
        if "retry-after" in lowered:
            value = lowered["retry-after"].strip()
            try:
                return float(value)
            except ValueError:
                when = email.utils.parsedate_to_datetime(value)
                return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def error_message(body: Any, text: str = "") -> str:
    """The server's own words from an error body: OpenAI's ``{"error": {"message"}}``,
    Ollama's ``{"error": "..."}``, or the first 500 characters of the raw text.

    >>> error_message({"error": {"message": "bad key", "type": "auth", "code": "invalid_api_key"}})
    'bad key (type=auth, code=invalid_api_key)'
    >>> error_message({"error": "model not found"})
    'model not found'
    >>> error_message(None, "Bad Gateway")
    'Bad Gateway'
    """
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body.get("message")))
        if isinstance(err, str):
            return err
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            extra = ", ".join(
                f"{key}={err[key]}" for key in ("type", "code", "param") if err.get(key)
            )
            return f"{err['message']} ({extra})" if extra else str(err["message"])
    text = text.strip()
    return text[:500] if text else "(empty body)"


def next_batch(texts: Sequence[str], start: int, max_items: int, max_bytes: int) -> list[str]:
    """The texts from ``start`` on that fit one request: at most ``max_items`` texts and
    ``max_bytes`` UTF-8 bytes (a single text longer than ``max_bytes`` travels alone).

    >>> [len(next_batch(["ab"] * 5, s, max_items=2, max_bytes=100)) for s in (0, 2, 4)]
    [2, 2, 1]
    >>> len(next_batch(["abc"] * 5, 0, max_items=10, max_bytes=7))
    2
    """
    end, size = start, 0
    while end < len(texts) and end - start < max_items:
        n = len(texts[end].encode("utf-8", "surrogatepass"))
        if end > start and size + n > max_bytes:
            break
        size += n
        end += 1
    return list(texts[start:end])


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Building a context reads the CA bundle (~100 ms); share one per process.
    import httpx

    context: ssl.SSLContext = httpx.create_ssl_context()
    return context


def open_client(extra: str, timeout: float) -> httpx.Client:
    """A new ``httpx.Client`` (use it as a context manager), or an ``ImportError`` naming
    the pip extra that installs httpx."""
    try:
        import httpx
    except ImportError as exc:
        raise ImportError(
            f"this embedding function needs httpx: pip install 'vectorhouse[{extra}]'"
        ) from exc
    return httpx.Client(timeout=httpx.Timeout(timeout), verify=_ssl_context())


def post(
    client: httpx.Client,
    url: str,
    payload: Mapping[str, Any],
    *,
    provider: str,
    policy: RetryPolicy,
    headers: Mapping[str, str] | None = None,
) -> tuple[httpx.Response, int]:
    """POST ``payload`` as JSON with retries; the last response and the attempts made.

    The response may still be an error (a 4xx, or a 429/5xx after the last retry): pass
    it to :func:`read_json`. A server that cannot be reached after the last retry
    raises ``EmbeddingError``.
    """
    import httpx

    attempt = 0
    while True:
        try:
            response = client.post(url, json=dict(payload), headers=dict(headers or {}))
        except httpx.TransportError as exc:
            if attempt >= policy.max_retries:
                raise EmbeddingError(
                    f"{provider}: could not reach {url} after {attempt + 1} attempt(s):"
                    f" {type(exc).__name__}: {exc}"
                ) from exc
            _sleep(policy.delay(attempt))
            attempt += 1
            continue
        if is_retryable(response.status_code) and attempt < policy.max_retries:
            response.close()
            _sleep(policy.delay(attempt, retry_after_seconds(response.headers)))
            attempt += 1
            continue
        return response, attempt + 1


def read_json(provider: str, url: str, response: httpx.Response, attempts: int = 1) -> Any:
    """The JSON body of a 2xx response; otherwise ``EmbeddingError`` with the provider,
    the status and the server's message."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    status = response.status_code
    if 200 <= status < 300:
        if body is None:
            raise EmbeddingError(
                f"{provider}: {url} answered HTTP {status} with a body that is not JSON:"
                f" {response.text[:200]!r}"
            )
        return body
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    raise EmbeddingError(
        f"{provider}: HTTP {status} from {url}{tries}: {error_message(body, response.text)}"
    )

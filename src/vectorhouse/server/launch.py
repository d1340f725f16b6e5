"""Running ``vectorhouse serve`` as a child process, for tests and examples.

>>> import tempfile
>>> import vectorhouse
>>> with running_server(tempfile.mkdtemp()) as server:
...     with vectorhouse.HttpClient(host=server.host, port=server.port) as client:
...         client.heartbeat() > 0
True
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from vectorhouse.errors import ServerUnavailableError

READY_PREFIX = "vectorhouse serving"
"""The line ``vectorhouse serve`` prints on stdout once it accepts connections."""

_URL = re.compile(r"(https?://\S+)")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket bound to ``host:port`` (port 0: a free one).

    >>> sock = bind_socket("127.0.0.1", 0)
    >>> sock.getsockname()[1] > 0
    True
    >>> sock.close()
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class RunningServer:
    """A ``vectorhouse serve`` child process, as yielded by :func:`running_server`.

    >>> RunningServer("127.0.0.1", 8000, None).url
    'http://127.0.0.1:8000'
    """

    host: str
    port: int
    process: subprocess.Popen[str] | None
    token: str | None = None
    output: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=200))
    log_path: Path | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """The base URL for OpenAI clients (``.../v1``)."""
        return f"{self.url}/v1"

    @property
    def headers(self) -> dict[str, str]:
        """The headers that authenticate a request (none without a token)."""
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the server wrote to stderr (its log)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Ask the server to shut down (SIGTERM) and wait; kill it after ``timeout_s``."""
        proc = self.process
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


def _drain(
    stream: IO[str], lines: queue.SimpleQueue[str | None], keep: collections.deque[str]
) -> None:
    for line in stream:
        keep.append(line.rstrip("\n"))
        lines.put(line)
    lines.put(None)


@contextlib.contextmanager
def running_server(
    path: str | os.PathLike[str],
    *,
    token: str | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    startup_timeout_s: float = 60.0,
) -> Iterator[RunningServer]:
    """Start ``vectorhouse serve`` on a free port of ``host`` as a child process, wait
    until its heartbeat answers, yield it, and shut it down gracefully afterwards.

    >>> import httpx, tempfile
    >>> with running_server(tempfile.mkdtemp(), token="s3cret") as server:
    ...     httpx.get(server.url + "/v1/models", headers=server.headers).status_code
    200

    ``token`` is handed to the server through an environment variable; ``args`` are
    more ``vectorhouse serve`` options. The server's log goes to a temporary file
    (``server.log_tail()``).
    """
    environment = dict(os.environ if env is None else env)
    command = [sys.executable, "-m", "vectorhouse", "serve", "--path", str(path)]
    command += ["--host", host, "--port", "0", *args]
    if token is not None:
        environment["VECTORHOUSE_SERVER_TOKEN"] = token
        command += ["--token-env", "VECTORHOUSE_SERVER_TOKEN"]
    with tempfile.TemporaryDirectory(prefix="vectorhouse-server-") as tmp:
        log_path = Path(tmp) / "server.log"
        with open(log_path, "w", encoding="utf-8") as log_file:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log_file,
                env=environment,
                text=True,
            )
        server = RunningServer(host, 0, proc, token, log_path=log_path)
        lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        assert proc.stdout is not None
        reader = threading.Thread(
            target=_drain, args=(proc.stdout, lines, server.output), daemon=True
        )
        reader.start()
        try:
            server.port = _wait_ready(server, lines, startup_timeout_s)
            yield server
        finally:
            server.stop()
            reader.join(timeout=5)
            proc.stdout.close()


def _wait_ready(
    server: RunningServer, lines: queue.SimpleQueue[str | None], timeout_s: float
) -> int:
    deadline = time.monotonic() + timeout_s

    def fail(why: str) -> ServerUnavailableError:
        server.stop(timeout_s=5)
        return ServerUnavailableError(f"vectorhouse serve {why}; its log:\n{server.log_tail()}")

    port = 0
    while not port:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise fail(f"did not start within {timeout_s:.0f} s") from None
        if line is None:
            raise fail("exited before it was ready")
        match = _URL.search(line) if line.startswith(READY_PREFIX) else None
        if match:
            port = int(match.group(1).rsplit(":", 1)[1].split("/")[0])
    server.port = port
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/api/v2/heartbeat", timeout=2.0).status_code == 200:
                return port
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise fail("did not answer its heartbeat")

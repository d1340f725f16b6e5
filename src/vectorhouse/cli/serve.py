"""``vectorhouse serve``: serve a database over HTTP (see ``vectorhouse.server``).

>>> from click.testing import CliRunner
>>> result = CliRunner().invoke(serve, ["--token-env", "VH_UNSET_VARIABLE"])
>>> result.exit_code, result.output.splitlines()[-1]
(1, 'Error: environment variable VH_UNSET_VARIABLE is not set or empty')
"""

from __future__ import annotations

import ipaddress
import json
import logging
import multiprocessing
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import click

from vectorhouse.errors import VectorhouseError

log = logging.getLogger("vectorhouse.server")


def parse_model(spec: str) -> tuple[str, Any]:
    """An embedding function served as ``ID=NAME`` or ``ID=NAME:{json config}``.

    >>> model_id, fn = parse_model('minilm-128=default:{"max_length": 128}')
    >>> model_id, fn.get_config()
    ('minilm-128', {'model': 'all-MiniLM-L6-v2', 'max_length': 128})
    """
    from vectorhouse.embeddings.base import lookup

    model_id, sep, rest = spec.partition("=")
    name, _, raw_config = rest.partition(":")
    if not sep or not model_id or not name:
        raise click.BadParameter(f"expected ID=NAME or ID=NAME:JSON, got {spec!r}")
    try:
        config = json.loads(raw_config) if raw_config else {}
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"the config of {model_id!r} is not JSON: {exc}") from exc
    cls = lookup(name)
    if cls is None or not isinstance(config, dict):
        raise click.BadParameter(f"unknown embedding function {name!r} (or config not an object)")
    try:
        return model_id, cls.build_from_config(config)
    except Exception as exc:
        raise click.BadParameter(f"cannot build {name!r} from {config}: {exc}") from exc


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _make_app(options: dict[str, Any]) -> Any:
    """The ASGI app of one server process, from the command's options."""
    from vectorhouse.server.app import ServerConfig, create_app

    return create_app(
        ServerConfig(
            path=options["path"],
            token=options["token"],
            max_body_bytes=options["max_body_bytes"],
            cors_origins=options["cors_origin"],
            models=dict(parse_model(spec) for spec in options["models"]),
            read_only=options["read_only"],
        )
    )


def _worker_main(sock: socket.socket, options: dict[str, Any], ready: str | None) -> None:
    """One worker process of ``serve --workers N``: its own app (and database
    connections) on the listening socket the parent bound."""
    app = _make_app(options)
    _run(app, sock, ready, options["log_level"], options["access_log"], options["grace_s"])


def _run_workers(workers: int, sock: socket.socket, options: dict[str, Any], ready: str) -> None:
    """Run ``workers`` processes serving the same socket (the kernel spreads the
    connections) until SIGINT/SIGTERM; a worker that dies is started again. Each has its
    own client on the database, which stays correct across processes."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start(number: int) -> multiprocessing.process.BaseProcess:
        proc = context.Process(
            target=_worker_main,
            args=(sock, options, ready if number == 0 else None),
            name=f"vectorhouse-serve-{number}",
        )
        proc.start()
        return proc

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    procs = [start(number) for number in range(workers)]
    try:
        while not stopping:
            for number, proc in enumerate(procs):
                if not proc.is_alive() and not stopping:
                    log.warning("worker %d exited (%s); starting it again", number, proc.exitcode)
                    procs[number] = start(number)
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.join(options["grace_s"] + 15)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(
    app: Any,
    sock: socket.socket,
    ready: str | None,
    log_level: str,
    access_log: bool,
    grace_s: float,
) -> None:
    """Serve under uvicorn until SIGINT/SIGTERM, then finish requests in flight and run
    the app's shutdown (which saves every index)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started and ready is not None:
                click.echo(ready)

    vh_log = logging.getLogger("vectorhouse")
    if not vh_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        vh_log.addHandler(handler)
        vh_log.setLevel(log_level.upper())
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=max(1, round(grace_s)),
        server_header=False,
        lifespan="on",
    )
    Server(config).run(sockets=[sock])


@click.command()
@click.option(
    "--path",
    "--db",
    "path",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("./vh_data"),
    envvar="VECTORHOUSE_DB",
    show_default=True,
    help="The database folder, created if missing (env VECTORHOUSE_DB).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port; the URL is printed).",
)
@click.option("--token-env", metavar="NAME", help="Require this bearer token, read from $NAME.")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Require the bearer token written on the first line of this file.",
)
@click.option(
    "--cors-origin",
    multiple=True,
    metavar="ORIGIN",
    help="Allow browser calls from this origin (repeatable; CORS is off without it).",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(1),
    default=64 * 1024 * 1024,
    show_default=True,
    help="Refuse request bodies larger than this (413).",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="ID=NAME[:JSON]",
    help="Also serve this embedding function, e.g. 'mini128=default:{\"max_length\":128}'.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@click.option("--access-log/--no-access-log", default=True, help="Log every request.")
@click.option(
    "--read-only",
    is_flag=True,
    help="Refuse every request that would change the database (403), console included.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes on the one port and database. Each keeps its own copy of the"
    " indexes and inserts every write into it: more workers pay off for read-mostly loads.",
)
@click.option(
    "--graceful-timeout",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    help="Seconds to let requests in flight finish on SIGINT/SIGTERM.",
)
def serve(
    path: Path,
    host: str,
    port: int,
    token_env: str | None,
    token_file: Path | None,
    cors_origin: tuple[str, ...],
    max_body_bytes: int,
    models: tuple[str, ...],
    log_level: str,
    access_log: bool,
    graceful_timeout: float,
    read_only: bool,
    workers: int,
) -> None:
    """Serve a database over HTTP: Chroma's REST API, OpenAI's embeddings API at /v1,
    and a web console at / to browse, search and map the collections.

    The token is never given on the command line: name an environment variable
    (--token-env) or a file (--token-file). Stop with Ctrl-C or SIGTERM: requests in
    flight finish and every index is saved.

    \b
    Example:
      VH_TOKEN=s3cret vectorhouse serve --path ./vh_data --port 8000 --token-env VH_TOKEN

    With several workers (--workers), each process has its own connections to the
    database and its own copy of the indexes; writes made through one are seen by the
    others at their next read.
    """
    from vectorhouse.server.launch import bind_socket
    from vectorhouse.server.security import load_token

    try:
        token = None
        if token_env is not None or token_file is not None:
            token = load_token(env=token_env, file=token_file)
        options: dict[str, Any] = {
            "path": path,
            "token": token,
            "max_body_bytes": max_body_bytes,
            "cors_origin": cors_origin,
            "models": models,
            "read_only": read_only,
            "log_level": log_level,
            "access_log": access_log,
            "grace_s": graceful_timeout,
        }
        # Made here also with several workers, so that a bad option fails at once.
        app = _make_app(options)
    except VectorhouseError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if token is None and not _is_loopback(host):
        log.warning(
            "listening on %s without a token: anyone who can reach it has full access", host
        )
    auth = "bearer token required" if token else "no auth"
    auth += ", read-only" if read_only else ""
    auth += f", {workers} workers" if workers > 1 else ""
    ready = f"vectorhouse serving {path.resolve()} on http://{shown}:{bound} ({auth})"
    if workers == 1:
        _run(app, sock, ready, log_level, access_log, graceful_timeout)
        return
    del app  # each worker makes its own
    sock.listen(2048)
    _run_workers(workers, sock, options, ready)

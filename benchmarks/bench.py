"""Benchmark vectorhouse against chromadb side by side, and write JSON + RESULTS.md.

Run from the repository root::

    make bench-quick                          # smoke run: 20,000 records, 1 repetition
    make bench                                # 200,000 records x 3 repetitions, then --scale
    .venv/bin/python benchmarks/bench.py --quick
    .venv/bin/python benchmarks/bench.py      # the full comparison only
    .venv/bin/python benchmarks/bench.py --scale   # 1,000,000 records, vectorhouse alone

What it does:

1. Generates (or reuses) the seeded synthetic data set and its exact ground truth
   (data.py, cached under benchmarks/.cache/).
2. Makes sure chromadb 1.5.9 is installed in its own venv (benchmarks/.venv-chroma,
   created with pip when missing or wrong; ``--chroma-venv`` points at another one).
3. For each repetition, runs run_engine.py in fresh processes: ``ingest`` for both
   engines, then ``serve`` for both (cold start, queries, filtered queries, delete), the
   engine order alternating between repetitions. Every child runs on the same CPU set
   with the same thread variables (``--cpus``; default all cores of this process), and a
   watchdog stops a child that passes ``--max-rss-gb`` or ``--timeout``.
4. Takes the median of each measure per engine, the ratio vectorhouse/chroma, and
   checks the targets of issue 4. When a ratio target is missed, one extra vectorhouse
   repetition runs under cProfile and its summary goes into the report.
5. Writes benchmarks/results/<name>.json, regenerates benchmarks/RESULTS.md (report.py)
   and prints the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import report
from data import CACHE_DIR, FILTERS, DataSpec, ensure_dataset, load_info

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUN_ENGINE = HERE / "run_engine.py"
CHROMA_VERSION = "1.5.9"
DEFAULT_CHROMA_VENV = HERE / ".venv-chroma"
ENGINES = ("vectorhouse", "chroma")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
FILTER_LABELS = {
    "even": "50%, even==True",
    "clus10": "~10%, cluster $in",
    "clus1": "~1%, cluster $in",
}


def log(message: str) -> None:
    print(message, flush=True)


# -- the machine ------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """CPU model, cores, SIMD, memory and OS of this machine."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor() or "unknown",
    )
    flags = next((ln for ln in cpuinfo.splitlines() if ln.startswith("flags")), "").split()
    simd = [f for f in ("avx512f", "avx2", "neon") if f in flags] or ["no AVX2"]
    meminfo = Path("/proc/meminfo").read_text().split() if Path("/proc/meminfo").exists() else []
    mem_kb = int(meminfo[meminfo.index("MemTotal:") + 1]) if "MemTotal:" in meminfo else 0
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "simd": "+".join(simd),
        "mem_total_gib": round(mem_kb / 1024**2, 1),
        "platform": platform.platform(),
        "loadavg_start": round(os.getloadavg()[0], 2),
    }


def mem_available_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024**2
    return float("inf")


def git_describe() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head or 'unknown'}{' (uncommitted changes)' if dirty else ''}"


# -- the chroma venv ----------------------------------------------------------------


def chroma_version(python: Path) -> str | None:
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", "import chromadb; print(chromadb.__version__)"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_chroma_venv(venv: Path) -> Path:
    """The python of a venv with chromadb==CHROMA_VERSION, created or repaired with pip."""
    python = venv / "bin" / "python"
    found = chroma_version(python)
    if found == CHROMA_VERSION:
        return python
    if not python.exists():
        log(f"creating {venv} (python -m venv)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    log(f"installing chromadb=={CHROMA_VERSION} into {venv} (found: {found or 'none'})")
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"chromadb=={CHROMA_VERSION}",
        ],
        check=True,
    )
    if chroma_version(python) != CHROMA_VERSION:
        raise SystemExit(f"{venv} still lacks chromadb=={CHROMA_VERSION}")
    return python


# -- child processes ----------------------------------------------------------------


class ChildFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Runner:
    """How children run: CPU set, environment, limits, and where logs go."""

    cpus: tuple[int, ...]
    env: dict[str, str]
    timeout_s: float
    max_rss_mb: float
    log_dir: Path

    def command_text(self, cmd: list[str]) -> str:
        """A shell line that reproduces a child by hand."""
        env = " ".join(f"{k}={self.env[k]}" for k in (*THREAD_VARS, "PYTHONHASHSEED"))
        cpus = ",".join(map(str, self.cpus))
        return f"taskset -c {cpus} env {env} " + shlex.join(_relative(c) for c in cmd)

    def run(self, cmd: list[str], out: Path, tag: str) -> dict[str, Any]:
        """Run one child to completion under the watchdog; its JSON output."""
        log_path = self.log_dir / f"{tag}.log"
        out.unlink(missing_ok=True)
        t0 = time.perf_counter()
        with open(log_path, "w") as log_file:
            proc = subprocess.Popen(
                cmd,
                env=self.env,
                cwd=ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: os.sched_setaffinity(0, self.cpus),
            )
            problem = None
            while proc.poll() is None:
                time.sleep(0.2)
                rss = _rss_mb(proc.pid)
                if rss > self.max_rss_mb:
                    problem = f"RSS {rss:.0f} MB passed the {self.max_rss_mb:.0f} MB guard"
                elif time.perf_counter() - t0 > self.timeout_s:
                    problem = f"ran past the {self.timeout_s:.0f} s timeout"
                if problem:
                    proc.kill()
                    proc.wait()
                    break
        if problem is None and proc.returncode != 0:
            problem = f"exit status {proc.returncode}"
        if problem is not None or not out.exists():
            tail = log_path.read_text()[-1500:].strip()
            raise ChildFailed(f"{tag}: {problem or 'no output'}; log {log_path}:\n{tail}")
        result: dict[str, Any] = json.loads(out.read_text())
        result["child_command"] = self.command_text(cmd)
        log(f"  {tag}: {time.perf_counter() - t0:.1f} s")
        return result


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def _relative(arg: str) -> str:
    try:
        return str(Path(arg).relative_to(ROOT))
    except ValueError:
        return arg


def parse_cpus(text: str | None) -> tuple[int, ...]:
    """``"0-1"`` / ``"1"`` / ``"0,2"`` as a tuple of CPU numbers (None: this process's set)."""
    if not text:
        return tuple(sorted(os.sched_getaffinity(0)))
    cpus: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return tuple(sorted(cpus))


def child_env(threads: int) -> dict[str, str]:
    """This environment plus fixed thread counts and hash seed; OPENBLAS_CORETYPE untouched."""
    env = dict(os.environ)
    env.update({var: str(threads) for var in THREAD_VARS})
    env["PYTHONHASHSEED"] = "0"
    env.pop("PYTHONPATH", None)
    return env


# -- measures -----------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    get: Callable[[dict[str, Any], dict[str, Any]], float | None]
    target: tuple[str, float] | None = None
    """A ratio target: (">=" or "<=", value)."""
    decimals: int | None = None
    section: str | None = None
    """The profiled section that explains this measure."""
    recall_key: str | None = None
    """A recall measure that must also be >= 0.99 for the target to count as met."""


def _filtered(name: str, field: str) -> Callable[[dict[str, Any], dict[str, Any]], float]:
    return lambda i, s: s["filtered"][name][field]


def _errors(i: dict[str, Any], s: dict[str, Any]) -> float:
    blocks = [s["query"], s["after_delete"], *s["filtered"].values()]
    return sum(b["violations"] + b["wrong_documents"] for b in blocks)


MEASURES: list[Measure] = [
    Measure(
        "add_vps",
        "Ingest, vectors/s (add in batches of 5,000; add returns when durable)",
        lambda i, s: i["add_vps"],
        (">=", 4),
        section="ingest",
    ),
    Measure(
        "ingest_vps",
        "Ingest and index, vectors/s (the adds + close, graph complete and saved)",
        lambda i, s: i["ingest_vps"],
    ),
    Measure(
        "query_p50_ms",
        "Query p50 ms (n_results=10, documents+metadatas+distances)",
        lambda i, s: s["query"]["p50_ms"],
        ("<=", 0.2),
        section="query",
    ),
    Measure("query_p99_ms", "Query p99 ms", lambda i, s: s["query"]["p99_ms"]),
    Measure("query_qps", "Query QPS (one query per call)", lambda i, s: s["query"]["qps"]),
    Measure("query_recall", "Query recall@10", lambda i, s: s["query"]["recall"], decimals=4),
]
for _name in FILTERS:
    MEASURES += [
        Measure(
            f"filtered_{_name}_qps",
            f"Filtered QPS ({FILTER_LABELS[_name]})",
            _filtered(_name, "qps"),
            (">=", 100),
            section=f"filtered_{_name}",
            recall_key=f"filtered_{_name}_recall",
        ),
        Measure(
            f"filtered_{_name}_recall",
            f"Filtered recall@10 ({FILTER_LABELS[_name]})",
            _filtered(_name, "recall"),
            decimals=4,
        ),
        Measure(
            f"filtered_{_name}_first_ms",
            f"Filtered: first query with a new filter, ms ({FILTER_LABELS[_name]})",
            lambda i, s, _n=_name: s["filtered"][_n].get("first_query_ms"),
        ),
    ]
MEASURES += [
    Measure(
        "reopen_ms",
        "Reopen, fresh process: open + get_collection + first query, ms",
        lambda i, s: s["cold"]["reopen_to_first_result_ms"],
        ("<=", 0.1),
        section="reopen_first_query",
    ),
    Measure(
        "first_query_ms",
        "Reopen: the first query alone, ms",
        lambda i, s: s["cold"]["first_query_ms"],
    ),
    Measure("import_s", "Import of the package, s", lambda i, s: s["import_s"]),
    Measure("delete_s", "Delete 10% (batches of 5,000), s", lambda i, s: s["delete_s"]),
    Measure(
        "after_delete_recall",
        "Recall@10 after delete",
        lambda i, s: s["after_delete"]["recall"],
        decimals=4,
    ),
    Measure(
        "deleted_returned",
        "Deleted ids returned after delete",
        lambda i, s: s["after_delete"]["violations"],
        decimals=0,
    ),
    Measure(
        "wrong_results",
        "Wrong documents + filter violations (all queries)",
        _errors,
        decimals=0,
    ),
    Measure(
        "disk_mb",
        "On-disk MB after ingest (at rest)",
        lambda i, s: s["at_rest_after_ingest"]["disk_mb"],
        ("<=", 1),
    ),
    Measure(
        "peak_rss_ingest_mb",
        "Peak RSS MB, ingest process",
        lambda i, s: i["end"]["peak_rss_mb"],
        ("<=", 0.5),
    ),
    Measure(
        "peak_rss_serve_mb",
        "Peak RSS MB, serve process",
        lambda i, s: s["end"]["peak_rss_mb"],
        ("<=", 0.5),
    ),
]


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Medians per engine, ratios and target checks for every measure."""
    rows = []
    for m in MEASURES:
        per_rep = {e: [_get(m, run) for run in runs[e]] for e in ENGINES}
        vh, ch = _median(per_rep["vectorhouse"]), _median(per_rep["chroma"])
        ratio = vh / ch if vh is not None and ch else None
        met = None
        if m.target is not None and ratio is not None:
            op, value = m.target
            met = ratio >= value if op == ">=" else ratio <= value
        rows.append(
            {
                "key": m.key,
                "label": m.label,
                "vectorhouse": vh,
                "chroma": ch,
                "ratio": ratio,
                "target": f"{m.target[0]} {m.target[1]:g}x" if m.target else None,
                "met": met,
                "decimals": m.decimals,
                "per_rep": per_rep,
            }
        )
    by_key = {r["key"]: r for r in rows}
    for m in MEASURES:
        row = by_key[m.key]
        if m.recall_key and row["met"] is not None:
            recall = by_key[m.recall_key]["vectorhouse"]
            row["target"] += " with recall >= 0.99"
            if recall is None or recall < 0.99:
                row["met"] = False
                row["why_missed"] = f"; vectorhouse recall {recall}"
    return rows


def _get(m: Measure, run: dict[str, Any]) -> float | None:
    if "ingest" not in run or "serve" not in run:
        return None
    value = m.get(run["ingest"], run["serve"])
    return None if value is None else float(value)


def explain_misses(rows: list[dict[str, Any]], runs: dict[str, Any], profile: Any) -> None:
    """Attach what the harness knows about each missed target."""
    by_key = {m.key: m for m in MEASURES}
    last = {e: runs[e][-1] for e in ENGINES if runs[e] and "serve" in runs[e][-1]}
    for row in rows:
        if row["met"] is not False or len(last) < 2:
            continue
        m = by_key[row["key"]]
        if m.key == "disk_mb":
            row["cause_notes"] = [
                f"Files: {e}: "
                + ", ".join(
                    f"{k} {v:,.1f} MB"
                    for k, v in last[e]["serve"]["at_rest_after_ingest"]["disk_parts_mb"].items()
                )
                + "."
                for e in ENGINES
            ]
        elif m.key == "peak_rss_ingest_mb":
            row["cause_notes"] = [
                f"RSS of the {e} ingest process: {r['ingest']['after_import']['rss_mb']:,.0f} MB"
                f" after import, {r['ingest']['after_add']['rss_mb']:,.0f} MB after the last add,"
                f" peak {r['ingest']['end']['peak_rss_mb']:,.0f} MB."
                for e, r in last.items()
            ]
        if profile and m.section:
            row["profile"] = profile.get(m.section)


# -- the runs -------------------------------------------------------------------------


def compare(args: argparse.Namespace, runner: Runner, pythons: dict[str, Path]) -> dict[str, Any]:
    """Repetitions of ingest + serve for both engines, alternating; medians and ratios."""
    spec = DataSpec(n=args.n, n_queries=args.queries, n_clusters=args.clusters)
    data = ensure_dataset(spec, log=log)
    info = load_info(data)
    db_root = CACHE_DIR / "db" / args.name
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in ENGINES}
    errors: list[str] = []

    def one_rep(rep: int, engines: tuple[str, ...], profile: bool) -> dict[str, dict[str, Any]]:
        got: dict[str, dict[str, Any]] = {e: {} for e in engines}
        shutil.rmtree(db_root, ignore_errors=True)
        for phase in ("ingest", "serve"):
            for engine in engines:
                if phase == "serve" and "ingest" not in got[engine]:
                    continue
                cmd = [
                    str(pythons[engine]),
                    str(RUN_ENGINE),
                    *("--engine", engine, "--phase", phase, "--data", str(data)),
                    *("--db", str(db_root / engine), "--out", str(runner.log_dir / "out.json")),
                    *("--batch", str(args.batch), "--filtered-queries", str(args.filtered_queries)),
                    *(["--profile"] if profile else []),
                ]
                tag = f"rep{rep}-{engine}-{phase}" + ("-profiled" if profile else "")
                try:
                    got[engine][phase] = runner.run(cmd, runner.log_dir / "out.json", tag)
                except ChildFailed as exc:
                    errors.append(str(exc).splitlines()[0])
                    log(f"  FAILED {exc}")
        if not args.keep_db:
            shutil.rmtree(db_root, ignore_errors=True)
        return got

    for rep in range(args.reps):
        order = ENGINES if rep % 2 == 0 else ENGINES[::-1]
        log(f"repetition {rep + 1}/{args.reps} (order: {', '.join(order)})")
        got = one_rep(rep + 1, order, profile=False)
        for engine in ENGINES:
            runs[engine].append(got[engine])

    rows = summarize(runs)
    profile = None
    if args.profile_misses and any(r["met"] is False for r in rows):
        log("profiling vectorhouse (one extra repetition under cProfile) for the missed targets")
        got = one_rep(0, ("vectorhouse",), profile=True)["vectorhouse"]
        profile = {
            **got.get("ingest", {}).get("profile", {}),
            **got.get("serve", {}).get("profile", {}),
        }
    explain_misses(rows, runs, profile)

    filters = info["filters"]
    return {
        "kind": "compare",
        "summary": rows,
        "runs": runs,
        "errors": errors,
        "profile": profile,
        "data_text": (
            f"{spec.n:,} unit vectors x {spec.dim} around {spec.n_clusters:,} Gaussian centres"
            f" (seed {spec.seed}), {spec.n_queries:,} held-out queries"
            f" ({args.filtered_queries} for each filter); filters pass "
            + ", ".join(f"{k} {filters[k]['pass_fraction']:.2%}" for k in FILTERS)
            + "; delete removes 10% at random; exact ground truth by matrix product"
        ),
        "versions": {e: _versions(runs[e]) for e in ENGINES},
    }


def scale(args: argparse.Namespace, runner: Runner, pythons: dict[str, Path]) -> dict[str, Any]:
    """The vectorhouse-only scale run: build, memory, query p50 at the target recall."""
    need_gib = args.n * 384 * 4 * 5 / 1024**3
    if mem_available_gib() < need_gib:
        raise SystemExit(
            f"the scale run wants about {need_gib:.1f} GiB free; {mem_available_gib():.1f} GiB is"
        )
    spec = DataSpec(n=args.n, n_queries=args.queries, n_clusters=args.clusters)
    data = ensure_dataset(spec, log=log)
    db = CACHE_DIR / "db" / args.name / "vectorhouse"
    shutil.rmtree(db, ignore_errors=True)
    out = runner.log_dir / "out.json"
    base = [str(pythons["vectorhouse"]), str(RUN_ENGINE), "--engine", "vectorhouse"]
    common = ["--data", str(data), "--db", str(db), "--out", str(out)]
    errors: list[str] = []
    ingest = sweep = None
    try:
        log("scale: ingest")
        ingest = runner.run([*base, "--phase", "ingest", *common], out, "scale-ingest")
        log("scale: ef_search sweep")
        sweep = runner.run([*base, "--phase", "sweep", *common], out, "scale-sweep")
    except ChildFailed as exc:
        errors.append(str(exc).splitlines()[0])
        log(f"  FAILED {exc}")
    if not args.keep_db:
        shutil.rmtree(db, ignore_errors=True)
    at = (sweep or {}).get("at_target") or {}
    rows = [
        ("Records", spec.n, 0),
        ("Build (add + close), s", ingest and ingest["ingest_s"], None),
        ("Build, vectors/s", ingest and ingest["ingest_vps"], None),
        ("Peak RSS MB, ingest process", ingest and ingest["end"]["peak_rss_mb"], None),
        ("On-disk MB", sweep and sweep["at_rest_after_ingest"]["disk_mb"], None),
        ("Reopen + first query, ms", sweep and sweep["cold"]["reopen_to_first_result_ms"], None),
        ("ef_search reaching recall@10 >= 0.95", at.get("ef_search"), 0),
        ("Recall@10 there", at.get("recall"), 4),
        ("Query p50 ms there", at.get("p50_ms"), None),
        ("Query p99 ms there", at.get("p99_ms"), None),
        ("Query QPS there", at.get("qps"), None),
        ("Peak RSS MB, query process", sweep and sweep["end"]["peak_rss_mb"], None),
    ]
    return {
        "kind": "scale",
        "summary": [{"label": lab, "vectorhouse": v, "decimals": d} for lab, v, d in rows],
        "sweep": (sweep or {}).get("points", []),
        "runs": {"vectorhouse": [{"ingest": ingest, "sweep": sweep}]},
        "errors": errors,
        "data_text": (
            f"{spec.n:,} unit vectors x {spec.dim} around {spec.n_clusters:,} Gaussian centres"
            f" (seed {spec.seed}), {spec.n_queries:,} held-out queries"
        ),
        "versions": {"vectorhouse": _versions([{"ingest": ingest}])},
    }


def _versions(runs: list[dict[str, Any]]) -> dict[str, str]:
    for run in runs:
        for phase in run.values():
            if phase and "versions" in phase:
                versions: dict[str, str] = phase["versions"]
                return versions
    return {}


# -- main -----------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smoke run: 20k records, 1 rep")
    mode.add_argument("--scale", action="store_true", help="1M records, vectorhouse alone")
    p.add_argument("--n", type=int, help="records (default 200,000; quick 20,000; scale 1M)")
    p.add_argument("--queries", type=int, help="held-out queries (default 1,000; quick 200)")
    p.add_argument("--filtered-queries", type=int, help="queries per filter (200; quick 100)")
    p.add_argument("--clusters", type=int, help="cluster centres (default n / 100)")
    p.add_argument("--reps", type=int, help="repetitions (default 3; quick 1)")
    p.add_argument("--batch", type=int, default=5_000)
    p.add_argument("--cpus", help="CPU set for every child, e.g. 0-1 or 1 (default: all)")
    p.add_argument("--threads", type=int, help="OMP/OPENBLAS/MKL threads (default: CPU count)")
    p.add_argument("--chroma-venv", type=Path, default=DEFAULT_CHROMA_VENV)
    p.add_argument("--name", help="result name (default from the mode and size)")
    p.add_argument("--note", action="append", default=[], help="a note for RESULTS.md")
    p.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per child")
    p.add_argument("--max-rss-gb", type=float, default=16.0, help="kill a child above this")
    p.add_argument("--no-profile", dest="profile_misses", action="store_false")
    p.add_argument("--keep-db", action="store_true", help="keep the databases afterwards")
    p.add_argument("--setup-only", action="store_true", help="only make data and the venv")
    args = p.parse_args()
    default_n = 20_000 if args.quick else 1_000_000 if args.scale else 200_000
    args.n = args.n or default_n
    args.queries = args.queries or (200 if args.quick else 1_000)
    args.filtered_queries = args.filtered_queries or (100 if args.quick else 200)
    args.clusters = args.clusters or max(10, args.n // 100)
    args.reps = args.reps or (1 if args.quick or args.scale else 3)
    size = f"{args.n // 1_000_000}m" if args.n % 1_000_000 == 0 else f"{args.n // 1000}k"
    kind = "quick" if args.quick else "scale" if args.scale else "synthetic"
    args.name = args.name or f"{kind}-{size}"
    return args


def busy_note(machine: dict[str, Any], cpus: tuple[int, ...]) -> list[str]:
    """A note for RESULTS.md when the load average shows other work on the CPUs."""
    busy = max(machine["loadavg_start"], machine["loadavg_end"])
    if busy <= 0.5 * len(cpus):
        return []
    return [
        f"The machine was busy: load average up to {busy} on {machine['cores']} cores while"
        " this ran, so other processes competed for the CPU and timings are noisy."
    ]


def cpu_policy(cpus: tuple[int, ...], env: dict[str, str]) -> str:
    """How the children were pinned and which thread variables they got."""
    return (
        f"every child pinned to CPUs {','.join(map(str, cpus))} (sched_setaffinity); "
        + " ".join(f"{v}={env[v]}" for v in THREAD_VARS)
        + f"; OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', 'unset')} (left as"
        " found); PYTHONHASHSEED=0; each library's own threads at its defaults"
    )


def result_header(
    name: str, order: int, title: str, started: float, machine: dict[str, Any], notes: list[str]
) -> dict[str, Any]:
    """The fields every result file starts with: what ran, when, where and how."""
    return {
        "name": name,
        "order": order,
        "title": title,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed_s": round(time.time() - started, 1),
        "command": shlex.join([_relative(sys.executable), _relative(sys.argv[0]), *sys.argv[1:]]),
        "git": git_describe(),
        "machine": machine,
        "notes": notes,
    }


def main() -> None:
    args = parse_args()
    started = time.time()
    machine = machine_info()
    cpus = parse_cpus(args.cpus)
    threads = args.threads or len(cpus)
    log_dir = CACHE_DIR / "runs" / args.name
    log_dir.mkdir(parents=True, exist_ok=True)
    runner = Runner(cpus, child_env(threads), args.timeout, args.max_rss_gb * 1024, log_dir)

    pythons = {"vectorhouse": Path(sys.executable)}
    if not args.scale:
        pythons["chroma"] = ensure_chroma_venv(args.chroma_venv)
    if args.setup_only:
        ensure_dataset(DataSpec(n=args.n, n_queries=args.queries, n_clusters=args.clusters))
        return

    log(f"{args.name}: {args.n:,} records, {args.reps} rep(s), CPUs {cpus}, threads {threads}")
    body = scale(args, runner, pythons) if args.scale else compare(args, runner, pythons)
    machine["loadavg_end"] = round(os.getloadavg()[0], 2)

    notes = list(args.note)
    if args.quick:
        notes.append(
            "Smoke run (small data, one repetition): it shows that the harness works, not how"
            " the engines compare. Use `make bench` for numbers."
        )
    notes += busy_note(machine, cpus)
    title = {
        "compare": f"{'Smoke run' if args.quick else 'Synthetic'}: {args.n:,} x 384,"
        f" vectorhouse vs chroma ({args.reps} repetition{'s' if args.reps > 1 else ''})",
        "scale": f"Scale: {args.n:,} x 384, vectorhouse alone",
    }[body["kind"]]
    order = 2 if args.quick else 1 if args.scale else 0
    result = {
        **result_header(args.name, order, title, started, machine, notes),
        "settings": {
            "cpu_policy": cpu_policy(cpus, runner.env)
            + " (vectorhouse inserts into its graph with one usearch thread per core)",
            "data": body.pop("data_text"),
            "method": (
                "fresh process per phase; ingest, then serve (reopen, queries, filtered"
                " queries, delete); engines alternate order each repetition; medians over"
                " repetitions; QPS = queries / summed latency of one-query calls; the"
                " OS page cache is warm for the reopen"
                if body["kind"] == "compare"
                else "fresh process per phase; ef_search raised until recall@10 >= 0.95"
            ),
            "n": args.n,
            "queries": args.queries,
            "filtered_queries": args.filtered_queries,
            "reps": args.reps,
            "batch": args.batch,
            "cpus": list(cpus),
            "threads": threads,
        },
        **body,
    }
    report.RESULTS_DIR.mkdir(exist_ok=True)
    out = report.RESULTS_DIR / f"{args.name}.json"
    out.write_text(json.dumps(result, indent=1, default=str))
    md = report.write_results_md()
    log("")
    log(report.table(result))
    log("")
    minutes = result["elapsed_s"] / 60
    log(f"wrote {_relative(str(out))} and {_relative(str(md))} in {minutes:.1f} min")
    if result["errors"]:
        raise SystemExit(f"{len(result['errors'])} child run(s) failed: see {log_dir}")


if __name__ == "__main__":
    main()

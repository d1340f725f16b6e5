# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m ruff check src tests examples benchmarks
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/python -m ruff check src tests examples benchmarks
	$(BIN)/python -m ruff format --check src tests examples benchmarks

typecheck: $(STAMP)
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

# Benchmarks against chromadb 1.5.9 (its own venv, benchmarks/.venv-chroma, made on first
# use). Results: benchmarks/results/*.json and benchmarks/RESULTS.md. `make bench` runs the
# synthetic 200k comparison, the 1M scale run, the real corpus (corpus.py downloads Debian
# documentation packages and embeds them once: about half an hour on 2 idle cores, cached
# under benchmarks/.cache/debian) and the embedding/text-ingest comparison. BENCH_ARGS
# passes more options to bench.py and real_bench.py, e.g. BENCH_ARGS="--cpus 1".
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/bench.py --scale $(BENCH_ARGS)
	$(BIN)/python benchmarks/corpus.py
	$(BIN)/python benchmarks/real_bench.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/embed_bench.py $(EMBED_ARGS)

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/bench.py --quick $(BENCH_ARGS)

# Retrieval quality of dense, BM25 and hybrid search on labelled Debian manuals.
bench-quality: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python benchmarks/quality.py

# Embedding throughput against chroma's default embedding function (benchmarks/embed_bench.py:
# 2,000 standard-library docstrings x 3 repetitions). EMBED_ARGS passes more options, e.g.
# EMBED_ARGS="--quick" (500 texts, 1 repetition) or EMBED_ARGS="--threads 2,1".
.PHONY: bench-embed bench-quality
bench-embed: $(STAMP)
	$(BIN)/python benchmarks/embed_bench.py $(EMBED_ARGS)

# The same collection API on Milvus (milvus-lite) beside the embedded engine, and batch
# embedding on Ray with 1 and 2 actors (the [milvus] and [ray] extras, in [test]).
# SCALE_ARGS passes more options to milvus_bench.py, e.g. SCALE_ARGS="--n 200000".
.PHONY: bench-scale
bench-scale: $(STAMP)
	$(BIN)/python benchmarks/milvus_bench.py $(SCALE_ARGS)
	$(BIN)/python benchmarks/ray_bench.py

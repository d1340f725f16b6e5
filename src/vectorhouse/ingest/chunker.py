"""Cutting documents into chunks by structure, under a size limit in model tokens.

A chunk never spans two sections: each heading starts a new chunk (headings directly
followed by another heading are kept together with the first text under them). Within
a section, blocks are packed whole while they fit; a block larger than the limit is cut
at line ends, and a line larger than the limit at spaces. A chunk that follows another
in the same section repeats the last lines of it, up to ``overlap`` tokens.

    >>> from vectorhouse.ingest.document import Block, Document
    >>> doc = Document("d", [Block("Setup", 1, 1, heading=1, title="Setup"),
    ...                      Block("one two three", 2, 2), Block("four five", 3, 3)])
    >>> [(c.text, c.start, c.end, c.section) for c in chunk_document(doc, max_tokens=6)]
    [('Setup\\n\\none two three', 1, 2, 'Setup'), ('four five', 3, 3, 'Setup')]
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vectorhouse.errors import InvalidArgumentError
from vectorhouse.ingest.document import Block, Chunk, Document

TokenCounter = Callable[[Sequence[str]], list[int]]
"""Counts the model tokens of each text (special tokens excluded)."""

DEFAULT_MAX_TOKENS = 200
"""Tokens per chunk by default: under the default model's 254 (256 with [CLS] and
[SEP]), close to the 128-token texts it was trained on, with room for the overlap."""

DEFAULT_OVERLAP = 32
"""Tokens repeated from the previous chunk of the same section, by default."""


def approximate_tokens(texts: Sequence[str]) -> list[int]:
    """A model-free token estimate: about four characters per token.

    >>> approximate_tokens(["", "hello world"])
    [0, 3]
    """
    return [0 if not t.strip() else max(1, (len(t) + 3) // 4) for t in texts]


@functools.lru_cache(maxsize=1)
def _default_tokenizer() -> Any:
    from tokenizers import Tokenizer

    resource = importlib.resources.files("vectorhouse.embeddings").joinpath("tokenizer.json")
    tokenizer = Tokenizer.from_str(resource.read_text("utf-8"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def default_model_tokens(texts: Sequence[str]) -> list[int]:
    """Token counts with the default model's own tokenizer (all-MiniLM-L6-v2).

    >>> default_model_tokens(["log rotation", "Log rotation!"])
    [2, 3]
    """
    if not texts:
        return []
    encodings = _default_tokenizer().encode_batch(list(texts), add_special_tokens=False)
    return [len(e.ids) for e in encodings]


def token_counter_for(embedding_function: Any) -> tuple[TokenCounter, int | None]:
    """The token counter of a collection's model, and the most tokens it reads per text
    (None when unknown). The default model is counted exactly; others are estimated.

    >>> from vectorhouse.embeddings.default import DefaultEmbeddingFunction
    >>> counter, limit = token_counter_for(DefaultEmbeddingFunction())
    >>> counter(["hello world"]), limit
    ([2], 254)
    >>> token_counter_for(None)[1] is None
    True
    """
    from vectorhouse.embeddings.default import DefaultEmbeddingFunction

    if isinstance(embedding_function, DefaultEmbeddingFunction):
        return default_model_tokens, embedding_function.max_length - 2
    return approximate_tokens, None


@dataclass(frozen=True)
class ChunkOptions:
    """Chunk size and overlap, in tokens of the collection's model.

    >>> ChunkOptions(max_tokens=128, overlap=16).signature()
    'max_tokens=128,overlap=16'
    >>> ChunkOptions(max_tokens=8, overlap=8)
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidArgumentError: overlap (8) must be below half of max_tokens (8)
    """

    max_tokens: int = DEFAULT_MAX_TOKENS
    overlap: int = DEFAULT_OVERLAP

    def __post_init__(self) -> None:
        for name in ("max_tokens", "overlap"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidArgumentError(f"{name} must be a non-negative integer, got {value!r}")
        if self.max_tokens < 1:
            raise InvalidArgumentError("max_tokens must be at least 1")
        if self.overlap and self.overlap * 2 >= self.max_tokens:
            raise InvalidArgumentError(
                f"overlap ({self.overlap}) must be below half of max_tokens ({self.max_tokens})"
            )

    def signature(self) -> str:
        """What goes into a source's content hash, so that new options re-chunk it."""
        return f"max_tokens={self.max_tokens},overlap={self.overlap}"


@dataclass(frozen=True)
class _Piece:
    text: str
    start: int
    end: int
    tokens: int
    block: int
    """The index of the block it came from: pieces of one block join with a newline."""
    heading_only: bool = False


def _lines(block: Block) -> list[tuple[str, int]]:
    """A block's lines with their line numbers (the block's start when not exact)."""
    lines = block.text.split("\n")
    exact = block.end - block.start + 1 == len(lines)
    return [(line, block.start + i if exact else block.start) for i, line in enumerate(lines)]


def _split_long(
    text: str, line: int, tokens: int, max_tokens: int, count: TokenCounter, block: int
) -> list[_Piece]:
    """Cut one over-long line at spaces (or, for a space-free run, at characters)."""
    words = text.split(" ")
    pieces: list[_Piece] = []
    cur: list[str] = []
    cur_tokens = 0
    for word, n in zip(words, count(words), strict=True):
        if n > max_tokens:  # no spaces to cut at: cut by characters, proportionally
            step = max(1, len(word) * max_tokens // (n + 1))
            parts = [word[i : i + step] for i in range(0, len(word), step)]
            pairs = list(zip(parts, count(parts), strict=True))
        else:
            pairs = [(word, n)]
        for part, m in pairs:
            if cur and cur_tokens + m > max_tokens:
                pieces.append(_Piece(" ".join(cur), line, line, cur_tokens, block))
                cur, cur_tokens = [], 0
            cur.append(part)
            cur_tokens += m
    if cur:
        pieces.append(_Piece(" ".join(cur), line, line, cur_tokens, block))
    return pieces


def _pieces(
    block: Block, tokens: int, max_tokens: int, count: TokenCounter, index: int
) -> list[_Piece]:
    heading_only = bool(block.heading) and block.text == block.title
    if tokens <= max_tokens:
        return [_Piece(block.text, block.start, block.end, tokens, index, heading_only)]
    lines = [(t, n) for t, n in _lines(block) if t.strip()]
    out: list[_Piece] = []
    for (text, number), n in zip(lines, count([t for t, _ in lines]), strict=True):
        if n <= max_tokens:
            out.append(_Piece(text, number, number, n, index))
        else:
            out.extend(_split_long(text, number, n, max_tokens, count, index))
    return out


def _overlap(pieces: list[_Piece], budget: int, count: TokenCounter) -> list[_Piece]:
    """The last lines of ``pieces`` that fit in ``budget`` tokens."""
    out: list[_Piece] = []
    for piece in reversed(pieces):
        if piece.heading_only or budget <= 0:
            break
        if piece.tokens <= budget:
            out.append(piece)
            budget -= piece.tokens
            continue
        lines = _lines(Block(piece.text, piece.start, piece.end))
        for (text, number), n in zip(
            reversed(lines), count([t for t, _ in reversed(lines)]), strict=True
        ):
            if n > budget or not text.strip():
                break
            out.append(_Piece(text, number, number, n, piece.block))
            budget -= n
        break
    return out[::-1]


def _join(pieces: list[_Piece]) -> str:
    parts: list[str] = []
    for i, piece in enumerate(pieces):
        if i:
            parts.append("\n" if pieces[i - 1].block == piece.block else "\n\n")
        parts.append(piece.text)
    return "".join(parts)


def chunk_document(
    doc: Document,
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    overlap: int = DEFAULT_OVERLAP,
    count: TokenCounter = approximate_tokens,
) -> list[Chunk]:
    """Cut a document into chunks of at most ``max_tokens`` tokens (as ``count`` counts
    them), by sections and blocks, repeating up to ``overlap`` tokens between the
    chunks of one section.

    >>> from vectorhouse.ingest.document import Block, Document
    >>> doc = Document("d", [Block("a b c\\nd e f\\ng h i", 1, 3)])
    >>> words = lambda texts: [len(t.split()) for t in texts]
    >>> chunks = chunk_document(doc, max_tokens=7, overlap=3, count=words)
    >>> [(c.text, c.start, c.end) for c in chunks]
    [('a b c\\nd e f', 1, 2), ('d e f\\ng h i', 2, 3)]
    """
    if max_tokens < 1:
        raise InvalidArgumentError("max_tokens must be at least 1")
    overlap = max(0, min(overlap, (max_tokens - 1) // 2))
    blocks = [b for b in doc.blocks if b.text.strip()]
    counts = count([b.text for b in blocks])
    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []
    section = ""
    current: list[_Piece] = []
    used = 0

    def emit() -> None:
        if current and not all(p.heading_only for p in current):
            chunks.append(
                Chunk(
                    _join(current),
                    min(p.start for p in current),
                    max(p.end for p in current),
                    section,
                )
            )

    for index, (block, tokens) in enumerate(zip(blocks, counts, strict=True)):
        if block.heading:
            if not all(p.heading_only for p in current):
                emit()
                current, used = [], 0
            while path and path[-1][0] >= block.heading:
                path.pop()
            path.append((block.heading, block.title))
            section = " > ".join(title for _, title in path)
        for piece in _pieces(block, tokens, max_tokens, count, index):
            if current and used + piece.tokens > max_tokens:
                emit()
                if all(p.heading_only for p in current):
                    current = []
                else:
                    current = _overlap(current, min(overlap, max_tokens - piece.tokens), count)
                used = sum(p.tokens for p in current)
            current.append(piece)
            used += piece.tokens
    emit()
    if not chunks and current:  # a document of headings only
        chunks.append(Chunk(_join(current), current[0].start, current[-1].end, section))
    return chunks

"""What readers produce and the chunker consumes: a document as a list of blocks.

A *block* is a run of text that is kept together unless it alone exceeds the chunk
size: a paragraph, a fenced code block, a list item, a heading, one definition of a
source file. A block with ``heading > 0`` starts a section; its ``title`` names it.
Spans count lines (text formats) or pages (PDF), from 1; 0 means unknown.

    >>> doc = Document(title="Notes", blocks=[
    ...     Block("Logging", 1, 1, heading=1, title="Logging"),
    ...     Block("Logs rotate daily.", 3, 3),
    ... ])
    >>> [b.text for b in doc.blocks]
    ['Logging', 'Logs rotate daily.']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Unit = Literal["line", "page"]
"""What a span counts: lines of a text file, or pages of a PDF."""


@dataclass(frozen=True)
class Block:
    """One structural piece of a document, with its span in the source.

    >>> Block("def main():\\n    run()", 10, 11, heading=1, title="def main():").heading
    1
    """

    text: str
    start: int
    end: int
    heading: int = 0
    """Above 0: the block starts a section of this level (1 is the outermost)."""
    title: str = ""
    """The section's name, for heading blocks."""


@dataclass(frozen=True)
class Document:
    """A readable source, reduced to its title and blocks.

    >>> Document(title="empty").blocks
    []
    """

    title: str
    blocks: list[Block] = field(default_factory=list)
    unit: Unit = "line"
    metadata: dict[str, str | int] = field(default_factory=dict)
    """More metadata for every chunk of the document (e.g. a module's file ``path``)."""


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough to embed, with where it came from.

    >>> Chunk("Logs rotate daily.", 3, 3, section="Logging").section
    'Logging'
    """

    text: str
    start: int
    end: int
    section: str = ""
    """The heading path of the section the chunk starts in (``A > B``), or empty."""

"""Readers: a file's bytes to a :class:`Document` of blocks, text only, one per kind.

Kinds: plain ``text``, ``markdown``, ``rst`` (reStructuredText), ``html``, source
``code`` and ``pdf`` (through pypdf, the ``[pdf]`` extra). Structure is kept where the
format has it: headings start sections, fenced code stays in one block, HTML loses its
tags, scripts and styles, and each definition in source code starts a section.

    >>> doc = read_document(b"# Ops\\n\\nLogs rotate daily.\\n", "ops.md")
    >>> doc.title, [(b.text, b.start, b.heading) for b in doc.blocks]
    ('Ops', [('Ops', 1, 1), ('Logs rotate daily.', 3, 0)])
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import PurePath
from typing import ClassVar

from vectorhouse.errors import InvalidArgumentError
from vectorhouse.ingest.document import Block, Document

READER_VERSION = "1"
"""Changes whenever a reader's output changes, so that files are read again."""

Reader = Callable[[bytes, str], Document]
"""``(data, file name) -> Document``; the name gives the default title."""


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_CODE_EXTS = _words(
    ".py .pyi .pyx .js .jsx .mjs .cjs .ts .tsx .vue .svelte .go .rs .java .kt .kts .scala"
    " .groovy .c .h .cc .cpp .cxx .hpp .hh .cs .fs .rb .php .swift .m .mm .dart .lua .pl .pm"
    " .r .jl .ex .exs .erl .hs .ml .clj .sh .bash .zsh .fish .ps1 .bat .sql .css .scss .less"
    " .toml .yaml .yml .ini .cfg .proto .graphql .tf .nix .cmake .gradle"
)
KINDS: dict[str, str] = {
    **dict.fromkeys((".txt", ".text"), "text"),
    **dict.fromkeys((".md", ".markdown", ".mdown", ".mkd"), "markdown"),
    **dict.fromkeys((".rst", ".rest"), "rst"),
    **dict.fromkeys((".html", ".htm", ".xhtml"), "html"),
    ".pdf": "pdf",
    **dict.fromkeys(_CODE_EXTS, "code"),
}
"""File extension (lower case) -> kind, for the files taken by default."""

NAMES: dict[str, str] = {
    "Makefile": "code",
    "Dockerfile": "code",
    "Justfile": "code",
    "README": "text",
}
"""Extensionless file names taken by default."""


def kind_of(name: str) -> str | None:
    """The kind of reader for a file name, or None for files not taken by default.

    >>> kind_of("guide.MD"), kind_of("main.rs"), kind_of("photo.jpg")
    ('markdown', 'code', None)
    """
    path = PurePath(name)
    return KINDS.get(path.suffix.lower()) or NAMES.get(path.name)


def decode(data: bytes) -> str:
    """Bytes as text: UTF-8 (a BOM is dropped), undecodable bytes replaced, ``\\n`` ends.

    >>> decode(b"\\xef\\xbb\\xbfa\\r\\nb\\rc")
    'a\\nb\\nc'
    """
    text = data.decode("utf-8-sig", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def is_binary(data: bytes) -> bool:
    """Whether bytes look like a binary file (a NUL byte in the first 8 KiB).

    >>> is_binary(b"text"), is_binary(b"\\x89PNG\\r\\n\\x1a\\n\\x00")
    (False, True)
    """
    return b"\0" in data[:8192]


def _stem(name: str) -> str:
    return PurePath(name).stem or name


def _paragraphs(lines: list[str], first: int = 1) -> list[Block]:
    """Runs of non-blank lines as blocks; ``first`` is the line number of ``lines[0]``."""
    blocks: list[Block] = []
    start: int | None = None
    for i, line in enumerate([*lines, ""]):
        if line.strip():
            if start is None:
                start = i
        elif start is not None:
            blocks.append(Block("\n".join(lines[start:i]), first + start, first + i - 1))
            start = None
    return blocks


def read_text(data: bytes, name: str) -> Document:
    """Plain text: one block per paragraph (lines between blank lines).

    >>> [(b.text, b.start, b.end) for b in read_text(b"a\\nb\\n\\nc\\n", "x.txt").blocks]
    [('a\\nb', 1, 2), ('c', 4, 4)]
    """
    return Document(title=_stem(name), blocks=_paragraphs(decode(data).split("\n")))


_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_FRONT_TITLE = re.compile(r"^title:\s*(.+?)\s*$")


def read_markdown(data: bytes, name: str) -> Document:
    """Markdown: ATX and setext headings, fenced code kept whole, paragraphs.

    The title is the front matter's ``title:``, else the first level-1 heading, else
    the file name.

    >>> doc = read_markdown(b"Guide\\n=====\\n\\n```\\nx = 1\\n\\ny = 2\\n```\\n", "g.md")
    >>> doc.title, [(b.text, b.start, b.end) for b in doc.blocks]
    ('Guide', [('Guide', 1, 2), ('```\\nx = 1\\n\\ny = 2\\n```', 4, 8)])
    """
    lines = decode(data).split("\n")
    title = ""
    i = 0
    if lines and lines[0].strip() == "---":
        for j in range(1, len(lines)):
            if lines[j].strip() in ("---", "..."):
                for line in lines[1:j]:
                    m = _FRONT_TITLE.match(line)
                    if m:
                        title = m.group(1).strip("'\"")
                i = j + 1
                break
    blocks: list[Block] = []
    para: list[str] = []
    para_start = 0

    def flush() -> None:
        if para:
            blocks.append(Block("\n".join(para), para_start, para_start + len(para) - 1))
            para.clear()

    while i < len(lines):
        line, number = lines[i], i + 1
        fence = _FENCE.match(line)
        if fence:
            flush()
            mark = fence.group(1)
            j = i + 1
            while j < len(lines):
                closing = lines[j].strip()
                if closing.startswith(mark) and set(closing) == {mark[0]}:
                    break
                j += 1
            end = min(j, len(lines) - 1)
            blocks.append(Block("\n".join(lines[i : end + 1]), number, end + 1))
            i = end + 1
            continue
        atx = _ATX.match(line)
        if atx:
            flush()
            text = (atx.group(2) or "").strip()
            if text:
                blocks.append(Block(text, number, number, heading=len(atx.group(1)), title=text))
            i += 1
            continue
        if para and _SETEXT.match(line) and not _LIST_ITEM.match(para[-1]):
            text = " ".join(p.strip() for p in para)
            level = 1 if line.strip().startswith("=") else 2
            blocks.append(Block(text, para_start, number, heading=level, title=text))
            para.clear()
            i += 1
            continue
        if line.strip():
            if not para:
                para_start = number
            para.append(line)
        else:
            flush()
        i += 1
    flush()
    if not title:
        title = next((b.title for b in blocks if b.heading == 1), "") or _stem(name)
    return Document(title=title, blocks=blocks)


_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}\s*$")


def read_rst(data: bytes, name: str) -> Document:
    """reStructuredText: section titles (underlined, optionally overlined) start
    sections, levels in the order their styles first appear; the rest is paragraphs.

    >>> src = b"=====\\nTitle\\n=====\\n\\nIntro.\\n\\nPart\\n----\\n\\nText.\\n"
    >>> doc = read_rst(src, "t.rst")
    >>> doc.title, [(b.text, b.heading) for b in doc.blocks]
    ('Title', [('Title', 1), ('Intro.', 0), ('Part', 2), ('Text.', 0)])
    """
    lines = decode(data).split("\n")
    styles: list[tuple[str, bool]] = []
    blocks: list[Block] = []
    para: list[str] = []
    para_start = 0

    def flush() -> None:
        if para:
            blocks.append(Block("\n".join(para), para_start, para_start + len(para) - 1))
            para.clear()

    def heading(text: str, char: str, over: bool, start: int, end: int) -> None:
        if (char, over) not in styles:
            styles.append((char, over))
        level = styles.index((char, over)) + 1
        blocks.append(Block(text, start, end, heading=level, title=text))

    i = 0
    while i < len(lines):
        line, number = lines[i], i + 1
        adorn = _ADORNMENT.match(line)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            adorn
            and not para
            and i + 2 < len(lines)
            and nxt.strip()
            and not _ADORNMENT.match(nxt)
            and lines[i + 2].strip()[:1] == adorn.group(1)
            and _ADORNMENT.match(lines[i + 2])
        ):
            heading(nxt.strip(), adorn.group(1), True, number, number + 2)
            i += 3
            continue
        under = _ADORNMENT.match(nxt)
        if (
            not para
            and line.strip()
            and not line[0].isspace()
            and not adorn
            and under
            and len(nxt.rstrip()) >= min(len(line.rstrip()), 4)
        ):
            heading(line.strip(), under.group(1), False, number, number + 1)
            i += 2
            continue
        if adorn and not para:  # a transition (a line of punctuation on its own)
            i += 1
            continue
        if line.strip():
            if not para:
                para_start = number
            para.append(line)
        else:
            flush()
        i += 1
    flush()
    title = next((b.title for b in blocks if b.heading), "") or _stem(name)
    return Document(title=title, blocks=blocks)


class _HTMLText(HTMLParser):
    """Collects the visible text of an HTML page as blocks (headings apart)."""

    BREAKS = frozenset(
        _words(
            "p div section article header footer main nav aside li ul ol dl dt dd table tr thead"
            " tbody tfoot caption blockquote pre figure figcaption form fieldset address hr"
            " details summary body html"
        )
    )
    HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "head"})
    HEADINGS: ClassVar[dict[str, int]] = {f"h{n}": n for n in range(1, 7)}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title = ""
        self._parts: list[str] = []
        self._start = 0
        self._end = 0
        self._hidden = 0
        self._pre = 0
        self._heading = 0
        self._in_title = False
        self._has_text = False

    def _flush(self) -> None:
        text = "".join(self._parts)
        self._parts.clear()
        self._has_text = False
        if self._pre:
            text = text.strip("\n")
        else:
            text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
            text = re.sub(r"\n{2,}", "\n", text).strip()
        if text.strip():
            heading = self._heading
            title = " ".join(text.split()) if heading else ""
            self.blocks.append(Block(text, self._start, self._end, heading=heading, title=title))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "body":
            self._hidden = 0  # an unclosed <head> ends here
        elif tag in self.HIDDEN:
            self._hidden += 1
        elif tag in self.HEADINGS:
            self._flush()
            self._heading = self.HEADINGS[tag]
        elif tag == "br":
            self._parts.append("\n")
        elif tag in self.BREAKS:
            self._flush()
            if tag == "pre":
                self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self.HEADINGS:
            self._flush()
            self._heading = 0
        elif tag in self.BREAKS:
            self._flush()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._hidden:
            return
        line = self.getpos()[0]
        if data.strip():
            if not self._has_text:
                self._start = line + data[: len(data) - len(data.lstrip())].count("\n")
                self._has_text = True
            self._end = line + data.rstrip().count("\n")
        self._parts.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def read_html(data: bytes, name: str) -> Document:
    """HTML: visible text only (no tags, scripts or styles); ``h1``-``h6`` start
    sections; block elements (``p``, ``li``, ``div``, ...) separate blocks. The title
    is ``<title>``, else the first ``h1``, else the file name.

    >>> page = b"<title>Ops</title><script>x()</script><h2>Logs</h2><p>They &amp; rotate.</p>"
    >>> doc = read_html(page, "ops.html")
    >>> doc.title, [(b.text, b.heading) for b in doc.blocks]
    ('Ops', [('Logs', 2), ('They & rotate.', 0)])
    """
    parser = _HTMLText()
    parser.feed(decode(data))
    parser.close()
    title = " ".join(parser.title.split())
    if not title:
        title = next((b.title for b in parser.blocks if b.heading == 1), "") or _stem(name)
    return Document(title=title, blocks=parser.blocks)


_DEFINITION = re.compile(
    r"^(?P<indent>[ \t]*)(?:(?:export|pub(?:\([^)]*\))?|public|private|protected|internal"
    r"|static|async|abstract|final|override|unsafe|extern|default|const)\s+)*"
    r"(?:def|class|function|func|fn|impl|struct|enum|interface|trait|module|object"
    r"|namespace|record|type)\b"
)
_PREAMBLE = ("@", "#", "//", "/*", "*", "--", ";")


def read_code(data: bytes, name: str) -> Document:
    """Source code: blocks between blank lines; a block whose first code line defines
    something (``def``, ``class``, ``func``, ``fn``, ``function``, ``struct``, ...) starts
    a section named by that line, nested one level when indented.

    >>> src = b"import os\\n\\nclass A:\\n    pass\\n\\n    def run(self):\\n        return 1\\n"
    >>> [(b.start, b.heading, b.title) for b in read_code(src, "a.py").blocks]
    [(1, 0, ''), (3, 1, 'class A'), (6, 2, 'def run(self)')]
    """
    blocks = []
    for block in _paragraphs(decode(data).split("\n")):
        code = [ln for ln in block.text.split("\n") if not ln.strip().startswith(_PREAMBLE)]
        m = _DEFINITION.match(code[0]) if code else None
        if m:
            level = 1 if not m.group("indent") else 2
            title = code[0].strip().rstrip("{:").strip()
            title = title if len(title) <= 100 else title[:99] + "…"
            block = Block(block.text, block.start, block.end, heading=level, title=title)
        blocks.append(block)
    return Document(title=PurePath(name).name, blocks=blocks)


def read_pdf(data: bytes, name: str) -> Document:
    """PDF: the text of each page (pypdf's extraction), split into paragraphs; spans
    count pages. Needs the ``pdf`` extra: ``pip install 'vectorhouse[pdf]'``.

    >>> read_pdf(b"not a pdf", "x.pdf")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidArgumentError: cannot read PDF x.pdf: ...
    """
    try:
        import pypdf
    except ImportError as exc:
        raise InvalidArgumentError(
            "reading PDF files needs pypdf: pip install 'vectorhouse[pdf]'"
        ) from exc
    blocks: list[Block] = []
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidArgumentError(f"cannot read PDF {name}: it is encrypted")
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
        for number, page in enumerate(reader.pages, start=1):
            text = decode(page.extract_text().encode("utf-8", errors="replace"))
            for para in _paragraphs(text.split("\n")):
                blocks.append(Block(para.text, number, number))
    except InvalidArgumentError:
        raise
    except Exception as exc:  # pypdf raises many types (PdfReadError, ValueError, ...)
        raise InvalidArgumentError(f"cannot read PDF {name}: {exc}") from exc
    title = " ".join(str(meta_title).split()) or _stem(name)
    return Document(title=title, blocks=blocks, unit="page")


READERS: dict[str, Reader] = {
    "text": read_text,
    "markdown": read_markdown,
    "rst": read_rst,
    "html": read_html,
    "code": read_code,
    "pdf": read_pdf,
}
"""Kind -> reader."""


def read_document(data: bytes, name: str, kind: str | None = None) -> Document:
    """Read bytes as the kind given, else the kind of ``name``, else plain text.
    Binary data (other than PDF) is refused.

    >>> [b.text for b in read_document(b"<p>hi</p>", "page.html").blocks]
    ['hi']
    >>> read_document(b"\\x00\\x01", "blob.bin")
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidArgumentError: blob.bin looks binary; not read
    """
    kind = kind or kind_of(name) or "text"
    if kind != "pdf" and is_binary(data):
        raise InvalidArgumentError(f"{name} looks binary; not read")
    return READERS[kind](data, name)

"""The Python standard library's own documentation as a corpus: nothing to download.

Each module is one source, named ``stdlib://<module>``. Its document holds the module
docstring, then each public class and function (``__all__`` where the module has one)
with its signature and docstring, and each public method of those classes, collected
with ``importlib``, ``inspect`` and ``pydoc``. Line spans point into the module's
source file (metadata ``path``, relative to the standard library folder).

A module's content hash is that of its source file and of the interpreter's version, so
finding that nothing changed needs no import.

    >>> doc = module_document("fnmatch")
    >>> doc.title
    'fnmatch — Filename matching with shell patterns.'
    >>> [b.title for b in doc.blocks if b.heading == 2]
    ['fnmatch', 'filter', 'fnmatchcase', 'translate']
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import os
import pydoc
import sys
import sysconfig
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from vectorhouse.errors import InvalidArgumentError
from vectorhouse.ingest.document import Block, Document

STDLIB_VERSION = "1"
"""Changes whenever the documents built here change, so that modules are read again."""

PREFIX = "stdlib://"
"""What every standard-library source name starts with."""

_DEMO = """
    abc argparse array ast asyncio base64 binascii bisect bz2 calendar cmath codecs
    collections collections.abc concurrent.futures configparser contextlib contextvars
    copy cProfile csv dataclasses datetime decimal difflib dis doctest email
    email.message email.utils enum errno faulthandler filecmp fileinput fnmatch fractions
    ftplib functools gc getopt getpass gettext glob graphlib gzip hashlib heapq hmac html
    html.parser http http.client http.cookies http.server imaplib importlib
    importlib.metadata importlib.resources inspect io ipaddress itertools json keyword
    linecache locale logging logging.config logging.handlers lzma mimetypes
    multiprocessing numbers operator optparse os os.path pathlib pdb pickle pkgutil
    platform poplib pprint profile pstats queue quopri random re reprlib sched secrets
    select selectors shelve shlex shutil signal site smtplib socket socketserver sqlite3
    ssl stat statistics string struct subprocess sys sysconfig tarfile tempfile textwrap
    threading time timeit tokenize traceback tracemalloc types typing
    unicodedata unittest unittest.mock urllib.error urllib.parse urllib.request
    urllib.robotparser uuid venv warnings weakref webbrowser wsgiref xml.dom.minidom
    xml.etree.ElementTree xml.sax zipfile zipimport zlib zoneinfo
"""
DEMO_MODULES: tuple[str, ...] = tuple(_DEMO.split())
"""The modules `make demo` reads: the commonly used part of the standard library."""


def _stdlib_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    return [os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib") if k in paths]


def _relative_file(origin: str | None) -> str:
    if not origin or not os.path.isabs(origin):
        return ""
    real = os.path.realpath(origin)
    for folder in _stdlib_dirs():
        if real.startswith(folder + os.sep):
            return real[len(folder) + 1 :].replace(os.sep, "/")
    return os.path.basename(real)


def _import(name: str) -> ModuleType:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception as exc:  # ImportError, or whatever the module raises on import
        raise InvalidArgumentError(f"cannot import module {name!r}: {exc}") from exc


def _spans(module: ModuleType) -> dict[str, tuple[int, int]]:
    """Line spans of the module docstring (key ``""``) and of its classes, functions and
    methods (keys: qualified names), from the module's source."""
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return {}
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    spans: dict[str, tuple[int, int]] = {}
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        spans[""] = (body[0].lineno, body[0].end_lineno or body[0].lineno)

    def visit(nodes: list[ast.stmt], prefix: str) -> None:
        for node in nodes:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                spans.setdefault(prefix + node.name, (start, node.end_lineno or node.lineno))
                if isinstance(node, ast.ClassDef):
                    visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.If, ast.Try)):  # definitions under `if`/`try`
                visit(node.body, prefix)
                visit(getattr(node, "orelse", []), prefix)

    visit(body, "")
    return spans


def _signature(obj: Any) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)" if callable(obj) else ""


def _doc_blocks(doc: str, span: tuple[int, int]) -> list[Block]:
    blocks: list[Block] = []
    para: list[str] = []
    for line in [*doc.split("\n"), ""]:
        if line.strip():
            para.append(line)
        elif para:
            blocks.append(Block("\n".join(para), *span))
            para = []
    return blocks


def _members(module: ModuleType) -> list[tuple[str, Any]]:
    public = getattr(module, "__all__", None)
    found = []
    for name, obj in inspect.getmembers(module):
        if not (inspect.isclass(obj) or inspect.isroutine(obj)):
            continue
        if not pydoc.visiblename(name, public, obj):
            continue
        if public is None and getattr(obj, "__module__", None) != module.__name__:
            continue  # imported from elsewhere
        found.append((name, obj))
    return found


def _methods(cls: type) -> list[tuple[str, Any]]:
    found = []
    for name, raw in vars(cls).items():
        if name.startswith("_"):
            continue
        if inspect.isroutine(raw) or isinstance(raw, (property, classmethod, staticmethod)):
            found.append((name, getattr(cls, name, raw)))
    return found


def module_document(name: str) -> Document:
    """The documentation of one module, imported by name (see the module docstring).

    >>> doc = module_document("csv")
    >>> doc.metadata["path"], any(b.title == "Sniffer" for b in doc.blocks)
    ('csv.py', True)
    """
    with warnings.catch_warnings():  # deprecated names warn when looked at
        warnings.simplefilter("ignore")
        return _document(_import(name), name)


def _document(module: ModuleType, name: str) -> Document:
    """The document of ``module``, imported as ``name`` (``os.path`` is ``posixpath``)."""
    spans = _spans(module)
    synopsis, body = pydoc.splitdoc(inspect.getdoc(module) or "")
    title = f"{name} — {synopsis}" if synopsis else name
    module_span = spans.get("", (0, 0))
    blocks = [Block(f"module {name}\n{synopsis}".strip(), *module_span, heading=1, title=name)]
    blocks += _doc_blocks(body, module_span)
    members = _members(module)
    order = {n: spans.get(n, (1 << 30, 0))[0] for n, _ in members}
    for attr, obj in sorted(members, key=lambda m: (order[m[0]], m[0])):
        doc = inspect.getdoc(obj) or ""
        if not doc:
            continue
        kind = "class" if inspect.isclass(obj) else "function"
        span = spans.get(attr, (0, 0))
        text = f"{kind} {name}.{attr}{_signature(obj)}"
        blocks.append(Block(text, *span, heading=2, title=attr))
        blocks += _doc_blocks(doc, span)
        if not inspect.isclass(obj):
            continue
        for method, member in _methods(obj):
            mdoc = inspect.getdoc(member) or ""
            if not mdoc or mdoc == doc:
                continue
            mspan = spans.get(f"{attr}.{method}", span)
            sig = "" if isinstance(member, property) else _signature(member)
            mtext = f"method {name}.{attr}.{method}{sig}"
            blocks.append(Block(mtext, *mspan, heading=3, title=method))
            blocks += _doc_blocks(mdoc, mspan)
    path = _relative_file(getattr(module, "__file__", None))
    return Document(title=title, blocks=blocks, metadata={"path": path} if path else {})


@dataclass(frozen=True)
class ModuleSource:
    """One standard-library module as a source.

    >>> src = ModuleSource("csv")
    >>> src.key, src.ext, len(src.fingerprint())
    ('stdlib://csv', '.py', 64)
    """

    module: str

    @property
    def key(self) -> str:
        """``stdlib://`` and the module's name."""
        return PREFIX + self.module

    @property
    def ext(self) -> str:
        """Always ``.py``: the documentation is Python's."""
        return ".py"

    def fingerprint(self) -> str:
        """The sha256 of the module's file and of the interpreter's version (no import
        of the module itself; a submodule's package is imported to find it)."""
        digest = hashlib.sha256(f"stdlib|{STDLIB_VERSION}|{sys.version}|{self.module}|".encode())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError) as exc:
            raise InvalidArgumentError(f"cannot find module {self.module!r}: {exc}") from exc
        if spec is None:
            raise InvalidArgumentError(f"no module named {self.module!r}")
        origin = spec.origin
        if origin and os.path.isfile(origin):
            with open(origin, "rb") as f:
                digest.update(f.read())
        return digest.hexdigest()

    def load(self) -> Document:
        """The module's documentation (imports it)."""
        return module_document(self.module)


@dataclass(frozen=True)
class StdlibCorpus:
    """Standard-library modules as a corpus; it owns every ``stdlib://`` source, so a
    module dropped from ``modules`` is deleted from the collection on the next sync.

    >>> corpus = StdlibCorpus(["csv", "json"])
    >>> [s.key for s in corpus.sources()], corpus.owns("stdlib://re"), corpus.owns("a.md")
    (['stdlib://csv', 'stdlib://json'], True, False)
    """

    modules: Sequence[str] = DEMO_MODULES
    noun: str = field(default="modules", init=False)
    """What its sources are called in messages."""

    def sources(self) -> Iterator[ModuleSource]:
        """One source per module, in the order given (each module once)."""
        for name in dict.fromkeys(self.modules):
            yield ModuleSource(name)

    def owns(self, key: str) -> bool:
        """Whether a stored source is a standard-library module."""
        return key.startswith(PREFIX)

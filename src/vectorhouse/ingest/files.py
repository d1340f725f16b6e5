"""Files and folders as sources: which files are taken, what they are called, and
their content hashes.

A file's ``source`` name is its path relative to ``base`` (the current folder unless
given) when it lies inside it, else its absolute path, always with ``/``. Folders are
walked in name order; ``.git`` folders are never entered; hidden files and folders
(``.name``) are skipped unless ``hidden=True``; ``.gitignore`` files are obeyed, those of
the walked folders and those above a root up to the top of its Git work tree.

    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.md").write_text("# A"); _ = (root / "b.log").write_text("x")
    >>> _ = (root / ".gitignore").write_text("*.md\\n")
    >>> [s.key for s in FileCorpus([root], base=root).sources()]
    []
    >>> [s.key for s in FileCorpus([root], base=root, include=["*.log"]).sources()]
    ['b.log']
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vectorhouse.errors import InvalidArgumentError
from vectorhouse.ingest.document import Document
from vectorhouse.ingest.patterns import Rules, matches_any
from vectorhouse.ingest.readers import READER_VERSION, kind_of, read_document

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
"""Files larger than this are skipped (as if excluded) unless told otherwise."""


@dataclass(frozen=True)
class FileSource:
    """One file to ingest.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
    >>> _ = path.write_text("Buy milk.")
    >>> src = FileSource(path, "notes.txt", "text")
    >>> src.ext, [b.text for b in src.load().blocks], len(src.fingerprint())
    ('.txt', ['Buy milk.'], 64)
    """

    path: Path
    key: str
    kind: str

    @property
    def ext(self) -> str:
        """The file's extension, lower case (``""`` when it has none)."""
        return self.path.suffix.lower()

    def fingerprint(self) -> str:
        """The sha256 of the file's bytes and of how it is read."""
        digest = hashlib.sha256(f"file|{self.kind}|{READER_VERSION}|".encode())
        try:
            with self.path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise InvalidArgumentError(f"cannot read {self.key}: {exc.strerror or exc}") from exc
        return digest.hexdigest()

    def load(self) -> Document:
        """The file read as its kind."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise InvalidArgumentError(f"cannot read {self.key}: {exc.strerror or exc}") from exc
        return read_document(data, self.path.name, self.kind)


def _gitignore(folder: Path) -> Rules:
    try:
        text = (folder / ".gitignore").read_text("utf-8", errors="replace")
    except OSError:
        return Rules(())
    return Rules.parse(text.splitlines())


def _rel(path: str, base: str) -> str | None:
    """``path`` relative to ``base`` with ``/``, or None when it is not inside it."""
    if path == base:
        return ""
    prefix = base if base.endswith(os.sep) else base + os.sep
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :].replace(os.sep, "/")


@dataclass
class FileCorpus:
    """The files under some roots (folders or files), filtered by globs and ``.gitignore``.

    ``include`` globs, when given, select the files taken (of any type; unknown types are
    read as text); otherwise every file of a known type is. ``exclude`` globs drop files
    and whole folders. Globs follow ``.gitignore`` syntax, relative to each root.
    A file named as a root is always taken.

    >>> FileCorpus(["/no/such/folder"])
    Traceback (most recent call last):
    ...
    vectorhouse.errors.InvalidArgumentError: no such file or folder: /no/such/folder
    """

    paths: Sequence[str | os.PathLike[str]]
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    gitignore: bool = True
    hidden: bool = False
    base: str | os.PathLike[str] | None = None
    max_bytes: int | None = DEFAULT_MAX_BYTES
    noun: str = field(default="files", init=False)
    """What its sources are called in messages."""
    too_large: list[str] = field(default_factory=list, init=False)
    """Files skipped by ``max_bytes`` during the last walk."""

    def __post_init__(self) -> None:
        if not self.paths:
            raise InvalidArgumentError("no files or folders to ingest")
        self._base = os.path.abspath(os.path.expanduser(os.fspath(self.base or os.getcwd())))
        self._roots: list[str] = []
        for given in self.paths:
            path = os.path.abspath(os.path.expanduser(os.fspath(given)))
            if not os.path.exists(path):
                raise InvalidArgumentError(f"no such file or folder: {os.fspath(given)}")
            if path not in self._roots:
                self._roots.append(path)
        self._include = Rules.parse(self.include)
        self._exclude = Rules.parse(self.exclude)

    def key_for(self, path: str | os.PathLike[str]) -> str:
        """The ``source`` name of a path.

        >>> FileCorpus(["/"], base="/srv").key_for("/srv/docs/a.md")
        'docs/a.md'
        >>> FileCorpus(["/"], base="/srv").key_for("/etc/hosts")
        '/etc/hosts'
        """
        absolute = os.path.abspath(os.fspath(path))
        rel = _rel(absolute, self._base)
        if rel is None:
            return absolute.replace(os.sep, "/")
        return rel or "."

    @property
    def roots(self) -> list[str]:
        """The ``source`` names of the roots (``.`` for the base folder itself)."""
        return [self.key_for(r) for r in self._roots]

    def owns(self, key: str) -> bool:
        """Whether a stored source lies under one of the roots (so that its absence
        now means it was deleted or excluded).

        >>> corpus = FileCorpus(["/"], base="/srv")
        >>> corpus.owns("docs/a.md"), corpus.owns("/etc/hosts"), corpus.owns("stdlib://csv")
        (True, True, False)
        """
        if "//" in key:  # not a normalised path: another kind of source
            return False
        native = key.replace("/", os.sep)
        absolute = os.path.normpath(os.path.join(self._base, native))
        return any(_rel(absolute, root) is not None for root in self._roots)

    def sources(self) -> Iterator[FileSource]:
        """The files taken, root by root, in name order (each file once)."""
        self.too_large = []
        seen: set[str] = set()
        for root in self._roots:
            for path, kind in self._walk_root(root):
                key = self.key_for(path)
                if key not in seen:
                    seen.add(key)
                    yield FileSource(Path(path), key, kind)

    def _walk_root(self, root: str) -> Iterator[tuple[str, str]]:
        if not os.path.isdir(root):
            if self._size_ok(root):
                yield root, kind_of(root) or "text"
            return
        stack: list[tuple[str, Rules]] = []
        if self.gitignore:
            stack = [(folder, _gitignore(Path(folder))) for folder in _parents_in_repo(root)]
        yield from self._walk(root, root, stack)

    def _walk(
        self, root: str, folder: str, stack: list[tuple[str, Rules]]
    ) -> Iterator[tuple[str, str]]:
        if self.gitignore:
            rules = _gitignore(Path(folder))
            if rules:
                stack = [*stack, (folder, rules)]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            name = entry.name
            if name == ".git" or (name.startswith(".") and not self.hidden):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                if not is_dir and not entry.is_file():
                    continue
            except OSError:
                continue
            rel = _rel(entry.path, root) or name
            if self._exclude and matches_any(self._exclude, rel, is_dir=is_dir):
                continue
            if self._git_ignored(entry.path, is_dir, stack):
                continue
            if is_dir:
                yield from self._walk(root, entry.path, stack)
                continue
            if self._include:
                if not matches_any(self._include, rel, is_dir=False):
                    continue
                kind = kind_of(name) or "text"
            else:
                found = kind_of(name)
                if found is None:
                    continue
                kind = found
            if self._size_ok(entry.path):
                yield entry.path, kind

    def _size_ok(self, path: str) -> bool:
        if self.max_bytes is None:
            return True
        try:
            ok = os.path.getsize(path) <= self.max_bytes
        except OSError:
            return True  # reported when it is read
        if not ok:
            self.too_large.append(self.key_for(path))
        return ok

    @staticmethod
    def _git_ignored(path: str, is_dir: bool, stack: list[tuple[str, Rules]]) -> bool:
        verdict: bool | None = None
        for folder, rules in stack:
            rel = _rel(path, folder)
            if rel:
                found = rules.ignored(rel, is_dir=is_dir)
                if found is not None:
                    verdict = found
        return bool(verdict)


def _parents_in_repo(root: str) -> list[str]:
    """The folders above ``root`` up to the top of its Git work tree, outermost first
    (none when ``root`` is not inside one)."""
    parents: list[str] = []
    current = os.path.dirname(root)
    if os.path.exists(os.path.join(root, ".git")):
        return []
    while True:
        parents.append(current)
        if os.path.exists(os.path.join(current, ".git")):
            return parents[::-1]
        parent = os.path.dirname(current)
        if parent == current:
            return []
        current = parent

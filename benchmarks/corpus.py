"""The "real" benchmark corpus: passages of Debian documentation, embedded once, cached.

Run from the repository root (the embedding takes a while on 2 cores; it is resumable)::

    .venv/bin/python benchmarks/corpus.py                 # download, passages, embed
    .venv/bin/python benchmarks/corpus.py --passages-only # stop before the embedding
    .venv/bin/python benchmarks/corpus.py --limit 5000    # a quick 5,000-passage version
    .venv/bin/python benchmarks/corpus.py --info          # print the manifest
    nohup nice -n 10 .venv/bin/python benchmarks/corpus.py \\
        > benchmarks/.cache/debian/embed.log 2>&1 &       # the full run, in the background

What it does (everything under benchmarks/.cache/debian/, which git ignores):

1. Downloads the documentation packages listed in :data:`PACKAGES` from Debian's archive
   with ``apt-get download`` into ``debs/`` (nothing is installed; ``apt-get update``
   runs only when a download fails and the package lists may be missing) and unpacks
   each with ``dpkg-deb -x`` into ``x/<package>/``. The versions are whatever the
   machine's apt sources offer; they are recorded in the manifest.
2. Turns the chosen files of each package into passages: man pages rendered with
   ``groff -mandoc`` (a small roff stripper when groff is missing), GNU info files,
   HTML manuals (block-level text, navigation left out). Paragraphs shorter than
   ``MIN_WORDS`` are merged with their neighbours in the same section, longer than
   ``MAX_WORDS`` are split at sentence ends into pieces of about ``SPLIT_WORDS``;
   passages that are mostly not letters are dropped, exact duplicates (case and
   whitespace folded) keep their first occurrence. Packages in list order, files in
   sorted path order: the same inputs give the same file, row for row.
   Written to ``passages.jsonl``: one JSON object per line, ``{"id", "text",
   "metadata": {"package", "source", "section", "kind"}}``.
3. Embeds every passage once with vectorhouse's ``DefaultEmbeddingFunction``
   (all-MiniLM-L6-v2, ``--threads`` onnxruntime threads) in shards of ``--shard``
   passages saved as ``shards/NNNNN.npy``: a killed run resumes at the first missing
   shard. The shards are then joined into ``embeddings.f32.npy`` (N x 384 float32, row i
   = line i of passages.jsonl) and ``manifest.json`` is written last (packages and
   versions, counts, length statistics, model, embedding wall time and texts/s).

``--limit N`` builds ``limit-N/`` instead: N passages spread evenly over the full list
(same ids), embedded on their own, or sliced from the full embeddings when those exist.

Other scripts use :func:`load_corpus`; it needs only numpy and the standard library, so
the chroma venv can import this module too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "debian"
FORMAT_VERSION = 1
DIM = 384

MIN_WORDS = 20
"""A paragraph shorter than this is merged with the next ones of its section."""
MERGE_WORDS = 40
"""Merging short paragraphs stops once the passage has this many words."""
MAX_WORDS = 200
"""A paragraph longer than this is split."""
SPLIT_WORDS = 120
"""About this many words per piece of a split paragraph."""
MIN_LETTER_SHARE = 0.6
"""Passages whose non-space characters are less than this share letters are dropped."""


@dataclass(frozen=True)
class Package:
    """A Debian package and which of its files become passages."""

    name: str
    include: tuple[tuple[str, str], ...]
    """(glob relative to the unpacked package, kind): kind is man, info or html."""
    exclude: tuple[str, ...] = ()
    """Regular expressions; a relative path that matches one is left out."""


MAN = (("usr/share/man/man*/*", "man"),)
PACKAGES: tuple[Package, ...] = (
    Package("manpages", MAN),
    Package("manpages-dev", MAN),
    Package("coreutils", (("usr/share/info/*", "info"), *MAN)),
    Package("bash-doc", (("usr/share/info/*", "info"),)),
    Package("gnu-standards", (("usr/share/info/*", "info"),)),
    Package("glibc-doc", MAN),
    Package("tcl8.6-doc", MAN),
    Package("perl-doc", (("usr/share/man/man1/*", "man"),), (r"/perl5?\d*delta\.", r"/perlhist\.")),
    Package("git-doc", (("usr/share/doc/git-doc/**/*.html", "html"),)),
    Package(
        "python3.11-doc",
        (("usr/share/doc/python3.11/html/**/*.html", "html"),),
        (r"/_sources/", r"/whatsnew/", r"/genindex", r"/search\.html$", r"/py-modindex\.html$"),
    ),
    Package(
        "python-django-doc",
        (("usr/share/doc/python-django-doc/html/**/*.html", "html"),),
        (r"/_modules/", r"/_sources/", r"/releases/", r"/genindex", r"/search\.html$", r"/py-"),
    ),
    Package("postgresql-doc-15", (("usr/share/doc/postgresql-doc-15/html/*.html", "html"),)),
    Package(
        "sqlite3-doc",
        (("usr/share/doc/sqlite3/**/*.html", "html"),),
        (r"/releaselog/", r"/(changes|oldnews|keyword_index|doclist|sitemap)\.html$"),
    ),
    Package("nodejs-doc", (("usr/share/doc/nodejs/api/*.html", "html"),), (r"/all\.html$",)),
    Package(
        "apache2-doc",
        (("usr/share/doc/apache2-doc/manual/en/**/*.html", "html"),),
        (r"/sitemap\.html$", r"/quickreference\.html$", r"/directives\.html$"),
    ),
    Package("debian-reference-en", (("usr/share/debian-reference/*.en.html", "html"),)),
    Package("debian-policy", (("usr/share/doc/debian-policy/**/*.html", "html"),)),
    Package("developers-reference", (("usr/share/developers-reference/*.html", "html"),)),
)


def log(message: str) -> None:
    print(message, flush=True)


# -- download and unpack ----------------------------------------------------------------


def _deb_for(debs: Path, name: str) -> Path | None:
    found = sorted(debs.glob(f"{name}_*.deb"))
    return found[-1] if found else None


def _deb_field(deb: Path, field: str) -> str:
    done = subprocess.run(["dpkg-deb", "-f", str(deb), field], capture_output=True, text=True)
    return done.stdout.strip()


def download(names: list[str], debs: Path) -> None:
    """``apt-get download`` every package of ``names`` that has no .deb in ``debs`` yet."""
    missing = [n for n in names if _deb_for(debs, n) is None]
    if not missing:
        return
    debs.mkdir(parents=True, exist_ok=True)
    cmd = ["apt-get", "download", "-q", *missing]
    log(f"apt-get download {' '.join(missing)}")
    if subprocess.run(cmd, cwd=debs).returncode != 0:
        log("apt-get download failed; running apt-get update once and trying again")
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(cmd, cwd=debs, check=True)
    still = [n for n in names if _deb_for(debs, n) is None]
    if still:
        raise SystemExit(f"no .deb for {', '.join(still)} in {debs}")


def unpack(deb: Path, target: Path) -> None:
    """``dpkg-deb -x`` into ``target`` (redone when the .deb changed)."""
    stamp = target / ".unpacked-from"
    if stamp.exists() and stamp.read_text() == deb.name:
        return
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    stamp.write_text(deb.name)


def fetch_packages(root: Path = CACHE) -> list[dict[str, Any]]:
    """Download and unpack :data:`PACKAGES`; name, version, .deb file and sha256 of each."""
    debs = root / "debs"
    download([p.name for p in PACKAGES], debs)
    out = []
    for pkg in PACKAGES:
        deb = _deb_for(debs, pkg.name)
        assert deb is not None
        unpack(deb, root / "x" / pkg.name)
        out.append(
            {
                "package": pkg.name,
                "version": _deb_field(deb, "Version"),
                "deb": deb.name,
                "sha256": hashlib.sha256(deb.read_bytes()).hexdigest(),
            }
        )
    return out


# -- text from each kind of file --------------------------------------------------------

Block = tuple[str, str]
"""(section, paragraph text)."""

_SPACE = re.compile(r"\s+")
_OVERSTRIKE = re.compile(r".\x08")
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _paragraphs(lines: list[str]) -> Iterator[list[str]]:
    """Runs of non-blank lines."""
    run: list[str] = []
    for line in lines:
        if line.strip():
            run.append(line)
        elif run:
            yield run
            run = []
    if run:
        yield run


GROFF = shutil.which("groff")


def render_man(source: str) -> str:
    """A man page as plain text: groff with very long lines (one line per filled
    paragraph), no hyphenation and no bold/underline; :func:`strip_roff` without groff."""
    if GROFF is None:
        return strip_roff(source)
    done = subprocess.run(
        [GROFF, "-mandoc", "-t", "-Tutf8", "-P-cbou", "-rLL=2000n", "-rHY=0", "-rcR=1"],
        input=source.encode("utf-8"),
        capture_output=True,
        env={**os.environ, "LC_ALL": "C.UTF-8", "MANWIDTH": "2000"},
    )
    text = _decode(done.stdout)
    return _SGR.sub("", _OVERSTRIKE.sub("", text))


_ROFF_FONT = re.compile(r"\\f(\[[^\]]*\]|\(..|.)")
_ROFF_ESCAPE = re.compile(r"\\(\(..|\[[^\]]*\]|[&|^%:,/ ]|s[-+]?\d|[*nk]\(?\w+|.)")
_ROFF_NAMED = {"(em": "--", "(en": "-", "(aq": "'", "(dq": '"', "(lq": '"', "(rq": '"'}


def strip_roff(source: str) -> str:
    """A rough plain-text rendering of man(7) roff: section headings at column 0,
    paragraph text indented, requests dropped, font and character escapes removed; a
    header and a footer line stand where groff puts its own."""

    def inline(text: str) -> str:
        text = _ROFF_FONT.sub("", text).replace("\\-", "-").replace("\\e", "\\")

        def escape(m: re.Match[str]) -> str:
            body = m.group(1)
            return _ROFF_NAMED.get(body, " " if body == " " else "")

        return _ROFF_ESCAPE.sub(escape, text)

    out: list[str] = []
    for raw in source.splitlines():
        if raw.startswith(('.\\"', "'\\\"")):
            continue
        if raw.startswith((".", "'")):
            request, _, rest = raw[1:].partition(" ")
            args = inline(rest.replace('"', "")).strip()
            if request in ("SH", "SS"):
                out += ["", args if request == "SH" else "   " + args, ""]
            elif request in ("PP", "P", "LP", "TP", "IP", "sp", "br", "HP"):
                out.append("")
                if request == "IP" and args:
                    out.append("       " + args)
            elif request in ("B", "I", "BR", "BI", "IB", "IR", "RB", "RI", "SM", "SB"):
                out.append("       " + args)
            continue
        out.append("       " + inline(raw))
    return "\n".join(["(header)", *out, "(footer)"])


def man_blocks(rendered: str) -> Iterator[Block]:
    """Paragraphs of a rendered man page, with the section (NAME, DESCRIPTION, ...) each
    is under; the header and footer lines are left out."""
    lines = rendered.splitlines()
    nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
    if len(nonblank) < 3:
        return
    lines = lines[nonblank[0] + 1 : nonblank[-1]]
    section = ""
    for para in _paragraphs(lines):
        if not para[0].startswith(" "):
            section = _clean(para[0]).title()
            para = para[1:]
        text = _clean(" ".join(para))
        if text:
            yield section, text


def info_blocks(text: str) -> Iterator[Block]:
    """Paragraphs of a GNU info file, each with its node name; menus left out."""
    for node in text.split("\x1f"):
        lines = node.splitlines()
        header = next((ln for ln in lines[:3] if ln.startswith("File:")), None)
        if header is None:
            continue
        m = re.search(r"Node: ([^,\t]+)", header)
        section = m.group(1).strip() if m else ""
        if "Index" in section.split():
            continue
        body = lines[lines.index(header) + 1 :]
        menu = next((i for i, ln in enumerate(body) if ln.startswith("* Menu:")), len(body))
        for para in _paragraphs(body[:menu]):
            if sum(ln.startswith("* ") for ln in para) * 2 > len(para):
                continue
            if re.fullmatch(r"[=*\-.]+", para[-1].strip()) and len(para) == 2:
                section = _clean(para[0])
                continue
            text = _clean(" ".join(para))
            if text and not text.startswith("Tag Table:"):
                yield section, text


_BLOCK_TAGS = frozenset((
    "p", "div", "li", "dd", "dt", "td", "th", "tr", "table", "ul", "ol", "dl", "blockquote",
    "section", "article", "main", "body", "header", "footer", "caption", "figure",
    "figcaption", "form", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
))  # fmt: skip
_SKIP_TAGS = frozenset((
    "script", "style", "pre", "head", "title", "nav", "select", "textarea", "svg", "math",
    "button",
))  # fmt: skip
_SKIP_CLASSES = frozenset((
    "sphinxsidebar", "related", "footer", "navheader", "navfooter", "toc", "toplang",
    "bottomlang", "menu", "breadcrumbs", "sidebar", "nav", "header", "copyright",
    "quickview", "highlight", "doc-menu", "toc-wrapper",
))  # fmt: skip
_SKIP_IDS = frozenset(("footer", "header", "toc", "quickview", "sidebar", "nav", "menu"))
_VOID = frozenset((
    "br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr",
))  # fmt: skip


class _HtmlText(HTMLParser):
    """Text of block-level elements as (heading, paragraph) pairs, navigation left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.section = ""
        self.buf: list[str] = []
        self.heading: list[str] | None = None
        self.stack: list[tuple[str, bool]] = []
        """Open elements that matter for skipping: (tag, skips)."""
        self.skipping = 0

    def _flush(self) -> None:
        text = _clean("".join(self.buf))
        self.buf = []
        if text and self.heading is None:
            self.blocks.append((self.section, text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag in ("br", "hr") and not self.skipping:
                self.buf.append(" ")
            return
        classes = set((dict(attrs).get("class") or "").split())
        ident = dict(attrs).get("id") or ""
        skips = tag in _SKIP_TAGS or bool(classes & _SKIP_CLASSES) or ident in _SKIP_IDS
        if tag in _BLOCK_TAGS or skips or tag in _SKIP_TAGS:
            if not self.skipping:
                self._flush()
            self.stack.append((tag, skips))
            self.skipping += skips
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6") and not self.skipping:
            self.heading = []

    def handle_endtag(self, tag: str) -> None:
        if not any(t == tag for t, _ in self.stack):
            return
        if not self.skipping:
            if self.heading is not None and tag.startswith("h"):
                title = _clean("".join(self.heading)).rstrip("¶#").strip()
                self.section = re.sub(r"^[\d.]+\s+", "", title)
                self.heading = None
                self.buf = []
            else:
                self._flush()
        while self.stack:
            t, skips = self.stack.pop()
            self.skipping -= skips
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        (self.heading if self.heading is not None else self.buf).append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def html_blocks(text: str) -> Iterator[Block]:
    """Paragraphs of an HTML page, each with the heading it comes under."""
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    for section, para in parser.blocks:
        yield _clean(section.replace("¶", "")), _clean(para.replace("¶", ""))


# -- passages ---------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+(?=[A-Z0-9\"'(\[])")


def split_long(text: str) -> list[str]:
    """Pieces of about SPLIT_WORDS words, cut at sentence ends where there are any."""
    pieces: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        words = sentence.split()
        while len(current) + len(words) > MAX_WORDS:
            cut = SPLIT_WORDS - len(current) if len(current) < SPLIT_WORDS else 0
            pieces.append(" ".join(current + words[:cut]))
            current, words = [], words[cut:]
        if len(current) >= MIN_WORDS and len(current) + len(words) > SPLIT_WORDS:
            pieces.append(" ".join(current))
            current = []
        current += words
    if current:
        if (
            pieces
            and len(current) < MIN_WORDS
            and len(pieces[-1].split()) + len(current) <= MAX_WORDS
        ):
            pieces[-1] += " " + " ".join(current)
        else:
            pieces.append(" ".join(current))
    return pieces


def passages_of(blocks: list[Block]) -> Iterator[Block]:
    """Merge short paragraphs of one section, split long ones."""
    group: list[str] = []
    group_words = 0
    group_section = ""
    for section, text in [*blocks, ("\x00end", "")]:
        words = len(text.split())
        if group and (section != group_section or group_words + words > MAX_WORDS):
            if group_words >= MIN_WORDS:
                yield group_section, " ".join(group)
            group, group_words = [], 0
        if not text:
            continue
        if words > MAX_WORDS:
            for piece in split_long(text):
                yield section, piece
            continue
        if not group and words >= MIN_WORDS:
            yield section, text
            continue
        group.append(text)
        group_words += words
        group_section = section
        if group_words >= MERGE_WORDS:
            yield section, " ".join(group)
            group, group_words = [], 0


def _letter_share(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    return sum(c.isalpha() for c in chars) / max(1, len(chars))


def _is_alias(source: str) -> bool:
    """A man page that only points at another one (``.so man3/other.3``)."""
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.startswith('.\\"')]
    return len(lines) <= 2 and any(ln.startswith(".so ") for ln in lines)


def package_files(pkg: Package, root: Path) -> list[tuple[Path, str]]:
    """The files of ``pkg`` that become passages, in sorted path order, with their kind."""
    found: dict[Path, str] = {}
    for pattern, kind in pkg.include:
        for path in root.glob(pattern):
            rel = "/" + path.relative_to(root).as_posix()
            if path.is_symlink() or not path.is_file():
                continue
            if any(re.search(x, rel) for x in pkg.exclude):
                continue
            found.setdefault(path, kind)
    return sorted(found.items())


def file_blocks(path: Path, kind: str) -> list[Block]:
    text = _decode(_read(path))
    if kind == "man":
        if _is_alias(text):
            return []
        return list(man_blocks(render_man(text)))
    if kind == "info":
        return list(info_blocks(text))
    return list(html_blocks(text))


def build_passages(root: Path = CACHE) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every passage of every package, deduplicated, in a fixed order; and counts."""
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    counts: dict[str, Any] = {}
    for pkg in PACKAGES:
        pkg_root = root / "x" / pkg.name
        files = package_files(pkg, pkg_root)
        kept = dropped_dup = dropped_letters = 0
        for path, kind in files:
            source = path.relative_to(pkg_root).as_posix()
            for section, text in passages_of(file_blocks(path, kind)):
                if len(text.split()) < MIN_WORDS or _letter_share(text) < MIN_LETTER_SHARE:
                    dropped_letters += 1
                    continue
                key = text.casefold()
                if key in seen:
                    dropped_dup += 1
                    continue
                seen.add(key)
                rows.append(
                    {
                        "id": passage_id(len(rows)),
                        "text": text,
                        "metadata": {
                            "package": pkg.name,
                            "source": source,
                            "section": section[:200],
                            "kind": kind,
                        },
                    }
                )
                kept += 1
        counts[pkg.name] = {
            "files": len(files),
            "passages": kept,
            "duplicates_dropped": dropped_dup,
            "short_or_mostly_not_letters_dropped": dropped_letters,
        }
        log(f"  {pkg.name}: {len(files):,} files, {kept:,} passages")
    return rows, counts


def passage_id(i: int) -> str:
    """The id of passage (row) ``i``."""
    return f"d{i}"


def passage_index(pid: str) -> int:
    """The row of a passage id made by :func:`passage_id`."""
    return int(pid[1:])


def length_stats(texts: list[str]) -> dict[str, Any]:
    words = np.array([len(t.split()) for t in texts])
    chars = np.array([len(t) for t in texts])
    pct = (0, 5, 25, 50, 75, 95, 100)
    return {
        "words_percentiles": {f"p{p}": int(np.percentile(words, p)) for p in pct},
        "words_mean": round(float(words.mean()), 1),
        "chars_percentiles": {f"p{p}": int(np.percentile(chars, p)) for p in pct},
        "chars_mean": round(float(chars.mean()), 1),
        "total_words": int(words.sum()),
    }


def _write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _groff_version() -> str | None:
    if GROFF is None:
        return None
    done = subprocess.run([GROFF, "--version"], capture_output=True, text=True)
    return done.stdout.splitlines()[0] if done.stdout else None


# -- embedding ---------------------------------------------------------------------------


def embed_shards(folder: Path, texts: list[str], threads: int, shard: int) -> dict[str, Any]:
    """Embed ``texts`` shard by shard into ``folder/shards``; resumes where it stopped.

    The shards belong to one passages file (its sha256 and the shard size are kept in
    ``shards/meta.json``); shards of another are removed first.
    """
    shards = folder / "shards"
    meta = {"passages_sha256": _sha256(folder / "passages.jsonl"), "shard": shard}
    meta_path = shards / "meta.json"
    if shards.exists() and (not meta_path.exists() or json.loads(meta_path.read_text()) != meta):
        log(f"removing {shards}: they belong to another passages file")
        shutil.rmtree(shards)
    shards.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(meta))
    times_path = shards / "times.jsonl"

    import vectorhouse

    ef = vectorhouse.DefaultEmbeddingFunction(num_threads=threads)
    n_shards = -(-len(texts) // shard)
    done_before = sum((shards / f"{i:05d}.npy").exists() for i in range(n_shards))
    if done_before:
        log(f"resuming: {done_before}/{n_shards} shards already embedded")
    t_run = time.perf_counter()
    embedded_now = 0
    for i in range(n_shards):
        path = shards / f"{i:05d}.npy"
        if path.exists():
            continue
        batch = texts[i * shard : (i + 1) * shard]
        t = time.perf_counter()
        vectors = np.asarray(ef(batch), dtype=np.float32)
        seconds = time.perf_counter() - t
        assert vectors.shape == (len(batch), DIM), vectors.shape
        tmp = shards / f"{i:05d}.tmp.npy"
        np.save(tmp, vectors)
        tmp.replace(path)
        with open(times_path, "a") as f:
            f.write(json.dumps({"shard": i, "n": len(batch), "s": round(seconds, 3)}) + "\n")
        embedded_now += len(batch)
        rate = embedded_now / (time.perf_counter() - t_run)
        left = len(texts) - min(len(texts), (i + 1) * shard)
        log(
            f"  shard {i + 1}/{n_shards}: {len(batch)} texts in {seconds:.1f} s"
            f" ({len(batch) / seconds:.0f}/s); about {left / max(rate, 1e-9) / 60:.0f} min left"
        )
    times = (
        [json.loads(ln) for ln in times_path.read_text().splitlines()]
        if times_path.exists()
        else []
    )
    by_shard = {t["shard"]: t for t in times}
    embed_s = sum(t["s"] for t in by_shard.values())
    timed = sum(t["n"] for t in by_shard.values())
    out = folder / "embeddings.f32.npy"
    joined = np.lib.format.open_memmap(
        folder / "embeddings.tmp.npy", mode="w+", dtype=np.float32, shape=(len(texts), DIM)
    )
    for i in range(n_shards):
        joined[i * shard : (i + 1) * shard] = np.load(shards / f"{i:05d}.npy")
    joined.flush()
    del joined
    (folder / "embeddings.tmp.npy").replace(out)
    return {
        "model": ef.get_config(),
        "embedding_function": repr(ef),
        "threads": threads,
        "shard": shard,
        "embed_s": round(embed_s, 1),
        "texts_per_s": round(timed / embed_s, 1) if embed_s else None,
        "timed_texts": timed,
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
    }


# -- the whole build ---------------------------------------------------------------------


def corpus_dir(limit: int | None = None, root: Path = CACHE) -> Path:
    """The folder of the full corpus, or of its ``--limit`` version."""
    return root if limit is None else root / f"limit-{limit}"


def build(args: argparse.Namespace) -> None:
    root: Path = args.root
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    packages = fetch_packages(root)
    full_passages = root / "passages.jsonl"
    counts_path = root / "counts.json"
    if args.rebuild_passages or not full_passages.exists() or not counts_path.exists():
        log("building passages")
        rows, counts = build_passages(root)
        _write_jsonl(rows, full_passages)
        counts_path.write_text(json.dumps(counts, indent=1))
        log(f"wrote {len(rows):,} passages to {full_passages} in {time.perf_counter() - t0:.0f} s")
    counts = json.loads(counts_path.read_text())

    folder = corpus_dir(args.limit, root)
    folder.mkdir(parents=True, exist_ok=True)
    rows = _read_jsonl(full_passages)
    if args.limit is not None:
        full_n = len(rows)
        picked = np.unique(np.linspace(0, full_n - 1, min(args.limit, full_n)).round().astype(int))
        rows = [rows[i] for i in picked]
        _write_jsonl(rows, folder / "passages.jsonl")
    texts = [r["text"] for r in rows]
    stats = length_stats(texts)
    by_package: dict[str, int] = {}
    for r in rows:
        by_package[r["metadata"]["package"]] = by_package.get(r["metadata"]["package"], 0) + 1
    log(f"{len(rows):,} passages; words {stats['words_percentiles']}")
    if args.passages_only:
        return

    full_emb = root / "embeddings.f32.npy"
    if args.limit is not None and (root / "manifest.json").exists() and full_emb.exists():
        log(f"slicing {len(rows):,} rows out of the full embeddings")
        full_manifest = json.loads((root / "manifest.json").read_text())
        np.save(folder / "embeddings.f32.npy", np.load(full_emb, mmap_mode="r")[picked])
        embedding = {**full_manifest["embedding"], "sliced_from_full": True}
    else:
        embedding = embed_shards(folder, texts, args.threads, args.shard)
    manifest = {
        "format_version": FORMAT_VERSION,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "limit": args.limit,
        "n": len(rows),
        "dim": DIM,
        "packages": [
            {**p, **counts.get(p["package"], {}), "passages_here": by_package.get(p["package"], 0)}
            for p in packages
        ],
        "lengths": stats,
        "rules": {
            "min_words": MIN_WORDS,
            "merge_words": MERGE_WORDS,
            "max_words": MAX_WORDS,
            "split_words": SPLIT_WORDS,
            "min_letter_share": MIN_LETTER_SHARE,
            "man_renderer": _groff_version() or "strip_roff (no groff)",
        },
        "passages_sha256": _sha256(folder / "passages.jsonl"),
        "embedding": embedding,
        "python": sys.version.split()[0],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    log(f"wrote {folder / 'embeddings.f32.npy'} and manifest.json")
    e = manifest["embedding"]
    log(f"embedding: {e['embed_s']} s, {e['texts_per_s']} texts/s, {e['threads']} threads")


def load_corpus(
    limit: int | None = None, root: Path = CACHE, mmap: bool = False
) -> tuple[list[str], list[dict[str, Any]], np.ndarray]:
    """Texts, metadatas and embeddings (N x 384 float32) of a built corpus.

    Row i of each is passage ``passage_id(i)`` of the chosen folder (for a ``limit``
    version: the i-th line of its own passages.jsonl). Fails when the corpus was not
    built: run ``benchmarks/corpus.py`` (with the same ``--limit``) first.
    """
    folder = corpus_dir(limit, root)
    if not (folder / "manifest.json").exists():
        flag = f" --limit {limit}" if limit is not None else ""
        raise FileNotFoundError(
            f"no corpus in {folder}; build it with: .venv/bin/python benchmarks/corpus.py{flag}"
        )
    rows = _read_jsonl(folder / "passages.jsonl")
    embeddings = np.load(folder / "embeddings.f32.npy", mmap_mode="r" if mmap else None)
    if embeddings.shape != (len(rows), DIM):
        raise ValueError(f"{folder}: {len(rows)} passages but embeddings {embeddings.shape}")
    return [r["text"] for r in rows], [r["metadata"] for r in rows], embeddings


def load_manifest(limit: int | None = None, root: Path = CACHE) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((corpus_dir(limit, root) / "manifest.json").read_text())
    return manifest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, help="build limit-N/: N passages spread over the corpus")
    p.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default 2)")
    p.add_argument("--shard", type=int, default=2_000, help="passages per saved shard")
    p.add_argument("--passages-only", action="store_true", help="stop before embedding")
    p.add_argument("--rebuild-passages", action="store_true", help="redo passages.jsonl")
    p.add_argument("--info", action="store_true", help="print the manifest and stop")
    p.add_argument("--root", type=Path, default=CACHE, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.info:
        print(json.dumps(load_manifest(args.limit, args.root), indent=1))
        return
    build(args)


if __name__ == "__main__":
    main()

"""Fixtures written by the ingestion and CLI tests: small files of every type."""

from __future__ import annotations

from pathlib import Path


def tiny_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A valid PDF with one Helvetica text line per string, page by page."""
    n = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    if title:
        objects.append(f"<< /Title ({title}) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    info = f" /Info {len(objects)} 0 R" if title else ""
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


LOGGING_MD = """\
# Operations

How the services are run.

## Log rotation

Log rotation is configured with logrotate: files rotate daily
and are kept for fourteen days, compressed with gzip.

## Backups

Backups run nightly to the object store.
"""

DEPLOY_RST = """\
=========
Deploying
=========

Deploys go through the pipeline.

Rollback
--------

Run the rollback job to return to the previous release.
"""

INDEX_HTML = """\
<html><head><title>Team handbook</title><style>p { color: red }</style></head>
<body>
<h1>Handbook</h1>
<p>Welcome to the team &amp; its handbook.</p>
<script>alert("not text")</script>
<h2>Holidays</h2>
<ul><li>Ask two weeks ahead.</li><li>Use the holiday calendar.</li></ul>
</body></html>
"""

TOOL_PY = '''\
"""Command line tool."""

import sys


def rotate_logs(path):
    """Rotate the log files under path."""
    return path


class Backup:
    """Nightly backups."""

    def run(self):
        return True
'''


def write_tree(root: Path) -> dict[str, Path]:
    """A small folder with one file of each type; returns them by name."""
    files = {
        "docs/ops.md": LOGGING_MD,
        "docs/deploy.rst": DEPLOY_RST,
        "docs/index.html": INDEX_HTML,
        "src/tool.py": TOOL_PY,
        "notes.txt": "Remember the milk.\n\nAnd the eggs.\n",
    }
    out = {}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out[name] = path
    pdf = root / "docs/guide.pdf"
    pages = [["Incident response", "Page the on-call engineer."], ["Write a report."]]
    pdf.write_bytes(tiny_pdf(pages, "Guide"))
    out["docs/guide.pdf"] = pdf
    return out

"""Readers, the chunker and file selection, on small files written by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_fixtures import DEPLOY_RST, INDEX_HTML, LOGGING_MD, TOOL_PY, tiny_pdf, write_tree

from vectorhouse.errors import InvalidArgumentError
from vectorhouse.ingest import FileCorpus, chunk_document, read_document
from vectorhouse.ingest.chunker import default_model_tokens
from vectorhouse.ingest.document import Block, Document
from vectorhouse.ingest.patterns import Rules


def spans(doc: Document) -> list[tuple[str, int, int, int]]:
    return [(b.text, b.start, b.end, b.heading) for b in doc.blocks]


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


# -- readers ------------------------------------------------------------------------


def test_markdown_headings_start_sections_and_keep_line_numbers() -> None:
    doc = read_document(LOGGING_MD.encode(), "ops.md")
    assert doc.title == "Operations"
    assert spans(doc) == [
        ("Operations", 1, 1, 1),
        ("How the services are run.", 3, 3, 0),
        ("Log rotation", 5, 5, 2),
        (
            "Log rotation is configured with logrotate: files rotate daily\n"
            "and are kept for fourteen days, compressed with gzip.",
            7,
            8,
            0,
        ),
        ("Backups", 10, 10, 2),
        ("Backups run nightly to the object store.", 12, 12, 0),
    ]


def test_markdown_front_matter_title_and_fenced_code_kept_whole() -> None:
    text = "---\ntitle: 'Runbook'\n---\n\n```sh\nmake deploy\n\nmake verify\n```\n"
    doc = read_document(text.encode(), "run.md")
    assert doc.title == "Runbook"
    assert spans(doc) == [("```sh\nmake deploy\n\nmake verify\n```", 5, 9, 0)]


def test_markdown_setext_headings_are_headings_but_list_items_are_not() -> None:
    doc = read_document(b"Intro\n=====\n\n- item\n---\n\nSub\n---\ntext\n", "s.md")
    assert [(b.text, b.heading) for b in doc.blocks] == [
        ("Intro", 1),
        ("- item\n---", 0),
        ("Sub", 2),
        ("text", 0),
    ]


def test_rst_titles_get_levels_in_order_of_first_use() -> None:
    doc = read_document(DEPLOY_RST.encode(), "deploy.rst")
    assert doc.title == "Deploying"
    assert spans(doc) == [
        ("Deploying", 1, 3, 1),
        ("Deploys go through the pipeline.", 5, 5, 0),
        ("Rollback", 7, 8, 2),
        ("Run the rollback job to return to the previous release.", 10, 10, 0),
    ]


def test_html_keeps_visible_text_only_with_headings_and_lines() -> None:
    doc = read_document(INDEX_HTML.encode(), "index.html")
    assert doc.title == "Team handbook"
    assert spans(doc) == [
        ("Handbook", 3, 3, 1),
        ("Welcome to the team & its handbook.", 4, 4, 0),
        ("Holidays", 6, 6, 2),
        ("Ask two weeks ahead.", 7, 7, 0),
        ("Use the holiday calendar.", 7, 7, 0),
    ]


def test_code_definitions_start_sections_nested_by_indent() -> None:
    doc = read_document(TOOL_PY.encode(), "tool.py")
    assert doc.title == "tool.py"
    assert [(b.start, b.end, b.heading, b.title) for b in doc.blocks] == [
        (1, 1, 0, ""),
        (3, 3, 0, ""),
        (6, 8, 1, "def rotate_logs(path)"),
        (11, 12, 1, "class Backup"),
        (14, 15, 2, "def run(self)"),
    ]


def test_pdf_text_per_page_with_page_spans_and_title() -> None:
    data = tiny_pdf([["Incident response", "Page the on-call engineer."], ["Report."]], "Guide")
    doc = read_document(data, "guide.pdf")
    assert doc.title == "Guide"
    assert doc.unit == "page"
    assert spans(doc) == [
        ("Incident response\nPage the on-call engineer.", 1, 1, 0),
        ("Report.", 2, 2, 0),
    ]


def test_text_reader_splits_paragraphs_and_handles_bom_and_crlf() -> None:
    doc = read_document(b"\xef\xbb\xbfone\r\ntwo\r\n\r\nthree", "n.txt")
    assert spans(doc) == [("one\ntwo", 1, 2, 0), ("three", 4, 4, 0)]


def test_unreadable_inputs_raise_invalid_argument() -> None:
    with pytest.raises(InvalidArgumentError, match="looks binary"):
        read_document(b"\x00\x01\x02", "x.bin")
    with pytest.raises(InvalidArgumentError, match="cannot read PDF"):
        read_document(b"%PDF-1.4 truncated", "bad.pdf")


# -- chunker ------------------------------------------------------------------------


def test_chunks_never_cross_sections_and_carry_the_heading_path() -> None:
    doc = read_document(LOGGING_MD.encode(), "ops.md")
    chunks = chunk_document(doc, max_tokens=200, count=default_model_tokens)
    assert [(c.section, c.start, c.end) for c in chunks] == [
        ("Operations", 1, 3),
        ("Operations > Log rotation", 5, 8),
        ("Operations > Backups", 10, 12),
    ]
    assert chunks[1].text.startswith("Log rotation\n\nLog rotation is configured")


def test_long_sections_are_cut_under_the_limit_with_line_overlap() -> None:
    lines = [f"line {i} has five words" for i in range(1, 21)]
    doc = Document("d", [Block("\n".join(lines), 1, 20)])
    chunks = chunk_document(doc, max_tokens=25, overlap=10, count=words)
    assert all(sum(words([c.text])) <= 25 for c in chunks)
    starts = [(c.start, c.end) for c in chunks]
    assert starts == [(1, 5), (4, 8), (7, 11), (10, 14), (13, 17), (16, 20)]
    covered = {n for c in chunks for n in range(c.start, c.end + 1)}
    assert covered == set(range(1, 21))


def test_a_line_longer_than_the_limit_is_cut_at_spaces() -> None:
    doc = Document("d", [Block(" ".join(f"w{i}" for i in range(50)), 7, 7)])
    chunks = chunk_document(doc, max_tokens=20, overlap=0, count=words)
    assert [len(c.text.split()) for c in chunks] == [20, 20, 10]
    assert " ".join(c.text for c in chunks).split() == [f"w{i}" for i in range(50)]
    assert {(c.start, c.end) for c in chunks} == {(7, 7)}


def test_headings_directly_followed_by_headings_merge_into_the_first_chunk() -> None:
    doc = read_document(b"# Guide\n\n## Install\n\nRun pip.\n", "g.md")
    (chunk,) = chunk_document(doc, max_tokens=50, count=words)
    assert (chunk.text, chunk.section, chunk.start, chunk.end) == (
        "Guide\n\nInstall\n\nRun pip.",
        "Guide > Install",
        1,
        5,
    )


def test_chunks_respect_the_default_model_token_limit() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "lorem ipsum dolor sit amet " * 30 for i in range(6))
    doc = read_document(text.encode(), "long.txt")
    chunks = chunk_document(doc, max_tokens=120, overlap=20, count=default_model_tokens)
    assert len(chunks) > 6
    assert max(default_model_tokens([c.text for c in chunks])) <= 120


# -- patterns and file selection ----------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "expected"),
    [
        ("*.log", "a/b/c.log", False, True),
        ("/top.txt", "top.txt", False, True),
        ("/top.txt", "sub/top.txt", False, None),
        ("build/", "build", True, True),
        ("build/", "build", False, None),
        ("docs/**/*.md", "docs/a/b/c.md", False, True),
        ("docs/**/*.md", "docs/c.md", False, True),
        ("**/cache", "x/y/cache", True, True),
        ("a/**", "a/b/c", False, True),
        ("file[0-9].txt", "file7.txt", False, True),
        ("\\#hash", "#hash", False, True),
    ],
)
def test_gitignore_pattern_semantics(
    pattern: str, path: str, is_dir: bool, expected: bool | None
) -> None:
    assert Rules.parse([pattern]).ignored(path, is_dir=is_dir) is expected


def test_negation_re_includes_and_the_last_rule_wins() -> None:
    rules = Rules.parse(["*.log", "!keep.log", "# comment", ""])
    assert rules.ignored("x.log", is_dir=False) is True
    assert rules.ignored("keep.log", is_dir=False) is False


def keys(corpus: FileCorpus) -> list[str]:
    return [s.key for s in corpus.sources()]


def test_folder_walk_takes_known_types_in_name_order(tmp_path: Path) -> None:
    write_tree(tmp_path)
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / ".hidden.md").write_text("secret")
    assert keys(FileCorpus([tmp_path], base=tmp_path)) == [
        "docs/deploy.rst",
        "docs/guide.pdf",
        "docs/index.html",
        "docs/ops.md",
        "notes.txt",
        "src/tool.py",
    ]
    assert ".hidden.md" in keys(FileCorpus([tmp_path], base=tmp_path, hidden=True))


def test_gitignore_files_are_obeyed_in_folders_and_above_the_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_tree(repo / "project")
    (repo / ".git").mkdir()
    (repo / ".gitignore").write_text("*.rst\n")
    (repo / "project" / "docs" / ".gitignore").write_text("*.html\n!keep.html\n")
    (repo / "project" / "docs" / "keep.html").write_text("<p>kept</p>")
    root = repo / "project"
    assert keys(FileCorpus([root], base=root)) == [
        "docs/guide.pdf",
        "docs/keep.html",
        "docs/ops.md",
        "notes.txt",
        "src/tool.py",
    ]
    assert "docs/deploy.rst" in keys(FileCorpus([root], base=root, gitignore=False))


def test_include_and_exclude_globs(tmp_path: Path) -> None:
    write_tree(tmp_path)
    (tmp_path / "data.csv").write_text("a,b\n")
    corpus = FileCorpus([tmp_path], base=tmp_path, include=["*.md", "*.csv"])
    assert keys(corpus) == ["data.csv", "docs/ops.md"]
    corpus = FileCorpus([tmp_path], base=tmp_path, exclude=["docs", "*.txt"])
    assert keys(corpus) == ["src/tool.py"]


def test_source_names_are_relative_to_base_or_absolute_outside_it(tmp_path: Path) -> None:
    files = write_tree(tmp_path / "work")
    corpus = FileCorpus([files["notes.txt"], tmp_path / "work" / "src"], base=tmp_path)
    assert keys(corpus) == ["work/notes.txt", "work/src/tool.py"]
    outside = FileCorpus([files["notes.txt"]], base=tmp_path / "elsewhere")
    assert keys(outside) == [files["notes.txt"].as_posix()]


def test_files_over_the_size_limit_are_left_out_and_listed(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * 2000)
    (tmp_path / "small.txt").write_text("x")
    corpus = FileCorpus([tmp_path], base=tmp_path, max_bytes=1000)
    assert keys(corpus) == ["small.txt"]
    assert corpus.too_large == ["big.txt"]


def test_missing_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="no such file or folder"):
        FileCorpus([tmp_path / "nope"])

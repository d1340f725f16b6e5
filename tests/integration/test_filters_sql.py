"""The SQL translation selects exactly the records the Python predicate accepts.

A real SQLite database is built from the migration file; seeded random records
and seeded random filters are compared between ``to_sql`` and ``evaluate``.
"""

from __future__ import annotations

import importlib.resources
import json
import random
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from vectorhouse.filters import (
    And,
    Node,
    evaluate,
    parse_where,
    parse_where_document,
    register_functions,
    to_sql,
)

COLLECTION = "c1"
OTHER_COLLECTION = "c2"
Record = tuple[str, dict[str, Any] | None, str | None]

KEYS = ["a", "b", "c", "tags", "k"]
STRINGS = ["red", "green", "Red", "", "Ünï", 'qu"ote', "it's", "日本"]
NUMBERS: list[int | float] = [-3, -1, 0, 1, 2, 3, -1.5, 0.0, 1.0, 2.5, 3.0]
WORDS = [
    "jazz", "Jazz", "blue", "note", "a", "ab", 'say "hi"', "héllo", "naïve", "日本語",
    "x%_y", "it's", "*star*", "NEAR", "AND", "(paren)", "a-b",
]  # fmt: skip
WHERE_OPERATORS = ["bare", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"]
WHERE_OPERATORS += ["$contains", "$not_contains"]
PATTERNS = ["^j", "z{2}", "[A-Z]", "é", "\\d", "^$", "a.b", "(?i)JAZZ", "\\(", '"']


def migration_sql() -> str:
    resource = importlib.resources.files("vectorhouse.storage") / "migrations" / "0001_initial.sql"
    return resource.read_text(encoding="utf-8")


def metadata_rows(rowid: int, metadata: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    for key, value in metadata.items():
        values, is_list = (value, 1) if isinstance(value, list) else ([value], 0)
        for item in values:
            if isinstance(item, bool):
                yield (rowid, key, None, None, int(item), is_list)
            elif isinstance(item, str):
                yield (rowid, key, item, None, None, is_list)
            else:
                yield (rowid, key, None, item, None, is_list)


def create_database(records: list[Record], other: list[Record] | None = None) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.executescript(migration_sql())
    register_functions(conn)
    for seq, collection in enumerate([COLLECTION, OTHER_COLLECTION]):
        conn.execute(
            "INSERT INTO collections (id, name, configuration, created_seq, last_seq)"
            " VALUES (?, ?, '{}', ?, ?)",
            (collection, f"name-{collection}", seq, seq),
        )
    for collection, batch in [(COLLECTION, records), (OTHER_COLLECTION, other or [])]:
        for record_id, metadata, document in batch:
            cursor = conn.execute(
                "INSERT INTO records (collection_id, id, document, metadata, embedding, seq,"
                " vector_seq) VALUES (?, ?, ?, ?, ?, 1, 1)",
                (
                    collection,
                    record_id,
                    document,
                    None if metadata is None else json.dumps(metadata),
                    b"\0\0\0\0",
                ),
            )
            assert cursor.lastrowid is not None
            conn.executemany(
                "INSERT INTO record_metadata (record, key, str_value, num_value, bool_value,"
                " is_list) VALUES (?, ?, ?, ?, ?, ?)",
                list(metadata_rows(cursor.lastrowid, metadata or {})),
            )
    return conn


def combine(where: Any, where_document: Any) -> Node | None:
    nodes = [node for node in (parse_where(where), parse_where_document(where_document)) if node]
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def node_of(where: Any, where_document: Any) -> Node:
    node = combine(where, where_document)
    assert node is not None
    return node


def select_sql(conn: sqlite3.Connection, node: Node | None) -> set[str]:
    query = "SELECT r.id FROM records r WHERE r.collection_id = ?"
    params: list[Any] = [COLLECTION]
    if node is not None:
        expression, extra = to_sql(node)
        query += f" AND ({expression})"
        params += extra
    return {row[0] for row in conn.execute(query, params)}


def select_python(records: list[Record], node: Node | None) -> set[str]:
    return {rid for rid, metadata, document in records if evaluate(node, metadata, document)}


# --- seeded random records and filters ------------------------------------------------------


def random_scalar(rng: random.Random, kind: str | None = None) -> Any:
    kind = kind or rng.choice(["str", "number", "number", "bool"])
    if kind == "str":
        return rng.choice(STRINGS)
    if kind == "bool":
        return rng.random() < 0.5
    return rng.choice(NUMBERS)


def random_metadata(rng: random.Random) -> dict[str, Any] | None:
    if rng.random() < 0.1:
        return None
    metadata: dict[str, Any] = {}
    for key in KEYS:
        roll = rng.random()
        if roll < 0.3:
            continue
        if roll < 0.5:
            kind = rng.choice(["str", "number", "bool"])
            metadata[key] = [random_scalar(rng, kind) for _ in range(rng.randint(1, 3))]
        else:
            metadata[key] = random_scalar(rng)
    return metadata


def random_document(rng: random.Random) -> str | None:
    if rng.random() < 0.15:
        return None
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 5)))


def random_records(rng: random.Random, count: int, prefix: str) -> list[Record]:
    return [(f"{prefix}{i}", random_metadata(rng), random_document(rng)) for i in range(count)]


def random_where(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth < 3 and rng.random() < 0.3:
        op = rng.choice(["$and", "$or"])
        return {op: [random_where(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    key = rng.choice(KEYS)
    op = rng.choice(WHERE_OPERATORS)
    if op == "bare":
        return {key: random_scalar(rng)}
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return {key: {op: random_scalar(rng, "number")}}
    if op in ("$in", "$nin"):
        kind = rng.choice(["str", "number", "bool"])
        return {key: {op: [random_scalar(rng, kind) for _ in range(rng.randint(1, 4))]}}
    return {key: {op: random_scalar(rng)}}


def random_needle(rng: random.Random) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(2))
    length = rng.randint(1, 6)
    start = rng.randrange(max(1, len(text) - length))
    return text[start : start + length] or "a"


def random_where_document(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth < 2 and rng.random() < 0.25:
        op = rng.choice(["$and", "$or"])
        return {op: [random_where_document(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    op = rng.choice(["$contains", "$contains", "$not_contains", "$regex", "$not_regex"])
    if op.endswith("regex"):
        return {op: rng.choice(PATTERNS)}
    return {op: random_needle(rng)}


@pytest.fixture(scope="module")
def random_db() -> Iterator[tuple[sqlite3.Connection, list[Record]]]:
    rng = random.Random(20240601)
    records = random_records(rng, 400, "r")
    conn = create_database(records, random_records(rng, 50, "o"))
    yield conn, records
    conn.close()


@pytest.mark.parametrize("seed", range(8))
def test_sql_selects_what_evaluate_accepts_for_random_where(
    random_db: tuple[sqlite3.Connection, list[Record]], seed: int
) -> None:
    conn, records = random_db
    rng = random.Random(seed)
    for _ in range(100):
        where = random_where(rng)
        node = combine(where, None)
        assert select_sql(conn, node) == select_python(records, node), where


@pytest.mark.parametrize("seed", range(4))
def test_sql_selects_what_evaluate_accepts_for_random_where_document(
    random_db: tuple[sqlite3.Connection, list[Record]], seed: int
) -> None:
    conn, records = random_db
    rng = random.Random(1000 + seed)
    for _ in range(100):
        where_document = random_where_document(rng)
        node = combine(None, where_document)
        assert select_sql(conn, node) == select_python(records, node), where_document


def test_sql_selects_what_evaluate_accepts_for_random_combined_filters(
    random_db: tuple[sqlite3.Connection, list[Record]],
) -> None:
    conn, records = random_db
    rng = random.Random(7)
    nonempty = 0
    for _ in range(200):
        where, where_document = random_where(rng), random_where_document(rng)
        node = combine(where, where_document)
        expected = select_python(records, node)
        nonempty += bool(expected)
        assert select_sql(conn, node) == expected, (where, where_document)
    assert nonempty > 20  # the generator is not degenerate


def test_no_filter_selects_the_whole_collection(
    random_db: tuple[sqlite3.Connection, list[Record]],
) -> None:
    conn, records = random_db
    assert select_sql(conn, None) == {rid for rid, _, _ in records}


# --- hand-written cases -------------------------------------------------------------------------

HAND_RECORDS: list[Record] = [
    ("int1", {"k": 1, "s": "x"}, "Hello World"),
    ("float1", {"k": 1.0}, "hello world"),
    ("true", {"k": True}, None),
    ("false", {"k": False}, ""),
    ("zero", {"k": 0}, 'say "hi" to them'),
    ("str1", {"k": "1"}, "ab"),
    ("big", {"k": 2**53 + 1}, "naïve café 日本語"),
    ("tags", {"tags": ["p", "q"], "nums": [1.0, 2.0], "flags": [True]}, "a*b (c) NEAR"),
    ("nometa", None, None),
    ("other", {"other": 2}, "it's"),
]


@pytest.fixture(scope="module")
def hand_db() -> Iterator[sqlite3.Connection]:
    conn = create_database(HAND_RECORDS, [("o1", {"k": 1}, "Hello World")])
    yield conn
    conn.close()


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"k": 1}, {"int1", "float1"}),
        ({"k": 1.0}, {"int1", "float1"}),
        ({"k": True}, {"true"}),
        ({"k": False}, {"false"}),
        ({"k": 0}, {"zero"}),
        ({"k": "1"}, {"str1"}),
        ({"k": {"$in": [0, 1]}}, {"zero", "int1", "float1"}),
        ({"k": {"$in": [True]}}, {"true"}),
        ({"k": {"$gte": 1}}, {"int1", "float1", "big"}),
        ({"k": {"$gt": 0.5}}, {"int1", "float1", "big"}),
        ({"k": {"$lt": 1}}, {"zero"}),
        ({"k": 2**53 + 1}, {"big"}),
        ({"k": float(2**53)}, set()),
        ({"k": {"$gt": float(2**53)}}, {"big"}),
        ({"k": {"$ne": 1}}, {"true", "false", "zero", "str1", "big", "tags", "nometa", "other"}),
        ({"k": {"$nin": [1, 0]}}, {"true", "false", "str1", "big", "tags", "nometa", "other"}),
        ({"tags": "p"}, set()),
        ({"tags": {"$contains": "p"}}, {"tags"}),
        ({"nums": {"$contains": 2}}, {"tags"}),
        ({"flags": {"$contains": 1}}, set()),
        ({"flags": {"$contains": True}}, {"tags"}),
        ({"k": {"$contains": 1}}, set()),
        ({"tags": {"$ne": "p"}}, {rid for rid, _, _ in HAND_RECORDS}),
        ({"tags": {"$not_contains": "p"}}, {rid for rid, _, _ in HAND_RECORDS} - {"tags"}),
        ({"k": 1, "s": "x"}, {"int1"}),
        ({"$or": [{"k": True}, {"other": {"$gte": 2}}]}, {"true", "other"}),
    ],
)
def test_hand_written_where_cases(
    hand_db: sqlite3.Connection, where: dict[str, Any], expected: set[str]
) -> None:
    node = combine(where, None)
    assert select_sql(hand_db, node) == expected
    assert select_python(HAND_RECORDS, node) == expected


@pytest.mark.parametrize(
    ("where_document", "expected"),
    [
        ({"$contains": "World"}, {"int1"}),
        ({"$contains": "world"}, {"float1"}),
        ({"$contains": "o"}, {"int1", "float1", "zero"}),
        ({"$contains": "ab"}, {"str1"}),
        ({"$contains": '"hi"'}, {"zero"}),
        ({"$contains": '"'}, {"zero"}),
        ({"$contains": "'s"}, {"other"}),
        ({"$contains": "it's"}, {"other"}),
        ({"$contains": "ï"}, {"big"}),
        ({"$contains": "日本語"}, {"big"}),
        ({"$contains": "afé"}, {"big"}),
        ({"$contains": "a*b"}, {"tags"}),
        ({"$contains": "(c) NEAR"}, {"tags"}),
        ({"$contains": "NEAR"}, {"tags"}),
        ({"$not_contains": "o"}, {"true", "false", "str1", "big", "tags", "nometa", "other"}),
        ({"$regex": "^[Hh]ello"}, {"int1", "float1"}),
        ({"$regex": "^$"}, {"false"}),
        ({"$not_regex": "o"}, {"true", "false", "str1", "big", "tags", "nometa", "other"}),
        ({"$and": [{"$contains": "ello"}, {"$not_contains": "W"}]}, {"float1"}),
    ],
)
def test_hand_written_where_document_cases(
    hand_db: sqlite3.Connection, where_document: dict[str, Any], expected: set[str]
) -> None:
    node = combine(None, where_document)
    assert select_sql(hand_db, node) == expected
    assert select_python(HAND_RECORDS, node) == expected


def test_long_needles_use_the_trigram_index_and_short_ones_do_not() -> None:
    long_sql, long_params = to_sql(node_of(None, {"$contains": 'say "hi"'}))
    assert "documents_fts MATCH ?" in long_sql
    assert long_params == ['"say ""hi"""', 'say "hi"']
    short_sql, short_params = to_sql(node_of(None, {"$contains": "hi"}))
    assert "documents_fts" not in short_sql
    assert short_params == ["hi"]


def test_metadata_filters_are_served_by_the_metadata_indexes(hand_db: sqlite3.Connection) -> None:
    for where, index in [
        ({"k": {"$gt": 1}}, "record_metadata_key_num"),
        ({"k": "x"}, "record_metadata_key_str"),
        ({"k": True}, "record_metadata_key_bool"),
    ]:
        expression, params = to_sql(node_of(where, None))
        plan = hand_db.execute(
            "EXPLAIN QUERY PLAN SELECT r.rowid FROM records r"
            f" WHERE r.collection_id = ? AND ({expression})",
            [COLLECTION, *params],
        ).fetchall()
        assert any(index in row[-1] for row in plan), (where, plan)


def test_regexp_function_treats_null_as_no_match(hand_db: sqlite3.Connection) -> None:
    assert hand_db.execute("SELECT regexp('a', NULL), regexp('a', 'cat')").fetchone() == (0, 1)


def test_filters_see_document_updates_through_the_fts_triggers() -> None:
    conn = create_database([("u", None, "old text here")])
    node = combine(None, {"$contains": "new text"})
    assert select_sql(conn, node) == set()
    conn.execute("UPDATE records SET document = 'brand new text' WHERE id = 'u'")
    assert select_sql(conn, node) == {"u"}
    conn.close()

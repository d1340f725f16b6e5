"""The filter language: ``where`` / ``where_document`` dicts to an AST, to SQL, to a predicate."""

from vectorhouse.filters.evaluate import evaluate
from vectorhouse.filters.parse import (
    And,
    DocCompare,
    MetaCompare,
    Node,
    Or,
    parse_where,
    parse_where_document,
)
from vectorhouse.filters.sql import register_functions, to_sql

__all__ = [
    "And",
    "DocCompare",
    "MetaCompare",
    "Node",
    "Or",
    "evaluate",
    "parse_where",
    "parse_where_document",
    "register_functions",
    "to_sql",
]

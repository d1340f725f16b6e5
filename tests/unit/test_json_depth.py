"""JSON nesting is bounded at decode time, in the server and in HttpClient."""

from __future__ import annotations

import json

import pytest

from vectorhouse.api.http_wire import MAX_JSON_DEPTH, dumps, json_too_deep, loads


@pytest.mark.parametrize("opening", [b"[", b'{"a":'])
def test_a_body_nested_100k_deep_is_a_decode_error_not_a_recursion_error(opening: bytes) -> None:
    closing = b"]" if opening == b"[" else b"}"
    raw = opening * 100_000 + (b"" if opening == b"[" else b"1") + closing * 100_000
    with pytest.raises(json.JSONDecodeError, match="nested more than 256 levels"):
        loads(raw)


def test_nesting_up_to_the_limit_decodes() -> None:
    raw = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert json_too_deep(raw) is False
    assert isinstance(loads(raw), list)
    assert json_too_deep(b"[" + raw + b"]") is True


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps(["[" * 1000, "]" * 1000, '\\"[[[', {"k": "{{{{"}]).encode()
    assert json_too_deep(text, limit=2) is False
    assert loads(text)[0] == "[" * 1000


def test_a_lone_surrogate_is_sent_as_an_escape() -> None:
    assert dumps({"k": "\ud800"}) == b'{"k":"\\ud800"}'

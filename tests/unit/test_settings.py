"""Settings refuse values of the wrong kind when they are made, not in a later call."""

from __future__ import annotations

import math

import pytest

import vectorhouse


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("index_tail_max_bytes", "64M"),
        ("index_tail_max_bytes", -1),
        ("index_tail_max_bytes", 2**64),
        ("index_save_every", 1.5),
        ("index_save_every", True),
        ("exact_search_max_candidates", None),
        ("busy_timeout_s", math.nan),
        ("busy_timeout_s", math.inf),
        ("busy_timeout_s", -0.5),
        ("index_background", 1),
        ("strict_add_ids", "yes"),
    ],
)
def test_a_setting_of_the_wrong_kind_is_an_invalid_argument(name: str, value: object) -> None:
    with pytest.raises(vectorhouse.errors.InvalidArgumentError, match=f"setting '{name}'"):
        vectorhouse.Settings(**{name: value})


def test_settings_of_the_right_kind_are_kept() -> None:
    settings = vectorhouse.Settings(
        index_tail_max_bytes=0, busy_timeout_s=2, index_background=False, index_save_every=5
    )
    assert (settings.index_tail_max_bytes, settings.busy_timeout_s) == (0, 2)
    assert settings.with_changes(allow_reset=True).index_save_every == 5
    with pytest.raises(vectorhouse.errors.InvalidArgumentError):
        settings.with_changes(index_save_every=-5)

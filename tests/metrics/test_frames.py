"""Rows of a kept table by kept positions are the boolean filter's rows (same order, types)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from critmin.metrics.frames import kept_rows

ECONOMIES = ["JPN", "IND", "CHN", "EU27", "USA"]


@given(rows=st.lists(st.tuples(st.sampled_from(ECONOMIES), st.integers(2018, 2024),
                               st.floats(allow_nan=True)), max_size=40),
       asked=st.dictionaries(st.sampled_from(["economy", "year"]),
                             st.lists(st.sampled_from(ECONOMIES) | st.integers(2015, 2026),
                                      max_size=4)))
def test_kept_rows_are_the_filters_rows(rows: list[tuple[Any, ...]],
                                        asked: dict[str, list[Any]]) -> None:
    table = pd.DataFrame(rows, columns=["economy", "year", "score"]).astype(
        {"economy": "string", "year": "int64"})
    keep = pd.Series(True, index=table.index)
    for col, vals in asked.items():
        keep &= table[col].isin(vals)
    want = table[keep].reset_index(drop=True)
    for _ in range(2):  # the second call reads the kept positions
        pd.testing.assert_frame_equal(kept_rows(table, asked), want)

"""Rows of a kept table by kept positions are the boolean filter's rows (same order, types)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from critmin.metrics import frames
from critmin.metrics.frames import kept_rows

ECONOMIES = ["JPN", "IND", "CHN", "EU27", "USA"]
MATERIALS = ["cobalt", "lithium", "nickel"]


@pytest.mark.parametrize("combinations", [frames.MAX_COMBINATIONS, 1])
@given(rows=st.lists(st.tuples(st.sampled_from(ECONOMIES) | st.none(),
                               st.sampled_from(MATERIALS), st.integers(2018, 2024),
                               st.floats(allow_nan=True)), max_size=40),
       asked=st.dictionaries(st.sampled_from(["economy", "material", "year"]),
                             st.lists(st.sampled_from(ECONOMIES + MATERIALS)
                                      | st.integers(2015, 2026), max_size=4)))
def test_kept_rows_are_the_filters_rows(combinations: int, rows: list[tuple[Any, ...]],
                                        asked: dict[str, list[Any]]) -> None:
    """Both ways (one lookup per combination of values, or per value and column intersected)
    give the filter's rows; rows with a missing value are never kept."""
    table = pd.DataFrame(rows, columns=["economy", "material", "year", "score"]).astype(
        {"economy": "string", "material": "string", "year": "int64"})
    keep = pd.Series(True, index=table.index)
    for col, vals in asked.items():
        keep &= table[col].isin(vals).fillna(False).astype(bool)
    want = table[keep].reset_index(drop=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(frames, "MAX_COMBINATIONS", combinations)
        for _ in range(2):  # the second call reads the kept positions
            pd.testing.assert_frame_equal(kept_rows(table, asked), want)

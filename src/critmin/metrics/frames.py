"""Rows of a kept result table, selected without scanning it.

A server keeps some whole-atlas results (GeoPolRisk of every economy, material and year; N-1 of
every mineral and stage of a year) and answers each question by filtering them. A pandas filter
scans every row of every column asked about and copies what is left (milliseconds for a few
rows); :func:`kept_rows` looks up the rows of each asked value in positions kept with the table
and takes them (the same rows, order and types as the boolean filter).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["kept_rows", "memo"]

_MEMOS: dict[int, dict[Any, Any]] = {}


def memo(table: pd.DataFrame) -> dict[Any, Any]:
    """A dict kept as long as ``table`` lives (the table must not be changed meanwhile)."""
    key = id(table)
    kept = _MEMOS.get(key)
    if kept is None:
        kept = _MEMOS[key] = {}
        weakref.finalize(table, _MEMOS.pop, key, None)
    return kept


def kept_rows(table: pd.DataFrame, asked: Mapping[str, Iterable[Any]]) -> pd.DataFrame:
    """``table[table[c].isin(asked[c]) & ...].reset_index(drop=True)`` for every column ``c``
    of ``asked`` (all rows when ``asked`` is empty), from the positions of each value of each
    column, computed once per table and column (:func:`memo`). Missing values are never
    asked for (the callers' values are checked ids, years and stages)."""
    kept = memo(table)
    out: np.ndarray | None = None
    for col, vals in asked.items():
        by_value = kept.get(("positions", col))
        if by_value is None:
            by_value = kept[("positions", col)] = table.groupby(col, sort=False).indices
        parts = [by_value[v] for v in dict.fromkeys(vals) if v in by_value]
        pos = np.sort(np.concatenate(parts)) if parts else np.arange(0)
        out = pos if out is None else np.intersect1d(out, pos, assume_unique=True)
    rows = table if out is None else table.iloc[out]
    return rows.reset_index(drop=True)

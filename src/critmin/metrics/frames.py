"""Rows of a kept result table, selected without scanning it.

A server keeps some whole-atlas results (GeoPolRisk of every economy, material and year; N-1 of
every mineral and stage of a year) and answers each question by filtering them. A pandas filter
scans every row of every column asked about and copies what is left (milliseconds for a few
rows); :func:`kept_rows` looks up the rows of each asked value in positions kept with the table
and takes them (the same rows, order and types as the boolean filter).
"""

from __future__ import annotations

import itertools
import math
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


#: At most this many value combinations are looked up one by one (see :func:`kept_rows`).
MAX_COMBINATIONS = 4096


def kept_rows(table: pd.DataFrame, asked: Mapping[str, Iterable[Any]]) -> pd.DataFrame:
    """``table[table[c].isin(asked[c]) & ...].reset_index(drop=True)`` for every column ``c``
    of ``asked`` (all rows when ``asked`` is empty), from row positions computed once per table
    and set of columns (:func:`memo`): the positions of each combination of values of the asked
    columns, so that a question with one value per column is one lookup. Beyond
    :data:`MAX_COMBINATIONS` combinations asked, the positions of each value of each column
    are intersected instead. Missing values are never asked for (the callers' values are
    checked ids, years and stages)."""
    kept = memo(table)
    if not asked:
        return table.reset_index(drop=True)
    cols = tuple(asked)
    values = [list(dict.fromkeys(asked[c])) for c in cols]
    if math.prod(len(v) for v in values) <= MAX_COMBINATIONS:
        by_key = _positions(table, kept, cols)
        keys = itertools.product(*values) if len(cols) > 1 else values[0]
        parts = [by_key[k] for k in keys if k in by_key]
        out = np.sort(np.concatenate(parts)) if parts else np.arange(0)
    else:
        out = None
        for col, vals in zip(cols, values, strict=True):
            by_value = _positions(table, kept, (col,))
            parts = [by_value[v] for v in vals if v in by_value]
            pos = np.sort(np.concatenate(parts)) if parts else np.arange(0)
            out = pos if out is None else np.intersect1d(out, pos, assume_unique=True)
    return table.iloc[out].reset_index(drop=True)


def _positions(table: pd.DataFrame, kept: dict[Any, Any], cols: tuple[str, ...]
               ) -> dict[Any, np.ndarray]:
    """Row positions of each value of ``cols`` in ``table`` (a value, or a tuple of values for
    several columns; rows with a missing value in any of them are in none), kept in ``kept``."""
    by_key = kept.get(("positions", cols))
    if by_key is None:
        by = list(cols) if len(cols) > 1 else cols[0]
        by_key = kept[("positions", cols)] = table.groupby(by, sort=False).indices
    return by_key

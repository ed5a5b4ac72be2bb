"""Footnotes shared by the CLI tables: flags of values above 100 % and publishers' estimates."""

from __future__ import annotations

from typing import Any


def flag_notes(df: Any, flag_column: str, value_column: str) -> list[str]:
    """One footnote per flag of ``flag_column`` that the table's rows carry: why a value of
    ``value_column`` is above 1 (100 %) (:data:`critmin.metrics.formulas.ABOVE_100_FLAGS`)."""
    from critmin.metrics.formulas import ABOVE_100_FLAGS

    if flag_column not in df.columns:
        return []
    flags = sorted({f for f in df[flag_column] if isinstance(f, str) and f in ABOVE_100_FLAGS})
    return [f"({f}) {value_column} above 100 %: {ABOVE_100_FLAGS.get(f, f)}" for f in flags]


def estimate_notes(df: Any, flag_column: str, what: str,
                   fields: str = "top_estimated, estimated_share") -> list[str]:
    """A footnote when some rows rest on figures the publisher marks as estimates (their
    ``flag_column`` is true; ``fields``: the JSON fields that say so)."""
    from critmin.output import ESTIMATE

    if flag_column not in df.columns or not df[flag_column].fillna(False).astype(bool).any():
        return []
    return [f"(e) {ESTIMATE}: the publisher marks the top producer's figure as an estimate "
            f"(USGS 'E', World Mining Data 'e'/'p'); {what} and the concentration figures rest "
            f"on it (--format json: {fields})"]

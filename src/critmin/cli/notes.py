"""Footnotes shared by the CLI tables: flags of values above 100 %, publishers' estimates and
the HS codes a trade figure counts."""

from __future__ import annotations

from collections.abc import Iterable
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


def coverage_notes(labels: Iterable[object], hs_codes: Iterable[Any],
                   hs_codes_missing: Iterable[Any], rows: str = "import rows") -> list[str]:
    """Which HS codes each row's trade figure counts (codes with ``rows`` in the atlas) and
    which mapped codes had no data: one line per row label (``hs_codes``, ``hs_codes_missing``:
    lists per row, :func:`critmin.metrics.trade.hs_coverage`)."""
    out = [f"HS codes counted (codes with {rows} in the atlas; --format json: hs_codes) "
           "and mapped codes without data (hs_codes_missing):"]
    for label, have, miss in zip(labels, hs_codes, hs_codes_missing, strict=True):
        have, miss = list(have if have is not None else []), list(
            miss if miss is not None else [])
        line = f"  {label}: {', '.join(have) if have else 'none'}"
        if miss:
            line += f"; no data: {', '.join(miss)}"
        out.append(line)
    return out if len(out) > 1 else []

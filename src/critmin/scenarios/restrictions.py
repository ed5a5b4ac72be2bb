"""The registry of recorded export restrictions (``critmin/data/export_restrictions.csv``).

Each row is one measure (ban, licence, quota, ...) by one exporter on one mineral, with its dates
and a citation. Scenarios refer to a row by its ``id``; the Monte Carlo layer uses the registry as
the history that raises an exporter's restriction hazard (:mod:`critmin.scenarios.montecarlo`).
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

import pandas as pd

#: Columns shown by ``critmin scenario restrictions``.
COLUMNS = ["id", "exporter", "target", "mineral", "stage", "measure", "announced", "effective",
           "ended", "hs_codes", "source_url"]


@cache
def _rows() -> tuple[dict[str, str], ...]:
    text = resources.files("critmin.data").joinpath("export_restrictions.csv").read_text("utf-8")
    return tuple(csv.DictReader(text.splitlines()))


def registry() -> pd.DataFrame:
    """All recorded restrictions as a table (one row per measure, columns of the CSV)."""
    return pd.DataFrame(list(_rows()))


def get(restriction_id: str) -> dict[str, str]:
    """The registry row with id ``restriction_id``; ``ValueError`` naming close ids otherwise."""
    for r in _rows():
        if r["id"] == restriction_id:
            return dict(r)
    import difflib

    near = difflib.get_close_matches(restriction_id, [r["id"] for r in _rows()], n=3)
    hint = f" (did you mean {', '.join(near)}?)" if near else \
        " (list them with 'critmin scenario restrictions')"
    raise ValueError(f"unknown restriction {restriction_id!r}{hint}")

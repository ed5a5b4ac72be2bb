"""The direct CSV writer and JSON rows of table pages give the bytes the pandas/``_cell`` path
gave (``pd.DataFrame(rows).to_csv(index=False)`` and ``_cell`` on every value)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from critmin import schema
from critmin.api._core import AtlasPool, csv_rows, dumps
from critmin.api.tables import _cell, _records


def _old_csv(cols: list[str], rows: list[tuple[Any, ...]]) -> str:
    return pd.DataFrame(rows, columns=cols).to_csv(index=False)


def _pages(pool: AtlasPool, table: str, sort: str | None = None) -> list[list[tuple[Any, ...]]]:
    t = schema.table(table)
    cols = ", ".join(f'"{c}"' for c in t.column_names)
    order = ", ".join(f'"{k}"' for k in (t.key or t.column_names))
    if sort:
        order = f'"{sort}" DESC NULLS LAST, {order}'
    rows = pool.cursor().execute(f'SELECT {cols} FROM "{table}" ORDER BY {order} LIMIT 3000'
                                 ).fetchall()
    return [rows[i:i + 200] for i in range(0, len(rows), 200)] or [[]]


@pytest.mark.parametrize("table", sorted(schema.tables()))
def test_table_pages_render_as_before(starter_atlas: Path, table: str) -> None:
    pool = AtlasPool(starter_atlas)
    t = schema.table(table)
    types = [c.type for c in t.columns]
    sorts: list[str | None] = [None, *[c.name for c in t.columns if c.type == "DOUBLE"][:1]]
    for sort in sorts:
        for rows in _pages(pool, table, sort):
            old_json = [dict(zip(t.column_names, map(_cell, r), strict=True)) for r in rows]
            assert dumps({"rows": _records(t, rows)}) == dumps({"rows": old_json})
            text = csv_rows(t.column_names, types, rows)
            if "TIMESTAMP" in types:
                assert text is None
            else:
                assert text == _old_csv(t.column_names, rows), table


def test_trade_flows_csv_page_through_the_api(service: Any) -> None:
    url = "/api/v1/trade_flows.csv?year=2023&exporter=CHN&_sort=-value_kusd&_size=200"
    text = service.client.get(url).text
    rows = service.app.state.atlas.cursor().execute(
        'SELECT * FROM trade_flows WHERE year = 2023 AND exporter = \'CHN\' ORDER BY '
        'value_kusd DESC NULLS LAST, ' + ", ".join(schema.table("trade_flows").key)
        + " LIMIT 200").fetchall()
    assert text == _old_csv(schema.table("trade_flows").column_names, rows)


def test_csv_edge_values_match_pandas() -> None:
    cols = ["s", "x", "n", "b", "d"]
    types = ["VARCHAR", "DOUBLE", "INTEGER", "BOOLEAN", "DATE"]
    rows: list[tuple[Any, ...]] = [
        ("a,b", 1.5, 1, True, dt.date(2024, 1, 2)),
        ('say "hi"', float("nan"), 2, None, None),
        ("line\nbreak", 1e16, 3, False, dt.date(1999, 12, 31)),
        (None, 0.1, 4, True, None), ("", float("inf"), 5, None, None),
        ("é ü", None, -6, None, None), (" lead", 1e-05, 7, None, None),
        ("x", 123456789.123, 8, None, None), ("y", -0.0, 9, None, None),
    ]
    assert csv_rows(cols, types, rows) == _old_csv(cols, rows)
    assert csv_rows(cols, types, []) == _old_csv(cols, [])
    ints = [(1, None), (None, None), (2**40, None)]  # pandas: floats when a value is missing
    assert csv_rows(["n", "m"], ["INTEGER", "BIGINT"], ints) == _old_csv(["n", "m"], ints)
    assert csv_rows(["t"], ["TIMESTAMP"], [(dt.datetime(2024, 1, 1),)]) is None


def test_table_routes_shadow_no_other_route(service: Any) -> None:
    """The table routes are matched first (most requests): no other route's path may match them."""
    import re

    from starlette.routing import compile_path

    ops = [(p, o.get("operationId", "")) for p, d in service.app.openapi()["paths"].items()
           for o in d.values()]
    tables = [p for p, o in ops if o.startswith(("table_", "row_"))]
    others = [p for p, o in ops if not o.startswith(("table_", "row_"))]
    assert tables and others
    for path in tables:
        regex = compile_path(path)[0]
        for other in others:
            assert not regex.match(re.sub(r"\{[^}]+\}", "x", other)), (path, other)
            assert not compile_path(other)[0].match(re.sub(r"\{[^}]+\}", "x", path)), (path, other)

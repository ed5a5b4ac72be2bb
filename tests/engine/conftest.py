"""Fixtures for the engine tests: a small real atlas (two BACI years, USGS, WGI, WMD), its
Parquet export, and a tiny synthetic BACI folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import shared

#: BACI years the engine tests load (a couple, to stay fast).
YEARS = (2021, 2022)


@pytest.fixture(scope="session")
def two_year_atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An atlas of BACI 2021-2022 (with the release's code tables), USGS MCS, WGI and WMD."""
    from critmin import atlas

    baci = shared("baci")
    src = tmp_path_factory.mktemp("baci2")
    for y in YEARS:
        shutil.copy(baci / f"BACI_HS92_Y{y}_V202401b.csv", src)
    for f in baci.glob("*codes*.csv"):
        shutil.copy(f, src)
    db = tmp_path_factory.mktemp("atlas2") / "atlas.duckdb"
    atlas.build([src, shared("usgs"), shared("wgi"), shared("wmd")], db, fresh=True)
    return db


@pytest.fixture(scope="session")
def two_year_parquet(two_year_atlas: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from critmin.engine import export_parquet

    out = tmp_path_factory.mktemp("parquet2") / "atlas"
    export_parquet(out, atlas=two_year_atlas)
    return out


@pytest.fixture(scope="session")
def synthetic_atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An atlas built from 60,000 synthetic BACI rows over two years (real codes)."""
    from critmin import atlas, synthetic

    shared("baci")
    d = tmp_path_factory.mktemp("synthetic")
    synthetic.generate(d / "csv", 60_000, rows_per_year=30_000, chunk_rows=10_000, seed=7)
    db = d / "atlas.duckdb"
    atlas.build([d / "csv"], db, fresh=True)
    return db

"""Shared helpers for the scenario tests: where the shared data lives and a small atlas."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
BACI = SHARED / "baci"
BACI_FILES = [BACI / f"BACI_HS92_Y{y}_V202401b.csv" for y in (2019, 2022, 2023, 2024)]
BACI_CODES = BACI / "country_codes_V202401b.csv"
USGS = SHARED / "usgs"
WGI = SHARED / "wgi"

HAVE_DATA = all(p.exists() for p in [*BACI_FILES, BACI_CODES, USGS, WGI])
needs_data = pytest.mark.skipif(not HAVE_DATA, reason=f"shared data not found under {SHARED}")


def build_small_atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An atlas from BACI 2022-2024 (plus 2019, the base year of the Indonesian nickel-ore
    example), the USGS MCS files and WGI."""
    from critmin import atlas

    db = tmp_path_factory.mktemp("scen-atlas") / "atlas.duckdb"
    usgs = [p for p in USGS.iterdir() if p.is_file()]
    atlas.build([*BACI_FILES, BACI_CODES, *usgs, WGI], db)
    return db

"""Operational databases for the watch tests: PostgreSQL (a schema per test, reachable from the
CLI through the URL's ``search_path`` option) when ``$CRITMIN_TEST_DATABASE_URL`` is set,
else a SQLite file."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from critmin import auth
from critmin.storage import Store, normalise_url
from tests.conftest import shared

PG_URL = os.environ.get("CRITMIN_TEST_DATABASE_URL")


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    auth.set_password_params(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth.set_password_params(time_cost=2, memory_cost=19456, parallelism=1)


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A migrated, empty operational database URL (PostgreSQL when configured)."""
    if not PG_URL:
        url = f"sqlite:///{tmp_path / 'ops.db'}"
        Store(url).upgrade()
        yield url
        return
    from sqlalchemy import create_engine, text

    schema = f"w_{uuid.uuid4().hex[:12]}"
    eng = create_engine(normalise_url(PG_URL))
    with eng.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    store = Store(url)
    store.upgrade()
    store.dispose()
    try:
        yield url
    finally:
        with eng.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.dispose()


def baci_imports(year: int, importer_iso3: set[str], hs6: set[int]) -> pd.Series:
    """Import value (thousand USD) by exporter ISO3 straight from the BACI CSV: flows of the
    given HS6 codes into the importers, trade among the importers left out."""
    codes = pd.read_csv(shared("baci", "country_codes_V202401b.csv"))
    iso = dict(zip(codes.country_code, codes.country_iso3, strict=True))
    iso[490] = "TWN"  # BACI's "Other Asia, nes" is Taiwan
    df = pd.read_csv(shared("baci", f"BACI_HS92_Y{year}_V202401b.csv"))
    df = df[df.k.isin(hs6)]
    df = df.assign(exporter=df.i.map(iso), importer=df.j.map(iso))
    df = df[df.importer.isin(importer_iso3) & ~df.exporter.isin(importer_iso3) & (df.v > 0)]
    return df.groupby("exporter").v.sum()


def add_user(url: str, name: str, role: str = "analyst") -> int:
    store = Store(url)
    try:
        with store.session() as s:
            return auth.add_user(s, name, role, None).id
    finally:
        store.dispose()

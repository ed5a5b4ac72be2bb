"""Stores on SQLite and, when ``$CRITMIN_TEST_DATABASE_URL`` is set, on PostgreSQL.

Each PostgreSQL test gets its own schema (dropped afterwards), so concurrent runs don't interfere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from critmin.storage import Store

PG_URL = os.environ.get("CRITMIN_TEST_DATABASE_URL")


def make_store(kind: str, tmp_path: Path) -> Iterator[Store]:
    if kind == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'critmin.db'}")
        yield store
        store.dispose()
        return
    if not PG_URL:
        pytest.skip("PostgreSQL tests need CRITMIN_TEST_DATABASE_URL "
                    "(e.g. postgresql://postgres@127.0.0.1:5432/test)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    store = Store(PG_URL, schema=schema)
    try:
        yield store
    finally:
        store.dispose()
        from sqlalchemy import create_engine, text

        from critmin.storage import normalise_url

        eng = create_engine(normalise_url(PG_URL))
        with eng.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty (not yet migrated) store on each backend."""
    yield from make_store(request.param, tmp_path)


@pytest.fixture(autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    from critmin import auth

    auth.set_password_params(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth.set_password_params(time_cost=2, memory_cost=19456, parallelism=1)

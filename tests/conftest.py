"""Shared fixtures: the real public data in ../shared/data and atlases built from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests check correctness, not speed: on a shared 2-core machine example generation and
# single examples can be slow, which must not fail a test (speed is measured in benchmarks/).
settings.register_profile("critmin", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("critmin")

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared" / "data").resolve()


def shared(*parts: str) -> Path:
    """Path under ../shared/data; skips the test when the shared data is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not found: {p}")
    return p


@pytest.fixture(scope="session")
def fixture_atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one deterministic fixture atlas (:mod:`tests.fixtures`), built once per session;
    skips when its shared files are absent."""
    from tests import fixtures

    if gone := fixtures.missing():
        pytest.skip(f"shared data not found: {gone[0]}")
    return fixtures.build(tmp_path_factory.mktemp("fixture") / "atlas.duckdb")


@pytest.fixture(scope="session")
def full_atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An atlas built once per test session from all BACI, USGS, WGI and WMD files."""
    from critmin import atlas

    dirs = [shared(d) for d in ("baci", "usgs", "wgi", "wmd")]
    db = tmp_path_factory.mktemp("full") / "atlas.duckdb"
    atlas.build(dirs, db, fresh=True)
    return db


@pytest.fixture(scope="session")
def chain_atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An atlas for the value chain, built once per session: BACI HS92 2022-2024 and BACI HS17
    (2022, 2024) with their country tables, IEA, USGS and WGI."""
    from critmin import atlas

    baci = [shared("baci", f"BACI_HS92_Y{y}_V202401b.csv") for y in (2022, 2023, 2024)]
    dirs = [*baci, shared("baci", "country_codes_V202401b.csv"), shared("baci_hs17"),
            shared("iea"), shared("usgs"), shared("wgi")]
    db = tmp_path_factory.mktemp("chain") / "atlas.duckdb"
    atlas.build(dirs, db, fresh=True)
    return db


@pytest.fixture(scope="session")
def starter_atlas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled starter atlas, installed into a temporary folder."""
    from critmin import starter

    return starter.install(tmp_path_factory.mktemp("starter") / "atlas.duckdb", quiet=True)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """Run ``critmin ARGS...`` in-process; return its stdout, failing the test on a non-zero exit."""
    from critmin.cli import main

    def run(*args: str) -> str:
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        out = capsys.readouterr()
        assert exit_.value.code in (0, None), out.err
        return out.out

    return run


#: fixtures whose tests belong to the slow tier (full-data builds, Spark sessions)
SLOW_FIXTURES = {"full_atlas", "chain_atlas", "spark"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put every test that needs a full-data atlas or a Spark session in the ``slow`` tier.

    ``pytest -m "not slow"`` is the fast tier; plain ``pytest`` (the README's command, CI) runs all.
    """
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.slow)

"""``?_release=``: one request reads a pinned release of a source family, as ``critmin --release``
does for a command. Checked against the two USGS MCS files themselves (MCS 2023 and MCS 2024 both
publish cobalt mine production for 2022, with different figures)."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from critmin.atlas import build
from critmin.storage import Store
from tests.conftest import shared

FILES = {"MCS2023": "mcs2023_world_production_reserves_long.csv",
         "MCS2024": "mcs2024_world_production_reserves_long.csv"}


def rows(edition: str) -> dict[str, float]:
    """Cobalt mine production 2022 per row (countries, "Other countries", world total) in the
    edition's own CSV (tonnes)."""
    with shared("usgs", FILES[edition]).open(encoding="utf-8") as fh:
        return {r["country"]: float(r["value_raw"].replace(",", ""))
                for r in csv.DictReader(fh)
                if r["source_file"].endswith("cobal_world.csv") and r["measure"] == "production"
                and r["year"] == "2022"}


def published(edition: str, country: str) -> float:
    return rows(edition)[country]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    src = tmp_path_factory.mktemp("usgs")
    for name in FILES.values():
        shutil.copy(shared("usgs", name), src / name)
    db = tmp_path_factory.mktemp("atlas") / "atlas.duckdb"
    build([src], db)
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('ops') / 'critmin.db'}")
    from critmin.api import create_app

    with TestClient(create_app(db, store=store, web=False)) as c:
        yield c
    store.dispose()


def _drc_2022(client: TestClient, query: str) -> tuple[float, set[str]]:
    r = client.get("/api/v1/production?mineral=cobalt&year=2022&country=COD" + query)
    assert r.status_code == 200, r.text
    body = r.json()
    rows = [x for x in body["rows"] if x["stage"] == "mine"]
    assert len(rows) == 1, rows  # one release: never both editions' figures
    return rows[0]["value"], {s["release"] for s in body["annotations"]["sources"]}


def test_latest_release_by_default_and_pinned_per_request(client: TestClient) -> None:
    latest = published("MCS2024", "Congo (Kinshasa)")
    earlier = published("MCS2023", "Congo (Kinshasa)")
    assert latest != earlier  # the two editions disagree, so the pin is visible
    value, cited = _drc_2022(client, "")
    # the table's annotations cite what its view reads: MCS 2024, and MCS 2023 for the year
    # (2021) that only it covers
    assert value == latest and "MCS2024" in cited
    assert _drc_2022(client, "&_release=MCS2023") == (earlier, {"MCS2023"})
    assert _drc_2022(client, "&_release=mcs2023")[0] == earlier  # labels are case-insensitive
    assert _drc_2022(client, "")[0] == latest  # the pin does not leak into later requests


def test_analytics_honour_the_pin(client: TestClient) -> None:
    for edition in FILES:
        r = client.get(f"/api/v1/concentration?mineral=cobalt&stage=mine&year=2022"
                       f"&_release={edition}")
        assert r.status_code == 200, r.text
        (row,) = r.json()["rows"]
        # the world total is the sum of the rows (named countries and "Other countries"); the
        # edition's rounded "World total" is within a few per cent of it
        pub = rows(edition)
        world = sum(v for k, v in pub.items() if not k.startswith("World"))
        assert world == pytest.approx(pub["World total (rounded)"], rel=0.03)
        share = pub["Congo (Kinshasa)"] / world
        assert row["top_producer"] == "COD"
        assert row["top1_share"] == pytest.approx(share, abs=5e-4), edition


def test_unknown_release_is_a_400_naming_the_choices(client: TestClient) -> None:
    for url in ("/api/v1/production?_release=MCS1999",
                "/api/v1/concentration?mineral=cobalt&_release=MCS1999"):
        r = client.get(url)
        assert r.status_code == 400, (url, r.text)
        body = r.json()
        assert body["ok"] is False
        assert "MCS1999" in body["error"] and "MCS2023" in body["error"]
        assert "MCS2024" in body["error"]


def test_pinned_pools_are_bounded(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every combination of labels makes a pool of its own; only the most recent are kept (the
    atlas holds two releases, so three combinations against a bound of two)."""
    from critmin.api import _core

    monkeypatch.setattr(_core, "MAX_RELEASE_POOLS", 2)
    pools = client.app.state.release_pools  # type: ignore[attr-defined]
    for label in ["MCS2023", "MCS2024", "MCS2023,MCS2024", "mcs2023", "MCS2024,MCS2023"] * 2:
        r = client.get(f"/api/v1/production?mineral=cobalt&year=2021&_release={label}")
        assert r.status_code == 200, r.text
        assert len(pools) <= 2
    assert list(pools) == [("mcs2023",), ("mcs2023", "mcs2024")]  # the two most recent
    assert _drc_2022(client, "&_release=MCS2023")[0] == published("MCS2023", "Congo (Kinshasa)")

"""GET /api/v1/trace/{country} and /api/v1/outlook answer what the library answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from critmin.atlas import Atlas
from critmin.valuechain import outlook, trace_country
from tests.api.conftest import sqlite_service


@pytest.fixture(scope="module")
def service(chain_atlas: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with sqlite_service(chain_atlas, tmp_path_factory.mktemp("ops")) as svc:
        yield svc


def test_trace_route(service: Any, chain_atlas: Path) -> None:
    r = service.client.get("/api/v1/trace/JPN?mineral=cobalt&year=2024")
    assert r.status_code == 200, r.text
    body = r.json()
    with Atlas(chain_atlas) as atlas:
        ref = trace_country(atlas, "JPN", "cobalt", 2024)
    got = {row["country"]: row["traced_share"] for row in body["rows"]}
    want = dict(zip(ref.views.country, ref.views.traced_share, strict=True))
    assert got.keys() == want.keys()
    assert all(got[k] == pytest.approx(want[k]) for k in want)
    bad = service.client.get("/api/v1/trace/JPN?mineral=kryptonite")
    assert bad.status_code == 400 and bad.json()["ok"] is False


def test_outlook_route(service: Any, chain_atlas: Path) -> None:
    r = service.client.get("/api/v1/outlook?mineral=lithium&scenario=NZE&with_projects=true")
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    with Atlas(chain_atlas) as atlas:
        ref = outlook(atlas, "lithium", "NZE", with_projects=True).balance
    assert [(x["stage"], x["year"]) for x in rows] == list(zip(ref.stage, ref.year, strict=True))
    assert rows[0]["demand_t"] == pytest.approx(ref.demand_t.iloc[0])
    assert "hhi_with_projects" in rows[0]
    csv = service.client.get("/api/v1/outlook.csv?mineral=cobalt")
    assert csv.status_code == 200 and "balance_t" in csv.text
    bad = service.client.get("/api/v1/outlook?mineral=tin")
    assert bad.status_code in (400, 404) and bad.json()["ok"] is False

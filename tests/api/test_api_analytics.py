"""Analytic endpoints answer what the library (and so the CLI) answers."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import unquote

import pandas as pd
import pytest

SPEC = {"name": "China graphite ban", "base_year": 2023,
        "shocks": [{"exporter": "CHN", "mineral": "graphite", "stage": "mine", "cut": 1.0,
                    "targets": "all"}],
        "reallocation": {"method": "lp", "spare_capacity": 0.1},
        "stockpiles": [{"country": "JPN", "mineral": "graphite", "days_of_imports": 60}]}


@pytest.mark.slow  # assess through the API and the library for many countries
def test_assess_matches_library(service: Any) -> None:
    from critmin import assess
    from critmin.atlas import Atlas

    r = service.client.get("/api/v1/assess/JPN?mineral=lithium&mineral=cobalt")
    assert r.status_code == 200, r.text
    body = r.json()
    with Atlas.open(service.app.state.atlas.path) as atlas:
        ref = assess("JPN", minerals=["lithium", "cobalt"], atlas=atlas)
    assert [row["mineral"] for row in body["rows"]] == ref.mineral.tolist()
    assert body["columns"] == list(ref.columns)
    assert body["annotations"]["atlas_version"]
    csv = service.client.get("/api/v1/assess/JPN.csv?mineral=lithium")
    assert pd.read_csv(io.StringIO(csv.text)).mineral.tolist() == ["lithium"]


@pytest.mark.parametrize("url", [
    "/api/v1/concentration?mineral=cobalt",
    "/api/v1/concentration.csv?mineral=cobalt&stage=mine",
    "/api/v1/n-minus-1?mineral=cobalt&stage=mine",
    "/api/v1/geopolrisk?economy=JPN&year=2024",
    "/api/v1/coop/blocs?mineral=cobalt",
    "/api/v1/coop/coverage/JPN?group=QUAD&mineral=cobalt",
    "/api/v1/coop/registry/frameworks",
    "/api/v1/coop/registry/projects.csv?country=AUS",
    "/api/v1/coop/registry/agreements?mineral=lithium",
    "/api/v1/coop/registry/memberships?country=JPN",
    "/api/v1/coop/registry/groups.xlsx",
])
def test_read_endpoints(service: Any, url: str) -> None:
    r = service.client.get(url)
    assert r.status_code == 200, r.text
    if "." not in url.split("?")[0].rsplit("/", 1)[-1]:
        assert r.json()["ok"] is True
        assert r.json()["rows"], url


def test_whatif_project_ids_from_registry(service: Any) -> None:
    rows = service.client.get("/api/v1/coop/registry/projects?mineral=lithium").json()["rows"]
    ids = [r["id"] for r in rows if r["stage"] == "mine"]
    r = service.client.get(f"/api/v1/coop/whatif?project={ids[0]}")
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("url", "status"), [
    ("/api/v1/assess/XXX", 400),
    ("/api/v1/assess/JPN?mineral=unobtainium", 400),
    ("/api/v1/assess/JPN?year=abc", 400),
    ("/api/v1/concentration", 400),
    ("/api/v1/concentration?mineral=unobtainium", 400),
    ("/api/v1/coop/whatif?project=NOPE", 404),
    ("/api/v1/coop/registry/nonsense", 400),
    ("/api/v1/coop/registry/projects?country=XYZ", 400),
])
def test_analytic_errors(service: Any, url: str, status: int) -> None:
    r = service.client.get(url)
    assert r.status_code == status, r.text
    assert r.json()["ok"] is False and r.json()["status"] == status


def test_scenario_run(service: Any) -> None:
    r = service.client.post("/api/v1/scenarios", json=SPEC, headers=service.as_("analyst"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scenario"] == "China graphite ban" and body["summary"] and body["importers"]
    assert body["annotations"]["licence"]


@pytest.mark.parametrize("bad", [
    {"base_year": 2023, "shocks": [{"exporter": "XYZ", "mineral": "graphite", "cut": 1.0}]},
    {"base_year": 2023, "shocks": [{"exporter": "CHN", "mineral": "graphite", "cut": 1.5}]},
    {"shocks": "nope"},
])
def test_scenario_invalid_body_is_422(service: Any, bad: dict) -> None:
    r = service.client.post("/api/v1/scenarios", json=bad, headers=service.as_("analyst"))
    assert r.status_code == 422, r.text
    assert r.json()["ok"] is False
    r = service.client.post("/api/v1/scenarios", content=b"not json",
                            headers={**service.as_("analyst"), "Content-Type": "application/json"})
    assert r.status_code == 422


#: What each analytic route reads, by source family (the starter atlas holds BACI, USGS MCS and
#: WGI): production concentration is USGS alone; import figures are BACI; GeoPolRisk weighs
#: imports by WGI political stability, so any route that shows a GeoPolRisk score must cite WGI
#: (CC BY 4.0); N-1 and the cooperation figures take demand from BACI and production from USGS;
#: "critmin" is the curated reference data (HS map, groups, lists).
CITED = [
    ("/api/v1/assess/JPN", {"baci", "usgs-mcs", "wgi", "critmin"}),
    ("/api/v1/concentration?mineral=cobalt", {"usgs-mcs"}),
    ("/api/v1/geopolrisk?economy=JPN&year=2024", {"baci", "usgs-mcs", "wgi", "critmin"}),
    ("/api/v1/n-minus-1?mineral=cobalt&stage=mine", {"baci", "usgs-mcs", "critmin"}),
    ("/api/v1/coop/blocs?mineral=cobalt", {"baci", "usgs-mcs", "critmin"}),
    ("/api/v1/coop/coverage/JPN?group=QUAD&mineral=cobalt", {"baci", "usgs-mcs", "critmin"}),
    ("/api/v1/coop/whatif?project=JERVOIS-ICO", {"baci", "usgs-mcs", "critmin"}),
    # traced supply: BACI flows to the mine origin of USGS production, risk weighted by WGI
    ("/api/v1/trace/JPN?mineral=cobalt", {"baci", "usgs-mcs", "wgi", "critmin"}),
]
#: Routes whose data the starter atlas does not hold (IEA outlook): they answer 404 with the
#: reason there, and cite what they read on an atlas with the IEA files.
NEEDS_FULL_DATA = {"/outlook"}


def test_every_analytic_route_is_covered() -> None:
    from critmin.api.analytics import router

    paths = {r.path for r in router.routes if "{fmt}" not in r.path and "GET" in r.methods}
    tested = {u.split("?")[0].replace("/api/v1", "") for u, _ in CITED} | NEEDS_FULL_DATA
    assert {p.replace("{country}", "JPN") for p in paths} == tested


@pytest.mark.parametrize(("url", "families"), CITED, ids=[u for u, _ in CITED])
def test_provenance_is_what_was_read(service: Any, url: str, families: set[str]) -> None:
    """The cited sources come from the tables and source families the computation read: the
    same in the JSON annotations, the CSV headers and a cached second answer."""
    for _ in range(2):  # the second answer comes from the result cache
        body = service.client.get(url).json()
        assert {s["family"] for s in body["annotations"]["sources"]} == families, url
    ann = body["annotations"]
    assert set(ann["licence"].split("; ")) == {s["licence"] for s in ann["sources"]}
    path, _, query = url.partition("?")
    r = service.client.get(f"{path}.csv" + (f"?{query}" if query else ""))
    assert r.status_code == 200
    assert unquote(r.headers["x-critmin-source"]) == ann["source"]
    assert unquote(r.headers["x-critmin-licence"]) == ann["licence"]

"""Atlas table endpoints: filters, sorting, paging, formats, annotations and errors."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest


def get(svc: Any, url: str, status: int = 200) -> dict:
    r = svc.client.get(url)
    assert r.status_code == status, r.text
    return r.json()


def test_index_lists_every_table(service: Any) -> None:
    from critmin import schema

    body = get(service, "/api/v1")
    assert set(body["tables"]) == set(schema.tables())
    assert body["atlas_version"].startswith("0.1.0+")
    assert service.client.get("/openapi.json").json()["info"]["title"] == "critmin API"
    assert service.client.get("/docs").status_code == 200


@pytest.mark.parametrize("table", ["minerals", "countries", "groups", "country_groups", "trade_flows",
                                   "production", "reserves", "governance", "sources", "hs_map",
                                   "units", "critical_lists", "frameworks", "agreements", "projects"])
def test_every_table_serves_json_with_annotations(service: Any, table: str) -> None:
    body = get(service, f"/api/v1/{table}?_size=5")
    assert body["ok"] is True and body["name"] == table
    assert len(body["rows"]) <= 5 and body["rows"], table
    ann = body["annotations"]
    assert ann["licence"] and ann["source"] and ann["atlas_version"]


def test_annotations_name_the_publisher(service: Any) -> None:
    ann = get(service, "/api/v1/trade_flows?_size=1")["annotations"]
    assert "CEPII" in ann["source"] and "Etalab" in ann["licence"]
    assert {s["source_id"] for s in ann["sources"]} >= {"baci-hs92-v202401b-y2023"}
    ann = get(service, "/api/v1/minerals?_size=1")["annotations"]
    assert ann["licence"] == "CC BY 4.0"


def test_filters_and_sort(service: Any) -> None:
    rows = get(service, "/api/v1/trade_flows?year=2023&exporter=CHN&value_kusd__gte=1000"
                        "&_sort=-value_kusd&_size=50")["rows"]
    assert rows and all(r["year"] == 2023 and r["exporter"] == "CHN" and r["value_kusd"] >= 1000
                        for r in rows)
    values = [r["value_kusd"] for r in rows]
    assert values == sorted(values, reverse=True)
    rows = get(service, "/api/v1/trade_flows?year__in=2021,2022&importer__ne=USA&_sort=value_kusd"
                        "&_size=20")["rows"]
    assert {r["year"] for r in rows} <= {2021, 2022} and all(r["importer"] != "USA" for r in rows)
    assert [r["value_kusd"] for r in rows] == sorted(r["value_kusd"] for r in rows)
    rows = get(service, "/api/v1/trade_flows?year__lt=2022&year__gt=2020&_size=10")["rows"]
    assert rows and {r["year"] for r in rows} == {2021}
    same = get(service, "/api/v1/production?year__lte=2025&year__gte=2025&_sort_desc=value&_size=10")
    assert [r["year"] for r in same["rows"]] == [2025] * len(same["rows"])
    assert get(service, "/api/v1/minerals?mineral__eq=cobalt")["rows"][0]["name"] == "Cobalt"


def test_paging_with_opaque_cursor_visits_every_row_once(service: Any) -> None:
    url = "/api/v1/trade_flows?year=2024&exporter=AUS&_size=7"
    first = get(service, url)
    seen, nxt, pages = [r for r in first["rows"]], first["next"], 1
    assert nxt and first["next_url"]
    while nxt:
        page = get(service, f"{url}&_next={nxt}")
        seen += page["rows"]
        nxt = page["next"]
        pages += 1
    full = get(service, "/api/v1/trade_flows.json?year=2024&exporter=AUS&_size=1000")
    assert full["next"] is None
    key = [(r["importer"], r["hs_code"]) for r in seen]
    assert key == [(r["importer"], r["hs_code"]) for r in full["rows"]]
    assert len(set(key)) == len(key) and pages > 1


@pytest.mark.parametrize(("url", "status", "message"), [
    ("/api/v1/trade_flows?nope=1", 400, "unknown column 'nope'"),
    ("/api/v1/trade_flows?year__like=1", 400, "unknown operator 'like'"),
    ("/api/v1/trade_flows?year=abc", 400, "not a valid SMALLINT"),
    ("/api/v1/trade_flows?value_kusd__gt=x", 400, "not a valid DOUBLE"),
    ("/api/v1/trade_flows?year__in=", 400, "at least one value"),
    ("/api/v1/trade_flows?_sort=nope", 400, "cannot sort by 'nope'"),
    ("/api/v1/trade_flows?_size=0", 400, "_size"),
    ("/api/v1/trade_flows?_size=abc", 400, "_size"),
    ("/api/v1/trade_flows?_next=!!!", 400, "invalid _next cursor"),
    ("/api/v1/trade_flows?_next=eyJvIjotMX0", 400, "invalid _next cursor"),
    ("/api/v1/trade_flows?_bogus=1", 400, "unknown parameter '_bogus'"),
    ("/api/v1/trade_flows?_stream=1", 400, "_stream"),
    ("/api/v1/no_such_table", 404, "Not Found"),
    ("/api/v1/no_such_table.csv", 404, "Not Found"),
    ("/api/v1/minerals/unobtainium", 404, "no row"),
    ("/api/v1/minerals.docx", 400, "unknown format: use .json, .csv, .parquet, .xlsx"),
])
def test_errors(service: Any, url: str, status: int, message: str) -> None:
    body = get(service, url, status)
    assert body["ok"] is False and body["status"] == status and message in body["error"]


def test_row_endpoint(service: Any) -> None:
    body = get(service, "/api/v1/countries/JPN")
    assert body["row"]["iso3"] == "JPN" and body["annotations"]["licence"]


def test_csv_parquet_xlsx(service: Any) -> None:
    url = "/api/v1/trade_flows.{}?year=2023&exporter=CHL&_size=20"
    ref = pd.DataFrame(get(service, url.format("json"))["rows"])
    r = service.client.get(url.format("csv"))
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-critmin-atlas-version"] and "Etalab" in r.headers["x-critmin-licence"]
    csv = pd.read_csv(io.StringIO(r.text), dtype={"hs_code": str})
    assert list(csv.columns) == list(ref.columns) and len(csv) == len(ref) == 20
    assert "x-next-cursor" in r.headers and 'rel="next"' in r.headers["link"]
    r = service.client.get(url.format("parquet"))
    pq = pd.read_parquet(io.BytesIO(r.content))
    assert pq.value_kusd.tolist() == ref.value_kusd.tolist()
    import pyarrow.parquet as papq

    meta = papq.read_schema(io.BytesIO(r.content)).metadata
    assert b"critmin.annotations" in meta
    r = service.client.get(url.format("xlsx"))
    xl = pd.read_excel(io.BytesIO(r.content), sheet_name=None)
    assert set(xl) == {"data", "annotations"} and len(xl["data"]) == 20


def test_csv_stream_returns_every_row(service: Any) -> None:
    r = service.client.get("/api/v1/trade_flows.csv?year=2023&_stream=1")
    assert r.status_code == 200
    n = len(r.text.strip().splitlines()) - 1
    total = service.app.state.atlas.cursor().execute(
        "SELECT count(*) FROM trade_flows WHERE year = 2023").fetchone()[0]
    assert n == total > 10_000

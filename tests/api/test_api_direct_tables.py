"""Table pages and rows answered by the cache middleware's direct path (no FastAPI routing) give
the full stack's answer: status, headers and body, for pages in every format, rows, streams and
every kind of refusal."""

from __future__ import annotations

from typing import Any

import pytest

from critmin.api import API_PREFIX
from critmin.api.tables import direct_route

URLS = [
    "/trade_flows?year=2023&exporter=CHN&_sort=-value_kusd&_size=20",
    "/trade_flows.csv?year=2023&importer=JPN&_size=50",
    "/trade_flows.csv?year=2023&importer=JPN&_size=3&_sort=hs_code",
    "/trade_flows.json?year__gte=2022&exporter__in=AUS,CHL&value_kusd__gt=1000&_size=7",
    "/trade_flows?year=2023&exporter=CHN&_size=5&_next=eyJvIjo1fQ",
    "/trade_flows.parquet?year=2023&exporter=CHN&_size=10",
    "/trade_flows.xlsx?year=2023&exporter=CHN&_size=10",
    "/trade_flows.csv?year=2023&exporter=CHN&_stream=1",
    "/production?mineral=cobalt&_size=100",
    "/production.csv?mineral=lithium&stage=mine&_sort=-value",
    "/sources",
    "/sources.csv",
    "/minerals",
    "/countries/JPN",
    "/countries/jpn",
    # refusals: each answered by the full stack's error handlers
    "/countries/ZZZ",
    "/trade_flows?year=abc",
    "/trade_flows?bogus=1",
    "/trade_flows?_bogus=1",
    "/trade_flows?_size=0",
    "/trade_flows?_sort=nope",
    "/trade_flows?_next=%%%",
    "/trade_flows?_stream=1",
    "/trade_flows?_release=NOPE",
    "/trade_flows.xml",
    "/trade_flows.",
    "/trade_flows/1",
    "/trade_flows/",
    "/countries/JPN/x",
    "/countries/",
    "/nonexistent",
]


def _answer(service: Any, url: str, headers: dict[str, str]) -> tuple[int, list[Any], Any]:
    service.app.state.response_cache.clear()  # each path computes its own answer
    r = service.client.get(API_PREFIX + url, headers=headers)
    body: Any = r.content
    drop = {"date"}
    if ".xlsx" in url and r.status_code == 200:  # a workbook records when it was written
        import io

        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(r.content))
        body = {ws.title: list(ws.values) for ws in wb.worksheets}
        drop.add("content-length")  # (that time compresses to more or fewer bytes)
    return r.status_code, sorted((k, v) for k, v in r.headers.items() if k not in drop), body


@pytest.mark.parametrize("url", URLS)
def test_direct_path_answers_as_the_full_stack(service: Any, url: str) -> None:
    # a session cookie (not a valid one: the caller is anonymous) sends a request through the
    # full stack; without credentials, or with a valid token, a table URL takes the direct path
    full = _answer(service, url, {"Cookie": "critmin_session=not-a-session"})
    assert _answer(service, url, {}) == full
    token = _answer(service, url, service.as_("analyst"))
    if not url.endswith("_stream=1"):  # (a signed-in caller's export is not capped)
        assert token == full


def test_direct_path_takes_only_table_urls() -> None:
    direct = direct_route(API_PREFIX)

    def scope(path: str, root: str = "") -> dict[str, Any]:
        return {"type": "http", "method": "GET", "path": path, "root_path": root}

    for path in ("/api/v1/trade_flows", "/api/v1/trade_flows.csv", "/api/v1/countries/JPN"):
        assert direct(scope(path), lambda *a: None) is not None, path
    for path in ("/api/v1", "/api/v1/", "/api/v1/assess/JPN", "/api/v1/concentration",
                 "/api/v1/trade_flows.xml", "/api/v1/trade_flows/1", "/api/v1/countries/",
                 "/api/v1/countries/JPN/x", "/api/v1/schema/trade_flows", "/trade_flows",
                 "/api/v1/coop/registry/projects"):
        assert direct(scope(path), lambda *a: None) is None, path
    assert direct(scope("/proxy/api/v1/trade_flows", "/proxy"), lambda *a: None) is None

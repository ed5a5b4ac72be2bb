"""Security headers on every response, the request-body limit (413), the cross-site check of
cookie-authenticated writes and sign-ins, the local /docs page, and paging parameters (400)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options",
           "referrer-policy")


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/v1"), ("GET", "/api/v1/nope"), ("GET", "/docs"), ("GET", "/openapi.json"),
    ("GET", "/docs-assets/swagger-ui-bundle.js"), ("GET", "/api/v1/trade_flows.csv?_size=2"),
    ("POST", "/api/v1/auth/login"), ("GET", "/api/v1/trade_flows?_next=zz"),
])
def test_security_headers_on_every_response(service: Any, method: str, path: str) -> None:
    r = service.client.request(method, path)
    for h in HEADERS:
        assert h in r.headers, (path, r.status_code, h)
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "script-src 'self';" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_docs_are_served_from_local_assets(service: Any) -> None:
    html = service.client.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in html and "http" not in html.replace(
        "http-equiv", "")
    assert "<script>" not in html  # no inline script: the CSP allows none
    js = service.client.get("/docs-assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and "SwaggerUIBundle" in js.text


def test_docs_assets_are_compressed_and_cached_by_content_hash(service: Any) -> None:
    import hashlib
    import re
    from pathlib import Path

    import critmin.api

    c = service.client
    html = c.get("/docs").text
    url = re.search(r'href="(/docs-assets/swagger-ui-bundle\.js\?v=([0-9a-f]+))"', html)
    assert url is not None
    raw = (Path(critmin.api.__file__).parent / "static" / "swagger-ui-bundle.js").read_bytes()
    assert hashlib.sha256(raw).hexdigest().startswith(url.group(2))
    # what goes over the wire: gzip of the vendored file, cached for a year under its hash
    r = c.get(url.group(1), headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.content == raw  # the client decompressed it
    assert int(r.headers["content-length"]) < len(raw) / 2
    # the unversioned URL is revalidated, and an unchanged file is a 304
    plain = c.get("/docs-assets/swagger-ui-bundle.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == raw
    assert plain.headers["cache-control"] == "no-cache"
    again = c.get("/docs-assets/swagger-ui-bundle.js",
                  headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    # the licence files are still served
    assert c.get("/docs-assets/swagger-ui.LICENSE").status_code == 200


def test_request_body_limit_is_413(service: Any) -> None:
    c = service.client
    big = b'{"username": "' + b"a" * (2 * 1024 * 1024) + b'", "password": "x"}'
    r = c.post("/api/v1/auth/login", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "request body over" in r.json()["error"]

    def chunks():  # no Content-Length: counted while read
        for _ in range(40):
            yield b"x" * 65536

    r = c.post("/api/v1/coop/registry/projects", content=chunks(),
               headers={**service.as_("analyst"), "Content-Type": "application/json"})
    assert r.status_code == 413


def test_cross_site_sign_in_and_cookie_writes_are_refused(service: Any) -> None:
    service.add_user("origin-user", "analyst", "origin-password")
    body = {"username": "origin-user", "password": "origin-password"}
    evil = TestClient(service.app, headers={"Origin": "https://evil.example"})
    r = evil.post("/api/v1/auth/login", json=body)
    assert r.status_code == 403 and "cross-site" in r.json()["error"]
    assert "critmin_session" not in r.cookies
    ref = TestClient(service.app, headers={"Referer": "https://evil.example/page"})
    assert ref.post("/api/v1/auth/login", json=body).status_code == 403
    good = TestClient(service.app, headers={"Origin": "http://testserver"})
    r = good.post("/api/v1/auth/login", json=body)
    assert r.status_code == 200
    csrf = r.json()["csrf_token"]
    cookie = {"critmin_session": r.cookies["critmin_session"]}
    # the session cookie with the right CSRF token, but from another site: refused
    r = TestClient(service.app, cookies=cookie, headers={"Origin": "https://evil.example"}).post(
        "/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and "cross-site" in r.json()["error"]
    # the cookie and no Origin or Referer at all: refused
    r = TestClient(service.app, cookies=cookie).post(
        "/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    r = good.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    # a bearer token is never checked (browsers do not add one on their own)
    r = evil.post("/api/v1/auth/tokens", json={"name": "y"}, headers=service.as_("analyst"))
    assert r.status_code == 201


@pytest.mark.parametrize("query", ["_next=eyJvIjoxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwfQ",
                                   "_next=eyJvIjotMX0", "_next=%00", "_size=0", "_size=10001",
                                   "_size=1e3", "_size=" + "9" * 40])
def test_paging_parameters_are_400(service: Any, query: str) -> None:
    r = service.client.get(f"/api/v1/trade_flows?{query}")
    assert r.status_code == 400, r.text


def test_anonymous_exports_are_capped_and_signed_in_exports_stream(service: Any) -> None:
    import io

    import openpyxl
    import pyarrow.parquet as pq

    from critmin.api.tables import ANON_STREAM_ROWS

    c = service.client
    for fmt in ("parquet", "xlsx", "csv"):
        r = c.get(f"/api/v1/trade_flows.{fmt}?_stream=1")
        assert r.status_code == 403 and f"capped at {ANON_STREAM_ROWS}" in r.json()["error"]
    # under the cap: anonymous is served; signed in: every row, in a valid file
    r = c.get("/api/v1/trade_flows.parquet?_stream=1&year=2023&exporter=CHN")
    assert r.status_code == 200
    small = pq.read_table(io.BytesIO(r.content))
    assert small.num_rows > 100 and set(small.column("exporter").to_pylist()) == {"CHN"}
    assert b"critmin.annotations" in small.schema.metadata
    r = c.get("/api/v1/trade_flows.parquet?_stream=1", headers=service.as_("participant"))
    assert r.status_code == 200
    full = pq.read_table(io.BytesIO(r.content))
    assert full.num_rows > ANON_STREAM_ROWS
    from critmin import schema

    key = schema.table("trade_flows").key
    assert full.num_rows == len(set(zip(*(full.column(k).to_pylist() for k in key),
                                        strict=True)))
    r = c.get("/api/v1/trade_flows.xlsx?_stream=1&year=2023&exporter=CHN")
    wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    rows = list(wb["data"].iter_rows(values_only=True))
    assert len(rows) - 1 == small.num_rows and rows[0][:3] == ("year", "exporter", "importer")
    assert [k for k, _ in wb["annotations"].iter_rows(min_row=2, values_only=True)] == [
        "atlas_version", "licence", "source"]

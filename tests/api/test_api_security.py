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

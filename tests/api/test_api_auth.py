"""Authorisation: each role can do exactly what it should; sessions need CSRF; login is
rate-limited; participants never see others' private fields or requests."""

from __future__ import annotations

from typing import Any

import pytest

SPEC = {"name": "China graphite ban", "base_year": 2023,
        "shocks": [{"exporter": "CHN", "mineral": "graphite", "stage": "mine", "cut": 1.0,
                    "targets": "all"}],
        "reallocation": {"method": "lp", "spare_capacity": 0.1},
        "stockpiles": [{"country": "JPN", "mineral": "graphite", "days_of_imports": 60}]}
SCHEDULE = {"n_tables": 2, "n_slots": 4, "n_morning_slots": 2, "start": "2026-06-01T09:00:00",
            "slot_minutes": 20, "time_limit_s": 5}


def test_anonymous_reads_public_analytics_only(service: Any) -> None:
    c = service.client
    assert c.get("/api/v1/minerals").status_code == 200
    assert c.post("/api/v1/scenarios", json=SPEC).status_code == 401
    assert c.get("/api/v1/match/profiles").status_code == 401
    assert c.post("/api/v1/coop/registry/projects", json={}).status_code == 401
    assert c.get("/api/v1/auth/tokens").status_code == 401
    r = c.get("/api/v1/minerals", headers={"Authorization": "Bearer cm_wrong"})
    assert r.status_code == 401 and r.json() == {"ok": False, "error": "invalid or revoked API token",
                                                 "status": 401}
    assert c.get("/api/v1/minerals", headers={"Authorization": "Basic abc"}).status_code == 401


@pytest.mark.parametrize(("role", "scenario", "match", "schedule"), [
    ("admin", 200, 200, 200),
    ("organiser", 200, 200, 200),
    ("analyst", 200, 403, 403),
    ("participant", 403, 200, 403),
])
def test_role_matrix(service: Any, role: str, scenario: int, match: int, schedule: int) -> None:
    h = service.as_(role)
    c = service.client
    assert c.post("/api/v1/scenarios", json=SPEC, headers=h).status_code == scenario
    assert c.get("/api/v1/match/profiles", headers=h).status_code == match
    assert c.post("/api/v1/match/schedule", json=SCHEDULE, headers=h).status_code == schedule
    assert c.get("/api/v1/auth/me", headers=h).json()["user"]["role"] == role


def test_registry_edits_by_analysts_are_stored_and_audited(service: Any) -> None:
    from sqlalchemy import select

    from critmin.storage.models import AuditEntry, RegistryEdit

    c = service.client
    new = {"group_id": "TEST-GROUP", "name": "Test group", "kind": "other",
           "launched": "2024-01-01", "source_url": "https://example.org/test-group"}
    assert c.post("/api/v1/coop/registry/groups", json=new,
                  headers=service.as_("participant")).status_code == 403
    r = c.post("/api/v1/coop/registry/groups", json=new, headers=service.as_("analyst"))
    assert r.status_code == 201, r.text
    ids = [g["group_id"] for g in c.get("/api/v1/coop/registry/groups").json()["rows"]]
    assert "TEST-GROUP" in ids
    r = c.post("/api/v1/coop/registry/groups", json=new, headers=service.as_("analyst"))
    assert r.status_code == 409 and "exists" in r.json()["error"]
    r = c.patch("/api/v1/coop/registry/groups/TEST-GROUP", json={"name": "Renamed"},
                headers=service.as_("analyst"))
    assert r.status_code == 200, r.text
    assert c.delete("/api/v1/coop/registry/groups/NOPE",
                    headers=service.as_("analyst")).status_code == 404
    assert c.delete("/api/v1/coop/registry/groups/TEST-GROUP",
                    headers=service.as_("analyst")).status_code == 200
    ids = [g["group_id"] for g in c.get("/api/v1/coop/registry/groups").json()["rows"]]
    assert "TEST-GROUP" not in ids
    with service.store.session() as s:
        edits = [(e.action, e.record_id) for e in s.scalars(select(RegistryEdit))]
        audit = [(a.action, a.actor) for a in s.scalars(select(AuditEntry))
                 if a.action.startswith("registry.")]
    assert edits == [("add", "TEST-GROUP"), ("edit", "TEST-GROUP"), ("remove", "TEST-GROUP")]
    assert audit == [("registry.add", "analyst"), ("registry.edit", "analyst"),
                     ("registry.remove", "analyst")]


def test_session_login_csrf_and_logout(service: Any) -> None:
    from fastapi.testclient import TestClient

    service.add_user("webby", "analyst", "web-password-1")
    c = TestClient(service.app, headers={"Origin": "http://testserver"})  # as a browser does
    r = c.post("/api/v1/auth/login", json={"username": "webby", "password": "web-password-1"})
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf_token"]
    assert "critmin_session" in r.cookies
    assert "httponly" in r.headers["set-cookie"].lower()
    assert c.get("/api/v1/auth/me").json()["user"]["username"] == "webby"
    # unsafe request with the cookie but no CSRF token: refused
    r = c.post("/api/v1/scenarios", json=SPEC)
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
    r = c.post("/api/v1/scenarios", json=SPEC, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    r = c.post("/api/v1/scenarios", json=SPEC, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    r = c.post("/api/v1/auth/tokens", json={"name": "mine"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201 and r.json()["token"].startswith("cm_")
    token = r.json()["token"]
    assert c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    c.cookies.clear()
    assert c.get("/api/v1/auth/me").json()["user"]["role"] == "anonymous"
    # the token works on its own and can be revoked
    h = {"Authorization": f"Bearer {token}"}
    tokens = c.get("/api/v1/auth/tokens", headers=h).json()["tokens"]
    assert [t["name"] for t in tokens] == ["tests", "mine"] and "token" not in tokens[0]
    assert c.delete(f"/api/v1/auth/tokens/{tokens[1]['id']}", headers=h).status_code == 200
    assert c.get("/api/v1/auth/me", headers=h).status_code == 401


def test_login_rate_limit(service: Any) -> None:
    from fastapi.testclient import TestClient

    service.add_user("victim", "analyst", "victim-password")
    c = TestClient(service.app)
    for _ in range(5):
        r = c.post("/api/v1/auth/login", json={"username": "victim", "password": "guess"})
        assert r.status_code == 401
    r = c.post("/api/v1/auth/login", json={"username": "victim", "password": "victim-password"})
    assert r.status_code == 429 and r.headers["retry-after"] == "60"
    assert c.post("/api/v1/auth/login", json={"username": "", "password": "x"}).status_code == 422


def test_admins_list_every_users_tokens(service: Any) -> None:
    c = service.client
    r = c.get("/api/v1/auth/tokens?all=true", headers=service.as_("admin"))
    assert r.status_code == 200
    owners = {t["username"] for t in r.json()["tokens"]}
    assert {"admin", "analyst", "participant"} <= owners
    assert all("token" not in t and len(t["prefix"]) == 8 for t in r.json()["tokens"])
    assert c.get("/api/v1/auth/tokens?all=true",
                 headers=service.as_("analyst")).status_code == 403
    mine = c.get("/api/v1/auth/tokens", headers=service.as_("analyst")).json()["tokens"]
    assert {t["username"] for t in mine} == {"analyst"}

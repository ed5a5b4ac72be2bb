"""Response caching: reads of atlas endpoints are answered again without the work, byte for byte,
for anyone whose credentials (if any) are valid; errors, streams, the registry and matchmaking are
never kept; the cache follows the atlas file, and registry edits are seen by the next read (in
every worker)."""

from __future__ import annotations

import os
from typing import Any

from fastapi.testclient import TestClient

GROUP = {"group_id": "CACHE-TEST", "name": "Cache test group", "kind": "other",
         "launched": "2024-01-01", "source_url": "https://example.org/cache-test"}


def _cache(service: Any) -> Any:
    cache = service.app.state.response_cache
    cache.clear()
    return cache


def test_anonymous_atlas_reads_are_cached_byte_for_byte(service: Any) -> None:
    cache = _cache(service)
    c = service.client
    for url in ("/api/v1/trade_flows?year=2023&exporter=CHN&_sort=-value_kusd&_size=5",
                "/api/v1/trade_flows.csv?year=2023&importer=JPN&_size=5",
                "/api/v1/countries/JPN", "/api/v1/assess/JPN", "/api/v1", "/api/v1/schema/minerals",
                "/api/v1/concentration?mineral=cobalt"):
        first = c.get(url)
        hits = cache.hits
        again = c.get(url)
        assert first.status_code == again.status_code == 200, url
        assert cache.hits == hits + 1, url
        assert again.content == first.content, url
        assert again.headers.multi_items() == first.headers.multi_items(), url


def test_paging_links_follow_the_host(service: Any) -> None:
    _cache(service)
    c = service.client
    a = c.get("/api/v1/trade_flows?_size=1", headers={"Host": "a.example"}).json()["next_url"]
    b = c.get("/api/v1/trade_flows?_size=1", headers={"Host": "b.example"}).json()["next_url"]
    assert a.startswith("http://a.example/api/v1/trade_flows?")
    assert b.startswith("http://b.example/api/v1/trade_flows?")


def test_credentials_are_checked_before_any_kept_response(service: Any) -> None:
    cache = _cache(service)
    c = service.client
    body = c.get("/api/v1/minerals").content
    assert len(cache) == 1
    r = c.get("/api/v1/minerals", headers={"Authorization": "Bearer cm_wrong"})
    assert r.status_code == 401 and r.json()["error"] == "invalid or revoked API token"
    assert c.get("/api/v1/minerals", headers={"Authorization": "Basic abc"}).status_code == 401
    hits = cache.hits
    r = c.get("/api/v1/minerals", headers=service.as_("participant"))
    assert r.status_code == 200 and r.content == body and cache.hits == hits + 1
    r = c.get("/api/v1/minerals", headers={"Cookie": "critmin_session=unknown"})
    assert r.status_code == 200 and r.content == body and cache.hits == hits + 2
    # a revoked token is refused at once, although the answer is kept
    token = service.add_user("cache-revoked", "analyst")
    bearer = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/v1/minerals", headers=bearer).status_code == 200
    tokens = c.get("/api/v1/auth/tokens", headers=bearer).json()
    (mine,) = [t["id"] for t in tokens["tokens"]]
    assert c.delete(f"/api/v1/auth/tokens/{mine}", headers=bearer).status_code == 200
    assert c.get("/api/v1/minerals", headers=bearer).status_code == 401


def test_errors_streams_and_user_data_are_not_cached(service: Any) -> None:
    cache = _cache(service)
    c = service.client
    assert c.get("/api/v1/minerals?nope=1").status_code == 400
    assert c.get("/api/v1/countries/XXX").status_code == 404
    assert c.get("/api/v1/concentration?mineral=unobtainium").status_code in (400, 404)
    assert c.get("/api/v1/match/profiles").status_code == 401
    assert c.get("/api/v1/auth/me").status_code == 200
    assert c.get("/api/v1/coop/registry/groups").status_code == 200
    r = c.get("/api/v1/production.csv?_stream=1")
    assert r.status_code == 200 and r.text.startswith("\"year\",")
    assert len(cache) == 0


def test_participant_profiles_are_never_served_from_a_cache(service: Any) -> None:
    _cache(service)
    c = service.client
    name = "cache-participant"
    if name not in service.tokens:
        service.add_user(name, "participant")
    me = service.as_(name)
    body = {"display_name": "Cache Co", "public": {"kind": "company"},
            "private": {"contact": "secret@example.org"}}
    r = c.put("/api/v1/match/profile", json=body, headers=me)
    assert r.status_code in (200, 201), r.text
    pid = r.json()["profile"]["id"]
    assert c.get(f"/api/v1/match/profiles/{pid}", headers=me).json()["profile"]["private"] == \
        body["private"]
    assert c.get(f"/api/v1/match/profiles/{pid}").status_code == 401
    other = c.get(f"/api/v1/match/profiles/{pid}", headers=service.as_("participant"))
    assert other.status_code == 200 and "secret@example.org" not in other.text


def test_cache_is_emptied_when_the_atlas_file_changes(service: Any) -> None:
    cache = _cache(service)
    c = service.client
    c.get("/api/v1/minerals")
    assert len(cache) == 1
    path = service.app.state.atlas.path
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    hits = cache.hits
    assert c.get("/api/v1/minerals").status_code == 200
    assert cache.hits == hits and len(cache) == 1


def test_registry_edits_are_seen_by_the_next_read_in_every_worker(service: Any) -> None:
    from critmin.api import create_app

    c = service.client
    analyst = service.as_("analyst")
    # a second worker: its own application (and caches) on the same atlas and database
    other = TestClient(create_app(service.app.state.atlas.path, store=service.store, upgrade=False,
                                  web=False))

    def ids(client: TestClient, fmt: str = "") -> list[str]:
        if fmt == ".csv":
            return client.get("/api/v1/coop/registry/groups.csv").text.splitlines()[1:]
        return [g["group_id"] for g in client.get("/api/v1/coop/registry/groups").json()["rows"]]

    for client in (c, other):  # both workers have the registry cached
        assert "CACHE-TEST" not in ids(client) and ids(client) == ids(client)
        assert not any(line.startswith("CACHE-TEST,") for line in ids(client, ".csv"))
    assert c.post("/api/v1/coop/registry/groups", json=GROUP, headers=analyst).status_code == 201
    for client in (c, other):
        assert "CACHE-TEST" in ids(client)
        assert any(line.startswith("CACHE-TEST,") for line in ids(client, ".csv"))
    r = other.patch("/api/v1/coop/registry/groups/CACHE-TEST", json={"name": "Renamed group"},
                    headers=analyst)
    assert r.status_code == 200, r.text
    for client in (c, other):
        rows = client.get("/api/v1/coop/registry/groups").json()["rows"]
        assert [g["name"] for g in rows if g["group_id"] == "CACHE-TEST"] == ["Renamed group"]
    assert c.delete("/api/v1/coop/registry/groups/CACHE-TEST", headers=analyst).status_code == 200
    for client in (c, other):
        assert "CACHE-TEST" not in ids(client)
    other.close()


def test_a_deactivated_or_deleted_user_is_refused_at_once_although_the_answer_is_kept(
        service: Any) -> None:
    from sqlalchemy import delete, select

    from critmin.storage.models import User

    _cache(service)
    c = service.client
    for name, change in (("cache-inactive", "deactivate"), ("cache-deleted", "delete")):
        bearer = {"Authorization": f"Bearer {service.add_user(name, 'analyst')}"}
        assert c.get("/api/v1/minerals", headers=bearer).status_code == 200
        assert c.get("/api/v1/minerals", headers=bearer).status_code == 200  # a kept answer
        with service.store.session() as s:
            if change == "deactivate":
                s.scalar(select(User).where(User.username == name)).active = False
            else:
                s.execute(delete(User).where(User.username == name))
        assert c.get("/api/v1/minerals", headers=bearer).status_code == 401, change


def test_a_bearer_token_is_looked_up_once_per_request(service: Any) -> None:
    from sqlalchemy import event

    cache = _cache(service)
    c = service.client
    bearer = service.as_("analyst")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(service.store.engine, "before_cursor_execute", seen)
    try:
        assert c.get("/api/v1/minerals", headers=bearer).status_code == 200  # kept
        hits = cache.hits
        statements.clear()
        # a kept answer: one query (the token), served before routing
        assert c.get("/api/v1/minerals", headers=bearer).status_code == 200
        assert cache.hits == hits + 1 and len(statements) == 1, statements
        assert "api_tokens" in statements[0]
        statements.clear()
        # not kept: the principal found by the middleware serves the route
        r = c.get("/api/v1/auth/me", headers=bearer)
        assert r.status_code == 200 and r.json()["user"]["role"] == "analyst", r.text
        assert sum("api_tokens" in s for s in statements) == 1, statements
    finally:
        event.remove(service.store.engine, "before_cursor_execute", seen)

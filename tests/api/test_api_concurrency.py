"""Concurrent writes: 50 writers at once against real servers on SQLite and PostgreSQL, with one
worker and with two (every scenario of :mod:`tests.stress`), and the replay of stored edits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import stress

CONFIGS = [("sqlite", 1), ("sqlite", 2), ("postgresql", 1), ("postgresql", 2)]


@pytest.fixture(scope="module", params=CONFIGS, ids=[f"{k}-w{w}" for k, w in CONFIGS])
def target(request: pytest.FixtureRequest, starter_atlas: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[stress.Target]:
    kind, workers = request.param
    try:
        with stress.target(starter_atlas, tmp_path_factory.mktemp(f"stress-{kind}"), kind,
                           workers) as t:
            yield t
    except LookupError as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(stress.SCENARIOS))
def test_concurrent_writers(target: stress.Target, name: str) -> None:
    out = stress.SCENARIOS[name](target)
    assert out.ok, f"{name} on {target.database} with {target.workers} workers: {out.problem} " \
                   f"(statuses {dict(out.statuses)})"


def _remove_twice(service: Any, table: str, record_id: str) -> None:
    """Store two ``remove`` edits of one record, as the race of earlier versions did."""
    from critmin.storage.models import RegistryEdit

    with service.store.session() as s:
        for _ in range(2):
            s.add(RegistryEdit(table_name=table, record_id=record_id, action="remove",
                               payload={}, user_id=None))


def test_a_registry_holding_a_duplicate_remove_still_reads_and_writes(service: Any) -> None:
    c = service.client
    analyst = service.as_("analyst")
    new = {"id": "DUP-REMOVE", "name": "Duplicate remove", "country": "AUS",
           "mineral": "lithium", "stage": "mine", "status": "announced",
           "source_url": "https://example.org/dup"}
    assert c.post("/api/v1/coop/registry/projects", json=new, headers=analyst).status_code == 201
    _remove_twice(service, "projects", "DUP-REMOVE")
    r = c.get("/api/v1/coop/registry/projects")
    assert r.status_code == 200
    assert "DUP-REMOVE" not in [p["id"] for p in r.json()["rows"]]
    assert service.app.state.overlay.skipped  # the second remove was skipped, not fatal
    again = {**new, "id": "DUP-REMOVE-2"}
    assert c.post("/api/v1/coop/registry/projects", json=again, headers=analyst
                  ).status_code == 201
    r = c.delete("/api/v1/coop/registry/projects/DUP-REMOVE", headers=analyst)
    assert r.status_code == 409 and "removed" in r.json()["error"]
    assert c.delete("/api/v1/coop/registry/projects/NEVER-WAS", headers=analyst
                    ).status_code == 404


def test_registry_fields_are_bounded(service: Any) -> None:
    c = service.client
    analyst = service.as_("analyst")
    base = {"id": "BIG-FIELD", "name": "x", "country": "AUS", "mineral": "lithium",
            "stage": "mine", "status": "announced", "source_url": "https://example.org/b"}
    for field, value in [("name", "x" * 2001), ("id", "X" * 121),
                         ("sponsors", ["s"] * 101), ("source_note", "y" * 100_000)]:
        r = c.post("/api/v1/coop/registry/projects", json={**base, field: value},
                   headers=analyst)
        assert r.status_code == 422, (field, r.text)
        assert f"field {field!r}" in r.json()["error"] and "at most" in r.json()["error"]

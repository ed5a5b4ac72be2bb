"""Optimistic concurrency on the cooperation registry over HTTP: ``GET`` of one record answers its
version (body and ``ETag``); ``PATCH`` and ``DELETE`` with ``If-Match`` (or ``"version"`` in the
body) change it only while it is at that version, else 409; without a version a write is still
accepted. The 50-writer races are in ``tests/stress.py`` (``... If-Match`` scenarios)."""

from __future__ import annotations

from typing import Any

import pytest

PATH = "/api/v1/coop/registry/projects"


def _project(pid: str) -> dict[str, Any]:
    return {"id": pid, "name": "Version test", "country": "AUS", "mineral": "lithium",
            "stage": "mine", "status": "announced", "source_url": "https://example.org/v"}


@pytest.fixture
def pid(service: Any, request: pytest.FixtureRequest) -> str:
    """A new project added through the API, named after the test."""
    name = "V-" + request.node.name.upper().replace("_", "-")[:60]
    r = service.client.post(PATH, json=_project(name), headers=service.as_("analyst"))
    assert r.status_code == 201, r.text
    return name


def _get(service: Any, pid: str) -> tuple[str, dict[str, Any]]:
    r = service.client.get(f"{PATH}/{pid}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert r.headers["ETag"] == f'"{body["version"]}"'
    return body["version"], body


def test_get_answers_the_record_and_its_version(service: Any, pid: str) -> None:
    from critmin.cooperation.registry import record_version

    version, body = _get(service, pid)
    assert body["record"]["name"] == "Version test" and body["id"] == pid
    with service.store.session() as s:
        reg = service.app.state.overlay.current(service.app.state.atlas, s)
    assert version == record_version(reg.get("projects", pid)) and len(version) == 16
    missing = service.client.get(f"{PATH}/NO-SUCH-PROJECT")
    assert missing.status_code == 404 and "has no record" in missing.json()["error"]


def test_patch_with_the_current_version_wins_and_a_stale_one_is_409(service: Any,
                                                                     pid: str) -> None:
    c, analyst = service.client, service.as_("analyst")
    v0, _ = _get(service, pid)
    r = c.patch(f"{PATH}/{pid}", json={"name": "first"}, headers={**analyst, "If-Match": f'"{v0}"'})
    assert r.status_code == 200, r.text
    v1, body = _get(service, pid)
    assert v1 != v0 and r.json()["version"] == v1 and r.headers["ETag"] == f'"{v1}"'
    assert body["record"]["name"] == "first"
    stale = c.patch(f"{PATH}/{pid}", json={"name": "second"},
                    headers={**analyst, "If-Match": f'"{v0}"'})
    assert stale.status_code == 409
    err = stale.json()["error"]
    assert "\n" not in err and f"is at version {v1}, not {v0}" in err
    assert _get(service, pid)[1]["record"]["name"] == "first"
    # the version in the body instead of the header; a weak tag is compared the same way
    assert c.patch(f"{PATH}/{pid}", json={"name": "third", "version": v0},
                   headers=analyst).status_code == 409
    ok = c.patch(f"{PATH}/{pid}", json={"name": "third", "version": v1}, headers=analyst)
    assert ok.status_code == 200 and "version" not in _get(service, pid)[1]["record"]
    v2 = ok.json()["version"]
    assert c.patch(f"{PATH}/{pid}", json={"name": "fourth"},
                   headers={**analyst, "If-Match": f'W/"{v2}"'}).status_code == 200


def test_without_a_version_a_write_is_accepted(service: Any, pid: str) -> None:
    c, analyst = service.client, service.as_("analyst")
    assert c.patch(f"{PATH}/{pid}", json={"name": "a"}, headers=analyst).status_code == 200
    assert c.patch(f"{PATH}/{pid}", json={"name": "b"},
                   headers={**analyst, "If-Match": "*"}).status_code == 200
    assert _get(service, pid)[1]["record"]["name"] == "b"


def test_delete_is_conditional_too(service: Any, pid: str) -> None:
    c, analyst = service.client, service.as_("analyst")
    v0, _ = _get(service, pid)
    assert c.patch(f"{PATH}/{pid}", json={"name": "changed"}, headers=analyst).status_code == 200
    r = c.delete(f"{PATH}/{pid}", headers={**analyst, "If-Match": f'"{v0}"'})
    assert r.status_code == 409 and "is at version" in r.json()["error"]
    v1, _ = _get(service, pid)
    r = c.request("DELETE", f"{PATH}/{pid}", json={"version": v1}, headers=analyst)
    assert r.status_code == 200 and r.json()["version"] is None
    again = c.delete(f"{PATH}/{pid}", headers={**analyst, "If-Match": f'"{v1}"'})
    assert again.status_code == 409 and "removed by an earlier edit" in again.json()["error"]


@pytest.mark.parametrize(("headers", "body", "status", "message"), [
    ({"If-Match": '"a", "b"'}, {"name": "x"}, 400, "one entity tag"),
    ({"If-Match": '"a"'}, {"name": "x", "version": "b"}, 400, "differ"),
    ({}, {"name": "x", "version": 7}, 422, "version: expected"),
])
def test_malformed_versions_are_refused(service: Any, pid: str, headers: dict[str, str],
                                        body: dict[str, Any], status: int, message: str) -> None:
    r = service.client.patch(f"{PATH}/{pid}", json=body,
                             headers={**service.as_("analyst"), **headers})
    assert r.status_code == status and message in r.json()["error"], r.text


def test_replaying_the_stored_edits_gives_the_same_versions(service: Any, pid: str) -> None:
    """The stored edits (the versions are not stored with them) replay on a fresh registry to
    the records the service answers, version for version."""
    from sqlalchemy import select

    from critmin.cooperation.registry import Registry
    from critmin.storage.models import RegistryEdit

    c, analyst = service.client, service.as_("analyst")
    v0, _ = _get(service, pid)
    assert c.patch(f"{PATH}/{pid}", json={"name": "replayed"},
                   headers={**analyst, "If-Match": f'"{v0}"'}).status_code == 200
    reg = Registry.from_atlas(service.app.state.atlas.atlas())
    with service.store.session() as s:
        skipped = reg.replay(s.scalars(select(RegistryEdit).order_by(RegistryEdit.id)))
    assert skipped == []
    assert reg.version("projects", pid) == _get(service, pid)[0]

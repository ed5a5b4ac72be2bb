"""``/api/v1/watch`` on the starter atlas: rules, inbox, the token-authenticated Atom feed, and
event rules evaluated when the registry changes through the service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.api.conftest import Service, sqlite_service

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def svc(starter_atlas: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with sqlite_service(starter_atlas, tmp_path_factory.mktemp("watch")) as s:
        yield s


def test_rules_alerts_and_feed(svc: Service) -> None:
    c, ana = svc.client, svc.as_("analyst")
    assert c.get("/api/v1/watch").status_code == 401  # anonymous
    rule = {"country": "JPN", "mineral": "graphite", "kind": "threshold",
            "indicator": "import_share", "supplier": "CHN", "op": ">", "value": 0.0}
    r = c.post("/api/v1/watch", json=rule, headers=ana)
    assert r.status_code == 201, r.text
    rid = r.json()["rule"]["id"]
    assert r.json()["rule"]["text"] == "import_share of CHN in JPN graphite (all) > 0"
    assert [x["id"] for x in c.get("/api/v1/watch", headers=ana).json()["rules"]] == [rid]
    # someone else's rule is not yours
    assert c.delete(f"/api/v1/watch/{rid}", headers=svc.as_("organiser")).status_code == 404

    check = c.post("/api/v1/watch/check", headers=ana).json()
    assert check["rules"] == 1 and len(check["alerts"]) == 1
    inbox = c.get("/api/v1/watch/alerts", headers=ana).json()["alerts"]
    assert len(inbox) == 1 and inbox[0]["read_at"] is None
    a = inbox[0]
    assert 0 < a["new_value"] <= 1 and a["old_value"] is None
    assert a["new_release"]["family"] == "baci" and a["new_release"]["sources"]
    assert c.post("/api/v1/watch/check", headers=ana).json()["alerts"] == []  # no duplicate

    tok = c.post("/api/v1/watch/feed-token", headers=ana).json()["token"]
    feed = c.get("/api/v1/watch/feed.atom", params={"token": tok})
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [a["title"]]
    assert c.get("/api/v1/watch/feed.atom", params={"token": tok + "x"}).status_code == 401
    # a new token replaces the old one
    c.post("/api/v1/watch/feed-token", headers=ana)
    assert c.get("/api/v1/watch/feed.atom", params={"token": tok}).status_code == 401

    assert c.post(f"/api/v1/watch/alerts/{a['id']}/read", headers=ana).status_code == 200
    assert c.get("/api/v1/watch/alerts", params={"unread": True},
                 headers=ana).json()["alerts"] == []
    assert c.delete(f"/api/v1/watch/{rid}", headers=ana).status_code == 200
    # the alert outlives its rule, with the rule recorded in it
    assert c.get("/api/v1/watch/alerts", headers=ana).json()["alerts"][0]["rule"]["id"] == rid


@pytest.mark.parametrize(("change", "message"), [
    ({"mineral": "unobtainium"}, "unknown mineral 'unobtainium': use one of "),
    ({"country": "XXX"}, "unknown country or group 'XXX'"),
    ({"indicator": "vibes"}, "unknown indicator 'vibes'; one of import_share"),
    ({"supplier": None}, "needs a supplier"),
    ({"op": "=="}, "takes one of >, >=, <, <="),
    ({"value": None}, "needs a finite limit"),
    ({"indicator": "production_hhi", "supplier": None}, "takes stage mine or refinery"),
])
def test_bad_rules_are_refused_with_the_choices(svc: Service, change: dict, message: str) -> None:
    rule = {"country": "JPN", "mineral": "graphite", "kind": "threshold",
            "indicator": "import_share", "supplier": "CHN", "op": ">", "value": 0.5, **change}
    r = svc.client.post("/api/v1/watch", json=rule, headers=svc.as_("analyst"))
    assert r.status_code == 422
    assert message in r.json()["error"]


def test_registry_edit_raises_project_status_alert(svc: Service) -> None:
    c, olga = svc.client, svc.as_("organiser")
    projects = c.get("/api/v1/coop/registry/projects", params={"mineral": "graphite"}).json()
    p = next(x for x in projects["rows"] if x["status"] != "operating")
    r = c.post("/api/v1/watch", json={"country": "JPN", "mineral": "graphite", "kind": "event",
                                      "indicator": "project_status"}, headers=olga)
    assert r.status_code == 201
    c.post("/api/v1/watch/check", headers=olga)  # records the projects as they are
    assert c.get("/api/v1/watch/alerts", headers=olga).json()["alerts"] == []
    r = c.patch(f"/api/v1/coop/registry/projects/{p['id']}", json={"status": "operating"},
                headers=olga)
    assert r.status_code == 200, r.text
    alerts = c.get("/api/v1/watch/alerts", headers=olga).json()["alerts"]
    assert len(alerts) == 1
    a = alerts[0]
    assert a["trigger"] == "registry"
    assert a["detail"]["old_status"] == p["status"] and a["detail"]["new_status"] == "operating"
    assert a["provenance"] == {"registry": "projects", "id": p["id"]}

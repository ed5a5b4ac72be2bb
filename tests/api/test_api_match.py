"""Matchmaking: profiles, privacy, requests, the scheduler and agendas."""

from __future__ import annotations

from typing import Any


def setup_people(svc: Any) -> dict[str, int]:
    ids = {}
    roles = {"alice": "cell", "bob": "mining", "carol": "refining"}
    for name, country in (("alice", "JPN"), ("bob", "AUS"), ("carol", "CHL")):
        if name not in svc.tokens:
            svc.add_user(name, "participant", None)
        r = svc.client.put("/api/v1/match/profile", headers=svc.as_(name), json={
            "display_name": name.title(), "organisation": f"{name} Corp", "country": country,
            "public": {"minerals": ["lithium"], "kind": "company", "roles": [roles[name]],
                       "offers": [{"mineral": "lithium", "stage": roles[name], "text": "spodumene"}],
                       "needs": [{"mineral": "lithium", "text": "lithium supply"}]},
            "private": {"contact": f"{name}@example.org", "volumes_t": 1000}})
        assert r.status_code in (200, 201), r.text
        ids[name] = r.json()["profile"]["id"]
    return ids


def test_privacy_of_profiles_and_requests(service: Any) -> None:
    c = service.client
    ids = setup_people(service)
    # alice sees everyone's public fields and only her own private ones
    rows = c.get("/api/v1/match/profiles", headers=service.as_("alice")).json()["profiles"]
    by = {p["display_name"]: p for p in rows}
    assert by["Alice"]["private"]["contact"] == "alice@example.org"
    assert "private" not in by["Bob"] and "private" not in by["Carol"]
    assert by["Bob"]["public"]["kind"] == "company"
    one = c.get(f"/api/v1/match/profiles/{ids['bob']}", headers=service.as_("alice")).json()
    assert "private" not in one["profile"] and "bob@example.org" not in str(one)
    # organisers see all private fields
    rows = c.get("/api/v1/match/profiles", headers=service.as_("organiser")).json()["profiles"]
    assert all("private" in p for p in rows)
    # alice cannot edit bob
    r = c.put(f"/api/v1/match/profiles/{ids['bob']}", headers=service.as_("alice"),
              json={"display_name": "Hacked"})
    assert r.status_code == 403
    # bob asks carol; alice never sees that request
    r = c.post("/api/v1/match/requests", headers=service.as_("bob"),
               json={"to": ids["carol"], "message": "secret plans"})
    assert r.status_code == 201, r.text
    rid = r.json()["request"]["id"]
    assert c.get("/api/v1/match/requests", headers=service.as_("alice")).json()["requests"] == []
    assert c.get(f"/api/v1/match/requests/{rid}", headers=service.as_("alice")).status_code == 404
    assert c.post(f"/api/v1/match/requests/{rid}/accept",
                  headers=service.as_("alice")).status_code == 404
    # the sender cannot accept its own request; the recipient can
    assert c.post(f"/api/v1/match/requests/{rid}/accept",
                  headers=service.as_("bob")).status_code == 403
    assert c.post(f"/api/v1/match/requests/{rid}/accept",
                  headers=service.as_("carol")).status_code == 200
    assert c.post(f"/api/v1/match/requests/{rid}/decline",
                  headers=service.as_("carol")).status_code == 409
    assert len(c.get("/api/v1/match/requests", headers=service.as_("organiser"))
               .json()["requests"]) >= 1
    # alice asks bob; bob declines
    r = c.post("/api/v1/match/requests", headers=service.as_("alice"), json={"to": ids["bob"]})
    assert c.post(f"/api/v1/match/requests/{r.json()['request']['id']}/decline",
                  headers=service.as_("bob")).json()["request"]["status"] == "declined"
    assert c.post("/api/v1/match/requests", headers=service.as_("alice"),
                  json={"to": ids["bob"]}).status_code == 409
    assert c.post("/api/v1/match/requests", headers=service.as_("alice"),
                  json={"to": ids["alice"]}).status_code == 422
    assert c.post("/api/v1/match/requests", headers=service.as_("alice"),
                  json={"to": 999999}).status_code == 404
    # agendas: alice cannot read carol's; the organiser schedules and reads anyone's
    assert c.get(f"/api/v1/match/agenda?participant={ids['carol']}",
                 headers=service.as_("alice")).status_code == 403
    r = c.post("/api/v1/match/schedule", headers=service.as_("organiser"), json={
        "n_tables": 1, "n_slots": 3, "n_morning_slots": 2, "start": "2026-06-01T09:00:00",
        "slot_minutes": 30, "time_limit_s": 5})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "OPTIMAL" and r.json()["meetings"] == 1
    carol = c.get("/api/v1/match/agenda", headers=service.as_("carol")).json()["meetings"]
    assert [m["with"] for m in carol] == ["Bob"]
    assert c.get("/api/v1/match/agenda", headers=service.as_("alice")).json()["meetings"] == []
    ics = c.get("/api/v1/match/agenda.ics", headers=service.as_("bob"))
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text and "Meeting with Carol" in ics.text
    csv = c.get("/api/v1/match/agenda.csv", headers=service.as_("bob")).text
    assert csv.splitlines()[0].startswith("slot,start,end,table") and "Carol" in csv
    html = c.get(f"/api/v1/match/agenda.html?participant={ids['carol']}",
                 headers=service.as_("organiser")).text
    assert "<table>" in html and "Bob" in html and "<script" not in html
    # no private field or foreign request leaks into anything alice can read
    for url in ("/api/v1/match/profiles", f"/api/v1/match/profiles/{ids['bob']}",
                f"/api/v1/match/profiles/{ids['carol']}", "/api/v1/match/requests",
                "/api/v1/match/agenda", "/api/v1/match/agenda.csv", "/api/v1/match/agenda.ics"):
        text = c.get(url, headers=service.as_("alice")).text
        assert "bob@example.org" not in text and "secret plans" not in text, url


def test_recommendations_answer(service: Any) -> None:
    setup_people(service)
    r = service.client.get("/api/v1/match/recommendations", headers=service.as_("alice"))
    assert r.status_code == 200, r.text
    recs = r.json()["recommendations"]
    assert recs and all(x["score"] > 0 and x["reasons"] is not None for x in recs)
    assert "alice@example.org" not in r.text and "bob@example.org" not in r.text
    r = service.client.get("/api/v1/match/recommendations", headers=service.as_("analyst"))
    assert r.status_code == 403

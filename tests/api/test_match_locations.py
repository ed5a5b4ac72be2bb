"""Locations through the SQL store: an event file with rooms and booths imported over HTTP,
scheduled with the booth constraint, agendas naming room and table; settings edited by the API
and by the organiser's form."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.datastructures import FormData

from tests.matchmaking.test_roundtable_locations import event


def test_booths_through_the_store(org_client: tuple[TestClient, dict[str, str]]) -> None:
    c, org = org_client
    body = event({"A": 1}).model_dump_json(by_alias=True).encode()
    r = c.post("/api/v1/match/import", headers={**org, "Content-Type": "application/json"},
               content=body)
    assert r.status_code == 201, r.text
    ev = c.get("/api/v1/match/event", headers=org).json()["event"]
    assert ev["booths"] == {"A": 1}
    assert ev["locations"] == [{"name": "Hall A", "tables": 1}, {"name": "Room 2", "tables": 1}]
    run = c.post("/api/v1/match/schedule", headers=org, json={"time_limit_s": 30}).json()
    assert (run["status"], run["total_breaks"], run["published"]) == ("OPTIMAL", 1, True)
    ids = {p["ref"]: p["id"] for p in
           c.get("/api/v1/match/profiles", headers=org).json()["profiles"]}
    agenda = c.get(f"/api/v1/match/agenda?participant={ids['F']}", headers=org).json()
    assert [(m["location"], m["table"], m["with"]) for m in agenda["meetings"]] == [
        ("Hall A", 1, "Org A")]
    ics = c.get(f"/api/v1/match/agenda.ics?participant={ids['B']}", headers=org).text
    assert ics.count("LOCATION:Messe\\, Room 2\\, table 2\r\n") == 2
    # the pages: the grid names each table's room and the booth's host; the agenda the place
    grid = c.get("/roundtable/schedule", headers=org)
    assert grid.status_code == 200
    assert '<span class="who location">Hall A</span>Table 1<span class="who booth">booth: Org A' \
        in grid.text and '<span class="who location">Room 2</span>Table 2</th>' in grid.text
    page = c.get(f"/roundtable/agenda?participant={ids['F']}", headers=org).text
    assert "<td>Hall A, table 1</td>" in page
    # without the booth the optimum is 0 breaks, and the better run replaces the published one
    r = c.put("/api/v1/match/event", headers=org, json={"booths": {}})
    assert r.status_code == 200 and r.json()["event"]["booths"] == {}
    run = c.post("/api/v1/match/schedule", headers=org, json={"time_limit_s": 30}).json()
    assert (run["status"], run["total_breaks"], run["published"]) == ("OPTIMAL", 0, True)
    # a booth for an unknown participant or a table outside the event is a one-line 422
    r = c.put("/api/v1/match/event", headers=org, json={"booths": {"A": 9}})
    assert r.status_code == 422 and "outside 1..2" in r.json()["error"]
    r = c.put("/api/v1/match/event", headers=org, json={"n_tables": 3})
    assert r.status_code == 422 and "the locations hold 2 tables but n_tables is 3" in r.text
    # the organiser's form sets rooms and booths (n_tables follows the rooms)
    form = {"name": "Locations test", "date": "2026-03-02", "timezone": "Europe/Berlin",
            "venue": "Messe", "n_tables": "2", "slot_minutes": "20", "morning_start": "09:00",
            "morning_slots": "4", "afternoon_start": "14:00", "afternoon_slots": "0",
            "partner_countries": "", "request_deadline": "", "fairness": "2",
            "locations": "Hall A: 2; Room 2: 1", "booths": "A: 3"}
    r = c.post("/roundtable/organise/event", headers=org, data=form)
    assert r.status_code == 200 and "Event saved." in r.text, r.text
    ev = c.get("/api/v1/match/event", headers=org).json()["event"]
    assert (ev["n_tables"], ev["booths"]) == (3, {"A": 3})
    assert "Hall A: 2; Room 2: 1" in c.get("/roundtable/organise", headers=org).text


def test_the_organisers_form_reads_locations_and_booths() -> None:
    from critmin.web.roundtable import _settings_of

    base = {"name": "x", "date": "2026-03-02", "timezone": "UTC", "venue": "", "n_tables": "5",
            "slot_minutes": "20", "morning_start": "09:00", "morning_slots": "4",
            "afternoon_start": "14:00", "afternoon_slots": "0", "partner_countries": "",
            "request_deadline": "", "fairness": "2"}
    got = _settings_of(FormData({**base, "locations": "Hall A: 12; Room 2: 8",
                                 "booths": "jpn-02: 1\nind-05: 14"}))
    assert got["locations"] == [{"name": "Hall A", "tables": 12}, {"name": "Room 2", "tables": 8}]
    assert got["n_tables"] == 20  # the locations' total
    assert got["booths"] == {"jpn-02": 1, "ind-05": 14}
    assert _settings_of(FormData({**base, "locations": "", "booths": ""}))["n_tables"] == 5
    with pytest.raises(ValueError, match="locations: 'Hall A' is not 'name: number'"):
        _settings_of(FormData({**base, "locations": "Hall A", "booths": ""}))

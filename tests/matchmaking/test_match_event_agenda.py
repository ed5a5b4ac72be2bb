"""Profiles and visibility, recommendations, event requests, agendas (ICS, CSV, HTML)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from critmin.errors import InputError, SpecError
from critmin.matchmaking.agenda import agenda_csv, agenda_html, agenda_ics, ics_escape, ics_fold
from critmin.matchmaking.check import ScheduleEntry
from critmin.matchmaking.event import Event, event_from_dict
from critmin.matchmaking.profiles import Item, Profile, Role, profile_view
from critmin.matchmaking.recommend import recommend, tfidf_matrix
from critmin.matchmaking.roundtable import (
    accept_all_pending,
    add_request,
    build_instance,
    respond,
)


def profiles() -> list[Profile]:
    return [
        Profile(id="ref", name="Deccan Chemicals", country_iso3="IND", roles=[Role.REFINING],
                minerals=["lithium"],
                offers=[Item(mineral="lithium", stage=Role.REFINING, text="lithium hydroxide")],
                needs=[Item(mineral="lithium", stage=Role.MINING, text="spodumene concentrate")],
                contact_email="bd@ref.example"),
        Profile(id="mine", name="Sakura Minerals; K.K.", country_iso3="JPN", roles=[Role.MINING],
                minerals=["lithium"],
                offers=[Item(mineral="lithium", stage=Role.MINING, text="spodumene concentrate")],
                needs=[Item(mineral="lithium", stage=Role.FINANCE, text="offtake finance")],
                description="Line one,\nline two", visibility={"description": "organiser"}),
        Profile(id="pack", name="Konkan Power", country_iso3="IND", roles=[Role.PACK],
                minerals=["nickel"]),
    ]


def event() -> Event:
    return Event(
        name="Test roundtable", date=date(2026, 2, 12), timezone="Asia/Kolkata", venue="Hall A",
        n_tables=2, morning={"start": "09:30", "slots": 2},
        afternoon={"start": "14:00", "slots": 2}, partner_countries=["IND", "JPN"],
        participants=profiles(),
    )


def test_visibility() -> None:
    mine = profiles()[1]
    public = profile_view(mine, "ref")
    assert "description" not in public and "contact_email" not in public
    assert public["name"] == "Sakura Minerals; K.K."
    assert profile_view(mine, "mine")["description"] == "Line one,\nline two"
    assert "description" in profile_view(mine, None, organiser=True)
    assert "unavailable_slots" not in profile_view(mine, None)


def test_unknown_visibility_field_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown field 'phone'"):
        Profile(id="x", name="X", country_iso3="IND", visibility={"phone": "public"})


def test_recommendations_are_explained_and_ordered() -> None:
    recs = recommend(profiles(), participant="ref", top_k=2, partner_countries=["IND", "JPN"])
    assert [r.target for r in recs] == ["mine", "pack"][: len(recs)]
    best = recs[0]
    assert best.parts["complementarity"] == 0.5
    assert best.parts["chain"] == 1.0 and best.parts["country"] == 1.0
    assert any("offers lithium (mining) that Deccan Chemicals needs" in r for r in best.reasons)
    with pytest.raises(SpecError):
        recommend(profiles(), participant="nobody")


@given(st.lists(st.text(alphabet="abc xyz", max_size=20), min_size=1, max_size=6))
def test_tfidf_rows_are_unit_or_zero(docs: list[str]) -> None:
    m = tfidf_matrix(docs)
    norms = (m**2).sum(axis=1)
    assert all(abs(n - 1) < 1e-9 or n == 0 for n in norms)
    sims = m @ m.T
    assert (sims <= 1 + 1e-9).all() and (sims >= -1e-12).all()


def test_requests_as_data_operations() -> None:
    ev = add_request(event(), "ref", "mine")
    assert ev.requests[0].status == "pending"
    with pytest.raises(SpecError, match="already have request"):
        add_request(ev, "mine", "ref")
    ev = respond(ev, "r1", accept=True)
    ev = add_request(ev, "pack", "ref")
    ev = respond(ev, "r2", accept=False)
    assert [r.status for r in ev.requests] == ["accepted", "declined"]
    auto = accept_all_pending(add_request(ev, "pack", "mine"))
    assert auto.auto_accept and auto.requests[-1].status == "accepted"
    with pytest.raises(SpecError, match="declined"):  # the answer stands
        add_request(auto, "ref", "pack")
    assert add_request(accept_all_pending(event()), "mine", "pack").requests[-1].status == \
        "accepted"
    with pytest.raises(SpecError, match="unknown request"):
        respond(ev, "r9", accept=True)


def test_event_errors_are_one_line() -> None:
    data = event().model_dump(mode="json", by_alias=True)
    data["requests"] = [{"id": "r1", "from": "ref", "to": "ghost"}]
    with pytest.raises(InputError, match="request 'r1' names unknown participant 'ghost'"):
        event_from_dict(data, "event.json")
    data["requests"] = [{"id": "r1", "from": "ref", "to": "mine", "status": "accepted",
                         "fixed_slot": 2}]
    data["participants"][0]["unavailable_slots"] = [2]
    ev = event_from_dict(data, "event.json")
    with pytest.raises(InputError, match="request 'r1' is fixed to slot 2, which is forbidden"):
        build_instance(ev, "event.json")


def _scheduled() -> tuple[Event, list[ScheduleEntry]]:
    ev = accept_all_pending(add_request(add_request(event(), "ref", "mine"), "pack", "ref"))
    return ev, [ScheduleEntry(1, 2, 1), ScheduleEntry(2, 3, 2)]


def test_ics_folding_and_escaping() -> None:
    assert ics_escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    long = "DESCRIPTION:" + "ü" * 80
    folded = ics_fold(long)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == long
    ev, sched = _scheduled()
    text = agenda_ics(ev, sched, "ref")
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert text.count("BEGIN:VEVENT") == 2
    assert "DTSTART;TZID=Asia/Kolkata:20260212T095000" in text
    assert "Sakura Minerals\\; K.K." in text
    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75


def test_agenda_respects_visibility() -> None:
    ev, sched = _scheduled()
    # ref sees mine's public fields only: the organiser-only description is absent
    assert "Line one" not in agenda_ics(ev, sched, "ref")
    assert "Line one" not in agenda_html(ev, sched, "ref")
    csv_text = agenda_csv(ev, sched, "ref")
    assert csv_text.splitlines()[1].startswith("2,09:50,10:10,1,,mine,")  # no location named
    assert csv_text.splitlines()[2].startswith("3,14:00,14:20,2,,pack,")
    html_text = agenda_html(ev, sched, "mine")
    assert "Sakura Minerals; K.K." in html_text and "<td>09:50–10:10</td>" in html_text
    assert "bd@ref.example" not in html_text

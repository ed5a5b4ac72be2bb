"""The roundtable core: bounded event input, capacity before solving, publishing, calendars."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from datetime import datetime
from io import BytesIO
from pathlib import Path

import pytest

from critmin.errors import InputError, SpecError
from critmin.matchmaking.agenda import agenda_ics, agendas_zip, vtimezone
from critmin.matchmaking.check import ScheduleEntry
from critmin.matchmaking.event import (
    Event,
    event_from_dict,
    event_from_json,
    read_event,
    write_event,
)
from critmin.matchmaking.profiles import Profile
from critmin.matchmaking.roundtable import (
    RunOutcome,
    accept_all_pending,
    add_request,
    capacity_check,
    demand,
    recommend_for,
    replaces,
    respond,
    schedule_event,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roundtable" / "event.json"


def small(n: int = 4, tables: int = 1, slots: int = 2) -> Event:
    people = [Profile(id=f"p{i}", name=f"P{i}", country_iso3="IND") for i in range(n)]
    return Event(name="Small; test, event", date="2026-03-29", timezone="Europe/Berlin",
                 n_tables=tables, morning={"start": "09:00", "slots": slots},
                 participants=people)


def base_dict() -> dict[str, object]:
    return small().model_dump(mode="json", by_alias=True)


@pytest.mark.parametrize(("patch", "message"), [
    ({"morning": {"start": "09:00", "slots": 1_000_000_000_000}}, "less than or equal to 200"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"morning": {"start": "25:99", "slots": 2}}, "should match pattern"),
    ({"n_tables": 10**9}, "less than or equal to 1000"),
    ({"morning": {"start": "23:40", "slots": 3}}, "ends after midnight"),
])
def test_event_input_is_bounded_and_checked(patch: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        event_from_dict({**base_dict(), **patch}, "event.json")
    assert "\n" not in str(err.value) and str(err.value).startswith("event.json")


def test_event_file_size_and_bytes_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not UTF-8"):
        event_from_json(b"\xff\xfe{}", "e.json")
    with pytest.raises(InputError, match=r"nested too deeply|invalid JSON"):
        event_from_json("[" * 100_000 + "]" * 100_000, "e.json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 20_000_001)
    with pytest.raises(InputError, match="at most 20000000 bytes"):
        read_event(big)


def test_profile_fields_are_bounded() -> None:
    with pytest.raises(ValueError, match="at most 4000 characters"):
        Profile(id="x", name="X", country_iso3="IND", description="x" * 50_000)


def test_capacity_is_checked_before_solving_with_numbers_and_advice() -> None:
    ev = small(n=4, tables=1, slots=2)
    for a, b in (("p0", "p1"), ("p0", "p2"), ("p0", "p3"), ("p1", "p2")):
        ev = add_request(ev, a, b)
    ev = accept_all_pending(ev)
    cap = capacity_check(ev)
    assert not cap.feasible
    assert "4 accepted meetings for 1 tables x 2 slots = 2 places" in cap.reasons
    assert "P0 (p0) has 3 accepted meetings but 2 usable slots" in cap.reasons
    assert any(a.startswith("add 1 tables (to 2)") for a in cap.advice)
    out = schedule_event(ev, time_limit_s=5)
    assert out.status == "INFEASIBLE" and out.wall_time_s < 1.0 and out.reasons == cap.reasons
    rows = {d.participant: d for d in demand(ev)}
    assert rows["p0"].warnings == ("nobody requested this participant",
                                   "over capacity: 3 meetings for 2 slots")


def test_request_life_cycle() -> None:
    ev = add_request(small(), "p0", "p1")
    with pytest.raises(SpecError, match="already have request"):
        add_request(ev, "p1", "p0")  # B->A after A->B
    with pytest.raises(PermissionError):
        respond(ev, "r1", accept=True, by="p0")  # the requester cannot accept
    ev = respond(ev, "r1", accept=True, by="p1")
    with pytest.raises(SpecError, match="accepted already"):
        respond(ev, "r1", accept=False)
    late = ev.model_copy(update={"request_deadline": datetime(2026, 3, 1, 12, 0)})
    with pytest.raises(SpecError, match="requests closed at 2026-03-01 12:00"):
        add_request(late, "p2", "p3", now=datetime(2026, 3, 1, 13, 0))
    assert add_request(late, "p2", "p3", now=datetime(2026, 3, 1, 11, 0)).requests


def test_a_run_that_is_not_better_never_replaces_the_published_one() -> None:
    done = RunOutcome("OPTIMAL", 2, 2, (ScheduleEntry(1, 1, 1),), ("7",))
    worse = RunOutcome("FEASIBLE", 3, 1, (ScheduleEntry(1, 2, 1),), ("7",))
    nothing = RunOutcome("UNKNOWN", None, 1, (), ("7",))
    better = RunOutcome("OPTIMAL", 1, 1, (ScheduleEntry(1, 2, 1),), ("7",))
    other = RunOutcome("FEASIBLE", 5, 0, (ScheduleEntry(1, 1, 1), ScheduleEntry(2, 2, 1)),
                       ("7", "8"))
    assert replaces(done, None)
    assert not replaces(nothing, done) and not replaces(worse, done)
    assert not replaces(done, done)
    assert replaces(better, done) and replaces(other, done)


def test_ics_has_vtimezone_stable_uids_and_escaped_text() -> None:
    ev = accept_all_pending(add_request(small(), "p0", "p1"))
    text = agenda_ics(ev, [ScheduleEntry(1, 2, 1)], "p0")
    moved = agenda_ics(ev, [ScheduleEntry(1, 1, 1)], "p0")
    uid = [x for x in text.split("\r\n") if x.startswith("UID:")]
    assert uid == [x for x in moved.split("\r\n") if x.startswith("UID:")]  # slot-independent
    assert uid == [x for x in agenda_ics(ev, [ScheduleEntry(1, 2, 1)], "p1").split("\r\n")
                   if x.startswith("UID:")]  # one UID per meeting, both calendars
    assert "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin" in text
    assert "DTSTART;TZID=Europe/Berlin:20260329T092000" in text
    assert "Small\\; test\\, event" in text
    tz = vtimezone("Europe/Berlin", 2026)
    i = tz.index("BEGIN:DAYLIGHT")
    assert tz[i + 1:i + 4] == ["DTSTART:20260329T020000", "TZOFFSETFROM:+0100",
                               "TZOFFSETTO:+0200"]
    assert "BEGIN:DAYLIGHT" not in "".join(vtimezone("Asia/Kolkata", 2026))


def test_agendas_zip_holds_every_participant_in_three_formats() -> None:
    ev = accept_all_pending(add_request(small(), "p0", "p1"))
    z = zipfile.ZipFile(BytesIO(agendas_zip(ev, [ScheduleEntry(1, 1, 1)])))
    names = set(z.namelist())
    assert {f"{k}/p{i}.{k}" for k in ("ics", "csv", "html") for i in range(4)} <= names
    assert "P1" in z.read("csv/p0.csv").decode()


def test_recommendations_exclude_requested_pairs_and_spread_demand() -> None:
    ev = read_event(EXAMPLE)
    first = recommend_for(ev, "ind-01", top_k=3, spread=False)
    assert first and all(r.parts["country"] in (0.0, 0.5, 1.0) for r in first)
    ev2 = add_request(ev, "ind-01", first[0].target)
    again = recommend_for(ev2, "ind-01", top_k=3, spread=False)
    assert first[0].target not in {r.target for r in again}
    # hubs: count how often each target is in someone's top 3, with and without spreading
    def worst_hub(spread: bool) -> int:
        counts: dict[str, int] = {}
        for r in recommend_for(ev, top_k=3, spread=spread):
            counts[r.target] = counts.get(r.target, 0) + 1
        return max(counts.values())
    assert worst_hub(spread=True) <= worst_hub(spread=False)
    json.dumps([r.parts for r in recommend_for(ev, "ind-01", top_k=3)])  # JSON-ready


def test_top3_lists_are_chosen_jointly_within_capacity() -> None:
    # before any request: nobody is in more top-3 lists than it has free slots, every list is
    # full, and each pair keeps its own score and reasons (the capacity factor is 1)
    ev = read_event(EXAMPLE)
    assert not ev.requests
    slots = {d.participant: d.slots for d in demand(ev)}
    lists = recommend_for(ev, top_k=3)
    counts: dict[str, int] = {}
    for r in lists:
        counts[r.target] = counts.get(r.target, 0) + 1
    assert all(n <= slots[b] for b, n in counts.items()), counts
    by_fit = {(r.participant, r.target): r for r in recommend_for(ev, top_k=74, spread=False)}
    fit_counts: dict[str, int] = {}
    for r in recommend_for(ev, top_k=3, spread=False):
        fit_counts[r.target] = fit_counts.get(r.target, 0) + 1
    hub = max(fit_counts, key=fit_counts.__getitem__)
    assert fit_counts[hub] > slots[hub]  # by fit alone the hub is in more lists than it can meet
    assert len(lists) == 3 * len(ev.participants)
    for r in lists:
        fit = by_fit[(r.participant, r.target)]
        assert (r.score, r.reasons[:-1]) == (fit.score, fit.reasons)
        assert r.reasons[-1] == "nobody has asked to meet them yet"
    # a longer list starts with the joint top 3, so every surface's shorter list is its prefix
    for p in ("ind-01", "jpn-02"):
        assert [r.target for r in recommend_for(ev, p, top_k=10)][:3] == [
            r.target for r in recommend_for(ev, p, top_k=3)]


def test_cli_answers_infeasible_at_once_with_numbers(tmp_path: Path,
                                                     cli: Callable[..., str]) -> None:
    ev = small(n=4, tables=1, slots=1)
    ev = accept_all_pending(add_request(add_request(ev, "p0", "p1"), "p2", "p3"))
    path = tmp_path / "event.json"
    write_event(ev, path)
    out = json.loads(cli("match", "schedule", str(path), "--format", "json"))
    assert out["status"] == "INFEASIBLE" and out["schedule"] == []
    assert out["reasons"] == ["2 accepted meetings for 1 tables x 1 slots = 1 places"]
    assert out["advice"] == ["add 1 tables (to 2) or drop 1 accepted requests"]

"""Locations: tables belong to named rooms, hosts meet at their fixed booth, the other meetings
share the pool of remaining tables. A hand-checkable event where a booth changes the optimum.

The event: six participants, two tables (one in "Hall A", one in "Room 2"), four slots; a
4-cycle of meetings B-C, C-D, D-E, E-B and one meeting A-F.

- Without booths: slot 1 holds B-C and D-E, slot 2 C-D and E-B, A-F any slot: 0 breaks.
- With A hosting at table 1 (Hall A): the cycle meetings have no host, so they share the one
  remaining table, one per slot, in four slots. Each of B, C, D, E has two meetings and is
  break-free only if they are in adjacent slots; there are three adjacent slot pairs and each
  pair of cycle edges shares at most one participant, so at most three of the four are
  break-free: the optimum is 1 break (B-C, C-D, D-E, E-B in slots 1-4 leaves B a break).
"""

from __future__ import annotations

from typing import Any

import pytest

from critmin.errors import InputError
from critmin.matchmaking.agenda import agenda_csv, agenda_html, agenda_ics
from critmin.matchmaking.check import ScheduleEntry, check_schedule
from critmin.matchmaking.event import Event, event_from_dict
from critmin.matchmaking.roundtable import (
    agenda_rows,
    build_instance,
    capacity_check,
    schedule_event,
)
from critmin.matchmaking.scheduler import solve_schedule

PEOPLE = "ABCDEF"
CYCLE = [("B", "C"), ("C", "D"), ("D", "E"), ("E", "B")]


def event(booths: dict[str, int] | None = None, slots: int = 4, **extra: Any) -> Event:
    data: dict[str, Any] = {
        "name": "Locations test", "date": "2026-03-02", "timezone": "Europe/Berlin",
        "venue": "Messe", "n_tables": 2, "slot_minutes": 20,
        "morning": {"start": "09:00", "slots": slots},
        "locations": [{"name": "Hall A", "tables": 1}, {"name": "Room 2", "tables": 1}],
        "booths": booths or {},
        "participants": [{"id": p, "name": f"Org {p}", "country_iso3": "DEU"} for p in PEOPLE],
        "requests": [{"id": f"r{k}", "from": a, "to": b, "status": "accepted"}
                     for k, (a, b) in enumerate([*CYCLE, ("A", "F")], start=1)],
    }
    return event_from_dict({**data, **extra}, "event.json")


def entries(out: Any) -> list[ScheduleEntry]:
    return list(out.schedule)


def test_a_booth_changes_the_optimum_from_0_to_1_break() -> None:
    free = schedule_event(event())
    assert (free.status, free.total_breaks) == ("OPTIMAL", 0)
    hosted = schedule_event(event({"A": 1}))
    assert (hosted.status, hosted.total_breaks, hosted.lower_bound) == ("OPTIMAL", 1, 1)
    inst = build_instance(event({"A": 1}))
    assert inst.booths == (1, None, None, None, None, None) and inst.pool_tables == 1
    report = check_schedule(inst, entries(hosted), fairness=2)
    assert report.valid, report.violations
    assert report.total_breaks == 1
    table = {e.meeting: e.table for e in hosted.schedule}
    assert table[5] == 1  # A-F at A's booth
    assert [table[m] for m in range(1, 5)] == [2, 2, 2, 2]  # the cycle shares the pool table
    assert sorted(e.slot for e in hosted.schedule if e.meeting <= 4) == [1, 2, 3, 4]
    # the CP-SAT model has the same pool constraint
    cp = solve_schedule(inst, fairness=2, method="cpsat")
    assert (cp.status, cp.total_breaks) == ("OPTIMAL", 1)


def test_two_hosts_meet_at_one_of_their_booths() -> None:
    ev = event({"B": 1, "C": 2}, n_tables=3,
               locations=[{"name": "Hall A", "tables": 2}, {"name": "Room 2", "tables": 1}])
    out = schedule_event(ev)
    assert out.status == "OPTIMAL"
    inst = build_instance(ev)
    assert inst.pool_tables == 1
    assert check_schedule(inst, entries(out), fairness=2).valid
    table = {e.meeting: e.table for e in out.schedule}
    assert table[1] in (1, 2)  # B-C: two hosts, one of their booths
    assert table[2] == 2 and table[4] == 1  # C-D at C's booth, E-B at B's
    assert table[3] == table[5] == 3  # D-E and A-F have no host: the pool table
    # with every table a booth, a meeting without a host has nowhere to go
    cap = capacity_check(event({"B": 1, "C": 2}))
    assert not cap.feasible
    assert ("2 accepted meetings without a host for 0 pool tables (2 tables, 2 booths) x 4 "
            "slots = 0 places") in cap.reasons, cap.reasons


def test_the_checker_verifies_locations() -> None:
    inst = build_instance(event({"A": 1}))
    good = [ScheduleEntry(1, 1, 2), ScheduleEntry(2, 2, 2), ScheduleEntry(3, 3, 2),
            ScheduleEntry(4, 4, 2), ScheduleEntry(5, 1, 1)]
    assert check_schedule(inst, good, fairness=2).valid
    moved = [*good[:4], ScheduleEntry(5, 1, 2)]  # A-F away from A's booth, onto the pool table
    problems = check_schedule(inst, moved, fairness=2).violations
    assert "meeting 5: at table 2, not at the host's booth table 1 (participant 1)" in problems
    squatted = [ScheduleEntry(1, 1, 1), *good[1:4], ScheduleEntry(5, 2, 1)]  # B-C at A's booth
    problems = check_schedule(inst, squatted, fairness=2).violations
    assert "meeting 1: at table 1, the booth of participant 1, not a pool table" in problems


def test_capacity_counts_the_pool_before_solving() -> None:
    out = schedule_event(event({"A": 1}, slots=3))
    assert out.status == "INFEASIBLE" and out.total_breaks is None
    assert ("4 accepted meetings without a host for 1 pool tables (2 tables, 1 booths) x 3 "
            "slots = 3 places") in out.reasons
    assert any("add 1 pool tables, free booths, or drop 1 accepted requests" in x
               for x in out.advice)


def test_agendas_name_the_location_and_table() -> None:
    ev = event({"A": 1})
    out = schedule_event(ev)
    rows = agenda_rows(ev, out.schedule, "A")
    assert [(r.location, r.table, r.counterpart_id) for r in rows] == [("Hall A", 1, "F")]
    ics = agenda_ics(ev, out.schedule, "A")
    assert "LOCATION:Messe\\, Hall A\\, table 1\r\n" in ics
    ics_b = agenda_ics(ev, out.schedule, "B")
    assert ics_b.count("LOCATION:Messe\\, Room 2\\, table 2\r\n") == 2
    csv_text = agenda_csv(ev, out.schedule, "B").splitlines()
    assert csv_text[0].startswith("slot,start,end,table,location,")
    assert all(",2,Room 2," in line for line in csv_text[1:]) and len(csv_text) == 3
    assert "<td>Hall A, table 1</td>" in agenda_html(ev, out.schedule, "F")


@pytest.mark.parametrize(("extra", "problem"), [
    ({"n_tables": 3}, "the locations hold 2 tables but n_tables is 3"),
    ({"booths": {"A": 3}}, "booths: 'A' hosts at table 3, outside 1..2"),
    ({"booths": {"A": 1, "B": 1}}, "booths: table 1 is the booth of both 'A' and 'B'"),
    ({"booths": {"Z": 1}}, "booths: unknown participant 'Z'"),
    ({"locations": [{"name": "Hall", "tables": 1}, {"name": "Hall", "tables": 1}]},
     "location 'Hall' is named twice"),
])
def test_bad_locations_are_one_line_errors(extra: dict[str, Any], problem: str) -> None:
    with pytest.raises(InputError) as err:
        event(**extra)
    assert str(err.value) == f"event.json: {problem}"

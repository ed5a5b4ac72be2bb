"""The experimental soft-window primal heuristic returns valid schedules."""

from critmin.matchmaking.check import ScheduleEntry, check_schedule
from critmin.matchmaking.instance import B2BInstance, Meeting
from critmin.matchmaking.lns import soft_window_lns
from critmin.matchmaking.scheduler import (
    assign_tables,
    meeting_domains,
    participant_break_bounds,
    solve_schedule_cpsat,
)


def _inst() -> B2BInstance:
    meetings = (Meeting(1, 2), Meeting(1, 3), Meeting(1, 4), Meeting(2, 3), Meeting(3, 4))
    return B2BInstance(4, 2, 6, 3, meetings)


def test_soft_window_lns_valid_schedule() -> None:
    inst = _inst()
    doms = meeting_domains(inst)
    _, windows = participant_break_bounds(inst, doms)
    slots = soft_window_lns(inst, doms, windows, time_limit_s=5.0, custom=True)
    assert slots is not None
    tables = assign_tables(inst, slots)
    entries = [ScheduleEntry(m + 1, s, t) for m, (s, t) in enumerate(zip(slots, tables, strict=True))]
    report = check_schedule(inst, entries, fairness=2)
    assert report.valid
    assert report.total_breaks == 0


def test_solve_schedule_with_soft_phase() -> None:
    res = solve_schedule_cpsat(_inst(), time_limit_s=10.0, soft_share=0.3, phase1=False)
    assert res.status == "OPTIMAL"
    assert res.total_breaks == 0

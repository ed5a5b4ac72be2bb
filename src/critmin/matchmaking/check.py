"""Independent verification of a B2B schedule: every constraint, breaks recomputed from scratch.

This module deliberately shares nothing with :mod:`critmin.matchmaking.scheduler` beyond the
instance data: it reads the schedule JSON itself, recomputes each participant's breaks as the
number of gaps between its sorted meeting slots, and lists every violation in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from critmin.errors import InputError
from critmin.matchmaking.instance import B2BInstance, Session


@dataclass(frozen=True)
class ScheduleEntry:
    """One row of a schedule: meeting ``meeting`` at ``slot`` and ``table`` (all 1-based)."""

    meeting: int
    slot: int
    table: int


@dataclass(frozen=True)
class CheckReport:
    """Outcome of :func:`check_schedule`: violations (empty when valid) and recomputed breaks."""

    violations: tuple[str, ...]
    total_breaks: int
    breaks_by_participant: dict[int, int] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """True when the schedule satisfies every constraint."""
        return not self.violations


def read_schedule_json(path: str | Path) -> tuple[list[ScheduleEntry], dict[str, Any]]:
    """Read a schedule file: the ``match schedule --format json`` object or a bare list of rows.

    Returns the entries and the whole JSON object (``{}`` for a bare list).
    """
    from critmin import inputs

    path = Path(path)
    return parse_schedule_rows(inputs.load_json(path, "schedule"), path)


def parse_schedule_rows(
    data: Any, file: str | Path | None = None
) -> tuple[list[ScheduleEntry], dict[str, Any]]:
    """Entries from parsed schedule JSON (see :func:`read_schedule_json`)."""
    meta: dict[str, Any] = {}
    rows = data
    if isinstance(data, dict):
        meta = data
        rows = data.get("schedule")
        if rows is None:
            raise InputError(file, "no 'schedule' list in the JSON object", field="schedule")
    if not isinstance(rows, list):
        raise InputError(file, "schedule must be a list of {meeting, slot, table} objects",
                         field="schedule")
    entries = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise InputError(file, f"schedule row {i} is not an object", field="schedule")
        vals = []
        for key in ("meeting", "slot", "table"):
            v = row.get(key)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InputError(file, f"schedule row {i}: '{key}' must be an integer, got {v!r}",
                                 field=key)
            vals.append(v)
        entries.append(ScheduleEntry(*vals))
    return entries, meta


def _session_name(session: Session) -> str:
    return {Session.MORNING: "morning", Session.AFTERNOON: "afternoon"}.get(session, "any")


def check_schedule(
    inst: B2BInstance,
    entries: list[ScheduleEntry],
    *,
    fairness: int | None = 2,
    claimed_total: int | None = None,
) -> CheckReport:
    """Verify ``entries`` against ``inst``; list every violated constraint.

    Breaks of a participant with sorted slots ``s_1 < ... < s_k``: ``#{i : s_(i+1) > s_i + 1}``.
    Fairness ``d``: ``max_p breaks(p) - min_p breaks(p) <= d`` over all participants.
    Locations: a meeting with a host (``inst.booths``) is at one of its hosts' booth tables; a
    meeting without a host is at a pool table (nobody's booth).

    >>> from critmin.matchmaking.instance import Meeting
    >>> inst = B2BInstance(3, 1, 3, 3, (Meeting(1, 2), Meeting(1, 3)))
    >>> check_schedule(inst, [ScheduleEntry(1, 1, 1), ScheduleEntry(2, 3, 1)]).total_breaks
    1
    >>> check_schedule(inst, [ScheduleEntry(1, 1, 1), ScheduleEntry(2, 1, 2)]).violations
    ('meeting 2: table 2 outside 1..1', 'slot 1: 2 meetings for 1 tables', \
'slot 1: participant 1 has 2 meetings (1, 2)')
    """
    problems: list[str] = []
    n_m, n_t, n_l = inst.n_meetings, inst.n_slots, inst.n_tables
    booth_owner = {b: p for p, b in enumerate(inst.booths, start=1) if b is not None}
    slot_of: dict[int, int] = {}
    for e in entries:
        if not 1 <= e.meeting <= n_m:
            problems.append(f"unknown meeting {e.meeting} (meetings are 1..{n_m})")
            continue
        if e.meeting in slot_of:
            problems.append(f"meeting {e.meeting} is scheduled more than once")
            continue
        slot_of[e.meeting] = e.slot
        mt = inst.meetings[e.meeting - 1]
        if not 1 <= e.slot <= n_t:
            problems.append(f"meeting {e.meeting}: slot {e.slot} outside 1..{n_t}")
        if not 1 <= e.table <= n_l:
            problems.append(f"meeting {e.meeting}: table {e.table} outside 1..{n_l}")
        hosts = {inst.booths[p - 1]: p for p in (mt.p1, mt.p2) if inst.booths[p - 1] is not None}
        if hosts and e.table not in hosts:
            shown = " or ".join(f"{t} (participant {p})" for t, p in sorted(hosts.items()))
            problems.append(f"meeting {e.meeting}: at table {e.table}, not at the host's booth "
                            f"table {shown}")
        elif not hosts and e.table in booth_owner:
            problems.append(f"meeting {e.meeting}: at table {e.table}, the booth of participant "
                            f"{booth_owner[e.table]}, not a pool table")
        morning = 1 <= e.slot <= inst.n_morning_slots
        if mt.session == Session.MORNING and not morning:
            problems.append(f"meeting {e.meeting}: morning meeting in afternoon slot {e.slot}")
        if mt.session == Session.AFTERNOON and morning:
            problems.append(f"meeting {e.meeting}: afternoon meeting in morning slot {e.slot}")
        for p in (mt.p1, mt.p2):
            if e.slot in inst.forbidden[p - 1]:
                problems.append(
                    f"meeting {e.meeting}: slot {e.slot} is forbidden for participant {p}"
                )
        fixed = inst.fixed[e.meeting - 1]
        if fixed is not None and fixed != e.slot:
            problems.append(f"meeting {e.meeting}: fixed to slot {fixed}, scheduled at {e.slot}")
    missing = [m for m in range(1, n_m + 1) if m not in slot_of]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        problems.append(f"{len(missing)} meeting(s) not scheduled: {shown}")
    for m in range(1, n_m + 1):
        for before in sorted(inst.precedences[m - 1]):
            if m in slot_of and before in slot_of and not slot_of[before] < slot_of[m]:
                problems.append(
                    f"meeting {before} (slot {slot_of[before]}) must precede meeting {m} "
                    f"(slot {slot_of[m]})"
                )
    # per slot: tables, capacity, participants
    tables_at: dict[tuple[int, int], list[int]] = {}
    count_at: dict[int, int] = {}
    who_at: dict[tuple[int, int], list[int]] = {}
    seen: set[int] = set()
    for e in entries:
        if not 1 <= e.meeting <= n_m or e.meeting in seen:
            continue
        seen.add(e.meeting)
        tables_at.setdefault((e.slot, e.table), []).append(e.meeting)
        count_at[e.slot] = count_at.get(e.slot, 0) + 1
        mt = inst.meetings[e.meeting - 1]
        for p in (mt.p1, mt.p2):
            who_at.setdefault((e.slot, p), []).append(e.meeting)
    for slot in sorted(count_at):
        if count_at[slot] > n_l:
            problems.append(f"slot {slot}: {count_at[slot]} meetings for {n_l} tables")
    for (slot, table), ms in sorted(tables_at.items()):
        if len(ms) > 1:
            problems.append(
                f"slot {slot}, table {table}: {len(ms)} meetings ({', '.join(map(str, ms))})"
            )
    for (slot, p), ms in sorted(who_at.items()):
        if len(ms) > 1:
            problems.append(
                f"slot {slot}: participant {p} has {len(ms)} meetings ({', '.join(map(str, ms))})"
            )
    # breaks, recomputed
    slots_of_p: dict[int, list[int]] = {p: [] for p in range(1, inst.n_participants + 1)}
    for m, s in slot_of.items():
        mt = inst.meetings[m - 1]
        slots_of_p[mt.p1].append(s)
        slots_of_p[mt.p2].append(s)
    breaks: dict[int, int] = {}
    for p, ss in slots_of_p.items():
        ss = sorted(set(ss))
        breaks[p] = sum(1 for i in range(len(ss) - 1) if ss[i + 1] > ss[i] + 1)
    total = sum(breaks.values())
    if fairness is not None and breaks:
        low, high = min(breaks.values()), max(breaks.values())
        if high - low > fairness:
            worst = max(breaks, key=lambda p: breaks[p])
            problems.append(
                f"fairness d={fairness} violated: participant {worst} has {high} breaks, "
                f"the minimum is {low}"
            )
    if claimed_total is not None and claimed_total != total:
        problems.append(f"total_breaks says {claimed_total}, recomputed {total}")
    return CheckReport(tuple(problems), total, breaks)

"""Optimal B2B meeting schedules: assign each accepted meeting a slot and a table, minimising breaks.

The problem (Bofill et al., JAIR 74, 2022) in words:

- every meeting ``m`` gets one slot ``s(m)`` in its session (morning ``1..n_morning_slots``,
  afternoon ``n_morning_slots+1..n_slots``, or either), not forbidden for either participant, equal
  to its fixed slot when it has one, and after each of its predecessors;
- a participant has at most one meeting per slot; at most ``n_tables`` meetings share a slot;
- a *break* of participant ``p`` is a maximal run of idle slots between two of its meetings. With
  ``busy[p, t]`` = 1 when ``p`` meets at slot ``t`` (``busy[p, 0] = 0``), a *block start* is
  ``start[p, t] = busy[p, t] * (1 - busy[p, t-1])`` and

  ``breaks(p) = sum_t start[p, t] - 1``  (for a participant with at least one meeting, else 0);

- fairness ``d``: ``breaks(p) - min_q breaks(q) <= d`` for every participant ``p``;
- objective: minimise ``sum_p breaks(p)``.

The default method (:func:`solve_schedule`) is the SAT/MaxSAT portfolio of
:mod:`critmin.matchmaking.maxsat`; the CP-SAT model of :mod:`critmin.matchmaking.cpsat` is the
alternative (``method="cpsat"``) and the fallback that looks for a good schedule when the
portfolio proved none in time. Both take the :class:`~critmin.matchmaking.model.Problem` built
once per call (allowed slots, per-participant bounds by bipartite matching, windows).

Tables are assigned after the slots (any order works since at most ``n_tables`` meetings share a
slot); the assignment keeps a participant at the same table across consecutive meetings when it can.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from critmin.matchmaking.cpsat import solve_cpsat
from critmin.matchmaking.instance import B2BInstance
from critmin.matchmaking.maxsat import Progress, solve_maxsat
from critmin.matchmaking.model import (
    Problem,
    breaks_of_slots,
    greedy_slots,
    meeting_domains,
    participant_break_bounds,
)

__all__ = [
    "Assignment", "ScheduleResult", "assign_tables", "breaks_by_participant", "breaks_of_slots",
    "explain_infeasibility", "greedy_schedule", "meeting_domains", "participant_break_bounds",
    "schedule_of", "solve_schedule",
]

Status = Literal["OPTIMAL", "FEASIBLE", "INFEASIBLE", "UNKNOWN"]


@dataclass(frozen=True)
class Assignment:
    """Meeting ``meeting`` (1-based index into ``requested``) at ``slot`` and ``table`` (1-based)."""

    meeting: int
    slot: int
    table: int


@dataclass(frozen=True)
class ScheduleResult:
    """The solver's answer: proven status, objective (total breaks), best bound and the schedule.

    ``total_breaks`` is ``None`` when no schedule was found; ``lower_bound`` is the proven lower
    bound on the total number of breaks (equal to ``total_breaks`` when ``status == "OPTIMAL"``).
    """

    status: Status
    total_breaks: int | None
    lower_bound: int
    schedule: tuple[Assignment, ...] = ()
    fairness: int | None = 2
    wall_time_s: float = 0.0
    breaks_by_participant: tuple[int, ...] = field(default=(), compare=False)

    def to_json(self) -> dict[str, object]:
        """The stable JSON contract of ``critmin match schedule --format json``."""
        return {
            "status": self.status,
            "total_breaks": self.total_breaks,
            "lower_bound": self.lower_bound,
            "schedule": [
                {"meeting": a.meeting, "slot": a.slot, "table": a.table} for a in self.schedule
            ],
        }


def assign_tables(inst: B2BInstance, slots: Sequence[int]) -> list[int]:
    """Tables (1-based) for meetings at ``slots`` (index ``m - 1``), at most ``n_tables`` per slot.

    A meeting with a host (``inst.booths``) is held at the host's booth
    (:meth:`~critmin.matchmaking.instance.B2BInstance.booth_of`). The others share the pool
    (every table that is nobody's booth), greedily, slot by slot: a meeting first tries the pool
    table one of its participants sat at in the previous slot, so participants keep their table;
    the rest take the lowest free pool table.

    >>> from critmin.matchmaking.instance import Meeting
    >>> inst = B2BInstance(3, 2, 2, 2, (Meeting(1, 2), Meeting(1, 3), Meeting(2, 3)))
    >>> assign_tables(inst, [1, 2, 1])
    Traceback (most recent call last):
    ...
    ValueError: participant 2 has two meetings in slot 1
    >>> assign_tables(inst, [1, 2, 3])
    [1, 1, 1]
    """
    by_slot: dict[int, list[int]] = {}
    for m, t in enumerate(slots):
        by_slot.setdefault(t, []).append(m)
    tables = [0] * len(slots)
    booths = {b for b in inst.booths if b is not None}
    pool = [k for k in range(1, inst.n_tables + 1) if k not in booths]
    last_table: dict[int, tuple[int, int]] = {}  # participant -> (slot, table)
    for t in sorted(by_slot):
        hosted = [m for m in by_slot[t] if not inst.needs_pool(m + 1)]
        ms = [m for m in by_slot[t] if inst.needs_pool(m + 1)]
        if len(ms) > len(pool):
            raise ValueError(f"slot {t} has {len(ms)} meetings for {len(pool)} pool tables")
        for m in hosted:
            tables[m] = inst.booth_of(m + 1)  # type: ignore[assignment]
        seen: set[int] = set()
        for m in by_slot[t]:
            for p in inst.meetings[m].participants:
                if p in seen:
                    raise ValueError(f"participant {p} has two meetings in slot {t}")
                seen.add(p)
        used: set[int] = set()
        rest = []
        for m in ms:
            want = [
                last_table[p][1]
                for p in inst.meetings[m].participants
                if p in last_table and last_table[p][0] == t - 1
            ]
            free = [w for w in want if w not in used and w not in booths]
            if free:
                tables[m] = free[0]
                used.add(free[0])
            else:
                rest.append(m)
        free_pool = iter(k for k in pool if k not in used)
        for m in rest:
            tables[m] = next(free_pool)
            used.add(tables[m])
        for m in ms:
            for p in inst.meetings[m].participants:
                last_table[p] = (t, tables[m])
    return tables


def breaks_by_participant(inst: B2BInstance, slots: Sequence[int]) -> tuple[int, ...]:
    """Breaks of each participant (index ``p - 1``) when meeting ``m`` is at ``slots[m - 1]``."""
    return tuple(
        breaks_of_slots([slots[m - 1] for m in inst.meetings_of(p)])
        for p in range(1, inst.n_participants + 1)
    )


def schedule_of(inst: B2BInstance, slots: Sequence[int]) -> tuple[Assignment, ...]:
    """The assignments of meetings at ``slots`` (index ``m - 1``), with :func:`assign_tables`."""
    tables = assign_tables(inst, slots)
    return tuple(Assignment(m + 1, slots[m], tables[m]) for m in range(inst.n_meetings))


Method = Literal["auto", "maxsat", "cpsat"]

FALLBACK_AT = 0.9
"""Share of the time limit after which ``method="auto"`` turns to CP-SAT when the portfolio
has found no schedule."""


def greedy_schedule(problem: Problem) -> list[int] | None:
    """The greedy first slots (:func:`~critmin.matchmaking.model.greedy_slots`, index
    ``m - 1``) when they are a valid schedule (precedences and fairness hold), else ``None``.

    Fairness over every participant: ``max_p breaks(p) - min_q breaks(q) <= d``.

    >>> from critmin.matchmaking.instance import Meeting
    >>> greedy_schedule(Problem.of(B2BInstance(3, 1, 3, 3, (Meeting(1, 2), Meeting(1, 3))), 2))
    [1, 2]
    """
    inst = problem.inst
    slots = greedy_slots(inst, problem.domains)
    if slots is None:
        return None
    for m, before in enumerate(inst.precedences):
        if any(slots[b - 1] >= slots[m] for b in before):
            return None
    per_p = breaks_by_participant(inst, slots)
    if problem.fairness is not None and per_p and max(per_p) - min(per_p) > problem.fairness:
        return None
    return slots


def solve_schedule(
    inst: B2BInstance,
    *,
    fairness: int | None = 2,
    time_limit_s: float | None = None,
    workers: int = 2,
    method: Method = "auto",
    progress: Progress | None = None,
) -> ScheduleResult:
    """Minimise the total number of breaks of ``inst``; return a proven status.

    ``method``: ``"maxsat"`` runs the SAT/MaxSAT portfolio of :mod:`critmin.matchmaking.maxsat`
    (which proves all 20 instances of the benchmark optimal), ``"cpsat"`` the CP-SAT model of
    :mod:`critmin.matchmaking.cpsat`; ``"auto"`` (default) runs the portfolio and, when it has
    found no schedule by :data:`FALLBACK_AT` of the time limit, gives the rest to CP-SAT for a
    feasible schedule, keeping the portfolio's proven lower bound (a portfolio that has a
    schedule keeps the whole limit to prove it optimal). ``fairness`` is ``d`` (``None`` = no
    fairness constraint); ``workers`` the number of processes/threads (2 = the two cores).

    ``status`` is ``"OPTIMAL"`` when the optimum is proved, ``"FEASIBLE"`` when the time limit
    stopped the proof (``lower_bound`` is then the best bound), ``"INFEASIBLE"`` when no schedule
    exists, ``"UNKNOWN"`` otherwise.

    The greedy schedule (:func:`greedy_schedule`), when valid, is the first "best so far": a run
    whose solvers find nothing better in time returns it as ``FEASIBLE``. ``progress`` is called
    with ``(best total breaks so far or None, proved lower bound)`` at the start and whenever
    the portfolio improves either.

    >>> from critmin.matchmaking.instance import Meeting
    >>> inst = B2BInstance(3, 1, 3, 3, (Meeting(1, 2), Meeting(1, 3)))
    >>> res = solve_schedule(inst)
    >>> res.status, res.total_breaks, sorted(abs(a.slot - b.slot) for a, b in [res.schedule])
    ('OPTIMAL', 0, [1])
    """
    started = time.perf_counter()
    greedy: list[int] | None = None
    greedy_total: int | None = None

    def result(status: Status, slots: Sequence[int] | None, lower_bound: int) -> ScheduleResult:
        elapsed = time.perf_counter() - started
        if greedy is not None and status in ("FEASIBLE", "UNKNOWN") and (
                slots is None or sum(breaks_by_participant(inst, slots)) > (greedy_total or 0)):
            status, slots = "FEASIBLE", greedy  # nothing better than the greedy schedule
        if slots is None:
            return ScheduleResult(status, None, lower_bound, (), fairness, elapsed)
        per_p = breaks_by_participant(inst, slots)
        total = sum(per_p)
        lower = total if status == "OPTIMAL" else min(lower_bound, total)
        return ScheduleResult(status, total, lower, schedule_of(inst, slots), fairness, elapsed,
                              per_p)

    problem = Problem.of(inst, fairness)
    if any(not dom for dom in problem.domains):
        return result("INFEASIBLE", None, 0)
    greedy = greedy_schedule(problem)
    greedy_total = None if greedy is None else sum(breaks_by_participant(inst, greedy))

    reported: list[tuple[int | None, int]] = []

    def report(best: int | None, bound: int) -> None:
        known = [b for b in (best, greedy_total) if b is not None]
        state = (min(known) if known else None, bound)
        if progress is not None and (not reported or reported[-1] != state):
            reported.append(state)
            progress(*state)

    report(None, problem.trivial_bound)
    if method != "cpsat":
        give_up = (FALLBACK_AT * float(time_limit_s)
                   if method == "auto" and time_limit_s is not None else None)
        out = solve_maxsat(problem, workers=workers, time_limit_s=time_limit_s, progress=report,
                           give_up_at_s=give_up)
        if out.status == "INFEASIBLE":
            return result("INFEASIBLE", None, 0)
        if out.slots is not None or method == "maxsat" or time_limit_s is None:
            return result(out.status, out.slots, out.lower_bound)  # type: ignore[arg-type]
        known = out.lower_bound
        remaining: float | None = max(0.5, float(time_limit_s) - (time.perf_counter() - started))
    else:
        known, remaining = 0, time_limit_s
    cp = solve_cpsat(problem, time_limit_s=remaining, workers=workers, known_lower_bound=known)
    return result(cp.status, cp.slots, max(cp.lower_bound, known))  # type: ignore[arg-type]


def explain_infeasibility(inst: B2BInstance, fairness: int | None = 2) -> list[str]:
    """Simple reasons why ``inst`` has no schedule (empty when none of these checks fires).

    Checks: a meeting without an allowed slot, more meetings than tables x slots, more meetings
    without a host than pool tables x slots (when participants host at booths), a participant
    with more meetings than usable slots, and a participant whose least breaks alone exceed the
    fairness bound while another participant has at most one meeting (so the minimum is 0).

    >>> from critmin.matchmaking.instance import Meeting
    >>> explain_infeasibility(B2BInstance(3, 1, 1, 1, (Meeting(1, 2), Meeting(1, 3))))
    ['2 meetings for 1 tables x 1 slots', 'participant 1 has 2 meetings but 1 usable slots']
    """
    domains = meeting_domains(inst)
    reasons = [
        f"meeting {m} ({inst.name(mt.p1)}–{inst.name(mt.p2)}) has no allowed slot"
        for m, (mt, dom) in enumerate(zip(inst.meetings, domains, strict=True), start=1)
        if not dom
    ]
    capacity = inst.n_tables * inst.n_slots
    if inst.n_meetings > capacity:
        reasons.append(
            f"{inst.n_meetings} meetings for {inst.n_tables} tables x {inst.n_slots} slots"
        )
    shared = sum(inst.needs_pool(m) for m in range(1, inst.n_meetings + 1))
    if inst.pool_tables < inst.n_tables and shared > inst.pool_tables * inst.n_slots:
        reasons.append(f"{shared} meetings without a host for {inst.pool_tables} pool tables x "
                       f"{inst.n_slots} slots")
    counts = [len(inst.meetings_of(p)) for p in range(1, inst.n_participants + 1)]
    for p in range(1, inst.n_participants + 1):
        usable = {t for m in inst.meetings_of(p) for t in domains[m - 1]}
        if counts[p - 1] > len(usable):
            reasons.append(
                f"participant {p} has {counts[p - 1]} meetings but {len(usable)} usable slots"
            )
    if fairness is not None and any(c <= 1 for c in counts) and not reasons:
        bounds, _ = participant_break_bounds(inst, domains)
        for p, b in enumerate(bounds, start=1):
            if b > fairness:
                reasons.append(
                    f"participant {p} needs at least {b} breaks, more than fairness d={fairness}"
                )
    return reasons

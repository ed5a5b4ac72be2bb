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
:mod:`critmin.matchmaking.maxsat`, after the per-participant bounds by bipartite matching
(:func:`participant_break_bounds`). The alternative, :func:`solve_schedule_cpsat`, runs in phases:

1. the same per-participant bounds: no break when some window of ``n_p`` consecutive slots can
   hold its meetings, else at least 1 or 2;
2. an interval model at that trivial bound (:func:`find_break_free`): contiguous participants
   choose a window start ``y[p, s]``; a schedule found there is optimal, and a proof that none
   exists raises the lower bound by one;
3. the full CP-SAT optimisation below.

The CP-SAT model uses exactly these Booleans (``x[m, t]``, ``busy[p, t]``, ``start[p, t]``), with
``start`` defined by equalities (so the fairness bound cannot be met by inflating breaks), and adds:

- redundant counts ``sum_t busy[p, t] = n_p`` and ``sum_t end[p, t] = sum_t start[p, t]``;
- the per-participant lower bounds of phase 1, and the window starts ``y[p, s]`` of phase 2 tied
  to a "contiguous" Boolean per participant;
- symmetry breaking: meetings of the same participant with single-meeting counterparts and equal
  domains are ordered; the reversal of the day is broken when the instance is mirror-symmetric;
- a greedy first schedule as a solution hint.

Tables are assigned after the slots (any order works since at most ``n_tables`` meetings share a
slot); the assignment keeps a participant at the same table across consecutive meetings when it can.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from critmin.matchmaking.instance import B2BInstance

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


def meeting_domains(inst: B2BInstance) -> list[list[int]]:
    """Allowed slots of each meeting (index ``m - 1``): session, forbidden slots and fixed slot.

    >>> from critmin.matchmaking.instance import Meeting, Session
    >>> inst = B2BInstance(2, 1, 4, 2, (Meeting(1, 2, Session.AFTERNOON),),
    ...                    forbidden=(frozenset({3}), frozenset()))
    >>> meeting_domains(inst)
    [[4]]
    """
    out = []
    for m, mt in enumerate(inst.meetings):
        bad = inst.forbidden[mt.p1 - 1] | inst.forbidden[mt.p2 - 1]
        dom = [t for t in inst.session_slots(mt.session) if t not in bad]
        fixed = inst.fixed[m]
        if fixed is not None:
            dom = [t for t in dom if t == fixed]
        out.append(dom)
    return out


def breaks_of_slots(slots: Sequence[int]) -> int:
    """Breaks in a participant's busy slots: gaps between consecutive meetings.

    ``breaks = #{i : s_(i+1) - s_i > 1}`` for the sorted slots ``s``.

    >>> breaks_of_slots([1, 2, 5, 7])
    2
    """
    s = sorted(slots)
    return sum(1 for a, b in itertools.pairwise(s) if b - a > 1)


def _min_breaks_alone(n: int, available: Sequence[bool]) -> int:
    """Least breaks for ``n`` meetings placed on the available slots of one participant alone.

    Choose ``k`` runs of available slots; the fewest runs covering ``n`` slots uses the longest
    runs first, so ``breaks >= (number of longest runs needed) - 1``.

    >>> _min_breaks_alone(3, [True, True, False, True, True, True])
    0
    >>> _min_breaks_alone(5, [True, True, False, True, True, True])
    1
    """
    if n <= 1:
        return 0
    runs, cur = [], 0
    for a in available:
        if a:
            cur += 1
        elif cur:
            runs.append(cur)
            cur = 0
    if cur:
        runs.append(cur)
    runs.sort(reverse=True)
    covered = 0
    for k, r in enumerate(runs, start=1):
        covered += r
        if covered >= n:
            return k - 1
    return max(len(runs) - 1, 0)  # infeasible anyway; the model will say so


def assign_tables(inst: B2BInstance, slots: Sequence[int]) -> list[int]:
    """Tables (1-based) for meetings at ``slots`` (index ``m - 1``), at most ``n_tables`` per slot.

    Greedy, slot by slot: a meeting first tries the table one of its participants sat at in the
    previous slot, so hosts keep their table; the rest take the lowest free table.

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
    last_table: dict[int, tuple[int, int]] = {}  # participant -> (slot, table)
    for t in sorted(by_slot):
        ms = by_slot[t]
        if len(ms) > inst.n_tables:
            raise ValueError(f"slot {t} has {len(ms)} meetings for {inst.n_tables} tables")
        seen: set[int] = set()
        for m in ms:
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
            free = [w for w in want if w not in used]
            if free:
                tables[m] = free[0]
                used.add(free[0])
            else:
                rest.append(m)
        nxt = 1
        for m in rest:
            while nxt in used:
                nxt += 1
            tables[m] = nxt
            used.add(nxt)
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


def greedy_slots(inst: B2BInstance, domains: Sequence[Sequence[int]]) -> list[int] | None:
    """A quick feasible-looking first slot assignment (a hint, may be ``None`` when stuck).

    Meetings of the busiest participants go first, each to the allowed slot that keeps both
    participants' meetings contiguous (next to a meeting they already have) when possible.
    """
    n_m = inst.n_meetings
    degree = [0] * (inst.n_participants + 1)
    for mt in inst.meetings:
        degree[mt.p1] += 1
        degree[mt.p2] += 1
    order = sorted(
        range(n_m),
        key=lambda m: (
            inst.fixed[m] is None,
            len(domains[m]),
            -max(degree[inst.meetings[m].p1], degree[inst.meetings[m].p2]),
        ),
    )
    busy: list[set[int]] = [set() for _ in range(inst.n_participants + 1)]
    load: dict[int, int] = {}
    slots = [0] * n_m
    for m in order:
        p1, p2 = inst.meetings[m].participants
        best, best_key = None, None
        for t in domains[m]:
            if t in busy[p1] or t in busy[p2] or load.get(t, 0) >= inst.n_tables:
                continue
            adj = sum(
                1 for p in (p1, p2) if (t - 1) in busy[p] or (t + 1) in busy[p] or not busy[p]
            )
            key = (-adj, load.get(t, 0), t)
            if best_key is None or key < best_key:
                best, best_key = t, key
        if best is None:
            return None
        slots[m] = best
        busy[p1].add(best)
        busy[p2].add(best)
        load[best] = load.get(best, 0) + 1
    return slots


def _windows(n: int, available: Sequence[bool]) -> list[int]:
    """First slots ``s`` (1-based) of the windows ``s..s+n-1`` made only of available slots.

    >>> _windows(2, [True, True, False, True, True, True])
    [1, 4, 5]
    """
    return [
        s + 1 for s in range(len(available) - n + 1) if all(available[s : s + n])
    ]


def find_break_free(
    inst: B2BInstance,
    domains: Sequence[Sequence[int]],
    *,
    time_limit_s: float,
    workers: int = 2,
    aggregate: bool = False,
    strategy: bool = True,
    subsolvers: Sequence[str] = ("no_lp", "core"),
) -> tuple[list[int] | None, bool]:
    """Look for a schedule at the trivial lower bound: ``(slots, False)`` or ``(None, proved)``.

    The trivial bound: participants whose usable slots hold a window of ``n_p`` consecutive slots
    get no break, the others their least number of breaks alone (:func:`_min_breaks_alone`).
    A schedule found is therefore optimal; ``proved`` is True when none exists.

    Every participant ``p`` with ``n_p >= 2`` meetings gets a start ``y[p, s]`` (one-hot over the
    windows of ``n_p`` consecutive available slots) and is busy exactly in its window:
    ``sum_{m in M(p)} x[m, t] = sum_{s <= t < s + n_p} y[p, s]``. This interval model propagates
    far better than counting blocks, so break-free schedules (the optimum of most real events)
    are found in seconds. Search branches on the starts of the busiest participants first
    (``strategy``). Experimental, off by default: ``aggregate`` adds the implied per-slot count
    ``sum_p busy[p, t] = 2 * sum_m x[m, t]``; ``subsolvers`` picks the two CP-SAT workers.
    """
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    x = {(m, t): model.new_bool_var(f"x{m}_{t}") for m, dom in enumerate(domains) for t in dom}
    for m, dom in enumerate(domains):
        model.add_exactly_one(x[m, t] for t in dom)
    for t in range(1, inst.n_slots + 1):
        at_t = [x[m, t] for m in range(inst.n_meetings) if (m, t) in x]
        if len(at_t) > inst.n_tables:
            model.add(sum(at_t) <= inst.n_tables)
    meetings_of: list[list[int]] = [[] for _ in range(inst.n_participants + 1)]
    for m, mt in enumerate(inst.meetings):
        meetings_of[mt.p1].append(m)
        meetings_of[mt.p2].append(m)
    bounds, feasible_windows = participant_break_bounds(inst, domains)
    starts = []
    busy_at: list[list[object]] = [[] for _ in range(inst.n_slots + 1)]
    for p in range(1, inst.n_participants + 1):
        ms = meetings_of[p]
        n = len(ms)
        if n <= 1:
            for t in range(1, inst.n_slots + 1):
                busy_at[t].extend([x[m, t] for m in ms if (m, t) in x])
            continue
        windows = feasible_windows[p - 1]
        if not windows:
            # cannot be contiguous: allow exactly its least number of breaks alone
            lb = bounds[p - 1]
            busy: list[object] = [0] * (inst.n_slots + 2)
            for t in range(1, inst.n_slots + 1):
                terms = [x[m, t] for m in ms if (m, t) in x]
                if terms:
                    b = model.new_bool_var(f"busy{p}_{t}")
                    model.add(sum(terms) == b)
                    busy[t] = b
            block_starts = [
                _and_not(model, busy[t], busy[t - 1], f"st{p}_{t}")
                for t in range(1, inst.n_slots + 1)
                if not isinstance(busy[t], int)
            ]
            model.add(sum(block_starts) <= 1 + lb)  # type: ignore[arg-type]
            for t in range(1, inst.n_slots + 1):
                busy_at[t].extend([x[m, t] for m in ms if (m, t) in x])
            continue
        y = {s: model.new_bool_var(f"y{p}_{s}") for s in windows}
        model.add_exactly_one(y.values())
        for t in range(1, inst.n_slots + 1):
            terms = [x[m, t] for m in ms if (m, t) in x]
            cover = [v for s, v in y.items() if s <= t < s + n]
            if terms or cover:
                model.add(sum(terms) == sum(cover))
            busy_at[t].extend(cover)
        starts.append((n, list(y.values())))
    for m, before in enumerate(inst.precedences):
        for j in before:
            model.add(
                sum(t * x[j - 1, t] for t in domains[j - 1]) + 1
                <= sum(t * x[m, t] for t in domains[m])
            )
    if aggregate:
        # implied: the participants busy at t are exactly twice the meetings at t (<= 2 tables)
        for t in range(1, inst.n_slots + 1):
            at_t = [x[m, t] for m in range(inst.n_meetings) if (m, t) in x]
            if at_t and busy_at[t]:
                model.add(sum(busy_at[t]) == 2 * sum(at_t))
    starts.sort(key=lambda item: -item[0])
    if strategy:
        model.add_decision_strategy(
            [v for _, ys in starts for v in ys], cp_model.CHOOSE_FIRST, cp_model.SELECT_MAX_VALUE
        )
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = max(1, workers)
    if workers == 2 and subsolvers:
        solver.parameters.subsolvers.extend(subsolvers)
    solver.parameters.max_time_in_seconds = time_limit_s
    code = solver.solve(model)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return [next(t for t in dom if solver.boolean_value(x[m, t]))
                for m, dom in enumerate(domains)], False
    return None, code == cp_model.INFEASIBLE


def _perfect_matching(doms: Sequence[Sequence[int]], slots: set[int]) -> bool:
    """True when every meeting (its allowed slots in ``doms``) gets its own slot in ``slots``.

    Kuhn's augmenting paths; ``len(doms) == len(slots)`` in our use (a busy pattern is filled).

    >>> _perfect_matching([[1, 2], [1]], {1, 2}), _perfect_matching([[1], [1]], {1, 2})
    (True, False)
    """
    owner: dict[int, int] = {}

    def augment(m: int, seen: set[int]) -> bool:
        for t in doms[m]:
            if t in slots and t not in seen:
                seen.add(t)
                if t not in owner or augment(owner[t], seen):
                    owner[t] = m
                    return True
        return False

    return all(augment(m, set()) for m in range(len(doms)))


def participant_break_bounds(
    inst: B2BInstance, domains: Sequence[Sequence[int]]
) -> tuple[list[int], list[list[int]]]:
    """Least breaks of each participant alone (capped at 2) and its feasible single windows.

    A participant with ``n`` meetings needs no break when some window ``s..s+n-1`` admits a
    perfect matching of its meetings (each in its own allowed slot); else at least one, and at
    least two when no pair of blocks ``s1..s1+l-1``, ``s2..s2+n-l-1`` (``s2 > s1 + l``) admits one.
    Index ``p - 1``; the windows list holds the feasible window starts.
    """
    n_t = inst.n_slots
    bounds, windows = [], []
    for p in range(1, inst.n_participants + 1):
        ms = [m - 1 for m in inst.meetings_of(p)]
        n = len(ms)
        doms = [domains[m] for m in ms]
        if n <= 1:
            bounds.append(0)
            windows.append([])
            continue
        usable = set().union(*map(set, doms))
        ok = [
            s for s in range(1, n_t - n + 2)
            if set(range(s, s + n)) <= usable and _perfect_matching(doms, set(range(s, s + n)))
        ]
        windows.append(ok)
        if ok:
            bounds.append(0)
            continue
        one = False
        for s1 in range(1, n_t + 1):
            for length in range(1, n):
                first = set(range(s1, s1 + length))
                if not first <= usable:
                    break
                for s2 in range(s1 + length + 1, n_t - (n - length) + 2):
                    second = set(range(s2, s2 + n - length))
                    if second <= usable and _perfect_matching(doms, first | second):
                        one = True
                        break
                if one:
                    break
            if one:
                break
        bounds.append(1 if one else 2)
    return bounds, windows


def _mirror_symmetric(inst: B2BInstance) -> bool:
    """True when reversing the day (``t -> n_slots + 1 - t``) maps every schedule to a valid one."""
    n = inst.n_slots
    if any(f is not None for f in inst.fixed) or any(inst.precedences):
        return False
    for mt in inst.meetings:
        dom = set(inst.session_slots(mt.session))
        if {n + 1 - t for t in dom} != dom:
            return False
    return all({n + 1 - t for t in f} == set(f) for f in inst.forbidden)


Method = Literal["auto", "maxsat", "cpsat"]


def solve_schedule(
    inst: B2BInstance,
    *,
    fairness: int | None = 2,
    time_limit_s: float | None = None,
    workers: int = 2,
    method: Method = "auto",
) -> ScheduleResult:
    """Minimise the total number of breaks of ``inst``; return a proven status.

    ``method``: ``"maxsat"`` runs the SAT/MaxSAT portfolio of :mod:`critmin.matchmaking.maxsat`
    (which proves all 20 instances of the benchmark optimal), ``"cpsat"`` the CP-SAT model of
    :func:`solve_schedule_cpsat`; ``"auto"`` (default) gives the portfolio 90 % of the time limit
    and, when it found no schedule in that time, the rest to CP-SAT for a good feasible schedule,
    keeping the portfolio's proven lower bound. ``fairness`` is ``d`` (``None`` = no fairness
    constraint); ``workers`` the number of processes/threads (2 = the two cores).

    ``status`` is ``"OPTIMAL"`` when the optimum is proved, ``"FEASIBLE"`` when the time limit
    stopped the proof (``lower_bound`` is then the best bound), ``"INFEASIBLE"`` when no schedule
    exists, ``"UNKNOWN"`` otherwise.

    >>> from critmin.matchmaking.instance import Meeting
    >>> inst = B2BInstance(3, 1, 3, 3, (Meeting(1, 2), Meeting(1, 3)))
    >>> res = solve_schedule(inst)
    >>> res.status, res.total_breaks, sorted(abs(a.slot - b.slot) for a, b in [res.schedule])
    ('OPTIMAL', 0, [1])
    """
    if method == "cpsat":
        return solve_schedule_cpsat(inst, fairness=fairness, time_limit_s=time_limit_s,
                                    workers=workers)
    from critmin.matchmaking.maxsat import Problem, solve_maxsat

    started = time.perf_counter()
    if any(not dom for dom in meeting_domains(inst)):
        return ScheduleResult("INFEASIBLE", None, 0, (), fairness, time.perf_counter() - started)
    share = 1.0 if method == "maxsat" or time_limit_s is None else 0.9
    out = solve_maxsat(
        Problem.of(inst, fairness), workers=workers,
        time_limit_s=None if time_limit_s is None else share * float(time_limit_s),
    )
    if out.status == "INFEASIBLE":
        return ScheduleResult("INFEASIBLE", None, 0, (), fairness, time.perf_counter() - started)
    if out.slots is not None:
        per_p = breaks_by_participant(inst, out.slots)
        return ScheduleResult("OPTIMAL", sum(per_p), sum(per_p), schedule_of(inst, out.slots),
                              fairness, time.perf_counter() - started, per_p)
    if method == "maxsat" or time_limit_s is None:
        return ScheduleResult("UNKNOWN", None, out.lower_bound, (), fairness,
                              time.perf_counter() - started)
    remaining = max(0.5, float(time_limit_s) - (time.perf_counter() - started))
    res = solve_schedule_cpsat(inst, fairness=fairness, time_limit_s=remaining, workers=workers,
                               known_lower_bound=out.lower_bound)
    return ScheduleResult(res.status, res.total_breaks, max(res.lower_bound, out.lower_bound),
                          res.schedule, fairness, time.perf_counter() - started,
                          res.breaks_by_participant)


def solve_schedule_cpsat(
    inst: B2BInstance,
    *,
    fairness: int | None = 2,
    time_limit_s: float | None = None,
    workers: int = 2,
    known_lower_bound: int = 0,
    hint: bool = True,
    log: bool = False,
    params: dict[str, object] | None = None,
    couple: bool = True,
    phase1: bool = True,
    bottom_up: bool = False,
    guided: bool = False,
    phase1_share: float = 0.75,
    soft_share: float = 0.0,
) -> ScheduleResult:
    """Minimise the total number of breaks of ``inst`` with CP-SAT (``method="cpsat"``).

    Arguments and result as :func:`solve_schedule`; ``known_lower_bound`` is a bound proved
    elsewhere (the MaxSAT portfolio). ``phase1`` runs the interval model
    at the trivial bound first (``phase1_share`` of the time limit, 75 %); ``soft_share`` > 0 runs
    the experimental soft-window primal heuristic (:mod:`critmin.matchmaking.lns`) for that share
    and hints the full model with its schedule (off: it did not help on the benchmark);
    ``couple`` ties the window starts into the full model;
    ``bottom_up`` (prove ``total <= k`` infeasible for k = bound, bound + 1, ...) and
    ``guided`` (branch on window starts) are experimental alternatives, off by default.
    ``status`` is ``"OPTIMAL"`` when the optimum is proved, ``"FEASIBLE"`` when the time limit
    stopped the proof (``lower_bound`` is then the best bound), ``"INFEASIBLE"`` when no schedule
    exists, ``"UNKNOWN"`` otherwise.

    >>> from critmin.matchmaking.instance import Meeting
    >>> inst = B2BInstance(3, 1, 3, 3, (Meeting(1, 2), Meeting(1, 3)))
    >>> res = solve_schedule_cpsat(inst)
    >>> res.status, res.total_breaks
    ('OPTIMAL', 0)
    """
    from ortools.sat.python import cp_model

    started = time.perf_counter()
    n_p, n_t = inst.n_participants, inst.n_slots
    slots = range(1, n_t + 1)
    domains = meeting_domains(inst)
    for dom in domains:
        if not dom:
            return ScheduleResult("INFEASIBLE", None, 0, (), fairness,
                                  time.perf_counter() - started)
    known_lb = known_lower_bound
    deadline = None if time_limit_s is None else started + float(time_limit_s)
    if phase1:
        # most events meet the trivial bound; give this fast model the larger share of the time
        budget = 60.0 if time_limit_s is None else max(0.5, phase1_share * float(time_limit_s))
        found, proved_none = find_break_free(inst, domains, time_limit_s=budget, workers=workers)
        trivial_lb = sum(participant_break_bounds(inst, domains)[0])
        if found is not None:
            per_p = breaks_by_participant(inst, found)
            fair = fairness is None or max(per_p, default=0) - min(per_p, default=0) <= fairness
            if fair and sum(per_p) == trivial_lb:
                return ScheduleResult("OPTIMAL", trivial_lb, trivial_lb, schedule_of(inst, found),
                                      fairness, time.perf_counter() - started, per_p)
        if proved_none:
            known_lb = max(known_lb, trivial_lb + 1)
    exact_bounds, exact_windows = participant_break_bounds(inst, domains)
    primal: list[int] | None = None
    if soft_share > 0:
        from critmin.matchmaking.lns import soft_window_lns

        budget = 30.0 if time_limit_s is None else max(0.5, soft_share * float(time_limit_s))
        primal = soft_window_lns(inst, domains, exact_windows, time_limit_s=budget,
                                 workers=workers, log=log)
        if primal is not None:
            per_p = breaks_by_participant(inst, primal)
            fair = fairness is None or max(per_p, default=0) - min(per_p, default=0) <= fairness
            lb_now = max(known_lb, sum(exact_bounds))
            if fair and sum(per_p) == lb_now:
                return ScheduleResult("OPTIMAL", lb_now, lb_now, schedule_of(inst, primal),
                                      fairness, time.perf_counter() - started, per_p)

    def build(cap: int | None):  # type: ignore[no-untyped-def]
        """The CP-SAT model; with ``cap``: feasibility of ``total <= cap``, else minimise."""
        model = cp_model.CpModel()
        x: dict[tuple[int, int], cp_model.IntVar] = {}
        for m, dom in enumerate(domains):
            for t in dom:
                x[m, t] = model.new_bool_var(f"x{m + 1}_{t}")
            model.add_exactly_one(x[m, t] for t in dom)
        for t in slots:
            at_t = [x[m, t] for m in range(inst.n_meetings) if (m, t) in x]
            if len(at_t) > inst.n_tables:
                model.add(sum(at_t) <= inst.n_tables)

        meetings_of: list[list[int]] = [[] for _ in range(n_p + 1)]
        for m, mt in enumerate(inst.meetings):
            meetings_of[mt.p1].append(m)
            meetings_of[mt.p2].append(m)

        slot_of = [sum(t * x[m, t] for t in dom) for m, dom in enumerate(domains)]
        for m, before in enumerate(inst.precedences):
            for j in before:
                model.add(slot_of[j - 1] + 1 <= slot_of[m])

        breaks: dict[int, cp_model.LinearExprT] = {}
        windows_of: list[tuple[int, list[cp_model.IntVar]]] = []
        per_p_lb: dict[int, int] = {}
        for p in range(1, n_p + 1):
            ms = meetings_of[p]
            n = len(ms)
            busy: list[cp_model.IntVar | int] = [0] * (n_t + 2)
            for t in slots:
                terms = [x[m, t] for m in ms if (m, t) in x]
                if not terms:
                    continue
                if len(terms) == 1:
                    busy[t] = terms[0]
                    continue
                b = model.new_bool_var(f"busy{p}_{t}")
                model.add(sum(terms) == b)
                busy[t] = b
            if n <= 1:
                continue
            starts, ends = [], []
            for t in slots:
                if isinstance(busy[t], int):
                    continue
                st = _and_not(model, busy[t], busy[t - 1], f"st{p}_{t}")
                en = _and_not(model, busy[t], busy[t + 1], f"en{p}_{t}")
                starts.append(st)
                ends.append(en)
            model.add(sum(b for b in busy if not isinstance(b, int)) == n)
            model.add(sum(starts) == sum(ends))
            available = [not isinstance(busy[t], int) for t in slots]
            lb = max(_min_breaks_alone(n, available), exact_bounds[p - 1])
            per_p_lb[p] = lb
            model.add(sum(starts) >= 1 + lb)
            breaks[p] = sum(starts) - 1
            if couple and lb == 0:
                # contiguous[p] <=> one block; then busy is exactly the window of a start y[p, s]
                windows = exact_windows[p - 1]
                if windows:
                    contiguous = model.new_bool_var(f"contig{p}")
                    model.add(sum(starts) == 1).only_enforce_if(contiguous)
                    model.add(sum(starts) >= 2).only_enforce_if(~contiguous)
                    ys = {s0: model.new_bool_var(f"y{p}_{s0}") for s0 in windows}
                    windows_of.append((n, list(ys.values())))
                    model.add(sum(ys.values()) == contiguous)
                    for t in slots:
                        if isinstance(busy[t], int):
                            continue
                        cover = sum(v for s0, v in ys.items() if s0 <= t < s0 + n)
                        model.add(busy[t] >= cover)
                        model.add(busy[t] <= cover + 1 - contiguous)

        # symmetry: meetings of p with single-meeting counterparts and equal domains are interchangeable
        for p in range(1, n_p + 1):
            groups: dict[tuple[int, ...], list[int]] = {}
            for m in meetings_of[p]:
                other = inst.meetings[m].p2 if inst.meetings[m].p1 == p else inst.meetings[m].p1
                if len(meetings_of[other]) != 1 or inst.fixed[m] is not None:
                    continue
                if inst.precedences[m] or any(m + 1 in pr for pr in inst.precedences):
                    continue
                groups.setdefault(tuple(domains[m]), []).append(m)
            for group in groups.values():
                for a, b in itertools.pairwise(group):
                    model.add(slot_of[a] < slot_of[b])

        if _mirror_symmetric(inst) and inst.n_meetings:
            # reversal maps slot t to n_t + 1 - t; keep the solutions where the busiest participant's
            # first meeting is no later than its mirror image
            p_star = max(range(1, n_p + 1), key=lambda p: len(meetings_of[p]))
            m_star = meetings_of[p_star][0]
            model.add(2 * slot_of[m_star] <= n_t + 1)

        total = sum(breaks.values()) if breaks else 0
        if fairness is not None and breaks:
            # min over all participants; those with <= 1 meeting have 0 breaks
            has_trivial = any(len(meetings_of[p]) <= 1 for p in range(1, n_p + 1))
            if has_trivial:
                for p, br in breaks.items():
                    if per_p_lb[p] > fairness:
                        return None
                    model.add(br <= fairness)
            else:
                low = model.new_int_var(0, n_t, "min_breaks")
                for br in breaks.values():
                    model.add(low <= br)
                    model.add(br <= low + fairness)
        model.add(total >= max(known_lb, sum(per_p_lb.values())))
        if cap is not None or guided:
            # branch on the windows of the busiest participants, contiguous first
            ordered = sorted(windows_of, key=lambda item: -item[0])
            model.add_decision_strategy(
                [v for _, ys_ in ordered for v in ys_], cp_model.CHOOSE_FIRST,
                cp_model.SELECT_MAX_VALUE,
            )
        if cap is not None:
            model.add(total <= cap)
        else:
            model.minimize(total)

        if hint and primal is not None:
            for (m, t), var in x.items():
                model.add_hint(var, primal[m] == t)
        elif hint:
            greedy = greedy_slots(inst, domains)
            if greedy is not None:
                for (m, t), var in x.items():
                    model.add_hint(var, greedy[m] == t)
        return model, x, total


    def solver_for(seconds: float | None, bottom_up: bool) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = max(1, workers)
        if workers == 2:
            # core-guided search finds break-free schedules quickly; no_lp is a fast CDCL search
            solver.parameters.subsolvers.extend(["no_lp", "core"] if bottom_up else ["core", "no_lp"])
        if seconds is not None:
            solver.parameters.max_time_in_seconds = max(0.1, seconds)
        solver.parameters.log_search_progress = log
        for key, value in (params or {}).items():
            if isinstance(value, list):
                getattr(solver.parameters, key).extend(value)
            else:
                setattr(solver.parameters, key, value)
        return solver

    # bottom-up: prove "total <= cap" infeasible for cap = lb, lb + 1, ... until one is feasible
    built = build(None)
    if built is None:
        return ScheduleResult("INFEASIBLE", None, 0, (), fairness, time.perf_counter() - started)
    model, x, total = built
    cap = known_lb
    code = None
    proved_by_cap = False
    while bottom_up and cap <= 12:
        remaining = None if deadline is None else deadline - time.perf_counter()
        if remaining is not None and remaining < 1.0:
            break
        capped = build(cap)
        assert capped is not None
        c_model, c_x, _ = capped
        share = 30.0 if remaining is None else 0.6 * remaining
        solver = solver_for(share, True)
        c_code = solver.solve(c_model)
        if c_code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            model, x, code, proved_by_cap = c_model, c_x, c_code, True
            break
        if c_code == cp_model.INFEASIBLE:
            known_lb = cap + 1
            cap += 1
            continue
        break
    if not proved_by_cap:
        model, x, total = build(None)  # type: ignore[misc]
        model.add(total >= known_lb)
        remaining = None if deadline is None else deadline - time.perf_counter()
        solver = solver_for(remaining, False)
        code = solver.solve(model)
    elapsed = time.perf_counter() - started
    status_map: dict[int, Status] = {
        cp_model.OPTIMAL: "OPTIMAL",
        cp_model.FEASIBLE: "FEASIBLE",
        cp_model.INFEASIBLE: "INFEASIBLE",
    }
    status = status_map.get(code, "UNKNOWN") if code is not None else "UNKNOWN"
    if proved_by_cap:
        status = "OPTIMAL"  # every smaller cap was proved infeasible
    if status in ("INFEASIBLE", "UNKNOWN"):
        lb = 0 if status == "INFEASIBLE" else max(known_lb, round(solver.best_objective_bound))
        return ScheduleResult(status, None, max(lb, 0), (), fairness, elapsed)
    slot_values = [
        next(t for t in dom if solver.boolean_value(x[m, t])) for m, dom in enumerate(domains)
    ]
    per_p = breaks_by_participant(inst, slot_values)
    total_breaks = sum(per_p)
    lower = (
        total_breaks
        if status == "OPTIMAL"
        else max(known_lb, int(-(-solver.best_objective_bound // 1)))
    )
    return ScheduleResult(status, total_breaks, lower, schedule_of(inst, slot_values), fairness,
                          elapsed, per_p)


def _and_not(model: object, a: object, b: object, name: str) -> object:
    """A Boolean ``c = a and not b`` (``b`` may be the constant 0)."""
    from ortools.sat.python import cp_model

    assert isinstance(model, cp_model.CpModel)
    if isinstance(b, int):
        return a
    c = model.new_bool_var(name)
    model.add_implication(c, a)  # type: ignore[arg-type]
    model.add_implication(c, b.Not())  # type: ignore[union-attr]
    model.add_bool_or([c, a.Not(), b])  # type: ignore[union-attr]
    return c


def explain_infeasibility(inst: B2BInstance, fairness: int | None = 2) -> list[str]:
    """Simple reasons why ``inst`` has no schedule (empty when none of these checks fires).

    Checks: a meeting without an allowed slot, more meetings than tables x slots, a participant
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

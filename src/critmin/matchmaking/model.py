"""The B2B scheduling model shared by both solvers: allowed slots, break counts, per-participant
bounds, symmetries and a greedy first schedule.

:mod:`critmin.matchmaking.maxsat` (the SAT/MaxSAT portfolio) and
:mod:`critmin.matchmaking.cpsat` (the CP-SAT model) both take a :class:`Problem`: an instance with
its meetings' allowed slots and the per-participant bounds, computed once per call of
:func:`critmin.matchmaking.scheduler.solve_schedule`. Nothing here imports a solver.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from critmin.matchmaking.instance import B2BInstance


@dataclass(frozen=True)
class Problem:
    """One instance ready to encode: its meetings' allowed slots (:func:`meeting_domains`), the
    fairness ``d`` and the per-participant bounds and feasible windows of
    :func:`participant_break_bounds` (index ``p - 1``). Picklable, for the solver processes."""

    inst: B2BInstance
    domains: tuple[tuple[int, ...], ...]
    fairness: int | None
    bounds: tuple[int, ...]
    windows: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, inst: B2BInstance, fairness: int | None) -> Problem:
        domains = meeting_domains(inst)
        bounds, windows = participant_break_bounds(inst, domains)
        return cls(inst, tuple(map(tuple, domains)), fairness, tuple(bounds),
                   tuple(map(tuple, windows)))

    @property
    def trivial_bound(self) -> int:
        """The sum of the per-participant bounds."""
        return sum(self.bounds)

    def meetings_of(self) -> list[list[int]]:
        """The meetings (0-based) of each participant (index ``p``; index 0 is unused)."""
        out: list[list[int]] = [[] for _ in range(self.inst.n_participants + 1)]
        for m, mt in enumerate(self.inst.meetings):
            out[mt.p1].append(m)
            out[mt.p2].append(m)
        return out


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


def min_breaks_alone(n: int, available: Sequence[bool]) -> int:
    """Least breaks for ``n`` meetings placed on the available slots of one participant alone.

    Choose ``k`` runs of available slots; the fewest runs covering ``n`` slots uses the longest
    runs first, so ``breaks >= (number of longest runs needed) - 1``.

    >>> min_breaks_alone(3, [True, True, False, True, True, True])
    0
    >>> min_breaks_alone(5, [True, True, False, True, True, True])
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
    pool_load: dict[int, int] = {}
    slots = [0] * n_m
    for m in order:
        p1, p2 = inst.meetings[m].participants
        pool = inst.needs_pool(m + 1)
        best, best_key = None, None
        for t in domains[m]:
            if t in busy[p1] or t in busy[p2] or load.get(t, 0) >= inst.n_tables:
                continue
            if pool and pool_load.get(t, 0) >= inst.pool_tables:
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
        if pool:
            pool_load[best] = pool_load.get(best, 0) + 1
    return slots


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
    """Least breaks of each participant alone and its feasible single windows (index ``p - 1``).

    A participant with ``n`` meetings needs no break when some window ``s..s+n-1`` admits a
    perfect matching of its meetings (each in its own allowed slot); else at least one, and at
    least two when no pair of blocks ``s1..s1+l-1``, ``s2..s2+n-l-1`` (``s2 > s1 + l``) admits one.
    The bound is raised to :func:`min_breaks_alone` over its usable slots when that is larger
    (forbidden slots can split the day into more runs than two breaks can bridge). The windows
    list holds the feasible window starts.

    >>> from critmin.matchmaking.instance import Meeting
    >>> inst = B2BInstance(4, 3, 7, 7, (Meeting(1, 2), Meeting(1, 3), Meeting(1, 4)),
    ...                    forbidden=(frozenset({2, 4, 6}),) + (frozenset(),) * 3)
    >>> participant_break_bounds(inst, meeting_domains(inst))
    ([2, 0, 0, 0], [[], [], [], []])
    >>> inst = B2BInstance(5, 3, 7, 7, tuple(Meeting(1, q) for q in (2, 3, 4, 5)),
    ...                    forbidden=(frozenset({2, 4, 6}),) + (frozenset(),) * 4)
    >>> participant_break_bounds(inst, meeting_domains(inst))[0]
    [3, 0, 0, 0, 0]
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
        alone = min_breaks_alone(n, [t in usable for t in range(1, n_t + 1)])
        bounds.append(max(1 if one else 2, alone))
    return bounds, windows


def mirror_symmetric(inst: B2BInstance) -> bool:
    """True when reversing the day (``t -> n_slots + 1 - t``) maps every schedule to a valid one."""
    n = inst.n_slots
    if any(f is not None for f in inst.fixed) or any(inst.precedences):
        return False
    for mt in inst.meetings:
        dom = set(inst.session_slots(mt.session))
        if {n + 1 - t for t in dom} != dom:
            return False
    return all({n + 1 - t for t in f} == set(f) for f in inst.forbidden)


def interchangeable_meetings(
    inst: B2BInstance, domains: Sequence[Sequence[int]]
) -> list[list[int]]:
    """Groups of meetings (0-based) that any schedule may permute: the meetings of one participant
    with counterparts who have no other meeting, with equal allowed slots, no fixed slot and no
    precedence, and the same need of a pool table (see :meth:`B2BInstance.needs_pool`). Swapping
    their slots keeps every constraint and every participant's breaks, so ordering each group's
    slots loses no optimum.
    """
    degree = [0] * (inst.n_participants + 1)
    for mt in inst.meetings:
        degree[mt.p1] += 1
        degree[mt.p2] += 1
    in_precedence = {m - 1 for before in inst.precedences for m in before}
    in_precedence |= {m for m, before in enumerate(inst.precedences) if before}
    groups: dict[tuple[int, tuple[int, ...], bool], list[int]] = {}
    for m, mt in enumerate(inst.meetings):
        if inst.fixed[m] is not None or m in in_precedence:
            continue
        for p, q in ((mt.p1, mt.p2), (mt.p2, mt.p1)):
            if degree[q] == 1 and degree[p] > 1:
                groups.setdefault((p, tuple(domains[m]), inst.needs_pool(m + 1)), []).append(m)
                break
    return [g for g in groups.values() if len(g) > 1]



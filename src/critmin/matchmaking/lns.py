"""Primal heuristic for B2B scheduling: large-neighbourhood search on a "soft window" model.

Every participant ``p`` with ``n_p >= 2`` meetings and some feasible window of ``n_p`` consecutive
slots (see :func:`critmin.matchmaking.scheduler.participant_break_bounds`) either takes one window
start ``y[p, s]`` and is then busy exactly there (no break), or is *free* (``f_p = 1``: any
slots). Participants without a feasible window count their blocks exactly. The objective

    ``sum_p f_p + sum_{p without window} (blocks_p - 1)``

is a lower bound on the schedule's breaks and equal to it when every free participant has one
break, so driving it to the trivial bound yields (near-)optimal schedules. CP-SAT alone finds a
feasible break-free schedule slowly on tight events; here a greedy schedule is improved by
re-optimising small neighbourhoods: the free participants, some of their counterparts and random
others keep their window choice open while every other participant's window is fixed.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Sequence

from critmin.matchmaking.instance import B2BInstance


def soft_window_lns(
    inst: B2BInstance,
    domains: Sequence[Sequence[int]],
    windows: Sequence[Sequence[int]],
    *,
    time_limit_s: float,
    target: int = 0,
    start: Sequence[int] | None = None,
    workers: int = 2,
    seed: int = 0,
    log: bool = False,
    custom: bool = False,
    max_breaks: int | None = 2,
) -> list[int] | None:
    """Slots (index ``m - 1``) of the best schedule found, or ``None``; stops at ``target``."""
    from ortools.sat.python import cp_model

    deadline = time.perf_counter() + time_limit_s
    rng = random.Random(seed)
    n_p, slots = inst.n_participants, range(1, inst.n_slots + 1)
    model = cp_model.CpModel()
    x = {(m, t): model.new_bool_var(f"x{m}_{t}") for m, dom in enumerate(domains) for t in dom}
    for m, dom in enumerate(domains):
        model.add_exactly_one(x[m, t] for t in dom)
    for t in slots:
        at_t = [x[m, t] for m in range(inst.n_meetings) if (m, t) in x]
        if len(at_t) > inst.n_tables:
            model.add(sum(at_t) <= inst.n_tables)
    for m, before in enumerate(inst.precedences):
        for j in before:
            model.add(
                sum(t * x[j - 1, t] for t in domains[j - 1]) + 1
                <= sum(t * x[m, t] for t in domains[m])
            )
    meetings_of: list[list[int]] = [[] for _ in range(n_p + 1)]
    for m, mt in enumerate(inst.meetings):
        meetings_of[mt.p1].append(m)
        meetings_of[mt.p2].append(m)
    neighbours: list[set[int]] = [set() for _ in range(n_p + 1)]
    for mt in inst.meetings:
        neighbours[mt.p1].add(mt.p2)
        neighbours[mt.p2].add(mt.p1)
    ys: dict[int, dict[int, cp_model.IntVar]] = {}
    free: dict[int, cp_model.IntVar] = {}
    cost: list[object] = []
    for p in range(1, n_p + 1):
        ms = meetings_of[p]
        n = len(ms)
        terms_at = {t: [x[m, t] for m in ms if (m, t) in x] for t in slots}
        for terms in terms_at.values():
            if len(terms) > 1:
                model.add_at_most_one(terms)
        if n <= 1:
            continue
        if windows[p - 1]:
            y = {s: model.new_bool_var(f"y{p}_{s}") for s in windows[p - 1]}
            f = model.new_bool_var(f"f{p}")
            model.add_exactly_one([*y.values(), f])
            for t in slots:
                cover = [v for s, v in y.items() if s <= t < s + n]
                if terms_at[t] or cover:
                    model.add(sum(terms_at[t]) == sum(cover)).only_enforce_if(~f)
                    model.add(sum(terms_at[t]) >= sum(cover))
            ys[p], free[p] = y, f
        busy: dict[int, object] = {}
        for t in slots:
            if terms_at[t]:
                b = model.new_bool_var(f"b{p}_{t}")
                model.add(sum(terms_at[t]) == b)
                busy[t] = b
        block_starts: list[object] = []
        for t, b in busy.items():
            if t - 1 in busy:
                st = model.new_bool_var(f"st{p}_{t}")
                model.add_implication(st, b)  # type: ignore[arg-type]
                model.add_implication(st, busy[t - 1].Not())  # type: ignore[attr-defined]
                model.add_bool_or([st, b.Not(), busy[t - 1]])  # type: ignore[attr-defined]
                block_starts.append(st)
            else:
                block_starts.append(b)
        if max_breaks is not None:
            model.add(sum(block_starts) <= 1 + max_breaks)  # type: ignore[arg-type]
        if p in free:
            model.add(sum(block_starts) >= 2).only_enforce_if(free[p])  # type: ignore[arg-type]
        cost.extend(block_starts)
        cost.append(-1)
    model.minimize(sum(cost))  # type: ignore[arg-type]

    def value_of(solver: cp_model.CpSolver) -> list[int]:
        return [next(t for t in dom if solver.boolean_value(x[m, t]))
                for m, dom in enumerate(domains)]

    def windows_of(sol: Sequence[int]) -> dict[int, int | None]:
        """Window start of each window participant in ``sol`` (``None`` when not contiguous)."""
        out: dict[int, int | None] = {}
        for p in ys:
            ts = sorted(sol[m] for m in meetings_of[p])
            s0 = ts[0]
            out[p] = s0 if ts[-1] - s0 + 1 == len(ts) and s0 in ys[p] else None
        return out

    def set_hint(sol: Sequence[int]) -> None:
        model.clear_hints()
        for (m, t), var in x.items():
            model.add_hint(var, sol[m] == t)
        for p, s0 in windows_of(sol).items():
            for s, v in ys[p].items():
                model.add_hint(v, s == s0)
            model.add_hint(free[p], s0 is None)

    def objective(sol: Sequence[int]) -> int:
        from critmin.matchmaking.scheduler import breaks_of_slots

        w = windows_of(sol)
        total = sum(1 for s0 in w.values() if s0 is None)
        for p in range(1, n_p + 1):
            if p not in ys and len(meetings_of[p]) > 1:
                total += breaks_of_slots([sol[m] for m in meetings_of[p]])
        return total

    def solve(seconds: float, which: cp_model.CpModel) -> tuple[cp_model.CpSolver, int]:
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = max(1, workers)
        solver.parameters.max_time_in_seconds = max(0.05, seconds)
        solver.parameters.random_seed = rng.randrange(1 << 20)
        code = solver.solve(which)
        return solver, code

    # first solution: CP-SAT on the whole soft model (its own LNS) for a short while
    best: list[int] | None = list(start) if start is not None else None
    if best is None:
        from critmin.matchmaking.scheduler import greedy_slots

        greedy = greedy_slots(inst, domains)
        if greedy is not None:
            set_hint(greedy)
        share = 0.3 if custom else 1.0
        first = min(max(1.0, share * time_limit_s), deadline - time.perf_counter())
        solver, code = solve(first, model)
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        best = value_of(solver)
        if log:
            print(f"lns first {solver.objective_value} {objective(best)}", flush=True)
        if code == cp_model.OPTIMAL:
            return best
    best_obj = objective(best)
    size = 16
    while custom and best_obj > target and time.perf_counter() < deadline - 0.2:
        w = windows_of(best)
        broken = [p for p, s0 in w.items() if s0 is None]
        broken += [p for p in range(1, n_p + 1)
                   if p not in ys and len(meetings_of[p]) > 1
                   and breaks_of(best, meetings_of[p]) > 0]
        hood: set[int] = set(rng.sample(broken, min(len(broken), 3)))
        frontier = [q for p in hood for q in neighbours[p]]
        rng.shuffle(frontier)
        for q in frontier:
            if len(hood) >= size:
                break
            hood.add(q)
        while len(hood) < size:
            hood.add(rng.randrange(1, n_p + 1))
        set_hint(best)
        sub = model.clone()
        for p, s0 in w.items():
            if p in hood or s0 is None:
                continue
            sub.add_bool_and([sub.get_bool_var_from_proto_index(ys[p][s0].index)])
        for m, mt in enumerate(inst.meetings):
            if mt.p1 not in hood and mt.p2 not in hood:
                sub.add_bool_and([sub.get_bool_var_from_proto_index(x[m, best[m]].index)])
        remaining = deadline - time.perf_counter()
        solver, code = solve(min(2.0, remaining), sub)
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            sol = value_of(solver)
            obj = objective(sol)
            if obj <= best_obj:
                best, best_obj = sol, obj
            if log:
                print(f"lns {time.perf_counter() - deadline + time_limit_s:.1f}s size={size} "
                      f"code={code} obj={obj} best={best_obj}", flush=True)
            size = min(size + 2, n_p) if code == cp_model.OPTIMAL else max(8, size - 1)
        else:
            size = max(8, size - 2)
    return best


def breaks_of(sol: Sequence[int], ms: Sequence[int]) -> int:
    """Breaks of a participant whose meetings (0-based) are ``ms`` in slots ``sol``."""
    ts = sorted(sol[m] for m in ms)
    return sum(1 for a, b in itertools.pairwise(ts) if b - a > 1)

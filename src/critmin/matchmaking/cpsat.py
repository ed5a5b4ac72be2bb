"""The CP-SAT model of the B2B scheduling problem (``method="cpsat"``, and the fallback that looks
for a good schedule when the MaxSAT portfolio proved none in its share of the time).

With ``x[m, t]`` (meeting ``m`` at slot ``t``), ``busy[p, t]`` and the block starts
``start[p, t] = busy[p, t] * (1 - busy[p, t-1])`` (defined by equalities, so the fairness bound
cannot be met by inflating breaks), ``breaks(p) = sum_t start[p, t] - 1`` for a participant with
at least two meetings. Implied constraints:

- ``sum_t busy[p, t] = n_p`` and ``sum_t end[p, t] = sum_t start[p, t]``;
- ``breaks(p) >= lb_p`` (:func:`~critmin.matchmaking.model.participant_break_bounds`) and
  ``total >= max(sum_p lb_p, known lower bound)``;
- for a participant with ``lb_p = 0``, a "contiguous" Boolean tied to a one-hot window start
  ``y[p, s]`` over its feasible windows (busy exactly in the window when contiguous);
- symmetry breaking: :func:`~critmin.matchmaking.model.interchangeable_meetings` are ordered; the
  reversal of the day is broken when the instance is mirror-symmetric;
- a greedy first schedule (:func:`~critmin.matchmaking.model.greedy_slots`) as a solution hint.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from critmin.matchmaking.model import (
    Problem,
    greedy_slots,
    interchangeable_meetings,
    mirror_symmetric,
)


@dataclass(frozen=True)
class CpSatOutcome:
    """What CP-SAT found: ``status`` (OPTIMAL, FEASIBLE, INFEASIBLE or UNKNOWN), the slots of the
    best schedule (index ``m - 1``) and the proven lower bound on the total breaks."""

    status: str
    slots: list[int] | None
    lower_bound: int


def build(problem: Problem, known_lower_bound: int = 0) -> tuple[Any, dict[tuple[int, int], Any]]:
    """The CP-SAT model minimising the total breaks, and its slot literals ``x[(m, t)]``
    (``m`` 0-based). ``None`` in place of the model when the fairness bound is violated by the
    per-participant bounds alone."""
    from ortools.sat.python import cp_model

    inst, domains, fairness = problem.inst, problem.domains, problem.fairness
    n_t = inst.n_slots
    slots = range(1, n_t + 1)
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
        if inst.pool_tables < inst.n_tables:  # meetings without a host share the pool tables
            shared = [x[m, t] for m in range(inst.n_meetings) if (m, t) in x
                      and inst.needs_pool(m + 1)]
            if len(shared) > inst.pool_tables:
                model.add(sum(shared) <= inst.pool_tables)
    slot_of = [sum(t * x[m, t] for t in dom) for m, dom in enumerate(domains)]
    for m, before in enumerate(inst.precedences):
        for j in before:
            model.add(slot_of[j - 1] + 1 <= slot_of[m])
    for group in interchangeable_meetings(inst, domains):
        for a, b in itertools.pairwise(group):
            model.add(slot_of[a] + 1 <= slot_of[b])

    meetings_of = problem.meetings_of()
    breaks: dict[int, Any] = {}
    for p in range(1, inst.n_participants + 1):
        ms = meetings_of[p]
        n = len(ms)
        busy: list[Any] = [0] * (n_t + 2)
        for t in slots:
            terms = [x[m, t] for m in ms if (m, t) in x]
            if len(terms) == 1:
                busy[t] = terms[0]
            elif terms:
                busy[t] = model.new_bool_var(f"busy{p}_{t}")
                model.add(sum(terms) == busy[t])
        if n <= 1:
            continue
        used = [t for t in slots if not isinstance(busy[t], int)]
        starts = [_and_not(model, busy[t], busy[t - 1], f"st{p}_{t}") for t in used]
        ends = [_and_not(model, busy[t], busy[t + 1], f"en{p}_{t}") for t in used]
        model.add(sum(busy[t] for t in used) == n)
        model.add(sum(starts) == sum(ends))
        lb = problem.bounds[p - 1]
        model.add(sum(starts) >= 1 + lb)
        breaks[p] = sum(starts) - 1
        windows = problem.windows[p - 1]
        if lb == 0 and windows:
            # contiguous[p] <=> one block; then busy is exactly the window of a start y[p, s]
            contiguous = model.new_bool_var(f"contig{p}")
            model.add(sum(starts) == 1).only_enforce_if(contiguous)
            model.add(sum(starts) >= 2).only_enforce_if(~contiguous)
            ys = {s0: model.new_bool_var(f"y{p}_{s0}") for s0 in windows}
            model.add(sum(ys.values()) == contiguous)
            for t in used:
                cover = sum(v for s0, v in ys.items() if s0 <= t < s0 + n)
                model.add(busy[t] >= cover)
                model.add(busy[t] <= cover + 1 - contiguous)

    if mirror_symmetric(inst) and inst.n_meetings:
        # reversal maps slot t to n_t + 1 - t; keep the solutions where the busiest participant's
        # first meeting is no later than its mirror image (that meeting heads its interchangeable
        # group, if any, so the group order is kept by the reversal too)
        p_star = max(range(1, inst.n_participants + 1), key=lambda p: len(meetings_of[p]))
        model.add(2 * slot_of[meetings_of[p_star][0]] <= n_t + 1)

    total = sum(breaks.values()) if breaks else 0
    if fairness is not None and breaks:
        if any(len(meetings_of[p]) <= 1 for p in range(1, inst.n_participants + 1)):
            # the minimum over all participants is 0
            if any(problem.bounds[p - 1] > fairness for p in breaks):
                return None, x
            for br in breaks.values():
                model.add(br <= fairness)
        else:
            low = model.new_int_var(0, n_t, "min_breaks")
            for br in breaks.values():
                model.add(low <= br)
                model.add(br <= low + fairness)
    model.add(total >= max(known_lower_bound, problem.trivial_bound))
    model.minimize(total)
    greedy = greedy_slots(inst, domains)
    if greedy is not None:
        for (m, t), var in x.items():
            model.add_hint(var, greedy[m] == t)
    return model, x


def solve_cpsat(
    problem: Problem,
    *,
    time_limit_s: float | None = None,
    workers: int = 2,
    known_lower_bound: int = 0,
) -> CpSatOutcome:
    """Minimise the total breaks with CP-SAT (2 workers: core-guided search and ``no_lp``)."""
    from ortools.sat.python import cp_model

    if any(not dom for dom in problem.domains):
        return CpSatOutcome("INFEASIBLE", None, 0)
    model, x = build(problem, known_lower_bound)
    if model is None:
        return CpSatOutcome("INFEASIBLE", None, 0)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = max(1, workers)
    if workers == 2:
        solver.parameters.subsolvers.extend(["core", "no_lp"])
    if time_limit_s is not None:
        solver.parameters.max_time_in_seconds = max(0.1, float(time_limit_s))
    code = solver.solve(model)
    names = {cp_model.OPTIMAL: "OPTIMAL", cp_model.FEASIBLE: "FEASIBLE",
             cp_model.INFEASIBLE: "INFEASIBLE"}
    status = names.get(code, "UNKNOWN")
    if status == "INFEASIBLE":
        return CpSatOutcome(status, None, 0)
    bound = max(known_lower_bound, int(-(-solver.best_objective_bound // 1)))
    if status == "UNKNOWN":
        return CpSatOutcome(status, None, bound)
    slots = [
        next(t for t in dom if solver.boolean_value(x[m, t]))
        for m, dom in enumerate(problem.domains)
    ]
    return CpSatOutcome(status, slots, bound)


def _and_not(model: Any, a: Any, b: Any, name: str) -> Any:
    """A Boolean ``c = a and not b`` (``b`` may be the constant 0)."""
    if isinstance(b, int):
        return a
    c = model.new_bool_var(name)
    model.add_implication(c, a)
    model.add_implication(c, b.Not())
    model.add_bool_or([c, a.Not(), b])
    return c

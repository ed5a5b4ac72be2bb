"""SAT and MaxSAT solving of the B2B meeting scheduling problem (the default scheduler).

Bofill et al. (JAIR 74, 2022) found MaxSAT with implied constraints the best approach to this
problem; this module follows that viewpoint with `PySAT <https://pysathq.github.io>`_ (CaDiCaL,
Glucose and the core-guided MaxSAT solver RC2).

The CNF (:func:`encode`), for meetings ``m`` with allowed slots ``D(m)`` (session, forbidden slots,
fixed slot) and participants ``p`` with ``n_p`` meetings:

- ``x[m, t]``: meeting ``m`` is held in slot ``t``; exactly one per meeting;
- ``busy[p, t] <-> OR_{m in M(p)} x[m, t]`` with at most one ``x[m, t]`` per participant and slot;
- tables: ``sum_m x[m, t] <= n_tables`` per slot and, when participants host at booths,
  ``sum_{m without a host} x[m, t] <= pool_tables`` (the tables that are nobody's booth);
- precedences through order literals ``le[m, t]`` ("``m`` is held at slot ``<= t``");
- ``after[p, t]`` ("``p`` meets at some slot ``>= t``") and the break literal
  ``brk[p, t] <-> busy[p, t-1] & ~busy[p, t] & after[p, t+1]`` (a break starts at the idle
  slot ``t``), so ``breaks(p) = sum_t brk[p, t]`` exactly;
- fairness ``d``: when some participant has at most one meeting (then the minimum is 0), simply
  ``breaks(p) <= d``; otherwise unary counters ``ge[p, j] <-> breaks(p) >= j`` and levels
  ``g[j] <-> min_q breaks(q) >= j`` with ``ge[p, j + d + 1] -> g[j + 1]``;
- implied constraints (they make the proofs of optimality fast): ``sum_t busy[p, t] = n_p``,
  ``sum_p busy[p, t] <= 2 n_tables``, the per-participant lower bounds of
  :func:`~critmin.matchmaking.model.participant_break_bounds` and, for participants whose
  breaks must be 0 under the bound ``k``, a one-hot window start ``y[p, s]`` over the windows of
  ``n_p`` consecutive slots that admit their meetings.

Under a bound ``total <= k`` every participant also gets ``breaks(p) <= lb_p + (k - sum_q lb_q)``.
With ``reified_windows`` (the searches at the bound), every participant ``p`` of bound 0 also
gets a literal ``e[p]`` ("``p`` has a break", implied by each ``brk[p, t]``), its window start
``y[p, s]`` whenever ``e[p]`` is false, and ``sum_p e[p] <= k - sum_q lb_q`` (each such
participant with a break takes at least one break of the slack): the search then mostly places
contiguous participants in windows, which finds the schedules at the bound 1.2–3x faster on the
hardest variants (``docs/benchmarks.md``).

Solving (:func:`solve_maxsat`) runs a portfolio of three processes and stops as soon as the bounds
meet: RC2 minimising ``sum brk`` (its cost after each core is a proven lower bound, shared with the
others) and two CaDiCaL searches for ``total <= k`` at the current lower bound ``k``, one with the
per-slot aggregate and the reified windows (refutes fast, finds most schedules) and one with
neither (finds schedules faster on some instances).
An unsatisfiable ``k`` raises the bound to ``k + 1`` and restarts both searches there; the first
schedule found by them is optimal. When the instance is not settled within a quarter of the time
limit, a fourth process searches from above (:func:`descent_worker`: it probes ``total <= k``
above the bound until a schedule is found, then asks ``total <= best - 1`` incrementally), at a
lower CPU priority (:data:`DOWN_NICE`) so that it takes little from the searches at the bound; the
optimum is proved when the upper and lower bounds meet, and at the time limit the best schedule
is returned as FEASIBLE.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import queue as queue_mod
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from critmin.matchmaking.model import Problem, interchangeable_meetings

DOWN_AFTER = 0.25
"""Share of the time limit after which the search from above (:func:`descent_worker`) starts."""

DOWN_NICE = 5
"""Niceness the search from above adds to its process: it runs on the CPU time the searches at
the bound leave (about a fifth of a core beside three busy solvers on two cores), so an instance
whose schedule at the bound is hard to find loses little to it, and one that only the descent
solves still gets it."""

Progress = Callable[[int | None, int], None]
"""Called during a run with ``(best total breaks found so far or None, proved lower bound)``."""


@dataclass(frozen=True)
class Encoding:
    """A CNF of one B2B instance: clauses, the slot literals ``x[(m, t)]`` and the break literals."""

    clauses: list[list[int]]
    n_vars: int
    x: dict[tuple[int, int], int]
    breaks: list[int]


class _Pool:
    """Fresh variable ids."""

    def __init__(self) -> None:
        self.top = 0

    def new(self) -> int:
        self.top += 1
        return self.top


def _card(
    clauses: list[list[int]], pool: _Pool, lits: Sequence[int], bound: int, kind: str
) -> None:
    """Append ``sum(lits) <= bound`` (``kind="atmost"``), ``>= bound`` or ``== bound`` clauses.

    A sequential counter (Sinz 2005) from PySAT, on fresh ids above ``pool.top``.
    """
    from pysat.card import CardEnc, EncType

    lits = list(lits)
    n = len(lits)
    if (kind == "atmost" and bound >= n) or (kind == "atleast" and bound <= 0):
        return
    if bound < 0 or bound > n:
        clauses.append([])
        return
    if kind == "atmost" and bound == 0:
        clauses.extend([-v] for v in lits)
        return
    enc = {"atmost": CardEnc.atmost, "atleast": CardEnc.atleast, "equals": CardEnc.equals}[kind]
    cnf = enc(lits, bound, top_id=pool.top, encoding=EncType.seqcounter)
    pool.top = max(pool.top, cnf.nv)
    clauses.extend(cnf.clauses)


def _amo(clauses: list[list[int]], pool: _Pool, lits: Sequence[int]) -> None:
    """At most one of ``lits``: pairwise up to 5 literals, else a sequential counter."""
    if len(lits) <= 1:
        return
    if len(lits) <= 5:
        clauses.extend([-a, -b] for i, a in enumerate(lits) for b in lits[i + 1 :])
    else:
        _card(clauses, pool, lits, 1, "atmost")


def _unary_counter(
    clauses: list[list[int]], pool: _Pool, lits: Sequence[int], top: int
) -> list[int]:
    """Literals ``ge[j]`` (index ``j - 1``) equivalent to ``sum(lits) >= j`` for ``j = 1..top``.

    A sequential counter with both directions of every definition.
    """
    prev: list[int | None] = [None] * (top + 1)  # prev[j]: count of the inputs so far >= j
    for v in lits:
        cur: list[int | None] = [None] * (top + 1)
        for j in range(1, top + 1):
            s = pool.new()
            cur[j] = s
            a = prev[j]  # already >= j
            b = prev[j - 1] if j > 1 else True  # >= j - 1 before, and v
            # s <-> a | (b & v)
            if a is not None:
                clauses.append([-a, s])
            if b is True:
                clauses.append([-v, s])
            elif b is not None:
                clauses.append([-b, -v, s])
            # s -> a | v ; s -> a | b
            clauses.append([-s, v] + ([a] if a is not None else []))
            if b is None:
                clauses.append([-s] + ([a] if a is not None else []))
            elif b is not True:
                clauses.append([-s, b] + ([a] if a is not None else []))
        prev = cur
    out = []
    for j in range(1, top + 1):
        s = prev[j]
        if s is None:
            s = pool.new()
            clauses.append([-s])
        out.append(s)
    return out


def encode(
    problem: Problem,
    *,
    bound: int | None = None,
    slot_aggregate: bool = True,
    reified_windows: bool = False,
) -> Encoding:
    """The CNF of ``problem`` (see the module docstring); with ``bound``: also ``total <= bound``.

    The slots of each group of :func:`~critmin.matchmaking.model.interchangeable_meetings` are
    ordered; ``slot_aggregate`` adds the per-slot implied count.
    """
    inst, domains, fairness = problem.inst, problem.domains, problem.fairness
    lower_bounds, windows = problem.bounds, problem.windows
    pool = _Pool()
    cl: list[list[int]] = []
    n_t, n_m = inst.n_slots, inst.n_meetings
    x: dict[tuple[int, int], int] = {}
    for m, dom in enumerate(domains):
        lits = []
        for t in dom:
            x[m, t] = pool.new()
            lits.append(x[m, t])
        cl.append(lits)  # an empty domain is an empty clause: infeasible
        _amo(cl, pool, lits)
    for t in range(1, n_t + 1):
        at = [x[m, t] for m in range(n_m) if (m, t) in x]
        if len(at) > inst.n_tables:
            _card(cl, pool, at, inst.n_tables, "atmost")
        if inst.pool_tables < inst.n_tables:  # meetings without a host share the pool tables
            shared = [x[m, t] for m in range(n_m) if (m, t) in x and inst.needs_pool(m + 1)]
            if len(shared) > inst.pool_tables:
                _card(cl, pool, shared, inst.pool_tables, "atmost")
    # precedences: m only after each of its predecessors
    le: dict[int, list[int | None]] = {}

    def order(a: int) -> list[int | None]:
        if a not in le:
            lits: list[int | None] = [None] * (n_t + 1)
            for t in range(1, n_t + 1):
                v = pool.new()
                lits[t] = v
                parts = []
                if (a, t) in x:
                    cl.append([-x[a, t], v])
                    parts.append(x[a, t])
                if t > 1:
                    cl.append([-lits[t - 1], v])  # type: ignore[list-item]
                    parts.append(lits[t - 1])  # type: ignore[arg-type]
                cl.append([-v, *parts])
            le[a] = lits
        return le[a]

    def precede(a: int, m: int) -> None:
        """Meeting ``a`` in a strictly earlier slot than meeting ``m`` (0-based)."""
        lits_a = order(a)
        for t in domains[m]:
            cl.append([-x[m, t]] + ([lits_a[t - 1]] if t > 1 else []))  # type: ignore[list-item]

    for m, before in enumerate(inst.precedences):
        for b1 in before:
            precede(b1 - 1, m)
    for group in interchangeable_meetings(inst, domains):
        for a, m in itertools.pairwise(group):
            precede(a, m)

    meetings_of = problem.meetings_of()
    some_idle = any(len(meetings_of[p]) <= 1 for p in range(1, inst.n_participants + 1))
    slack = None if bound is None else bound - sum(lower_bounds)
    if slack is not None and slack < 0:
        cl.append([])
    busy_at: list[list[int]] = [[] for _ in range(n_t + 1)]
    all_breaks: list[int] = []
    counters: dict[int, list[int]] = {}
    exceeds: list[int] = []  # e[p] for the participants with bound 0: "p has a break"
    for p in range(1, inst.n_participants + 1):
        ms = meetings_of[p]
        n = len(ms)
        busy: list[int | None] = [None] * (n_t + 2)
        for t in range(1, n_t + 1):
            terms = [x[m, t] for m in ms if (m, t) in x]
            if not terms:
                continue
            b = pool.new()
            busy[t] = b
            busy_at[t].append(b)
            cl.extend([-v, b] for v in terms)
            cl.append([-b, *terms])
            _amo(cl, pool, terms)
        if n <= 1:
            continue
        _card(cl, pool, [b for b in busy if b is not None], n, "equals")
        after: list[int | None] = [None] * (n_t + 2)
        for t in range(n_t, 0, -1):
            parts = [v for v in (busy[t], after[t + 1]) if v is not None]
            if not parts:
                continue
            a = pool.new()
            after[t] = a
            cl.extend([-v, a] for v in parts)
            cl.append([-a, *parts])
        brk = []
        for t in range(2, n_t):
            if busy[t - 1] is None or after[t + 1] is None:
                continue
            s = pool.new()
            cl.append([-busy[t - 1], -after[t + 1], s] + ([busy[t]] if busy[t] else []))  # type: ignore[list-item]
            cl.append([-s, busy[t - 1]])  # type: ignore[list-item]
            cl.append([-s, after[t + 1]])  # type: ignore[list-item]
            if busy[t] is not None:
                cl.append([-s, -busy[t]])
            brk.append(s)
        all_breaks.extend(brk)
        lb = lower_bounds[p - 1]
        cap = len(brk)
        if fairness is not None and some_idle:
            cap = min(cap, fairness)
        if slack is not None:
            cap = min(cap, lb + slack)
        if lb > cap:
            cl.append([])
        _card(cl, pool, brk, cap, "atmost")
        _card(cl, pool, brk, lb, "atleast")
        # contiguous when cap == 0, or when e[p] is false (reified windows): one window of
        # n slots that admits the meetings
        reified = reified_windows and slack is not None and cap > 0 and lb == 0
        if cap == 0 or reified:
            e = pool.new() if reified else None
            if e is not None:
                exceeds.append(e)
                cl.extend([-b, e] for b in brk)
            ys = [pool.new() for _ in windows[p - 1]]
            cl.append(ys + ([e] if e is not None else []))
            _amo(cl, pool, ys)
            if e is not None:
                cl.extend([-y, -e] for y in ys)
            for t in range(1, n_t + 1):
                cover = [y for y, s0 in zip(ys, windows[p - 1], strict=True) if s0 <= t < s0 + n]
                bt = busy[t]
                if bt is None:
                    cl.extend([-y] for y in cover)
                    continue
                cl.append([-bt, *cover] + ([e] if e is not None else []))
                cl.extend([-y, bt] for y in cover)
        if cap > 0 and fairness is not None and not some_idle:
            counters[p] = _unary_counter(cl, pool, brk, min(cap, len(brk)))
    if counters and fairness is not None:
        # breaks(p) - min_q breaks(q) <= d with g[j] <-> min_q breaks(q) >= j
        top = max(len(c) for c in counters.values())
        ps = [p for p in range(1, inst.n_participants + 1) if len(meetings_of[p]) > 1]
        for j in range(1, top + 1):
            g = pool.new()
            for q in ps:
                c = counters.get(q, [])
                cl.append([-g, c[j - 1]] if j <= len(c) else [-g])
            for c in counters.values():
                if j + fairness <= len(c):
                    cl.append([-c[j + fairness - 1], g])
        # participants with a cap of 0 have no counter: then the min is 0 and everyone <= d
        if any(p not in counters for p in ps):
            for c in counters.values():
                if fairness < len(c):
                    cl.append([-c[fairness]])
    if exceeds and slack is not None:
        # each participant with bound 0 and a break takes at least 1 of the slack
        _card(cl, pool, exceeds, slack, "atmost")
    if slot_aggregate:
        for t in range(1, n_t + 1):
            if len(busy_at[t]) > 2 * inst.n_tables:
                _card(cl, pool, busy_at[t], 2 * inst.n_tables, "atmost")
    if bound is not None:
        _card(cl, pool, all_breaks, bound, "atmost")
    return Encoding(cl, pool.top, x, all_breaks)


def _slots(enc: Encoding, domains: Sequence[Sequence[int]], model: Sequence[int]) -> list[int]:
    true = {v for v in model if v > 0}
    return [next(t for t in dom if enc.x[m, t] in true) for m, dom in enumerate(domains)]


def rc2_worker(problem: Problem, out: Any, solver: str = "g4") -> None:
    """Minimise the total breaks with RC2; put ``("lb", v)`` as cores are found, then
    ``("opt", cost, slots)`` or ``("infeasible",)``."""
    from pysat.examples.rc2 import RC2
    from pysat.formula import WCNF

    enc = encode(problem)
    wcnf = WCNF()
    wcnf.extend(enc.clauses)
    for b in enc.breaks:
        wcnf.append([-b], weight=1)

    class _Reporting(RC2):  # type: ignore[misc]
        last = -1

        def _call_oracle(self, assumptions: list[int] = [], expect_interrupt: bool = False) -> Any:  # noqa: B006
            if self.cost > self.last:
                self.last = self.cost
                out.put(("lb", int(self.cost)))
            return super()._call_oracle(assumptions, expect_interrupt)

    with _Reporting(wcnf, solver=solver, adapt=True, exhaust=True, minz=True, trim=5) as rc2:
        try:
            model = rc2.compute()
        except TypeError:
            # PySAT's core trimming takes the length of the empty core (None) it gets when the
            # hard clauses alone are unsatisfiable after a first core: then there is no schedule
            from pysat.solvers import Solver

            with Solver(name=solver, bootstrap_with=enc.clauses) as s:
                if s.solve():
                    raise
            model = None
        if model is None:
            out.put(("infeasible",))
        else:
            out.put(("opt", int(rc2.cost), _slots(enc, problem.domains, model)))


def sat_worker(
    problem: Problem, out: Any, k: int, aggregate: bool, solver: str = "cadical195",
    reified_windows: bool = False,
) -> None:
    """Decide ``total breaks <= k``: put ``("sol", k, slots)`` or ``("unsat", k)``.

    ``aggregate`` adds the per-slot implied count (fast refutations), ``reified_windows`` the
    windows of every participant whose bound is 0 (see :func:`encode`).
    """
    from pysat.solvers import Solver

    enc = encode(problem, bound=k, slot_aggregate=aggregate, reified_windows=reified_windows)
    with Solver(name=solver, bootstrap_with=enc.clauses) as s:
        if s.solve():
            out.put(("sol", k, _slots(enc, problem.domains, s.get_model())))
        else:
            out.put(("unsat", k))


def descent_worker(problem: Problem, out: Any, lb: int, solver: str = "cadical195") -> None:
    """Search from above: put ``("ub", total, slots)`` for each better schedule found and
    ``("unsat", k)`` for each bound ``k`` refuted on the way; ``("infeasible",)`` when no
    schedule exists.

    First ``total <= k`` is probed at ``k = lb + 4, lb + 8, lb + 16, ...`` (each probe with the
    per-participant caps that ``k`` implies, which make a schedule near the bound quick to find)
    until one is satisfiable; then, in the same incremental CaDiCaL, ``total <= best - 1`` is
    asked through an assumption on a totalizer (:class:`pysat.card.ITotalizer`) over the break
    literals, so what the solver learnt carries over from one bound to the next.
    """
    from pysat.card import ITotalizer
    from pysat.solvers import Solver

    step = 4
    while True:
        k = lb + step
        enc = encode(problem, bound=k, slot_aggregate=False)
        unbounded = k >= len(enc.breaks)
        if unbounded:
            enc = encode(problem, slot_aggregate=False)
        with Solver(name=solver, bootstrap_with=enc.clauses) as s:
            if not s.solve():
                out.put(("infeasible",) if unbounded else ("unsat", k))
                if unbounded:
                    return
                lb, step = k + 1, 2 * step
                continue
            model = s.get_model()
            totalizer = None
            while True:
                true = {v for v in model if v > 0}
                total = sum(1 for b in enc.breaks if b in true)
                out.put(("ub", total, _slots(enc, problem.domains, model)))
                if total <= max(lb, problem.trivial_bound):
                    return
                if totalizer is None:
                    totalizer = ITotalizer(lits=enc.breaks, ubound=total, top_id=enc.n_vars)
                    s.append_formula(totalizer.cnf.clauses)
                if not s.solve(assumptions=[-totalizer.rhs[total - 1]]):
                    out.put(("unsat", total - 1))
                    return
                model = s.get_model()


@dataclass(frozen=True)
class MaxSatOutcome:
    """What the portfolio proved: ``slots`` (index ``m - 1``) of the best schedule, if any."""

    status: str  # OPTIMAL, INFEASIBLE, FEASIBLE or UNKNOWN (time limit, without/with a schedule)
    slots: list[int] | None
    total_breaks: int | None
    lower_bound: int
    solved_by: str = ""  # the worker that settled it: rc2, sat1-k (with aggregate), sat0-k or down


class _Worker:
    """One solver in a child ``python -m critmin.matchmaking.maxsat`` process.

    The task goes in as a pickle on stdin; each message comes back as a pickle on stdout and is
    put on ``inbox`` by a reader thread as ``(tag, message)``; ``(tag, ("exit", code, stderr))``
    follows the last one. A subprocess (not :mod:`multiprocessing`) so that scripts without an
    ``if __name__ == "__main__"`` guard and notebooks can call the scheduler too.
    """

    def __init__(self, tag: str, task: tuple[Any, ...], inbox: queue_mod.Queue[Any]) -> None:
        self.tag = tag
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "critmin.matchmaking.maxsat"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err,
        )
        assert self.proc.stdin is not None
        try:
            pickle.dump(task, self.proc.stdin)
            self.proc.stdin.close()
        except BrokenPipeError:  # the child died at start: its stderr says why
            pass
        self._reader = threading.Thread(target=self._read, args=(inbox,), daemon=True)
        self._reader.start()

    def _read(self, inbox: queue_mod.Queue[Any]) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                msg = pickle.load(self.proc.stdout)
            except (EOFError, pickle.UnpicklingError, OSError):
                break
            inbox.put((self.tag, msg))
        code = self.proc.wait()
        self._err.seek(0)
        err = self._err.read().decode("utf-8", "replace").strip().splitlines()
        inbox.put((self.tag, ("exit", code, err[-1] if err else "")))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.close()


def _child_main() -> None:
    """Entry point of a worker process: run the pickled task, pickle its messages to stdout.

    No solver is left running on its own when the parent is killed before it could stop its
    workers: on Linux the kernel kills the worker with its parent (``PR_SET_PDEATHSIG``); elsewhere
    a watchdog thread ends it (between solver calls, which hold the GIL).
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(3)

    def watchdog() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watchdog, daemon=True).start()
    kind, args = pickle.load(sys.stdin.buffer)
    stdout = sys.stdout.buffer

    class _Pipe:
        def put(self, msg: tuple[Any, ...]) -> None:
            pickle.dump(msg, stdout)
            stdout.flush()

    if kind == "down":
        with contextlib.suppress(OSError):
            os.nice(DOWN_NICE)
    target = {"rc2": rc2_worker, "sat": sat_worker, "down": descent_worker}[kind]
    target(args[0], _Pipe(), *args[1:])


def solve_maxsat(
    problem: Problem,
    *,
    time_limit_s: float | None = None,
    workers: int = 2,
    progress: Progress | None = None,
    give_up_at_s: float | None = None,
) -> MaxSatOutcome:
    """Run the portfolio (module docstring) until the optimum is proved or the time is up.

    ``give_up_at_s`` (seconds from the start): when no schedule has been found by then, stop
    there (the caller then has the rest of the time for another method); a run that has a
    schedule goes on to ``time_limit_s``.

    Small instances (at most 600 meeting-slot pairs) are solved by RC2 in this process; else
    each solver runs in a process of its own (killed at the deadline), RC2 alone when
    ``workers == 1``. ``progress`` is called from this thread whenever the best schedule found
    or the proved lower bound improves.
    """
    started = time.perf_counter()
    deadline = None if time_limit_s is None else started + float(time_limit_s)
    lb = problem.trivial_bound
    if problem.inst.n_meetings * problem.inst.n_slots <= 600:
        return _solve_inline(problem, progress)
    inbox: queue_mod.Queue[Any] = queue_mod.Queue()
    running = {"rc2": _Worker("rc2", ("rc2", (problem,)), inbox)}
    # two SAT searches at the current lower bound: one that refutes fast, one that finds fast
    modes = (True, False) if workers > 1 else ()
    sat_k = lb

    def start_sats(k: int) -> None:
        for agg in modes:
            tag = f"sat{int(agg)}-{k}"
            # the search with the aggregate also gets the reified windows; the other one stays
            # plain, which finds the schedule first on some instances
            running[tag] = _Worker(tag, ("sat", (problem, k, agg, "cadical195", agg)), inbox)

    start_sats(sat_k)
    # the search from above joins once the instance proved not quick (most originals are done)
    down_at = started + (DOWN_AFTER * (float(time_limit_s) if time_limit_s is not None else 60.0))
    give_up_at = float("inf") if give_up_at_s is None else started + float(give_up_at_s)
    best: tuple[int, list[int], str] | None = None  # total, slots, worker
    result: MaxSatOutcome | None = None
    reported: tuple[int | None, int] | None = None
    try:
        while running:
            state = (None if best is None else best[0], lb)
            if progress is not None and state != reported:
                reported = state
                progress(*state)
            now = time.perf_counter()
            if modes and "down" not in running and best is None and now >= down_at:
                running["down"] = _Worker("down", ("down", (problem, lb)), inbox)
                down_at = float("inf")
            if deadline is not None and now >= deadline:
                break
            if best is None and now >= give_up_at:
                break
            wait = min(deadline if deadline is not None else float("inf"), down_at,
                       give_up_at if best is None else float("inf")) - now
            try:
                tag, msg = inbox.get(timeout=None if wait == float("inf") else max(0.0, wait))
            except queue_mod.Empty:
                continue
            kind = msg[0]
            if kind == "exit":
                worker = running.pop(tag, None)
                if worker is not None:
                    worker.stop()
                    if msg[1] != 0:
                        raise RuntimeError(f"scheduler worker {tag} failed ({msg[1]}): {msg[2]}")
                continue
            if kind == "infeasible":
                result = MaxSatOutcome("INFEASIBLE", None, None, lb, tag)
                break
            if kind == "opt":
                result = MaxSatOutcome("OPTIMAL", msg[2], msg[1], msg[1], tag)
                break
            if kind == "sol" and msg[1] >= lb:
                # k = the lower bound when the search started, and lb <= optimum <= k
                result = MaxSatOutcome("OPTIMAL", msg[2], msg[1], msg[1], tag)
                break
            if kind == "ub" and (best is None or msg[1] < best[0]):
                best = (msg[1], msg[2], tag)
            lb = max(lb, msg[1] + 1 if kind == "unsat" else msg[1] if kind == "lb" else lb)
            if best is not None and best[0] <= lb:
                result = MaxSatOutcome("OPTIMAL", best[1], best[0], best[0], best[2])
                break
            if modes and sat_k < lb:
                for old in [t for t in running if t.startswith("sat")]:
                    running.pop(old).stop()
                sat_k = lb
                start_sats(sat_k)
    finally:
        for worker in running.values():
            worker.stop()
    if result is None and best is not None:
        return MaxSatOutcome("FEASIBLE", best[1], best[0], lb, best[2])
    return result or MaxSatOutcome("UNKNOWN", None, None, lb)


def _solve_inline(problem: Problem, progress: Progress | None = None) -> MaxSatOutcome:
    """RC2 in this process, for small instances (solved in milliseconds)."""
    got: list[tuple[Any, ...]] = []

    class _Sink:
        def put(self, msg: tuple[Any, ...]) -> None:
            got.append(msg)
            if progress is not None and msg[0] == "lb":
                progress(None, max(msg[1], problem.trivial_bound))

    rc2_worker(problem, _Sink())
    last = got[-1]
    if last[0] == "opt":
        return MaxSatOutcome("OPTIMAL", last[2], last[1], last[1])
    return MaxSatOutcome("INFEASIBLE", None, None, problem.trivial_bound)


if __name__ == "__main__":
    _child_main()

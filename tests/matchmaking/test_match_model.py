"""The shared scheduling model: per-participant bounds and the CP-SAT model against brute force."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from critmin.matchmaking.cpsat import solve_cpsat
from critmin.matchmaking.instance import B2BInstance, Meeting, Session
from critmin.matchmaking.model import (
    Problem,
    breaks_of_slots,
    meeting_domains,
    participant_break_bounds,
)
from tests.matchmaking.test_match_maxsat import _valid, restricted_instances
from tests.matchmaking.test_match_scheduler import brute_force


@st.composite
def stars(draw: st.DrawFn) -> B2BInstance:
    """Participant 1 meets 2..n+1 on up to 9 slots, with forbidden slots on either side."""
    n_slots = draw(st.integers(2, 9))
    n = draw(st.integers(2, min(5, n_slots)))
    sessions = [Session.MORNING, Session.AFTERNOON, Session.ANY, Session.ANY, Session.ANY]
    meetings = tuple(Meeting(1, q, draw(st.sampled_from(sessions))) for q in range(2, n + 2))
    forbidden = tuple(
        frozenset(draw(st.sets(st.integers(1, n_slots), max_size=n_slots // 2)))
        for _ in range(n + 1)
    )
    return B2BInstance(n + 1, n, n_slots, draw(st.integers(0, n_slots)), meetings,
                       forbidden=forbidden)


@settings(max_examples=150, deadline=None)
@given(inst=stars())
def test_participant_bounds_are_sound_and_windows_exact(inst: B2BInstance) -> None:
    domains = meeting_domains(inst)
    bounds, windows = participant_break_bounds(inst, domains)
    n = inst.n_meetings
    least = None
    contiguous = set()
    for slots in itertools.product(*domains):
        if len(set(slots)) < n:
            continue
        b = breaks_of_slots(slots)
        least = b if least is None else min(least, b)
        if b == 0:
            contiguous.add(min(slots))
    if least is not None:
        assert bounds[0] <= least
    assert set(windows[0]) == contiguous
    assert bounds[0] == 0 or not contiguous


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=restricted_instances(), d=st.sampled_from([0, 1, 2, None]))
def test_cpsat_matches_brute_force(inst: B2BInstance, d: int | None) -> None:
    expected = brute_force(inst, d)
    out = solve_cpsat(Problem.of(inst, d), time_limit_s=20)
    if expected is None:
        assert out.status == "INFEASIBLE"
        return
    assert out.status == "OPTIMAL" and out.slots is not None
    assert _valid(inst, out.slots, d) == expected

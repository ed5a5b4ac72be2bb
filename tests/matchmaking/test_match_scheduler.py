"""The B2B scheduler on small constructed instances: each extension, optima checked by brute force."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from critmin.errors import InputError
from critmin.matchmaking.check import ScheduleEntry, check_schedule
from critmin.matchmaking.instance import B2BInstance, Meeting, Session, validate_instance
from critmin.matchmaking.scheduler import explain_infeasibility, solve_schedule

M, A, ANY = Session.MORNING, Session.AFTERNOON, Session.ANY


def dealt(slots: Sequence[int]) -> list[ScheduleEntry]:
    """Entries for meetings 1, 2, ... at ``slots``, tables dealt out 1, 2, ... within each slot."""
    count: dict[int, int] = {}
    entries = []
    for m, t in enumerate(slots, start=1):
        count[t] = count.get(t, 0) + 1
        entries.append(ScheduleEntry(m, t, count[t]))
    return entries


def brute_force(inst: B2BInstance, fairness: int | None) -> int | None:
    """Least total breaks over every slot assignment (``None`` when none is valid).

    Uses only the independent checker: tables are dealt out 1, 2, ... within each slot.
    """
    best = None
    for slots in itertools.product(range(1, inst.n_slots + 1), repeat=inst.n_meetings):
        report = check_schedule(inst, dealt(slots), fairness=fairness)
        if report.valid and (best is None or report.total_breaks < best):
            best = report.total_breaks
    return best


def solve_and_verify(inst: B2BInstance, fairness: int | None = 2) -> tuple[str, int | None]:
    res = solve_schedule(inst, fairness=fairness, time_limit_s=20)
    if res.total_breaks is not None:
        entries = [ScheduleEntry(a.meeting, a.slot, a.table) for a in res.schedule]
        report = check_schedule(inst, entries, fairness=fairness)
        assert report.valid, report.violations
        assert report.total_breaks == res.total_breaks
    if res.status == "OPTIMAL":
        assert res.lower_bound == res.total_breaks
    return res.status, res.total_breaks


def star(n_slots: int, leaves: int, **kw: object) -> B2BInstance:
    """Participant 1 meets participants 2..leaves+1, one table per slot is enough."""
    meetings = tuple(Meeting(1, q) for q in range(2, leaves + 2))
    return B2BInstance(leaves + 1, 2, n_slots, n_slots, meetings, **kw)  # type: ignore[arg-type]


def test_no_restrictions_is_break_free() -> None:
    assert solve_and_verify(star(5, 3)) == ("OPTIMAL", 0)


def test_forbidden_slot_forces_a_break() -> None:
    # participant 1 can use slots 1, 3, 4 only, for three meetings: slots {1, 3, 4} -> 1 break
    forbidden = (frozenset({2}),) + (frozenset(),) * 3
    inst = star(4, 3, forbidden=forbidden)
    assert brute_force(inst, 2) == 1
    assert solve_and_verify(inst) == ("OPTIMAL", 1)
    # a fifth slot lets the meetings run 3, 4, 5 without a break
    inst5 = star(5, 3, forbidden=forbidden)
    assert solve_and_verify(inst5) == ("OPTIMAL", 0)


def test_fixed_meetings() -> None:
    # meetings 1 and 2 of participant 1 fixed to slots 1 and 4: the third must fill 2 or 3,
    # leaving one idle run -> exactly 1 break
    inst = star(4, 3, fixed=(1, 4, None))
    assert brute_force(inst, 2) == 1
    status, total = solve_and_verify(inst)
    assert (status, total) == ("OPTIMAL", 1)
    # fixed 1 and 3: the third takes slot 2 -> no break
    assert solve_and_verify(star(4, 3, fixed=(1, 3, None))) == ("OPTIMAL", 0)


def test_fixed_slot_that_is_forbidden_is_an_input_error() -> None:
    inst = star(4, 2, fixed=(2, None), forbidden=(frozenset({2}), frozenset(), frozenset()))
    with pytest.raises(InputError, match="fixed to slot 2, which is forbidden for participant 1"):
        validate_instance(inst)


def test_precedences() -> None:
    # triangle 1-2, 1-3, 2-3 in 3 slots; meeting 3 must precede 1 and 1 must precede 2
    meetings = (Meeting(1, 2), Meeting(1, 3), Meeting(2, 3))
    inst = B2BInstance(3, 1, 3, 3, meetings,
                       precedences=(frozenset({3}), frozenset({1}), frozenset()))
    assert brute_force(inst, 2) == 1  # order 3, 1, 2: participant 3 meets at slots 1 and 3
    assert solve_and_verify(inst) == ("OPTIMAL", 1)
    # a cycle of precedences is infeasible
    cyclic = B2BInstance(3, 1, 3, 3, meetings,
                         precedences=(frozenset({2}), frozenset({1}), frozenset()))
    assert solve_and_verify(cyclic) == ("INFEASIBLE", None)


def test_sessions() -> None:
    # morning = slots 1-2, afternoon = 3-4; a morning and an afternoon meeting meet at 2 and 3
    inst = B2BInstance(3, 1, 4, 2, (Meeting(1, 2, M), Meeting(1, 3, A)))
    assert solve_and_verify(inst) == ("OPTIMAL", 0)
    # participant 1 cannot use slot 3: the afternoon meeting goes to 4 -> 1 break
    inst2 = B2BInstance(3, 1, 4, 2, (Meeting(1, 2, M), Meeting(1, 3, A)),
                        forbidden=(frozenset({3}), frozenset(), frozenset()))
    assert brute_force(inst2, 2) == 1
    assert solve_and_verify(inst2) == ("OPTIMAL", 1)
    # three morning meetings of one participant in two morning slots: infeasible
    inst3 = B2BInstance(4, 3, 4, 2, (Meeting(1, 2, M), Meeting(1, 3, M), Meeting(1, 4, M)))
    assert solve_and_verify(inst3) == ("INFEASIBLE", None)


def test_table_capacity_infeasible() -> None:
    inst = B2BInstance(6, 1, 2, 2, (Meeting(1, 2), Meeting(3, 4), Meeting(5, 6)))
    assert solve_and_verify(inst) == ("INFEASIBLE", None)
    assert explain_infeasibility(inst) == ["3 meetings for 1 tables x 2 slots"]


def _fairness_instance() -> B2BInstance:
    """K4 (every pair of 4 participants meets) on one table in 6 slots, plus forbidden slots."""
    meetings = tuple(Meeting(a, b) for a, b in itertools.combinations(range(1, 5), 2))
    forbidden = (frozenset({2}), frozenset({5}), frozenset(), frozenset())
    return B2BInstance(4, 1, 6, 6, meetings, forbidden=forbidden)


@pytest.mark.parametrize("d", [0, 1, 3])
def test_fairness_bound(d: int) -> None:
    inst = _fairness_instance()
    expected = brute_force(inst, d)
    status, total = solve_and_verify(inst, fairness=d)
    if expected is None:
        assert status == "INFEASIBLE"
    else:
        assert (status, total) == ("OPTIMAL", expected)


@pytest.mark.slow  # solver runs (~15 s)
def test_fairness_values_are_as_hand_computed() -> None:
    # hand check: each participant meets 3 times in 6 single-table slots; with participant 1
    # unable to use slot 2 and participant 2 unable to use slot 5, the brute force gives
    inst = _fairness_instance()
    assert [brute_force(inst, d) for d in (0, 1, 3, None)] == [
        solve_schedule(inst, fairness=d).total_breaks for d in (0, 1, 3, None)
    ]


def test_fairness_zero_with_forced_break_and_idle_participant_is_infeasible() -> None:
    # participant 1 must break (slot 2 forbidden, 3 meetings in 3 usable slots); participant 5
    # has a single meeting, so the minimum is 0 and d = 0 cannot hold
    forbidden = (frozenset({2}),) + (frozenset(),) * 3
    inst = star(4, 3, forbidden=forbidden)
    assert solve_and_verify(inst, fairness=0) == ("INFEASIBLE", None)
    assert explain_infeasibility(inst, 0) == [
        "participant 1 needs at least 1 breaks, more than fairness d=0"
    ]
    assert solve_and_verify(inst, fairness=1) == ("OPTIMAL", 1)


@st.composite
def tiny_instances(draw: st.DrawFn) -> B2BInstance:
    n_p = draw(st.integers(2, 4))
    n_slots = draw(st.integers(2, 4))
    n_morning = draw(st.integers(0, n_slots))
    pairs = list(itertools.combinations(range(1, n_p + 1), 2))
    chosen = draw(st.lists(st.sampled_from(pairs), min_size=1, max_size=min(4, len(pairs)),
                           unique=True))
    meetings = tuple(Meeting(a, b, draw(st.sampled_from([M, A, ANY, ANY]))) for a, b in chosen)
    forbidden = tuple(
        frozenset(draw(st.sets(st.integers(1, n_slots), max_size=1))) for _ in range(n_p)
    )
    return B2BInstance(n_p, draw(st.integers(1, 2)), n_slots, n_morning, meetings,
                       forbidden=forbidden)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=tiny_instances(), d=st.sampled_from([0, 1, 2, None]))
def test_solver_matches_brute_force(inst: B2BInstance, d: int | None) -> None:
    expected = brute_force(inst, d)
    status, total = solve_and_verify(inst, fairness=d)
    if expected is None:
        assert status == "INFEASIBLE"
    else:
        assert status == "OPTIMAL"
        assert total == expected

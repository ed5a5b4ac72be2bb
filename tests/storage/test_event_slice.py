"""The slice of a stored event that one request concerns (``load_event(s, only=...)``) gives the
roundtable core the same answer as the whole event, for every request and every answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from critmin.errors import SpecError
from critmin.matchmaking import roundtable as core
from critmin.matchmaking import store as mstore
from critmin.storage import Store
from critmin.storage.models import MatchEvent, Participant
from critmin.storage.models import MeetingRequest as RequestRow

N = 5
NOW = dt.datetime(2026, 1, 1, 12, 0)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    st_ = Store(f"sqlite:///{tmp_path_factory.mktemp('slice') / 'ops.db'}")
    st_.upgrade()
    yield st_
    st_.dispose()


pairs = [(a, b) for a in range(N) for b in range(N) if a != b]
requests_st = st.dictionaries(
    st.sampled_from(pairs).map(lambda p: (min(p), max(p))),
    st.tuples(st.booleans(), st.sampled_from(["pending", "accepted", "declined"])),
    max_size=8)


def outcome(fn: Any) -> tuple[str, str]:
    try:
        ev = fn()
    except (SpecError, PermissionError) as exc:
        return type(exc).__name__, str(exc)
    return "ok", ev.requests[-1].status if ev.requests else ""


def answered(event: Any, request_id: str, by: str | None) -> Any:
    """The event after accepting ``request_id``, with that request alone (for :func:`outcome`)."""
    ev = core.respond(event, request_id, accept=True, by=by)
    return ev.model_copy(update={"requests": [r for r in ev.requests if r.id == request_id]})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reqs=requests_st, auto=st.booleans(), closed=st.booleans(),
       booths=st.dictionaries(st.integers(0, N - 1), st.integers(1, 4), max_size=4),
       refs=st.lists(st.booleans(), min_size=N, max_size=N))
def test_slice_answers_like_the_whole_event(store: Store, reqs: dict[tuple[int, int], Any],
                                            auto: bool, closed: bool, booths: dict[int, int],
                                            refs: list[bool]) -> None:
    with store.session() as s:
        for model in (RequestRow, Participant, MatchEvent):
            s.execute(delete(model))
        people = [Participant(display_name=f"P{i}", ref=f"ref{i}" if refs[i] else None,
                              country="IND") for i in range(N)]
        s.add_all(people)
        s.flush()
        ids = [p.id for p in people]
        pid = [mstore.profile_id_of(p) for p in people]
        table_of = {}
        for who, table in booths.items():  # one booth per table
            if table not in table_of.values():
                table_of[pid[who]] = table
        s.add(MatchEvent(settings={
            **mstore.DEFAULT_SETTINGS, "auto_accept": auto, "booths": table_of,
            "request_deadline": (NOW - dt.timedelta(hours=1) if closed
                                 else NOW + dt.timedelta(hours=1)).isoformat()}))
        for (a, b), (flip, status) in reqs.items():
            f, t = (b, a) if flip else (a, b)
            s.add(RequestRow(from_id=ids[f], to_id=ids[t], status=status,
                             pair_key=f"{min(ids[f], ids[t])}-{max(ids[f], ids[t])}"))
        s.flush()
        whole = mstore.load_event(s)
        for a, b in [(a, b) for a in range(N) for b in range(N)]:
            part = mstore.load_event(s, only=(ids[a], ids[b]))
            assert len(part.event.participants) == len({a, b})
            got = [outcome(lambda se=se, a=a, b=b: core.add_request(se.event, pid[a], pid[b],
                                                                    now=NOW))
                   for se in (whole, part)]
            assert got[0] == got[1]
        for r in s.query(RequestRow):
            for by in [None, *ids]:
                part = mstore.load_event(s, only=[r.from_id, r.to_id,
                                                  *([by] if by is not None else [])])
                got = []
                for se in (whole, part):
                    byp = se.pid(by) if by is not None else None
                    got.append(outcome(lambda se=se, byp=byp, rid=str(r.id): answered(
                        se.event, rid, byp)))
                assert got[0] == got[1]
        s.rollback()


def test_store_add_and_respond_use_the_slice(store: Store, tmp_path: Path) -> None:
    """Through the store functions: a request, its duplicate refused, an answer, and a second
    answer refused, with the whole event's messages."""
    with store.session() as s:
        for model in (RequestRow, Participant, MatchEvent):
            s.execute(delete(model))
        people = [Participant(display_name=f"P{i}", country="JPN") for i in range(4)]
        s.add_all(people)
        s.flush()
        a, b, c, _ = (p.id for p in people)
        row = mstore.add_request(s, a, b)
        assert row.status == "pending"
        with pytest.raises(mstore.Conflict, match="already have request"):
            mstore.add_request(s, b, a)
        with pytest.raises(PermissionError, match="only the participant asked"):
            mstore.respond(s, row.id, accept=True, by_db=c)
        assert mstore.respond(s, row.id, accept=False, by_db=b).status == "declined"
        with pytest.raises(mstore.Conflict, match="declined already"):
            mstore.respond(s, row.id, accept=True, by_db=None)
        with pytest.raises(SpecError, match="unknown request"):
            mstore.respond(s, row.id + 99, accept=True, by_db=None)
        s.rollback()

"""The roundtable core: every rule of a matchmaking event, in one place.

The CLI (event JSON files, :mod:`critmin.matchmaking.event`), the HTTP API and the web pages (the
SQL store, :mod:`critmin.matchmaking.store`) are adapters: they turn their data into an
:class:`~critmin.matchmaking.event.Event` and call the functions here. The rules:

- **visibility**: :func:`visible_profile` (organiser and the participant itself see every field,
  everyone else the public ones);
- **request life cycle**: :func:`add_request` (no request to oneself, one request per pair in
  either direction, a declined pair stays declined, none after the request deadline, accepted at
  once in auto-accept mode) and :func:`respond` (only the participant asked, or the organiser,
  answers a pending request);
- **the solver instance**: :func:`build_instance` from the accepted requests, with each
  participant's unavailable slots, the sessions it attends, fixed slots, precedences and
  locations (hosts' booth tables; the other tables form the shared pool);
- **capacity before solving**: :func:`capacity_check` (necessary conditions, with the numbers and
  what to drop or add) and :func:`demand` (per participant, with warnings);
- **recommendation input**: :func:`recommendation_profiles` (public fields only, the same for
  every adapter) and :func:`recommend_for` (the event's partner countries, pairs already
  requested left out, demand spread by capacity);
- **scheduling and publishing**: :func:`schedule_event` and :func:`replaces` (a run that is not
  better never replaces the published schedule);
- **slot times and agenda rows**: :func:`slot_times`, :func:`agenda_rows`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from critmin.errors import InputError, SpecError
from critmin.matchmaking.check import ScheduleEntry
from critmin.matchmaking.event import Event, MeetingRequest, SessionName
from critmin.matchmaking.instance import B2BInstance, Meeting, Session, validate_instance
from critmin.matchmaking.profiles import VISIBLE_FIELDS, Profile, profile_view
from critmin.matchmaking.recommend import Recommendation, score_matrix

_SESSION_CODE = {"morning": Session.MORNING, "afternoon": Session.AFTERNOON, "any": Session.ANY}


# ---- visibility --------------------------------------------------------------------------------


def visible_profile(event: Event, participant: str, viewer: str | None, *,
                    organiser: bool = False) -> dict[str, Any]:
    """The fields of ``participant``'s profile that ``viewer`` may see (JSON-ready)."""
    return profile_view(event.profile(participant), viewer, organiser=organiser)


# ---- request life cycle ------------------------------------------------------------------------


def pair_key(a: str, b: str) -> str:
    """One key per unordered pair, so A→B and B→A collide.

    >>> pair_key("b", "a") == pair_key("a", "b")
    True
    """
    x, y = sorted((a, b))
    return f"{len(x)}:{x}|{y}"


def request_between(event: Event, a: str, b: str) -> MeetingRequest | None:
    """The request between ``a`` and ``b`` in either direction, if any."""
    key = pair_key(a, b)
    return next((r for r in event.requests if pair_key(r.requester, r.target) == key), None)


def add_request(event: Event, requester: str, target: str, *, session: SessionName = "any",
                note: str = "", now: datetime | None = None) -> Event:
    """A new event with a request from ``requester`` to ``target``.

    Refused (:class:`SpecError`) for a request to oneself, for a pair that already has a request
    in either direction (a declined one included: the answer stands) and after the request
    deadline (``now`` is local event time). Accepted at once when the event auto-accepts.
    """
    event.profile(requester)
    event.profile(target)
    if requester == target:
        raise SpecError("cannot request a meeting with yourself")
    if event.request_deadline is not None and now is not None and now > event.request_deadline:
        raise SpecError(f"requests closed at {event.request_deadline:%Y-%m-%d %H:%M}")
    old = request_between(event, requester, target)
    if old is not None:
        raise SpecError(f"{requester!r} and {target!r} already have request {old.id!r} "
                        f"({old.status})")
    taken = {r.id for r in event.requests}
    k = len(event.requests) + 1
    while f"r{k}" in taken:
        k += 1
    req = MeetingRequest(id=f"r{k}", requester=requester, target=target, session=session,
                         note=note, status="accepted" if event.auto_accept else "pending")
    return event.model_copy(update={"requests": [*event.requests, req]})


def respond(event: Event, request_id: str, *, accept: bool, by: str | None = None) -> Event:
    """A new event where pending request ``request_id`` is accepted or declined.

    ``by`` is the participant answering (``None`` = the organiser): only the participant asked
    may answer; an answered request cannot be answered again.
    """
    out, found = [], False
    for r in event.requests:
        if r.id == request_id:
            found = True
            if by is not None and by != r.target:
                raise PermissionError("only the participant asked may accept or decline")
            if r.status != "pending":
                raise SpecError(f"request {request_id!r} is {r.status} already")
            r = r.model_copy(update={"status": "accepted" if accept else "declined"})
        out.append(r)
    if not found:
        raise SpecError(f"unknown request {request_id!r}")
    return event.model_copy(update={"requests": out})


def accept_all_pending(event: Event) -> Event:
    """A new event in auto-accept mode with every pending request accepted."""
    out = [r.model_copy(update={"status": "accepted"}) if r.status == "pending" else r
           for r in event.requests]
    return event.model_copy(update={"requests": out, "auto_accept": True})


def accepted_requests(event: Event) -> list[MeetingRequest]:
    """Accepted requests in order; meeting ``m`` of the instance is the ``m``-th of these."""
    return [r for r in event.requests if r.status == "accepted"]


# ---- the solver instance -----------------------------------------------------------------------


def forbidden_slots(event: Event, p: Profile) -> frozenset[int]:
    """Slots ``p`` cannot meet in: its unavailable slots and the sessions it does not attend."""
    bad = set(p.unavailable_slots)
    if "morning" not in p.sessions:
        bad |= set(range(1, event.morning.slots + 1))
    if "afternoon" not in p.sessions:
        bad |= set(range(event.morning.slots + 1, event.n_slots + 1))
    return frozenset(bad)


def build_instance(event: Event, file: str | Path | None = None) -> B2BInstance:
    """The B2B scheduling instance of the accepted meetings of ``event``.

    Participants are numbered in the order of ``event.participants``; meeting ``m`` is the
    ``m``-th accepted request. Forbidden slots: :func:`forbidden_slots`; fixed slots and
    precedences (``after``) from the requests; each host's booth table from ``event.booths``
    (its meetings are held there, the others share the remaining tables).
    """
    index = {p.id: i for i, p in enumerate(event.participants, start=1)}
    reqs = accepted_requests(event)
    req_index = {r.id: m for m, r in enumerate(reqs, start=1)}
    forbidden = []
    for p in event.participants:
        outside = sorted(s for s in p.unavailable_slots if not 1 <= s <= event.n_slots)
        if outside:
            raise InputError(file, f"participant {p.id!r} lists unavailable slot {outside[0]} "
                             f"outside 1..{event.n_slots}", field="unavailable_slots")
        forbidden.append(forbidden_slots(event, p))
    precedences = []
    for r in reqs:
        before = set()
        for other in r.after:
            if other not in req_index:
                raise InputError(file, f"request {r.id!r} must follow request {other!r}, which "
                                 "is not accepted", field="after")
            before.add(req_index[other])
        precedences.append(frozenset(before))
    inst = B2BInstance(
        n_participants=len(event.participants), n_tables=event.n_tables,
        n_slots=event.n_slots, n_morning_slots=event.morning.slots,
        meetings=tuple(Meeting(index[r.requester], index[r.target], _SESSION_CODE[r.session])
                       for r in reqs),
        forbidden=tuple(forbidden), fixed=tuple(r.fixed_slot for r in reqs),
        precedences=tuple(precedences), names=tuple(p.name for p in event.participants),
        source=str(file) if file is not None else None,
        booths=tuple(event.booths.get(p.id) for p in event.participants),
    )
    try:
        return validate_instance(inst, file)
    except InputError as exc:  # name the request rather than the meeting number
        raise InputError(file, _rename_meetings(exc.problem, reqs), field=exc.field) from None


def _rename_meetings(problem: str, reqs: list[MeetingRequest]) -> str:
    def repl(m: re.Match[str]) -> str:
        k = int(m.group(1))
        return f"request {reqs[k - 1].id!r}" if 1 <= k <= len(reqs) else m.group(0)

    return re.sub(r"meeting (\d+)", repl, problem)


# ---- capacity before solving -------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityReport:
    """Necessary conditions for a schedule to exist, checked without the solver.

    ``reasons`` (empty when none fires) state each violated condition with its numbers;
    ``advice`` says which requests to drop or how many tables to add.
    """

    n_meetings: int
    n_tables: int
    n_slots: int
    reasons: tuple[str, ...] = ()
    advice: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    @property
    def feasible(self) -> bool:
        """True when no necessary condition is violated (a schedule may still not exist)."""
        return not self.reasons

    @property
    def places(self) -> int:
        """Meeting places in the day: ``tables x slots``."""
        return self.n_tables * self.n_slots


def _allowed_slots(event: Event, r: MeetingRequest, forbidden: dict[str, frozenset[int]]
                   ) -> set[int]:
    session = {"morning": range(1, event.morning.slots + 1),
               "afternoon": range(event.morning.slots + 1, event.n_slots + 1),
               "any": range(1, event.n_slots + 1)}[r.session]
    out = set(session) - forbidden[r.requester] - forbidden[r.target]
    if r.fixed_slot is not None:
        out &= {r.fixed_slot}
    return out


def capacity_check(event: Event) -> CapacityReport:
    """Check ``meetings <= tables x slots``, ``meetings without a host <= pool tables x slots``
    (when participants host at booths) and, per participant, ``meetings <= usable slots``.

    A participant's usable slots are the slots in which at least one of its accepted meetings may
    be held (session, both sides' unavailability, fixed slot). Advice names the latest accepted
    requests to drop so every participant fits, and the tables to add (``ceil(meetings / slots)``).
    """
    reqs = accepted_requests(event)
    forbidden = {p.id: forbidden_slots(event, p) for p in event.participants}
    reasons, advice, drop = [], [], []
    for r in reqs:
        if not _allowed_slots(event, r, forbidden):
            reasons.append(f"request {r.id} ({event.profile(r.requester).name} – "
                           f"{event.profile(r.target).name}) has no slot both can attend")
            drop.append(r.id)
    mine: dict[str, list[MeetingRequest]] = {p.id: [] for p in event.participants}
    for r in reqs:
        mine[r.requester].append(r)
        mine[r.target].append(r)
    for p in event.participants:
        rs = mine[p.id]
        usable = set().union(*(_allowed_slots(event, r, forbidden) for r in rs)) if rs else set()
        if len(rs) > len(usable):
            extra = len(rs) - len(usable)
            reasons.append(f"{p.name} ({p.id}) has {len(rs)} accepted meetings but "
                           f"{len(usable)} usable slots")
            cut = [r.id for r in rs if r.id not in drop][-extra:]
            drop.extend(cut)
            advice.append(f"drop {extra} of {p.name}'s requests, e.g. {', '.join(cut)}")
    places = event.n_tables * event.n_slots
    if len(reqs) > places:
        reasons.append(f"{len(reqs)} accepted meetings for {event.n_tables} tables x "
                       f"{event.n_slots} slots = {places} places")
        need = math.ceil(len(reqs) / event.n_slots)
        advice.append(f"add {need - event.n_tables} tables (to {need}) or drop "
                      f"{len(reqs) - places} accepted requests")
    shared = [r for r in reqs if r.requester not in event.booths and r.target not in event.booths]
    pool_places = event.pool_tables * event.n_slots
    if event.booths and len(shared) > pool_places:
        reasons.append(f"{len(shared)} accepted meetings without a host for "
                       f"{event.pool_tables} pool tables ({event.n_tables} tables, "
                       f"{len(event.booths)} booths) x {event.n_slots} slots = {pool_places} "
                       "places")
        need = math.ceil(len(shared) / event.n_slots)
        advice.append(f"add {need - event.pool_tables} pool tables, free booths, or drop "
                      f"{len(shared) - pool_places} accepted requests between participants "
                      "without a booth")
    return CapacityReport(len(reqs), event.n_tables, event.n_slots, tuple(reasons),
                          tuple(advice), tuple(dict.fromkeys(drop)))


@dataclass(frozen=True)
class DemandRow:
    """Demand on one participant: requests received and sent (not declined), accepted meetings,
    usable slots, and warnings in words."""

    participant: str
    name: str
    received: int
    sent: int
    accepted: int
    slots: int
    warnings: tuple[str, ...] = field(default=())


def demand(event: Event) -> list[DemandRow]:
    """Per participant: demand and warnings (nobody asked for it, no meeting, over capacity)."""
    rows = []
    live = [r for r in event.requests if r.status != "declined"]
    for p in event.participants:
        received = sum(r.target == p.id for r in live)
        sent = sum(r.requester == p.id for r in live)
        accepted = sum(p.id in (r.requester, r.target) for r in live if r.status == "accepted")
        slots = event.n_slots - len(forbidden_slots(event, p) & set(range(1, event.n_slots + 1)))
        warn = []
        if received == 0:
            warn.append("nobody requested this participant")
        if received + sent == 0:
            warn.append("no request at all: no meeting")
        elif accepted == 0:
            warn.append("no accepted meeting yet")
        if accepted > slots:
            warn.append(f"over capacity: {accepted} meetings for {slots} slots")
        elif received + sent > slots:
            warn.append(f"oversubscribed: {received + sent} requests for {slots} slots")
        rows.append(DemandRow(p.id, p.name, received, sent, accepted, slots, tuple(warn)))
    return rows


# ---- recommendations ---------------------------------------------------------------------------


def recommendation_profiles(event: Event) -> list[Profile]:
    """Recommendation input: each profile with only its public fields (the rest at defaults),
    so every adapter recommends from the same data and private fields never leak into reasons."""
    out = []
    for p in event.participants:
        hidden = {f for f in VISIBLE_FIELDS if p.visibility_of(f) != "public"}
        blank = {f: Profile.model_fields[f].get_default(call_default_factory=True)
                 for f in hidden if f != "country_iso3"}
        out.append(p.model_copy(update=blank))
    return out


JOINT_TOP = 3
"""Length of the lists chosen jointly for all participants (the top-3 lists they see first)."""

JOINT_CANDIDATES = 30
"""Candidates per participant considered by the joint choice (its best by score)."""


def recommend_for(event: Event, participant: str | None = None, *, top_k: int = 5,
                  spread: bool = True,
                  matrix: list[list[Recommendation | None]] | None = None) -> list[Recommendation]:
    """The ``top_k`` best counterparts for ``participant`` (or for everyone), best first.

    Base score: :func:`critmin.matchmaking.recommend.score_matrix` on
    :func:`recommendation_profiles` with the event's partner countries. Pairs with any request
    (in either direction) are left out. With ``spread``, demand is weighed against capacity:
    ``load(b)`` counts ``b``'s requests that are not declined and ``slots(b)`` its usable slots;
    ``room(b) = slots(b) - load(b)``. A target with no room is full and left out, and the
    others' scores are scaled by ``room / slots`` — so oversubscribed hubs sink and participants
    nobody asked for rise. Then the first :data:`JOINT_TOP` entries of every list are chosen
    *jointly* (:func:`joint_lists`): the most list entries, and among those the largest total
    score, such that nobody appears in more lists than its ``room`` — before any request, a hub
    with 10 free slots is in at most 10 top-3 lists. The rest of a longer list follows by score.
    Scores and reasons are those of each pair, unchanged by the joint choice.
    """
    if participant is not None:
        event.profile(participant)
    profiles = recommendation_profiles(event)
    matrix = matrix if matrix is not None else score_matrix(profiles, event.partner_countries)
    taken = {pair_key(r.requester, r.target) for r in event.requests}
    load = {p.id: 0 for p in profiles}
    slots = {row.participant: row.slots for row in demand(event)}
    for r in event.requests:
        if r.status != "declined":
            load[r.requester] += 1
            load[r.target] += 1
    room = {p: max(slots[p] - load[p], 0) for p in slots}
    ranked: dict[str, list[Recommendation]] = {}
    for i, a in enumerate(profiles):
        if participant is not None and a.id != participant and not spread:
            continue
        recs = []
        for rec in matrix[i]:
            if rec is None or rec.score <= 0 or pair_key(rec.participant, rec.target) in taken:
                continue
            if spread:
                n = slots[rec.target]
                if room[rec.target] <= 0:
                    continue  # full: every usable slot is asked for already
                factor = room[rec.target] / n
                reason = (f"{load[rec.target]} requests for {n} slots"
                          if load[rec.target] else "nobody has asked to meet them yet")
                rec = Recommendation(rec.participant, rec.target, round(rec.score * factor, 4),
                                     {**rec.parts, "capacity": round(factor, 4)},
                                     (*rec.reasons, reason))
            recs.append(rec)
        recs.sort(key=lambda r: (-r.score, r.target))
        ranked[a.id] = recs
    featured = joint_lists(ranked, room, JOINT_TOP) if spread else {}
    out: list[Recommendation] = []
    for a in profiles:
        if participant is not None and a.id != participant:
            continue
        first = featured.get(a.id, [])
        chosen = {r.target for r in first}
        out.extend([*first, *(r for r in ranked[a.id] if r.target not in chosen)][:max(top_k, 0)])
    return out


def joint_lists(ranked: dict[str, list[Recommendation]], room: dict[str, int],
                k: int = JOINT_TOP) -> dict[str, list[Recommendation]]:
    """Each participant's ``k`` recommendations chosen jointly, best first.

    A b-matching solved as a min-cost max-flow (OR-Tools): source -> ``a`` (capacity ``k``),
    ``a`` -> ``b`` for ``b`` among ``a``'s :data:`JOINT_CANDIDATES` best (capacity 1, cost
    ``1 - score``, ties broken by rank), ``b`` -> sink (capacity ``room[b]``). The maximum flow
    fills as many list places as the capacities allow; of those, the minimum cost is the
    largest total score. So nobody appears in more than ``room[b]`` lists.
    """
    from ortools.graph.python import min_cost_flow

    ids = list(ranked)
    node = {p: i for i, p in enumerate(ids, start=1)}
    n = len(ids)
    source, sink = 0, 2 * n + 1
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs: list[tuple[int, Recommendation]] = []
    for a in ids:
        flow.add_arc_with_capacity_and_unit_cost(source, node[a], k, 0)
        for rank, rec in enumerate(ranked[a][:JOINT_CANDIDATES]):
            cost = round((1.0 - min(max(rec.score, 0.0), 1.0)) * 1_000_000) * 100 + rank
            arcs.append((flow.add_arc_with_capacity_and_unit_cost(
                node[a], n + node[rec.target], 1, cost), rec))
    for b in ids:
        flow.add_arc_with_capacity_and_unit_cost(n + node[b], sink, room.get(b, 0), 0)
    flow.set_node_supply(source, k * n)  # the max flow from source to sink, at least cost
    flow.set_node_supply(sink, -k * n)
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"joint recommendation lists: min-cost flow status {status}")
    out: dict[str, list[Recommendation]] = {a: [] for a in ids}
    for arc, rec in arcs:
        if flow.flow(arc) > 0:
            out[rec.participant].append(rec)
    for recs in out.values():
        recs.sort(key=lambda r: (-r.score, r.target))
    return out


# ---- scheduling and publishing -----------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    """A scheduler run on an event: the status, total breaks and bound, the schedule (meetings
    numbered as :func:`build_instance` does) and, for INFEASIBLE, the reasons with numbers."""

    status: str
    total_breaks: int | None
    lower_bound: int
    schedule: tuple[ScheduleEntry, ...]
    request_ids: tuple[str, ...]
    reasons: tuple[str, ...] = ()
    advice: tuple[str, ...] = ()
    wall_time_s: float = 0.0

    @property
    def complete(self) -> bool:
        """True when every accepted request has a slot and a table."""
        return len(self.schedule) == len(self.request_ids) and self.status in (
            "OPTIMAL", "FEASIBLE")


def schedule_event(event: Event, *, time_limit_s: float | None = None, workers: int = 2,
                   method: str = "auto",
                   progress: Callable[[int | None, int], None] | None = None) -> RunOutcome:
    """Check capacity, then minimise breaks with :func:`~critmin.matchmaking.scheduler.solve_schedule`.

    A violated necessary condition answers INFEASIBLE at once with the reasons and advice (no
    solver call); so does a schedule the solver proves impossible. ``progress`` receives
    ``(best total breaks so far or None, proved lower bound)`` while the solver runs.
    """
    import time

    started = time.perf_counter()
    reqs = tuple(r.id for r in accepted_requests(event))
    cap = capacity_check(event)
    if not cap.feasible:
        return RunOutcome("INFEASIBLE", None, 0, (), reqs, cap.reasons, cap.advice,
                          time.perf_counter() - started)
    if not reqs:
        return RunOutcome("OPTIMAL", 0, 0, (), reqs, wall_time_s=time.perf_counter() - started)
    from critmin.matchmaking.scheduler import explain_infeasibility, solve_schedule

    inst = build_instance(event)
    res = solve_schedule(inst, fairness=event.fairness, time_limit_s=time_limit_s,
                         workers=workers, method=method,  # type: ignore[arg-type]
                         progress=progress)
    reasons: tuple[str, ...] = ()
    if res.status == "INFEASIBLE":
        reasons = tuple(explain_infeasibility(inst, event.fairness)) or (
            f"no schedule exists with fairness d={event.fairness}",)
    return RunOutcome(res.status, res.total_breaks, res.lower_bound,
                      tuple(ScheduleEntry(a.meeting, a.slot, a.table) for a in res.schedule),
                      reqs, reasons, (), time.perf_counter() - started)


def replaces(new: RunOutcome, published: RunOutcome | None) -> bool:
    """Whether run ``new`` may replace the ``published`` schedule.

    Only a complete schedule replaces anything. It replaces a published schedule of other
    accepted requests (the published one is stale), or of the same requests with more breaks.
    A run that finds nothing better never replaces the published schedule.
    """
    if not new.complete:
        return False
    if published is None or not published.complete:
        return True
    if set(new.request_ids) != set(published.request_ids):
        return True
    assert new.total_breaks is not None and published.total_breaks is not None
    return new.total_breaks < published.total_breaks


# ---- slot times and agenda rows ----------------------------------------------------------------


def slot_times(event: Event, slot: int) -> tuple[datetime, datetime]:
    """Naive local start and end time of ``slot`` (1-based), in the event's time zone."""
    return event.slot_times(slot)


@dataclass(frozen=True)
class AgendaRow:
    """One meeting in a participant's agenda (times are naive local times of the event;
    ``location`` is the name of the table's location, ``""`` when the event names none)."""

    slot: int
    start: datetime
    end: datetime
    table: int
    location: str
    counterpart_id: str
    counterpart_name: str
    counterpart_summary: str
    request_id: str


def agenda_rows(event: Event, schedule: list[ScheduleEntry] | tuple[ScheduleEntry, ...],
                participant: str) -> list[AgendaRow]:
    """The meetings of ``participant`` in slot order, counterparts shown as it may see them.

    ``schedule`` numbers meetings as :func:`build_instance` does (the ``m``-th accepted request).
    """
    event.profile(participant)
    reqs = accepted_requests(event)
    rows = []
    for e in schedule:
        if not 1 <= e.meeting <= len(reqs):
            raise SpecError(f"schedule names meeting {e.meeting}; the event has {len(reqs)} "
                            "accepted requests")
        r = reqs[e.meeting - 1]
        if participant not in (r.requester, r.target):
            continue
        other = r.target if r.requester == participant else r.requester
        view = profile_view(event.profile(other), participant)
        start, end = slot_times(event, e.slot)
        rows.append(AgendaRow(e.slot, start, end, e.table, event.location_of(e.table), other,
                              view["name"], profile_summary(view), r.id))
    return sorted(rows, key=lambda r: r.slot)


def profile_summary(view: dict[str, Any]) -> str:
    """A one-line text of a profile view: kind, country, roles, minerals, offers, description."""
    parts = []
    if "kind" in view:
        parts.append(str(view["kind"]))
    if "country_iso3" in view:
        parts.append(str(view["country_iso3"]))
    if view.get("roles"):
        parts.append("roles: " + ", ".join(str(r) for r in view["roles"]))
    if view.get("minerals"):
        parts.append("minerals: " + ", ".join(str(m) for m in view["minerals"]))
    if view.get("offers"):
        parts.append("offers: " + "; ".join(
            str(o["mineral"]) + (f" {o['stage']}" if o.get("stage") else "")
            for o in view["offers"]))
    if view.get("description"):
        parts.append(str(view["description"]))
    return " · ".join(parts)

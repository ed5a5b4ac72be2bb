"""A matchmaking event as data: day plan, participants, meeting requests; and its B2B instance.

The event JSON format (``critmin-event/1``, documented in ``docs/matchmaking.md``)::

    {
      "format": "critmin-event/1",
      "name": "India–Japan Battery Materials Roundtable",
      "date": "2026-02-12", "timezone": "Asia/Kolkata", "venue": "New Delhi",
      "n_tables": 20, "slot_minutes": 20,
      "morning":   {"start": "09:30", "slots": 9},
      "afternoon": {"start": "14:00", "slots": 7},
      "partner_countries": ["IND", "JPN"],
      "auto_accept": false,
      "participants": [ <Profile>, ... ],
      "requests": [ {"id": "r1", "from": "a", "to": "b", "status": "pending",
                     "session": "any", "fixed_slot": null, "after": []}, ... ]
    }

Slots are numbered 1.. through the morning and then the afternoon. Every state change (a new
request, an answer, auto-accept) is a pure function returning a new :class:`Event`.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from critmin.errors import InputError, SpecError
from critmin.matchmaking.instance import B2BInstance, Meeting, Session, validate_instance
from critmin.matchmaking.profiles import Profile

RequestStatus = Literal["pending", "accepted", "declined"]
SessionName = Literal["any", "morning", "afternoon"]
_SESSION_CODE = {"morning": Session.MORNING, "afternoon": Session.AFTERNOON, "any": Session.ANY}


class SessionPlan(BaseModel):
    """A session of the day: its first slot's start time (``HH:MM``) and number of slots."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    slots: int = Field(ge=0)


class MeetingRequest(BaseModel):
    """A request by ``from`` to meet ``to``; scheduled only once ``accepted``.

    ``fixed_slot`` pins the meeting; ``after`` lists request ids that must be held earlier.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str
    requester: str = Field(alias="from")
    target: str = Field(alias="to")
    status: RequestStatus = "pending"
    session: SessionName = "any"
    fixed_slot: int | None = None
    after: list[str] = Field(default_factory=list)
    note: str = ""


class Event(BaseModel):
    """A matchmaking event: the day plan, participants and meeting requests."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["critmin-event/1"] = "critmin-event/1"
    name: str
    date: date
    timezone: str = "UTC"
    venue: str = ""
    n_tables: int = Field(ge=1)
    slot_minutes: int = Field(default=20, ge=1)
    morning: SessionPlan
    afternoon: SessionPlan = Field(default_factory=lambda: SessionPlan(start="14:00", slots=0))
    partner_countries: list[str] = Field(default_factory=list)
    auto_accept: bool = False
    participants: list[Profile]
    requests: list[MeetingRequest] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Event:
        ids = [p.id for p in self.participants]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"participant id {dup[0]!r} is used twice")
        known = set(ids)
        req_ids = [r.id for r in self.requests]
        dup = sorted({i for i in req_ids if req_ids.count(i) > 1})
        if dup:
            raise ValueError(f"request id {dup[0]!r} is used twice")
        for r in self.requests:
            for who in (r.requester, r.target):
                if who not in known:
                    raise ValueError(f"request {r.id!r} names unknown participant {who!r}")
            if r.requester == r.target:
                raise ValueError(f"request {r.id!r} asks {r.requester!r} to meet itself")
            for other in r.after:
                if other not in req_ids:
                    raise ValueError(f"request {r.id!r} must follow unknown request {other!r}")
        return self

    @property
    def n_slots(self) -> int:
        """Slots in the day (morning then afternoon)."""
        return self.morning.slots + self.afternoon.slots

    def profile(self, participant_id: str) -> Profile:
        """The profile of ``participant_id`` (``SpecError`` when unknown)."""
        for p in self.participants:
            if p.id == participant_id:
                return p
        raise SpecError(f"unknown participant {participant_id!r} in event {self.name!r}")

    def slot_times(self, slot: int) -> tuple[datetime, datetime]:
        """Naive local start and end time of ``slot`` (1-based).

        >>> ev = Event(name="x", date="2026-02-12", n_tables=1, participants=[],
        ...            morning={"start": "09:30", "slots": 2}, afternoon={"start": "14:00", "slots": 1})
        >>> [t.strftime("%H:%M") for t in ev.slot_times(3)]
        ['14:00', '14:20']
        """
        if not 1 <= slot <= self.n_slots:
            raise SpecError(f"slot {slot} outside 1..{self.n_slots}")
        plan, index = (
            (self.morning, slot - 1)
            if slot <= self.morning.slots
            else (self.afternoon, slot - 1 - self.morning.slots)
        )
        hh, mm = map(int, plan.start.split(":"))
        start = datetime(self.date.year, self.date.month, self.date.day, hh, mm) + timedelta(
            minutes=index * self.slot_minutes
        )
        return start, start + timedelta(minutes=self.slot_minutes)


def read_event(path: str | Path) -> Event:
    """Read and validate an event JSON file; problems raise a one-line :class:`InputError`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    return event_from_dict(data, path)


def event_from_dict(data: object, file: str | Path | None = None) -> Event:
    """Validate parsed event JSON into an :class:`Event` (first problem as :class:`InputError`)."""
    try:
        return Event.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or None
        msg = err["msg"].removeprefix("Value error, ")
        raise InputError(file, msg, field=where) from None


def write_event(event: Event, path: str | Path) -> None:
    """Write ``event`` as indented JSON (the format of :func:`read_event`)."""
    Path(path).write_text(
        event.model_dump_json(indent=2, by_alias=True) + "\n", encoding="utf-8"
    )


# ---- requests as data operations -------------------------------------------------------------


def add_request(
    event: Event,
    requester: str,
    target: str,
    *,
    session: SessionName = "any",
    note: str = "",
) -> Event:
    """A new event with a request from ``requester`` to ``target`` (accepted when auto-accept).

    Asking twice for the same pair (in either direction) is a :class:`SpecError`.
    """
    event.profile(requester)
    event.profile(target)
    for r in event.requests:
        if {r.requester, r.target} == {requester, target} and r.status != "declined":
            raise SpecError(f"{requester!r} and {target!r} already have request {r.id!r}")
    new_id = f"r{len(event.requests) + 1}"
    taken = {r.id for r in event.requests}
    k = len(event.requests) + 1
    while new_id in taken:
        k += 1
        new_id = f"r{k}"
    req = MeetingRequest(
        id=new_id, requester=requester, target=target, session=session, note=note,
        status="accepted" if event.auto_accept else "pending",
    )
    return event.model_copy(update={"requests": [*event.requests, req]})


def respond(event: Event, request_id: str, *, accept: bool) -> Event:
    """A new event where request ``request_id`` is accepted or declined."""
    found = False
    out = []
    for r in event.requests:
        if r.id == request_id:
            found = True
            r = r.model_copy(update={"status": "accepted" if accept else "declined"})
        out.append(r)
    if not found:
        raise SpecError(f"unknown request {request_id!r}")
    return event.model_copy(update={"requests": out})


def accept_all_pending(event: Event) -> Event:
    """A new event in auto-accept mode with every pending request accepted."""
    out = [
        r.model_copy(update={"status": "accepted"}) if r.status == "pending" else r
        for r in event.requests
    ]
    return event.model_copy(update={"requests": out, "auto_accept": True})


# ---- the scheduling instance -----------------------------------------------------------------


def accepted_requests(event: Event) -> list[MeetingRequest]:
    """Accepted requests in file order; meeting ``m`` of the instance is the ``m``-th of these."""
    return [r for r in event.requests if r.status == "accepted"]


def event_instance(event: Event, file: str | Path | None = None) -> B2BInstance:
    """The B2B scheduling instance of the accepted meetings of ``event``.

    Participants are numbered in the order of ``event.participants``; meeting ``m`` is the
    ``m``-th accepted request. A participant's forbidden slots are its ``unavailable_slots`` and
    the slots of the sessions it does not attend.
    """
    index = {p.id: i for i, p in enumerate(event.participants, start=1)}
    reqs = accepted_requests(event)
    req_index = {r.id: m for m, r in enumerate(reqs, start=1)}
    morning = set(range(1, event.morning.slots + 1))
    afternoon = set(range(event.morning.slots + 1, event.n_slots + 1))
    forbidden = []
    for p in event.participants:
        bad = set(p.unavailable_slots)
        if "morning" not in p.sessions:
            bad |= morning
        if "afternoon" not in p.sessions:
            bad |= afternoon
        outside = sorted(s for s in bad if not 1 <= s <= event.n_slots)
        if outside:
            raise InputError(
                file,
                f"participant {p.id!r} lists unavailable slot {outside[0]} outside "
                f"1..{event.n_slots}",
                field="unavailable_slots",
            )
        forbidden.append(frozenset(bad))
    precedences = []
    for r in reqs:
        before = set()
        for other in r.after:
            if other not in req_index:
                raise InputError(
                    file, f"request {r.id!r} must follow request {other!r}, which is not accepted",
                    field="after",
                )
            before.add(req_index[other])
        precedences.append(frozenset(before))
    inst = B2BInstance(
        n_participants=len(event.participants),
        n_tables=event.n_tables,
        n_slots=event.n_slots,
        n_morning_slots=event.morning.slots,
        meetings=tuple(
            Meeting(index[r.requester], index[r.target], _SESSION_CODE[r.session]) for r in reqs
        ),
        forbidden=tuple(forbidden),
        fixed=tuple(r.fixed_slot for r in reqs),
        precedences=tuple(precedences),
        names=tuple(p.name for p in event.participants),
        source=str(file) if file is not None else None,
    )
    try:
        return validate_instance(inst, file)
    except InputError as exc:
        # name the request rather than the meeting number
        raise InputError(file, _rename_meetings(exc.problem, reqs), field=exc.field) from None


def _rename_meetings(problem: str, reqs: list[MeetingRequest]) -> str:
    import re

    def repl(m: re.Match[str]) -> str:
        k = int(m.group(1))
        return f"request {reqs[k - 1].id!r}" if 1 <= k <= len(reqs) else m.group(0)

    return re.sub(r"meeting (\d+)", repl, problem)

"""A matchmaking event as data: day plan, participants, meeting requests; and its B2B instance.

The event JSON format (``critmin-event/1``, documented in ``docs/matchmaking.md``)::

    {
      "format": "critmin-event/1",
      "name": "India–Japan Battery Materials Roundtable",
      "date": "2026-02-12", "timezone": "Asia/Kolkata", "venue": "New Delhi",
      "n_tables": 20, "slot_minutes": 20,
      "locations": [{"name": "Hall A", "tables": 12}, {"name": "Room 2", "tables": 8}],
      "booths": {"jpn-02": 1},
      "morning":   {"start": "09:30", "slots": 9},
      "afternoon": {"start": "14:00", "slots": 7},
      "partner_countries": ["IND", "JPN"],
      "auto_accept": false,
      "participants": [ <Profile>, ... ],
      "requests": [ {"id": "r1", "from": "a", "to": "b", "status": "pending",
                     "session": "any", "fixed_slot": null, "after": []}, ... ]
    }

Slots are numbered 1.. through the morning and then the afternoon. Tables are numbered across the
optional ``locations`` (rooms or areas, in order); ``booths`` gives the table a participant hosts
at (all its meetings there), the other tables are the shared pool. This module is the data model
and the JSON-file adapter; the rules (requests, capacity, the solver instance, agendas) live in
:mod:`critmin.matchmaking.roundtable`.

Sizes are bounded before anything is allocated (:data:`LIMITS`): a file over ``max_file_bytes``
is refused unread, and ``slots``, ``n_tables``, participants and requests have upper limits. The
time zone must be an IANA name (``zoneinfo``) and start times real clock times (``00:00``–``23:59``).
"""

from __future__ import annotations

import json
import zoneinfo
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from critmin.errors import InputError, SpecError
from critmin.matchmaking.profiles import Profile

RequestStatus = Literal["pending", "accepted", "declined"]
SessionName = Literal["any", "morning", "afternoon"]

#: upper limits checked before allocation (documented in docs/matchmaking.md)
LIMITS = {
    "max_file_bytes": 20_000_000,
    "max_slots": 200,
    "max_tables": 1000,
    "max_participants": 5000,
    "max_requests": 50_000,
    "max_slot_minutes": 480,
}


@cache
def _iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str) -> str:
    """``name`` when it is an IANA time zone (``Asia/Kolkata``, ``UTC``), else ``ValueError``.

    >>> check_timezone("Mars/Olympus")
    Traceback (most recent call last):
    ...
    ValueError: unknown time zone 'Mars/Olympus' (use an IANA name such as 'Asia/Kolkata' or 'UTC')
    """
    if name not in _iana_zones() and name != "UTC":
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as "
                         "'Asia/Kolkata' or 'UTC')")
    return name


class SessionPlan(BaseModel):
    """A session of the day: its first slot's start time (``HH:MM``) and number of slots."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    slots: int = Field(ge=0, le=LIMITS["max_slots"])


class Location(BaseModel):
    """A named place of the event (a room, hall or area) and how many tables it has.

    Tables are numbered ``1..n_tables`` across the locations in their order: the first
    location's tables come first."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    tables: int = Field(ge=1, le=LIMITS["max_tables"])


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
    name: str = Field(min_length=1, max_length=200)
    date: date
    timezone: str = "UTC"
    venue: str = Field(default="", max_length=200)
    n_tables: int = Field(ge=1, le=LIMITS["max_tables"])
    slot_minutes: int = Field(default=20, ge=1, le=LIMITS["max_slot_minutes"])
    morning: SessionPlan
    afternoon: SessionPlan = Field(default_factory=lambda: SessionPlan(start="14:00", slots=0))
    partner_countries: list[str] = Field(default_factory=list, max_length=300)
    auto_accept: bool = False
    request_deadline: datetime | None = Field(
        default=None, description="Local time after which no new request is accepted.")
    fairness: int | None = Field(default=2, ge=0, le=LIMITS["max_slots"])
    locations: list[Location] = Field(
        default_factory=list, max_length=LIMITS["max_tables"],
        description="Rooms or areas in order, their tables summing to n_tables (empty: one "
                    "unnamed location).")
    booths: dict[str, int] = Field(
        default_factory=dict, max_length=LIMITS["max_tables"],
        description="Participant id -> the table it hosts at (all its meetings there); the "
                    "other tables form the shared pool.")
    participants: list[Profile] = Field(max_length=LIMITS["max_participants"])
    requests: list[MeetingRequest] = Field(default_factory=list,
                                           max_length=LIMITS["max_requests"])

    @field_validator("timezone")
    @classmethod
    def _iana(cls, v: str) -> str:
        return check_timezone(v)

    @model_validator(mode="after")
    def _consistent(self) -> Event:
        if self.n_slots > LIMITS["max_slots"]:
            raise ValueError(f"{self.n_slots} slots in the day; at most {LIMITS['max_slots']}")
        if self.n_slots < 1:
            raise ValueError("the day has no slot: give the morning or afternoon some slots")
        ends = self.slot_times(self.n_slots)[1] if self.n_slots else None
        if ends is not None and ends.date() != self.date:
            raise ValueError("the last slot ends after midnight: fewer slots or shorter slots")
        if self.morning.slots and self.afternoon.slots:
            morning_end = self.slot_times(self.morning.slots)[1]
            if self.slot_times(self.morning.slots + 1)[0] < morning_end:
                raise ValueError(f"the afternoon starts at {self.afternoon.start}, before the "
                                 f"morning ends ({morning_end:%H:%M})")
        if self.locations and sum(loc.tables for loc in self.locations) != self.n_tables:
            raise ValueError(f"the locations hold {sum(x.tables for x in self.locations)} "
                             f"tables but n_tables is {self.n_tables}")
        names = [loc.name for loc in self.locations]
        if len(set(names)) != len(names):
            raise ValueError(f"location {next(n for n in names if names.count(n) > 1)!r} is "
                             "named twice")
        ids = [p.id for p in self.participants]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"participant id {dup[0]!r} is used twice")
        known = set(ids)
        hosts_at: dict[int, str] = {}
        for who, table in self.booths.items():
            if who not in known:
                raise ValueError(f"booths: unknown participant {who!r}")
            if not 1 <= table <= self.n_tables:
                raise ValueError(f"booths: {who!r} hosts at table {table}, outside "
                                 f"1..{self.n_tables}")
            if table in hosts_at:
                raise ValueError(f"booths: table {table} is the booth of both "
                                 f"{hosts_at[table]!r} and {who!r}")
            hosts_at[table] = who
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

    @property
    def pool_tables(self) -> int:
        """Tables in the shared pool: all tables but the hosts' booths."""
        return self.n_tables - len(self.booths)

    def location_of(self, table: int) -> str:
        """The name of the location of ``table`` (``""`` when the event names no locations).

        >>> ev = Event(name="x", date="2026-02-12", n_tables=3, participants=[],
        ...            morning={"start": "09:30", "slots": 2},
        ...            locations=[{"name": "Hall A", "tables": 2}, {"name": "Room 2", "tables": 1}])
        >>> [ev.location_of(t) for t in (1, 2, 3)]
        ['Hall A', 'Hall A', 'Room 2']
        """
        first = 1
        for loc in self.locations:
            if first <= table < first + loc.tables:
                return loc.name
            first += loc.tables
        return ""

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
        size = path.stat().st_size
        if size > LIMITS["max_file_bytes"]:
            raise InputError(path, f"file of {size} bytes; an event file holds at most "
                             f"{LIMITS['max_file_bytes']} bytes")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not an event file") from None
    return event_from_json(raw, path)


def event_from_json(raw: bytes | str, file: str | Path | None = None) -> Event:
    """Parse and validate event JSON text (size-checked first)."""
    if len(raw) > LIMITS["max_file_bytes"]:
        raise InputError(file, f"{len(raw)} bytes; an event holds at most "
                         f"{LIMITS['max_file_bytes']} bytes")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text)
    except UnicodeDecodeError as exc:
        raise InputError(file, f"not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(file, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except RecursionError:
        raise InputError(file, "JSON nested too deeply") from None
    return event_from_dict(data, file)


def event_from_dict(data: object, file: str | Path | None = None) -> Event:
    """Validate parsed event JSON into an :class:`Event` (first problem as :class:`InputError`)."""
    if not isinstance(data, dict):
        raise InputError(file, "an event is a JSON object with 'name', 'date', 'n_tables', "
                         "'morning' and 'participants'")
    try:
        return Event.model_validate(data)
    except RecursionError:
        raise InputError(file, "JSON nested too deeply") from None
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

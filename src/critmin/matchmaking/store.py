"""The SQL-store adapter of the roundtable core: the server's database as an :class:`Event`.

The operational database (:mod:`critmin.storage`) holds one roundtable: its settings
(``match_events``), participants (``participants``: name, organisation, country and the profile
fields split into ``public`` and ``private`` dicts), requests (``meeting_requests``) and scheduler
runs (``schedule_runs`` with their ``meetings``). :func:`load_event` turns them into an
:class:`~critmin.matchmaking.event.Event` so the API and the web apply the rules of
:mod:`critmin.matchmaking.roundtable`, exactly as the CLI does on an event file.

Ids: a participant's profile id is its ``ref`` (set when imported from an event file or CSV) or
its database id as text; a request's id is its database id as text.

Writes are atomic under concurrency: the database's unique constraints decide races (one
participant per user, one request per unordered pair) and answers are conditional updates of a
pending request; the loser gets :class:`Conflict` (HTTP 409), never a half-written row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from critmin.errors import SpecError
from critmin.matchmaking import roundtable as core
from critmin.matchmaking.check import ScheduleEntry
from critmin.matchmaking.event import Event, MeetingRequest, SessionName
from critmin.matchmaking.profiles import VISIBLE_FIELDS, Profile, check_free_field
from critmin.storage.models import (
    MatchEvent,
    Meeting,
    Participant,
    ScheduleRun,
    SigninLink,
    User,
    WebSession,
    utcnow,
)
from critmin.storage.models import MeetingRequest as RequestRow

#: the settings of a database without a configured event
DEFAULT_SETTINGS: dict[str, Any] = {
    "name": "Roundtable", "date": "2026-01-01", "timezone": "UTC", "venue": "",
    "n_tables": 10, "slot_minutes": 20, "morning": {"start": "09:00", "slots": 6},
    "afternoon": {"start": "14:00", "slots": 4}, "partner_countries": [], "auto_accept": False,
    "request_deadline": None, "fairness": 2, "locations": [], "booths": {},
}
SETTINGS_FIELDS = tuple(DEFAULT_SETTINGS)
SIGNIN_TTL = dt.timedelta(days=14)


class Conflict(SpecError):
    """A write lost to the current state or to a concurrent writer (HTTP 409)."""


@dataclass(frozen=True)
class StoredEvent:
    """The event and the maps between core ids (text) and database ids."""

    event: Event
    db_id: dict[str, int]           # participant profile id -> participants.id
    profile_id: dict[int, str]      # participants.id -> profile id
    published_run_id: str | None

    def pid(self, db_id: int) -> str:
        """The profile id of database participant ``db_id`` (SpecError when unknown)."""
        if db_id not in self.profile_id:
            raise SpecError(f"no participant {db_id}")
        return self.profile_id[db_id]


def profile_id_of(p: Participant) -> str:
    return p.ref or str(p.id)


def to_profile(p: Participant) -> Profile:
    """The core profile of a stored participant: the schema fields of ``public`` (visibility
    public) and ``private`` (organiser-only); other keys are free fields the core ignores."""
    fields: dict[str, Any] = {}
    vis: dict[str, str] = {}
    for part, visibility in ((p.private or {}, "organiser"), (p.public or {}, "public")):
        for k, v in part.items():
            if k in VISIBLE_FIELDS and k != "country_iso3":
                fields[k], vis[k] = v, visibility
    base = {"id": profile_id_of(p), "name": p.display_name, "country_iso3": p.country or "XXX"}
    try:
        return Profile.model_validate({**base, **fields, "visibility": vis})
    except ValidationError:  # rows written before profiles were validated: identity only
        return Profile.model_validate(base)


def validate_profile_fields(public: dict[str, Any], private: dict[str, Any],
                            country: str | None, name: str) -> None:
    """Validate a stored profile's split fields as the core does (ValueError, one line).

    Schema fields must validate as :class:`Profile` fields; a field may be public or private,
    not both; free fields are bounded by :func:`check_free_field`.
    """
    both = sorted(set(public) & set(private))
    if both:
        raise ValueError(f"field {both[0]!r} is both public and private")
    for part in (public, private):
        for k, v in part.items():
            if k not in VISIBLE_FIELDS:
                check_free_field(k, v)
    fields = {k: v for part in (public, private) for k, v in part.items() if k in VISIBLE_FIELDS}
    fields.pop("country_iso3", None)
    try:
        Profile.model_validate({"id": "x", "name": name, "country_iso3": country or "XXX",
                                **fields})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ValueError(f"{where}: {err['msg']}") from None


def settings_row(s: Session) -> MatchEvent | None:
    return s.scalar(select(MatchEvent).order_by(MatchEvent.id).limit(1))


def event_timezone(s: Session) -> str:
    """The stored roundtable's time zone (what ``load_event(s).event.timezone`` gives, from the
    settings row alone: the settings were validated when stored, see :func:`save_settings`)."""
    row = settings_row(s)
    return str({**DEFAULT_SETTINGS, **(row.settings if row else {})}["timezone"])


def load_event(s: Session, only: Collection[int] | None = None) -> StoredEvent:
    """The stored roundtable as an :class:`Event` (participants by id, requests by id).

    ``only``: the slice of the event that concerns these participants (database ids): the
    settings, those participants, the requests between two of them and their booths. The rules
    about one request (:func:`critmin.matchmaking.roundtable.add_request` and ``respond``) read
    only the two participants, the requests between them and the settings, so they answer the
    same on the slice as on the whole event, at a cost that does not grow with the event.
    """
    row = settings_row(s)
    settings = {**DEFAULT_SETTINGS, **(row.settings if row else {})}
    people_q = select(Participant).order_by(Participant.id)
    requests_q = select(RequestRow).order_by(RequestRow.id)
    if only is not None:
        ids = sorted(set(only))
        people_q = people_q.where(Participant.id.in_(ids))
        requests_q = requests_q.where(RequestRow.from_id.in_(ids), RequestRow.to_id.in_(ids))
    people = list(s.scalars(people_q))
    db_id = {profile_id_of(p): p.id for p in people}
    profile_id = {p.id: profile_id_of(p) for p in people}
    requests = [
        MeetingRequest(id=str(r.id), requester=profile_id[r.from_id], target=profile_id[r.to_id],
                       status=r.status, session=r.session, fixed_slot=r.fixed_slot,  # type: ignore[arg-type]
                       note=r.message[:2000])
        for r in s.scalars(requests_q)
    ]
    if only is not None:
        settings["booths"] = {k: v for k, v in settings["booths"].items() if k in db_id}
    event = Event.model_validate({**settings, "participants": [to_profile(p) for p in people]})
    event = event.model_copy(update={"requests": requests})
    return StoredEvent(event, db_id, profile_id, row.published_run_id if row else None)


def save_settings(s: Session, settings: dict[str, Any]) -> Event:
    """Validate and store the event settings (the rest of the event is untouched)."""
    clean = {k: settings[k] for k in SETTINGS_FIELDS if k in settings}
    current = load_event(s).event
    merged = {**current.model_dump(mode="json", exclude={"participants", "requests",
                                                         "format"}), **clean}
    event = Event.model_validate({**merged, "participants": current.participants})
    stored = event.model_dump(mode="json", include=set(SETTINGS_FIELDS))
    row = settings_row(s)
    if row is None:
        s.add(MatchEvent(settings=stored))
    else:
        row.settings = stored
    s.flush()
    return event


# ---- requests ----------------------------------------------------------------------------------


def add_request(s: Session, from_db: int, to_db: int, *, session: SessionName = "any",
                message: str = "", now: dt.datetime | None = None) -> RequestRow:
    """Store a request after the core's checks; a concurrent duplicate (either direction) loses
    on the unique pair key and raises :class:`Conflict`."""
    se = load_event(s, only=(from_db, to_db))
    try:
        ev = core.add_request(se.event, se.pid(from_db), se.pid(to_db), session=session,
                              note=message, now=now)
    except SpecError as exc:
        if "already have request" in str(exc) or "closed" in str(exc):
            raise Conflict(str(exc)) from None
        raise
    status = ev.requests[-1].status
    row = RequestRow(from_id=from_db, to_id=to_db, message=message, session=session,
                     status=status, pair_key=f"{min(from_db, to_db)}-{max(from_db, to_db)}",
                     decided_at=utcnow() if status == "accepted" else None)
    try:
        with s.begin_nested():
            s.add(row)
            s.flush()
    except IntegrityError:
        raise Conflict("a request between you exists already") from None
    return row


def respond(s: Session, request_id: int, *, accept: bool, by_db: int | None) -> RequestRow:
    """Answer a pending request (``by_db`` = the participant answering, None = organiser).

    The core checks who may answer; the update is conditional on ``status = 'pending'``, so of
    two concurrent answers one wins and the other gets :class:`Conflict`.
    """
    pair = s.execute(select(RequestRow.from_id, RequestRow.to_id)
                     .where(RequestRow.id == request_id)).first()
    se = load_event(s, only=[*(pair or ()), *([by_db] if by_db is not None else [])])
    by = se.pid(by_db) if by_db is not None else None
    try:
        core.respond(se.event, str(request_id), accept=accept, by=by)
    except SpecError as exc:
        raise Conflict(str(exc)) if "already" in str(exc) else exc from None
    status = "accepted" if accept else "declined"
    done = s.execute(update(RequestRow).where(RequestRow.id == request_id,
                                              RequestRow.status == "pending")
                     .values(status=status, decided_at=utcnow()))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"request {request_id} was answered already")
    row = s.get(RequestRow, request_id)
    assert row is not None
    s.refresh(row)
    return row


# ---- scheduler runs and the published schedule ------------------------------------------------


def start_run(s: Session, run_id: str, event: Event, user_id: int | None) -> ScheduleRun:
    """Record a run as RUNNING (its grid from the event settings)."""
    start, _ = event.slot_times(1)
    aft = (event.slot_times(event.morning.slots + 1)[0]
           if event.afternoon.slots and event.morning.slots < event.n_slots else None)
    run = ScheduleRun(run_id=run_id, status="RUNNING", total_breaks=None, lower_bound=None,
                      n_tables=event.n_tables, n_slots=event.n_slots,
                      n_morning_slots=event.morning.slots, start=start,
                      slot_minutes=event.slot_minutes, afternoon_start=aft, user_id=user_id)
    s.add(run)
    s.flush()
    return run


def record_progress(s: Session, run_id: str, seconds: float, best: int | None,
                    bound: int) -> None:
    """Append a live progress report (best total breaks so far or None, proved lower bound) to
    run ``run_id`` while it is RUNNING; reports after the run ended are dropped."""
    run = s.scalar(select(ScheduleRun).where(ScheduleRun.run_id == run_id))
    if run is None or run.status != "RUNNING":
        return
    run.progress = [*(run.progress or []), {"seconds": round(seconds, 3), "best": best,
                                            "bound": bound}]
    s.flush()


def finish_run(s: Session, run_id: str, out: core.RunOutcome, *, publish: bool) -> bool:
    """Store the outcome of run ``run_id``; publish it when ``publish`` and it replaces the
    published schedule (:func:`critmin.matchmaking.roundtable.replaces`). Returns whether it was
    published. Meetings of runs neither published nor latest are removed."""
    run = s.scalar(select(ScheduleRun).where(ScheduleRun.run_id == run_id))
    assert run is not None
    ids = [int(x) for x in out.request_ids]
    run.status, run.total_breaks, run.lower_bound = out.status, out.total_breaks, out.lower_bound
    run.request_ids, run.reasons = ids, [*out.reasons, *out.advice]
    run.finished_at = utcnow()
    for e in out.schedule:
        s.add(Meeting(request_id=ids[e.meeting - 1], slot=e.slot, table_no=e.table,
                      run_id=run_id))
    s.flush()
    published = False
    row = settings_row(s)
    if publish:
        published = publish_run(s, run_id, force=False)
        row = settings_row(s)
    keep = {run_id} | ({row.published_run_id} if row and row.published_run_id else set())
    s.execute(delete(Meeting).where(Meeting.run_id.not_in(keep)))
    return published


def run_outcome(s: Session, run_id: str) -> core.RunOutcome | None:
    """A stored run as a :class:`~critmin.matchmaking.roundtable.RunOutcome` (None if unknown)."""
    run = s.scalar(select(ScheduleRun).where(ScheduleRun.run_id == run_id))
    if run is None or run.request_ids is None:
        return None
    pos = {rid: m for m, rid in enumerate(run.request_ids, start=1)}
    entries = tuple(ScheduleEntry(pos[m.request_id], m.slot, m.table_no)
                    for m in s.scalars(select(Meeting).where(Meeting.run_id == run_id))
                    if m.request_id in pos)
    return core.RunOutcome(run.status, run.total_breaks, run.lower_bound or 0, entries,
                           tuple(str(x) for x in run.request_ids), tuple(run.reasons or ()))


def publish_run(s: Session, run_id: str, *, force: bool = True) -> bool:
    """Make ``run_id`` the published schedule: always with ``force`` when it is complete, else
    only when it replaces the published one. Returns whether it is now published."""
    new = run_outcome(s, run_id)
    if new is None or not new.complete:
        if force:
            raise Conflict(f"run {run_id} has no complete schedule to publish")
        return False
    row = settings_row(s)
    if row is None:
        save_settings(s, {})
        row = settings_row(s)
        assert row is not None
    old = run_outcome(s, row.published_run_id) if row.published_run_id else None
    if old is not None and not force:
        accepted = {r.id for r in s.scalars(select(RequestRow).where(
            RequestRow.status == "accepted"))}
        if set(int(x) for x in old.request_ids) != accepted:
            old = None  # the published schedule is stale: any complete run replaces it
    if not force and not core.replaces(new, old):
        return False
    row.published_run_id = run_id
    s.flush()
    return True


def published(s: Session) -> tuple[Event, tuple[ScheduleEntry, ...], StoredEvent] | None:
    """The event as the published run scheduled it (its requests accepted, in meeting order) and
    the run's entries; None when nothing is published."""
    se = load_event(s)
    if se.published_run_id is None:
        return None
    out = run_outcome(s, se.published_run_id)
    if out is None:
        return None
    by_id = {r.id: r for r in se.event.requests}
    chosen = [by_id[x].model_copy(update={"status": "accepted"}) for x in out.request_ids
              if x in by_id]
    if len(chosen) != len(out.request_ids):
        return None  # a scheduled request was deleted: the schedule is void
    rest = [r.model_copy(update={"status": "pending"}) if r.status == "accepted" else r
            for r in se.event.requests if r.id not in set(out.request_ids)]
    return se.event.model_copy(update={"requests": [*chosen, *rest]}), out.schedule, se


# ---- one-time sign-in links -------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_signin_link(s: Session, user_id: int) -> str:
    """A one-time sign-in token for ``user_id`` (valid :data:`SIGNIN_TTL`; only its hash is
    stored). Earlier unused links of the user stop working."""
    s.execute(delete(SigninLink).where(SigninLink.user_id == user_id,
                                       SigninLink.used_at.is_(None)))
    token = secrets.token_urlsafe(24)
    s.add(SigninLink(user_id=user_id, token_hash=_hash(token),
                     expires_at=utcnow() + SIGNIN_TTL))
    return token


def use_signin_link(s: Session, token: str, ttl: dt.timedelta) -> tuple[User, str, str]:
    """Spend a sign-in token: ``(user, session cookie, csrf token)``. The token is marked used
    by a conditional update, so it opens one session only, even under concurrent use."""
    link = s.scalar(select(SigninLink).where(SigninLink.token_hash == _hash(token)))
    now = utcnow()
    if link is None or link.used_at is not None or link.expires_at < now:
        raise Conflict("this sign-in link is unknown, used or expired: ask the organiser for "
                       "a new one")
    done = s.execute(update(SigninLink).where(SigninLink.id == link.id,
                                              SigninLink.used_at.is_(None)).values(used_at=now))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("this sign-in link was used already")
    user = s.get(User, link.user_id)
    if user is None or not user.active:
        raise Conflict("this account is deactivated")
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    s.add(WebSession(user_id=user.id, session_hash=_hash(cookie), csrf_token=csrf,
                     expires_at=now + ttl))
    return user, cookie, csrf


# ---- importing participants -------------------------------------------------------------------

CSV_COLUMNS = ("id", "name", "country_iso3", "kind", "roles", "minerals", "offers", "needs",
               "description", "contact_email", "organisation")


def profiles_from_csv(text: str, file: str = "participants.csv") -> list[Profile]:
    """Profiles from CSV: columns :data:`CSV_COLUMNS` (``id``, ``name``, ``country_iso3``
    required); ``roles`` and ``minerals`` are ``;``-separated; ``offers`` and ``needs`` are
    ``;``-separated ``mineral`` or ``mineral/stage`` items. Errors name the line and field."""
    import csv
    import io

    from critmin.errors import InputError

    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("id", "name", "country_iso3") if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(file, f"missing column {missing[0]!r} (columns: "
                         f"{', '.join(CSV_COLUMNS)})", line=1)
    out = []
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(file, f"unreadable CSV: {exc}") from None
    if len(rows) > 5000:
        raise InputError(file, f"{len(rows)} participants; at most 5000")
    for n, row in enumerate(rows, start=2):
        def split(col: str, row: dict[str, str | None] = row) -> list[str]:
            return [x.strip() for x in (row.get(col) or "").split(";") if x.strip()]

        def items(col: str, row: dict[str, str | None] = row) -> list[dict[str, Any]]:
            return [{"mineral": m, "stage": st or None}
                    for m, _, st in (x.partition("/") for x in split(col, row))]

        data = {"id": (row.get("id") or "").strip(), "name": (row.get("name") or "").strip(),
                "country_iso3": (row.get("country_iso3") or "").strip().upper(),
                "kind": (row.get("kind") or "company").strip() or "company",
                "roles": split("roles"), "minerals": split("minerals"),
                "offers": items("offers"), "needs": items("needs"),
                "description": row.get("description") or "",
                "contact_email": (row.get("contact_email") or "").strip() or None}
        try:
            out.append(Profile.model_validate(data))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InputError(file, err["msg"], line=n,
                             field=".".join(str(x) for x in err["loc"])) from None
    return out


@dataclass(frozen=True)
class Imported:
    """One imported participant: its reference, name, account and one-time sign-in token."""

    ref: str
    name: str
    username: str
    token: str
    created: bool


def import_participants(s: Session, event: Event | None, profiles: list[Profile], *,
                        organisation: dict[str, str] | None = None) -> list[Imported]:
    """Store ``profiles`` (and, with ``event``, its settings and requests between them).

    Each profile gets a participant account (username = its id, no password) and a one-time
    sign-in link; a profile whose ``ref`` exists already is updated, not duplicated. Each field
    goes to ``public`` or ``private`` by the profile's visibility.
    """
    from critmin import auth

    out = []
    for p in profiles:
        full = p.model_dump(mode="json", exclude={"id", "name", "country_iso3", "visibility"})
        public = {k: v for k, v in full.items() if p.visibility_of(k) == "public"}
        private = {k: v for k, v in full.items() if p.visibility_of(k) != "public"}
        row = s.scalar(select(Participant).where(Participant.ref == p.id))
        created = row is None
        if row is None:
            user = s.scalar(select(User).where(User.username == p.id))
            if user is None:
                user = auth.add_user(s, p.id, "participant", None)
            elif s.scalar(select(Participant).where(Participant.user_id == user.id)):
                raise Conflict(f"user {p.id!r} has a profile already")
            row = Participant(ref=p.id, user_id=user.id, display_name=p.name)
            s.add(row)
        row.display_name, row.country = p.name, p.country_iso3
        row.organisation = (organisation or {}).get(p.id, row.organisation or "")
        row.public, row.private = public, private
        s.flush()
        assert row.user_id is not None
        user = s.get(User, row.user_id)
        assert user is not None
        out.append(Imported(p.id, p.name, user.username, issue_signin_link(s, user.id), created))
    if event is not None:  # after the participants, whom the booths name
        save_settings(s, event.model_dump(mode="json", include=set(SETTINGS_FIELDS)))
        ids = {pid: s.scalar(select(Participant.id).where(Participant.ref == pid))
               for pid in {p.id for p in profiles}}
        for r in event.requests:
            a, b = ids.get(r.requester), ids.get(r.target)
            if a is None or b is None:
                continue
            key = f"{min(a, b)}-{max(a, b)}"
            if s.scalar(select(RequestRow.id).where(RequestRow.pair_key == key)) is None:
                s.add(RequestRow(from_id=a, to_id=b, message=r.note, session=r.session,
                                 status=r.status, fixed_slot=r.fixed_slot, pair_key=key))
        s.flush()
    return out


# ---- profiles ----------------------------------------------------------------------------------


def save_own_profile(s: Session, user_id: int, fields: dict[str, Any]) -> tuple[Participant, bool]:
    """Create or edit the participant of ``user_id`` from ``fields`` (``display_name``,
    ``organisation``, ``country``, ``public``, ``private``), validated by the core's rules
    (ValueError). Of concurrent first-time registrations one creates the row; the others raise
    :class:`Conflict` (``participants.user_id`` is unique)."""
    validate_profile_fields(fields.get("public") or {}, fields.get("private") or {},
                            fields.get("country"), fields["display_name"])
    p = s.scalar(select(Participant).where(Participant.user_id == user_id))
    created = p is None
    try:
        with s.begin_nested():
            if p is None:
                p = Participant(user_id=user_id, display_name=fields["display_name"])
                s.add(p)
            for k in ("display_name", "organisation", "country", "public", "private"):
                if k in fields:
                    setattr(p, k, fields[k])
            s.flush()
    except IntegrityError:
        raise Conflict("this profile was created by a concurrent request: retry to edit it"
                       ) from None
    return p, created

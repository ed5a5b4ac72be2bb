"""Matchmaking over HTTP: profiles, recommendations, meeting requests, the scheduler, agendas.

Who sees what:

- a participant edits its own profile; it reads the public fields of every profile and the
  private fields of its own only; it sees only the requests it sent or received and its own
  agenda; a request it is not party to answers 404 (its existence is not disclosed);
- organisers and admins see and edit everything and run the scheduler;
- analysts and anonymous callers have no access (403 / 401).

Every rule comes from the roundtable core, :mod:`critmin.matchmaking.roundtable`, through the SQL
adapter :mod:`critmin.matchmaking.store` (the same rules as the CLI on an event file); agendas are
written by :mod:`critmin.matchmaking.agenda`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import Enum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from critmin.api._core import client_ip, fail, json_response, principal, require
from critmin.auth import Principal
from critmin.errors import SpecError
from critmin.matchmaking import agenda, roundtable, store
from critmin.storage import audit
from critmin.storage.models import MeetingRequest, Participant, ScheduleRun, utcnow

router = APIRouter(prefix="/match", tags=["matchmaking"])

Id = Annotated[int, Path(ge=1, le=2**62)]


class SessionPref(str, Enum):
    any = "any"
    morning = "morning"
    afternoon = "afternoon"


class ProfileIn(BaseModel):
    """A participant profile. ``public`` fields (e.g. kind, minerals, stages, offers, seeks,
    description) are visible to every signed-in participant; ``private`` fields (e.g. contact,
    volumes, notes) only to the participant and the organisers."""

    display_name: str = Field(min_length=1, max_length=200)
    organisation: str = Field(default="", max_length=200)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    public: dict[str, Any] = Field(default_factory=dict, max_length=40)
    private: dict[str, Any] = Field(default_factory=dict, max_length=40)


class RequestIn(BaseModel):
    to: int = Field(ge=1, le=2**62, description="Participant id to meet.")
    message: str = Field(default="", max_length=2000)
    session: SessionPref = SessionPref.any


class ScheduleIn(BaseModel):
    """A scheduler run. The grid (``n_tables``, ``n_slots``, ``n_morning_slots``, ``start``,
    ``slot_minutes``, ``afternoon_start``, ``fairness``) is optional: when given it replaces the
    event's settings (``PUT /match/event``) before the run."""

    n_tables: int | None = Field(default=None, ge=1, le=1000)
    n_slots: int | None = Field(default=None, ge=1, le=200)
    n_morning_slots: int | None = Field(default=None, ge=0, le=200)
    start: dt.datetime | None = Field(default=None,
                                      description="Start of slot 1 (local time of the event).")
    slot_minutes: int = Field(default=20, ge=5, le=240)
    afternoon_start: dt.datetime | None = Field(
        default=None, description="Start of the first afternoon slot (default: straight on).")
    fairness: int | None = Field(default=2, ge=0, le=200)
    time_limit_s: float = Field(default=10.0, gt=0, le=600)
    publish: bool = Field(default=True, description="Publish the run if it replaces the "
                          "published schedule (a complete schedule with fewer breaks, or of "
                          "a changed set of accepted requests).")
    background: bool = Field(default=False, description="Answer 202 with the run id at once "
                             "and solve in the background; follow the run (its live best so "
                             "far and bound) with GET /match/runs/{run_id}.")


def _participant(who: Principal) -> Principal:
    require(who, check=lambda p: p.is_staff or p.role == "participant", what="matchmaking")
    return who


def profile_view(p: Participant, who: Principal) -> dict[str, Any]:
    """Participant ``p``'s profile as ``who`` may see it: the public fields for everyone, the
    private fields (and the user id) only for the participant itself and for staff."""
    out: dict[str, Any] = {"id": p.id, "ref": p.ref, "display_name": p.display_name,
                           "organisation": p.organisation, "country": p.country,
                           "public": p.public, "updated_at": p.updated_at}
    if who.is_staff or (who.participant_id is not None and who.participant_id == p.id):
        out["private"] = p.private
        out["user_id"] = p.user_id
    return out


def _validate_profile(body: ProfileIn) -> None:
    """The core's profile rules (schema fields, sizes of free fields): 422 with one line."""
    try:
        store.validate_profile_fields(body.public, body.private, body.country, body.display_name)
    except ValueError as exc:
        raise fail(422, str(exc)) from None


def _write_profile(p: Participant, body: ProfileIn) -> None:
    for k, v in body.model_dump().items():
        setattr(p, k, v)


@router.put("/profile", summary="Register or edit my profile (participants)")
def put_my_profile(request: Request, body: ProfileIn,
                   who: Principal = Depends(principal)) -> Response:
    """Create (201) or edit (200) my profile. Of concurrent first-time registrations of one
    user, one creates the profile and the others get 409 (the user id is unique)."""
    require(who, check=lambda p: p.role == "participant", what="register a profile")
    assert who.user_id is not None
    try:
        with request.app.state.store.session() as s:
            p, created = store.save_own_profile(s, who.user_id, body.model_dump())
            audit(s, "profile.create" if created else "profile.edit", actor=who.username,
                  user_id=who.user_id, target=f"participant:{p.id}", ip=client_ip(request))
            viewer = Principal(who.user_id, who.username, who.role, p.id, who.via)
            out = profile_view(p, viewer)
    except ValueError as exc:
        raise fail(422, str(exc)) from None
    except (store.Conflict, IntegrityError):
        raise fail(409, "your profile was created by a concurrent request: retry to edit it"
                   ) from None
    return json_response({"ok": True, "profile": out}, status=201 if created else 200)


@router.put("/profiles/{participant_id}", summary="Edit a profile (its participant or organisers)")
def put_profile(request: Request, participant_id: Id, body: ProfileIn,
                who: Principal = Depends(principal)) -> Response:
    _participant(who)
    if not who.is_staff and who.participant_id != participant_id:
        raise fail(403, "participants edit only their own profile")
    _validate_profile(body)
    with request.app.state.store.session() as s:
        p = s.get(Participant, participant_id)
        if p is None:
            raise fail(404, f"no participant {participant_id}")
        _write_profile(p, body)
        audit(s, "profile.edit", actor=who.username, user_id=who.user_id,
              target=f"participant:{p.id}", ip=client_ip(request))
        s.flush()
        out = profile_view(p, who)
    return json_response({"ok": True, "profile": out})


@router.post("/participants", status_code=201, summary="Create a participant (organisers)")
def create_participant(request: Request, body: ProfileIn,
                       who: Principal = Depends(principal)) -> Response:
    """Organisers register participants who have no account (or before they sign in)."""
    require(who, check=lambda p: p.is_staff, what="create participants")
    _validate_profile(body)
    with request.app.state.store.session() as s:
        p = Participant(**body.model_dump())
        s.add(p)
        s.flush()
        audit(s, "participant.create", actor=who.username, user_id=who.user_id,
              target=f"participant:{p.id}", ip=client_ip(request))
        out = profile_view(p, who)
    return json_response({"ok": True, "profile": out}, status=201)


@router.get("/profiles", summary="Visible profiles")
def list_profiles(request: Request, who: Principal = Depends(principal)) -> Response:
    _participant(who)
    with request.app.state.store.session() as s:
        rows = [profile_view(p, who)
                for p in s.scalars(select(Participant).order_by(Participant.id))]
    return json_response({"ok": True, "profiles": rows})


@router.get("/profiles/{participant_id}", summary="One profile")
def get_profile(request: Request, participant_id: Id,
                who: Principal = Depends(principal)) -> Response:
    _participant(who)
    with request.app.state.store.session() as s:
        p = s.get(Participant, participant_id)
        if p is None:
            raise fail(404, f"no participant {participant_id}")
        out = profile_view(p, who)
    return json_response({"ok": True, "profile": out})


@router.get("/recommendations", summary="Who I should meet (the roundtable core)")
def recommendations(request: Request, who: Principal = Depends(principal),
                    limit: Annotated[int, Query(ge=1, le=100)] = 10,
                    participant: Annotated[int | None, Query(ge=1, le=2**62)] = None
                    ) -> Response:
    """Ranked partners for a participant (mine; organisers may ask for anyone's):
    :func:`critmin.matchmaking.roundtable.recommend_for` on the public profile fields, with the
    event's partner countries, pairs already requested left out and demand spread by capacity."""
    _participant(who)
    pid = participant if (who.is_staff and participant) else who.participant_id
    if pid is None:
        raise fail(404, "no profile: register one with PUT /api/v1/match/profile")
    with request.app.state.store.session() as s:
        se = store.load_event(s)
        names = {p.id: p.display_name for p in s.scalars(select(Participant))}
    if pid not in se.profile_id:
        raise fail(404, f"no participant {pid}")
    recs = roundtable.recommend_for(se.event, se.profile_id[pid], top_k=limit)
    rows = [{"participant_id": se.db_id[r.target], "display_name": names.get(se.db_id[r.target]),
             "score": r.score, "parts": r.parts, "reasons": list(r.reasons)} for r in recs]
    return json_response({"ok": True, "participant": pid, "recommendations": rows})


def _request_json(r: MeetingRequest) -> dict[str, Any]:
    return {"id": r.id, "from": r.from_id, "to": r.to_id, "message": r.message,
            "session": r.session, "status": r.status, "created_at": r.created_at,
            "decided_at": r.decided_at}


def _visible_request(s: Session, who: Principal, request_id: int) -> MeetingRequest:
    r = s.get(MeetingRequest, request_id)
    if r is None or not (who.is_staff or who.participant_id in (r.from_id, r.to_id)):
        raise fail(404, f"no request {request_id}")
    return r


@router.post("/requests", status_code=201, summary="Ask to meet another participant")
def send_request(request: Request, body: RequestIn,
                 who: Principal = Depends(principal)) -> Response:
    """One request per pair in either direction: of concurrent identical or crossing requests
    (A to B while B asks A) one is created and the others get 409."""
    require(who, check=lambda p: p.role == "participant", what="send meeting requests")
    if who.participant_id is None:
        raise fail(409, "register your profile first (PUT /api/v1/match/profile)")
    if body.to == who.participant_id:
        raise fail(422, "to: cannot request a meeting with yourself")
    with request.app.state.store.session() as s:
        if s.get(Participant, body.to) is None:
            raise fail(404, f"no participant {body.to}")
        try:
            r = store.add_request(s, who.participant_id, body.to, session=body.session.value,
                                  message=body.message, now=_event_now(s))
        except store.Conflict as exc:
            raise fail(409, str(exc)) from None
        audit(s, "request.send", actor=who.username, user_id=who.user_id,
              target=f"request:{r.id}", ip=client_ip(request))
        out = _request_json(r)
    return json_response({"ok": True, "request": out}, status=201)


def _event_now(s: Session) -> dt.datetime:
    """Now in the event's time zone (naive), for the request deadline."""
    tz = store.event_timezone(s)  # the settings row, not the whole event
    return dt.datetime.now(ZoneInfo(tz)).replace(tzinfo=None)


@router.get("/requests", summary="My requests (sent and received); all for organisers")
def list_requests(request: Request, who: Principal = Depends(principal)) -> Response:
    _participant(who)
    with request.app.state.store.session() as s:
        q = select(MeetingRequest).order_by(MeetingRequest.id)
        if not who.is_staff:
            me = who.participant_id if who.participant_id is not None else -1
            q = q.where(or_(MeetingRequest.from_id == me, MeetingRequest.to_id == me))
        rows = [_request_json(r) for r in s.scalars(q)]
    return json_response({"ok": True, "requests": rows})


@router.get("/requests/{request_id}", summary="One request (if I am party to it)")
def get_request(request: Request, request_id: Id,
                who: Principal = Depends(principal)) -> Response:
    _participant(who)
    with request.app.state.store.session() as s:
        out = _request_json(_visible_request(s, who, request_id))
    return json_response({"ok": True, "request": out})


def _decide(request: Request, who: Principal, request_id: int, status: str) -> Response:
    _participant(who)
    with request.app.state.store.session() as s:
        _visible_request(s, who, request_id)
        try:
            r = store.respond(s, request_id, accept=status == "accepted",
                              by_db=None if who.is_staff else who.participant_id)
        except PermissionError as exc:
            raise fail(403, str(exc)) from None
        except store.Conflict as exc:
            raise fail(409, str(exc)) from None
        audit(s, f"request.{status}", actor=who.username, user_id=who.user_id,
              target=f"request:{r.id}", ip=client_ip(request))
        out = _request_json(r)
    return json_response({"ok": True, "request": out})


@router.post("/requests/{request_id}/accept", summary="Accept a request sent to me")
def accept_request(request: Request, request_id: Id,
                   who: Principal = Depends(principal)) -> Response:
    return _decide(request, who, request_id, "accepted")


@router.post("/requests/{request_id}/decline", summary="Decline a request sent to me")
def decline_request(request: Request, request_id: Id,
                    who: Principal = Depends(principal)) -> Response:
    return _decide(request, who, request_id, "declined")


def _grid_settings(body: ScheduleIn) -> dict[str, Any]:
    """Event settings from the grid of a schedule request (when it gives one)."""
    if body.n_tables is None or body.n_slots is None or body.start is None:
        return {}
    morning = body.n_morning_slots if body.n_morning_slots is not None else body.n_slots
    if morning > body.n_slots:
        raise fail(422, "n_morning_slots: must not exceed n_slots")
    step = dt.timedelta(minutes=body.slot_minutes)
    aft = body.afternoon_start or body.start + step * morning
    return {"date": body.start.date().isoformat(), "n_tables": body.n_tables,
            "slot_minutes": body.slot_minutes,
            "morning": {"start": f"{body.start:%H:%M}", "slots": morning},
            "afternoon": {"start": f"{aft:%H:%M}", "slots": body.n_slots - morning},
            **({"fairness": body.fairness} if "fairness" in body.model_fields_set else {})}


def begin_run(app_store: Any, user_id: int | None) -> tuple[str, Any]:
    """Record a new RUNNING scheduler run: its id and the event it schedules."""
    run_id = uuid.uuid4().hex[:16]
    with app_store.session() as s:
        event = store.load_event(s).event
        store.start_run(s, run_id, event, user_id)
    return run_id, event


def _progress_writer(app_store: Any, run_id: str) -> Any:
    """A progress callback that stores each (best so far, bound) report of run ``run_id``.

    Reports are best-effort: a report the database cannot take (locked for a moment) is
    skipped and the run goes on; the final outcome is stored by :func:`run_scheduler`."""
    import time

    from sqlalchemy.exc import SQLAlchemyError

    started = time.perf_counter()

    def report(best: int | None, bound: int) -> None:
        try:
            with app_store.session() as s:
                store.record_progress(s, run_id, time.perf_counter() - started, best, bound)
        except SQLAlchemyError:
            return

    return report


def run_scheduler(app_store: Any, run_id: str, event: Any, *, time_limit_s: float,
                  publish: bool) -> dict[str, Any]:
    """Run the scheduler on ``event`` for run ``run_id``: capacity first (INFEASIBLE at once
    with the reasons), then the solver, whose live progress (best so far, bound) is stored with
    the run; the outcome is stored and published when it replaces the published schedule. The
    database is not held open while the solver runs."""
    try:
        out = roundtable.schedule_event(event, time_limit_s=time_limit_s,
                                        progress=_progress_writer(app_store, run_id))
    except Exception as exc:
        out = roundtable.RunOutcome("ERROR", None, 0, (), (), (f"the scheduler failed: {exc}",))
        with app_store.session() as s:
            store.finish_run(s, run_id, out, publish=False)
        raise
    with app_store.session() as s:
        was = store.load_event(s).published_run_id
        done = store.finish_run(s, run_id, out, publish=publish)
    return {"ok": True, "run_id": run_id, "status": out.status,
            "total_breaks": out.total_breaks, "lower_bound": out.lower_bound,
            "meetings": len(out.schedule), "unscheduled": len(out.request_ids) - len(out.schedule),
            "published": done, "kept_published": was if (was and not done) else None,
            "reasons": list(out.reasons), "advice": list(out.advice),
            "seconds": round(out.wall_time_s, 3)}


@router.post("/schedule", summary="Schedule the accepted meetings (organisers)")
def schedule(request: Request, body: ScheduleIn, who: Principal = Depends(principal)) -> Response:
    """Check capacity, minimise breaks (:func:`critmin.matchmaking.roundtable.schedule_event`:
    unavailable slots, attended sessions and fixed meetings included) and store the run. With
    ``publish`` (default) the run becomes the published schedule only if it replaces it: a
    run that finds nothing better (or nothing) keeps the published schedule."""
    require(who, check=lambda p: p.is_staff, what="run the scheduler")
    grid = _grid_settings(body)
    if grid:
        with request.app.state.store.session() as s:
            try:
                store.save_settings(s, grid)
            except ValueError as exc:
                raise fail(422, str(exc).splitlines()[0]) from None
    run_id, event = begin_run(request.app.state.store, who.user_id)
    if body.background:
        start_background_run(request.app.state.store, run_id, event,
                             time_limit_s=body.time_limit_s, publish=body.publish)
        return json_response({"ok": True, "run_id": run_id, "status": "RUNNING"}, status=202)
    return json_response(run_scheduler(request.app.state.store, run_id, event,
                                       time_limit_s=body.time_limit_s, publish=body.publish))


def start_background_run(app_store: Any, run_id: str, event: Any, *, time_limit_s: float,
                         publish: bool) -> None:
    """Run :func:`run_scheduler` in a thread of this process (a failure is stored as the run's
    ERROR status); the caller follows the run by reading it."""
    import threading

    def work() -> None:
        try:
            run_scheduler(app_store, run_id, event, time_limit_s=time_limit_s, publish=publish)
        except Exception:  # stored as the run's ERROR status by run_scheduler
            return

    threading.Thread(target=work, name=f"schedule-{run_id}", daemon=True).start()


@router.post("/runs/{run_id}/publish", summary="Publish a scheduler run (organisers)")
def publish(request: Request, run_id: Annotated[str, Path(max_length=40)],
            who: Principal = Depends(principal)) -> Response:
    require(who, check=lambda p: p.is_staff, what="publish a schedule")
    with request.app.state.store.session() as s:
        try:
            store.publish_run(s, run_id)
        except store.Conflict as exc:
            raise fail(409, str(exc)) from None
        audit(s, "schedule.publish", actor=who.username, user_id=who.user_id,
              target=f"run:{run_id}", ip=client_ip(request))
    return json_response({"ok": True, "published": run_id})


@router.get("/runs/{run_id}", summary="A scheduler run: status, breaks, bound (organisers)")
def get_run(request: Request, run_id: Annotated[str, Path(max_length=40)],
            who: Principal = Depends(principal)) -> Response:
    """The run's status and result; while it is RUNNING, ``progress`` lists the solver's
    reports ``{"seconds", "best", "bound"}`` (best total breaks found so far, or null, and the
    proved lower bound), newest last."""
    require(who, check=lambda p: p.is_staff, what="read scheduler runs")
    with request.app.state.store.session() as s:
        run = s.scalar(select(ScheduleRun).where(ScheduleRun.run_id == run_id))
        if run is None:
            raise fail(404, f"no run {run_id}")
        pub = store.load_event(s).published_run_id
        out = {"run_id": run.run_id, "status": run.status, "total_breaks": run.total_breaks,
               "lower_bound": run.lower_bound, "reasons": run.reasons or [],
               "created_at": run.created_at, "finished_at": run.finished_at,
               "published": pub == run.run_id, "progress": run.progress or []}
    return json_response({"ok": True, "run": out})


class EventIn(BaseModel):
    """Event settings (each optional: what is given replaces the stored value)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    date: dt.date | None = None
    timezone: str | None = Field(default=None, max_length=64)
    venue: str | None = Field(default=None, max_length=200)
    n_tables: int | None = Field(default=None, ge=1, le=1000)
    slot_minutes: int | None = Field(default=None, ge=1, le=480)
    morning: dict[str, Any] | None = None
    afternoon: dict[str, Any] | None = None
    partner_countries: list[Annotated[str, Field(pattern=r"^[A-Z]{3}$")]] | None = Field(
        default=None, max_length=300)
    auto_accept: bool | None = None
    request_deadline: dt.datetime | None = None
    fairness: int | None = Field(default=None, ge=0, le=200)
    locations: list[dict[str, Any]] | None = Field(
        default=None, max_length=1000,
        description='Rooms or areas in order: [{"name": "Hall A", "tables": 12}, ...]; their '
                    "tables must sum to n_tables.")
    booths: dict[str, int] | None = Field(
        default=None, max_length=1000,
        description="Participant profile id (its ref, or its database id as text) -> the table "
                    "it hosts at (all its meetings there); the other tables form the pool.")


@router.get("/event", summary="The roundtable's settings")
def get_event(request: Request, who: Principal = Depends(principal)) -> Response:
    _participant(who)
    with request.app.state.store.session() as s:
        se = store.load_event(s)
    out = se.event.model_dump(mode="json", include=set(store.SETTINGS_FIELDS))
    return json_response({"ok": True, "event": out, "published_run_id": se.published_run_id})


@router.put("/event", summary="Set the roundtable's settings (organisers)")
def put_event(request: Request, body: EventIn, who: Principal = Depends(principal)) -> Response:
    require(who, check=lambda p: p.is_staff, what="set up the event")
    with request.app.state.store.session() as s:
        try:
            ev = store.save_settings(s, body.model_dump(mode="json", exclude_unset=True))
        except (ValueError, SpecError) as exc:
            raise fail(422, _first_line(exc)) from None
        if ev.auto_accept:
            accepted = roundtable.accept_all_pending(store.load_event(s).event)
            for r in accepted.requests:
                s.execute(update(MeetingRequest).where(MeetingRequest.id == int(r.id),
                                                       MeetingRequest.status == "pending")
                          .values(status=r.status, decided_at=utcnow()))
        audit(s, "event.edit", actor=who.username, user_id=who.user_id, target="event",
              ip=client_ip(request))
        out = ev.model_dump(mode="json", include=set(store.SETTINGS_FIELDS))
    return json_response({"ok": True, "event": out})


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}"
    return str(exc).splitlines()[0]


@router.get("/capacity", summary="Capacity check and demand per participant (organisers)")
def capacity(request: Request, who: Principal = Depends(principal)) -> Response:
    require(who, check=lambda p: p.is_staff, what="read the capacity check")
    with request.app.state.store.session() as s:
        se = store.load_event(s)
    cap = roundtable.capacity_check(se.event)
    rows = [{"participant_id": se.db_id[d.participant], "name": d.name, "received": d.received,
             "sent": d.sent, "accepted": d.accepted, "slots": d.slots,
             "warnings": list(d.warnings)} for d in roundtable.demand(se.event)]
    return json_response({"ok": True, "feasible": cap.feasible, "meetings": cap.n_meetings,
                          "places": cap.places, "reasons": list(cap.reasons),
                          "advice": list(cap.advice), "drop": list(cap.drop), "demand": rows})


@router.post("/import", summary="Import participants from event JSON or CSV (organisers)")
async def import_participants(request: Request, who: Principal = Depends(principal)) -> Response:
    """The body is an event JSON file (``application/json``: settings, participants and
    requests) or a participants CSV (``text/csv``). Each participant gets an account and a
    one-time sign-in link (``signin_path``; send it by mail)."""
    require(who, check=lambda p: p.is_staff, what="import participants")
    raw = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    imported = import_bytes(request.app.state.store, raw, kind, who, client_ip(request))
    return json_response({"ok": True, "participants": imported}, status=201)


def import_bytes(app_store: Any, raw: bytes, kind: str, who: Principal, ip: str
                 ) -> list[dict[str, Any]]:
    """Import an event JSON or participants CSV body; the rows of the sign-in link export."""
    from critmin.errors import InputError
    from critmin.matchmaking.event import event_from_json

    try:
        if kind in ("text/csv", "application/csv"):
            text = raw.decode("utf-8-sig")
            event, profiles = None, store.profiles_from_csv(text)
        else:
            event = event_from_json(raw, "event.json")
            profiles = list(event.participants)
    except UnicodeDecodeError:
        raise fail(422, "participants CSV: not UTF-8 text") from None
    except InputError as exc:
        raise fail(422, str(exc)) from None
    with app_store.session() as s:
        try:
            done = store.import_participants(s, event, profiles)
        except store.Conflict as exc:
            raise fail(409, str(exc)) from None
        audit(s, "participants.import", actor=who.username, user_id=who.user_id,
              target="event", detail={"participants": len(done)}, ip=ip)
    return [{"ref": d.ref, "name": d.name, "username": d.username, "created": d.created,
             "signin_path": f"/signin/{d.token}"} for d in done]


class AgendaFmt(str, Enum):
    json = "json"
    ics = "ics"
    csv = "csv"
    html = "html"


def agenda_rows(store_: Any, pid: int) -> tuple[str | None, list[dict[str, Any]]]:
    """Participant ``pid``'s name and meetings in the published schedule (None when no such
    participant); shared by the agenda endpoints and the web agenda page."""
    with store_.session() as s:
        me = s.get(Participant, pid)
        if me is None:
            return None, []
        orgs = {p.id: p.organisation for p in s.scalars(select(Participant))}
        pub = store.published(s)
    if pub is None:
        return me.display_name, []
    event, entries, se = pub
    rows = [{"slot": r.slot, "table": r.table, "location": r.location, "start": r.start,
             "end": r.end,
             "with_id": se.db_id[r.counterpart_id], "with": r.counterpart_name,
             "organisation": orgs.get(se.db_id[r.counterpart_id], ""),
             "summary": r.counterpart_summary}
            for r in roundtable.agenda_rows(event, entries, se.profile_id[pid])]
    return me.display_name, rows


def agenda_file(store_: Any, pid: int, fmt: str) -> str:
    """Participant ``pid``'s published agenda in ``fmt`` (ics, csv or html) by the one writer,
    :mod:`critmin.matchmaking.agenda`; an empty agenda when nothing is published."""
    with store_.session() as s:
        pub = store.published(s)
        se = store.load_event(s) if pub is None else pub[2]
    event, entries = (pub[0], pub[1]) if pub is not None else (se.event, ())
    return agenda.WRITERS[fmt](event, entries, se.profile_id[pid])


def _agenda(request: Request, who: Principal, participant: int | None,
            fmt: AgendaFmt) -> Response:
    _participant(who)
    pid = participant if (who.is_staff and participant) else who.participant_id
    if participant and not who.is_staff and participant != who.participant_id:
        raise fail(403, "participants see only their own agenda")
    if pid is None:
        raise fail(404, "no profile: register one with PUT /api/v1/match/profile")
    name, rows = agenda_rows(request.app.state.store, pid)
    if name is None:
        raise fail(404, f"no participant {pid}")
    if fmt is AgendaFmt.json:
        return json_response({"ok": True, "participant": name, "meetings": rows})
    media = {AgendaFmt.csv: "text/csv; charset=utf-8",
             AgendaFmt.ics: "text/calendar; charset=utf-8",
             AgendaFmt.html: "text/html; charset=utf-8"}[fmt]
    return Response(agenda_file(request.app.state.store, pid, fmt.value), media_type=media,
                    headers={"Content-Disposition":
                             f'attachment; filename="agenda-{pid}.{fmt.value}"'})


Who = Annotated[int | None, Query(ge=1, le=2**62, description="Participant (organisers).")]


@router.get("/agenda.{fmt}", summary="My agenda as json, ics, csv or html")
def agenda_fmt(request: Request, fmt: AgendaFmt, participant: Who = None,
               who: Principal = Depends(principal)) -> Response:
    return _agenda(request, who, participant, fmt)


@router.get("/agenda", summary="My agenda")
def agenda_json(request: Request, participant: Who = None,
                who: Principal = Depends(principal)) -> Response:
    return _agenda(request, who, participant, AgendaFmt.json)


def agendas_zip_bytes(store_: Any) -> bytes | None:
    """Every agenda of the published schedule as a ZIP (None when nothing is published)."""
    with store_.session() as s:
        pub = store.published(s)
    if pub is None:
        return None
    return agenda.agendas_zip(pub[0], pub[1])


@router.get("/agendas.zip", summary="All agendas: ICS, CSV and printable HTML (organisers)")
def agendas_zip(request: Request, who: Principal = Depends(principal)) -> Response:
    require(who, check=lambda p: p.is_staff, what="export all agendas")
    data = agendas_zip_bytes(request.app.state.store)
    if data is None:
        raise fail(404, "no published schedule yet")
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="agendas.zip"'})

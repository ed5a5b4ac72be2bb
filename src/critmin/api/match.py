"""Matchmaking over HTTP: profiles, recommendations, meeting requests, the scheduler, agendas.

Who sees what:

- a participant edits its own profile; it reads the public fields of every profile and the
  private fields of its own only; it sees only the requests it sent or received and its own
  agenda; a request it is not party to answers 404 (its existence is not disclosed);
- organisers and admins see and edit everything and run the scheduler;
- analysts and anonymous callers have no access (403 / 401).

The scheduler is :func:`critmin.matchmaking.scheduler.solve_schedule` (SAT/MaxSAT) on the accepted
requests; recommendations and agenda rendering come from :mod:`critmin.matchmaking` when it
provides them (501 otherwise for recommendations).
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import uuid
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from critmin.api._core import client_ip, fail, json_response, principal, require
from critmin.auth import Principal
from critmin.storage import audit
from critmin.storage.models import Meeting, MeetingRequest, Participant, ScheduleRun, utcnow

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
    public: dict[str, Any] = Field(default_factory=dict)
    private: dict[str, Any] = Field(default_factory=dict)


class RequestIn(BaseModel):
    to: int = Field(ge=1, le=2**62, description="Participant id to meet.")
    message: str = Field(default="", max_length=2000)
    session: SessionPref = SessionPref.any


class ScheduleIn(BaseModel):
    n_tables: int = Field(ge=1, le=500)
    n_slots: int = Field(ge=1, le=100)
    n_morning_slots: int = Field(ge=0, le=100)
    start: dt.datetime = Field(description="Start of slot 1 (local time of the event).")
    slot_minutes: int = Field(default=20, ge=5, le=240)
    afternoon_start: dt.datetime | None = Field(
        default=None, description="Start of the first afternoon slot (default: straight on).")
    fairness: int | None = Field(default=2, ge=0, le=100)
    time_limit_s: float = Field(default=10.0, gt=0, le=120)


def _participant(who: Principal) -> Principal:
    require(who, check=lambda p: p.is_staff or p.role == "participant", what="matchmaking")
    return who


def profile_view(p: Participant, who: Principal) -> dict[str, Any]:
    """Participant ``p``'s profile as ``who`` may see it: the public fields for everyone, the
    private fields (and the user id) only for the participant itself and for staff."""
    out: dict[str, Any] = {"id": p.id, "display_name": p.display_name,
                           "organisation": p.organisation, "country": p.country,
                           "public": p.public, "updated_at": p.updated_at}
    if who.is_staff or (who.participant_id is not None and who.participant_id == p.id):
        out["private"] = p.private
        out["user_id"] = p.user_id
    return out


def _validate_profile(body: ProfileIn) -> None:
    """Check the profile with :mod:`critmin.matchmaking`'s validator when it has one."""
    try:
        from critmin.matchmaking import profiles as mm_profiles  # type: ignore[attr-defined]
    except ImportError:
        return
    check = getattr(mm_profiles, "validate_profile", None)
    if check is not None:
        check(body.model_dump())


@router.put("/profile", summary="Register or edit my profile (participants)")
def put_my_profile(request: Request, body: ProfileIn,
                   who: Principal = Depends(principal)) -> Response:
    require(who, check=lambda p: p.role == "participant", what="register a profile")
    _validate_profile(body)
    with request.app.state.store.session() as s:
        p = s.scalar(select(Participant).where(Participant.user_id == who.user_id))
        created = p is None
        if p is None:
            p = Participant(user_id=who.user_id, display_name=body.display_name)
            s.add(p)
        for k, v in body.model_dump().items():
            setattr(p, k, v)
        s.flush()
        audit(s, "profile.create" if created else "profile.edit", actor=who.username,
              user_id=who.user_id, target=f"participant:{p.id}", ip=client_ip(request))
        viewer = Principal(who.user_id, who.username, who.role, p.id, who.via)
        out = profile_view(p, viewer)
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
        for k, v in body.model_dump().items():
            setattr(p, k, v)
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


@router.get("/recommendations", summary="Who I should meet (from critmin.matchmaking)")
def recommendations(request: Request, who: Principal = Depends(principal),
                    limit: Annotated[int, Query(ge=1, le=100)] = 10,
                    participant: Annotated[int | None, Query(ge=1, le=2**62)] = None
                    ) -> Response:
    """Ranked partners for a participant (mine; organisers may ask for anyone's), computed by
    ``critmin.matchmaking.recommend`` on the public profile fields."""
    _participant(who)
    pid = participant if (who.is_staff and participant) else who.participant_id
    if pid is None:
        raise fail(404, "no profile: register one with PUT /api/v1/match/profile")
    from critmin.matchmaking.profiles import Profile
    from critmin.matchmaking.recommend import recommend

    with request.app.state.store.session() as s:
        people = list(s.scalars(select(Participant).order_by(Participant.id)))
        requested = {frozenset((str(r.from_id), str(r.to_id)))
                     for r in s.scalars(select(MeetingRequest))}
    if pid not in {p.id for p in people}:
        raise fail(404, f"no participant {pid}")
    fields = set(Profile.model_fields) - {"id", "name", "country_iso3", "contact_email",
                                          "unavailable_slots", "visibility"}
    profiles = []
    for p in people:  # public fields only: recommendations never read private ones
        try:
            profiles.append(Profile(id=str(p.id), name=p.display_name,
                                    country_iso3=p.country or "XXX",
                                    **{k: v for k, v in p.public.items() if k in fields}))
        except ValueError:
            continue  # a profile the recommender cannot read is left out
    if str(pid) not in {p.id for p in profiles}:
        raise fail(422, "your public profile lacks what recommendations need (country, roles, "
                   "offers, needs)")
    recs = recommend(profiles, participant=str(pid), top_k=limit, exclude_pairs=requested)
    names = {str(p.id): p.display_name for p in people}
    rows = [{"participant_id": int(r.target), "display_name": names.get(r.target),
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
    require(who, check=lambda p: p.role == "participant", what="send meeting requests")
    if who.participant_id is None:
        raise fail(409, "register your profile first (PUT /api/v1/match/profile)")
    if body.to == who.participant_id:
        raise fail(422, "to: cannot request a meeting with yourself")
    with request.app.state.store.session() as s:
        if s.get(Participant, body.to) is None:
            raise fail(404, f"no participant {body.to}")
        dup = s.scalar(select(MeetingRequest).where(or_(
            (MeetingRequest.from_id == who.participant_id) & (MeetingRequest.to_id == body.to),
            (MeetingRequest.from_id == body.to) & (MeetingRequest.to_id == who.participant_id))))
        if dup is not None:
            raise fail(409, f"a request between you exists already (id {dup.id})")
        r = MeetingRequest(from_id=who.participant_id, to_id=body.to, message=body.message,
                           session=body.session.value, status="pending")
        s.add(r)
        s.flush()
        audit(s, "request.send", actor=who.username, user_id=who.user_id,
              target=f"request:{r.id}", ip=client_ip(request))
        out = _request_json(r)
    return json_response({"ok": True, "request": out}, status=201)


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
        r = _visible_request(s, who, request_id)
        if not who.is_staff and who.participant_id != r.to_id:
            raise fail(403, "only the participant asked may accept or decline")
        if r.status != "pending":
            raise fail(409, f"request {request_id} is {r.status} already")
        r.status, r.decided_at = status, utcnow()
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


@router.post("/schedule", summary="Schedule the accepted meetings (organisers)")
def schedule(request: Request, body: ScheduleIn, who: Principal = Depends(principal)) -> Response:
    """Build the B2B instance from the accepted requests, minimise breaks (SAT/MaxSAT portfolio,
    :func:`critmin.matchmaking.scheduler.solve_schedule`) and store the meetings (replacing the
    previous run's)."""
    require(who, check=lambda p: p.is_staff, what="run the scheduler")
    if body.n_morning_slots > body.n_slots:
        raise fail(422, "n_morning_slots: must not exceed n_slots")
    from critmin.matchmaking.instance import B2BInstance
    from critmin.matchmaking.instance import Meeting as MM
    from critmin.matchmaking.instance import Session as MS
    from critmin.matchmaking.scheduler import solve_schedule as solve

    sess = {"any": MS.ANY, "morning": MS.MORNING, "afternoon": MS.AFTERNOON}
    with request.app.state.store.session() as s:
        accepted = list(s.scalars(select(MeetingRequest).where(
            MeetingRequest.status == "accepted").order_by(MeetingRequest.id)))
        people = sorted({r.from_id for r in accepted} | {r.to_id for r in accepted})
        index = {pid: i + 1 for i, pid in enumerate(people)}
        names = {p.id: p.display_name for p in s.scalars(
            select(Participant).where(Participant.id.in_(people)))} if people else {}
    run_id = uuid.uuid4().hex[:16]
    if accepted:
        inst = B2BInstance(len(people), body.n_tables, body.n_slots, body.n_morning_slots,
                           tuple(MM(index[r.from_id], index[r.to_id], sess[r.session])
                                 for r in accepted),
                           names=tuple(names.get(p, f"#{p}") for p in people))
        from critmin.matchmaking.instance import validate_instance

        validate_instance(inst)
        res = solve(inst, fairness=body.fairness, time_limit_s=body.time_limit_s)
        status, total, bound, assignments = (res.status, res.total_breaks, res.lower_bound,
                                             list(res.schedule))
    else:
        status, total, bound, assignments = "OPTIMAL", 0, 0, []
    with request.app.state.store.session() as s:
        s.execute(delete(Meeting))
        for a in assignments:
            s.add(Meeting(request_id=accepted[a.meeting - 1].id, slot=a.slot, table_no=a.table,
                          run_id=run_id))
        s.add(ScheduleRun(run_id=run_id, status=status, total_breaks=total, lower_bound=bound,
                          n_tables=body.n_tables, n_slots=body.n_slots,
                          n_morning_slots=body.n_morning_slots, start=body.start,
                          slot_minutes=body.slot_minutes, afternoon_start=body.afternoon_start,
                          user_id=who.user_id))
        audit(s, "schedule.run", actor=who.username, user_id=who.user_id, target=f"run:{run_id}",
              detail={"status": status, "meetings": len(assignments)}, ip=client_ip(request))
    return json_response({"ok": True, "run_id": run_id, "status": status, "total_breaks": total,
                          "lower_bound": bound, "meetings": len(assignments),
                          "unscheduled": len(accepted) - len(assignments)})


class AgendaFmt(str, Enum):
    json = "json"
    ics = "ics"
    csv = "csv"
    html = "html"


def slot_start(run: ScheduleRun, slot: int) -> dt.datetime:
    """When ``slot`` (1-based) of scheduler run ``run`` starts (the afternoon slots from
    ``afternoon_start`` when the run has one)."""
    step = dt.timedelta(minutes=run.slot_minutes)
    if slot > run.n_morning_slots and run.afternoon_start is not None:
        return run.afternoon_start + step * (slot - run.n_morning_slots - 1)
    return run.start + step * (slot - 1)


def agenda_rows(store: Any, pid: int) -> tuple[str | None, list[dict[str, Any]]]:
    """Participant ``pid``'s name and meetings in the last scheduler run (None when no such
    participant); shared by the agenda endpoints and the web agenda page."""
    with store.session() as s:
        me = s.get(Participant, pid)
        if me is None:
            return None, []
        run = s.scalar(select(ScheduleRun).order_by(ScheduleRun.id.desc()).limit(1))
        rows = []
        if run is not None:
            q = (select(Meeting, MeetingRequest).join(MeetingRequest,
                                                     Meeting.request_id == MeetingRequest.id)
                 .where(or_(MeetingRequest.from_id == pid, MeetingRequest.to_id == pid))
                 .order_by(Meeting.slot))
            for m, r in s.execute(q).all():
                other_id = r.to_id if r.from_id == pid else r.from_id
                other = s.get(Participant, other_id)
                start = slot_start(run, m.slot)
                rows.append({"slot": m.slot, "table": m.table_no, "start": start,
                             "end": start + dt.timedelta(minutes=run.slot_minutes),
                             "with_id": other_id,
                             "with": other.display_name if other else f"#{other_id}",
                             "organisation": other.organisation if other else ""})
        return me.display_name, rows


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
    return render_agenda(name, rows, fmt)


def render_agenda(name: str, rows: list[dict[str, Any]], fmt: AgendaFmt) -> Response:
    """An agenda as JSON, iCalendar, CSV or HTML (:mod:`critmin.matchmaking`'s renderer when
    it has one)."""
    try:
        from critmin.matchmaking import agenda as mm_agenda  # type: ignore[attr-defined]
    except ImportError:
        mm_agenda = None
    if fmt is AgendaFmt.json:
        return json_response({"ok": True, "participant": name, "meetings": rows})
    fn = getattr(mm_agenda, f"to_{fmt.value}", None) if mm_agenda else None
    if fn is not None:
        body = fn(name, rows)
    elif fmt is AgendaFmt.csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, ["slot", "table", "start", "end", "with_id", "with",
                                 "organisation"])
        w.writeheader()
        for r in rows:
            w.writerow({**r, "start": r["start"].isoformat(), "end": r["end"].isoformat()})
        body = buf.getvalue()
    elif fmt is AgendaFmt.ics:
        body = _ics(name, rows)
    else:
        items = "".join(
            f"<tr><td>{r['start']:%H:%M}</td><td>{r['table']}</td>"
            f"<td>{html.escape(r['with'])}</td><td>{html.escape(r['organisation'])}</td></tr>"
            for r in rows)
        body = (f"<!doctype html><html><head><meta charset='utf-8'><title>Agenda: "
                f"{html.escape(name)}</title></head><body><h1>Agenda: {html.escape(name)}</h1>"
                f"<table><tr><th>time</th><th>table</th><th>with</th><th>organisation</th></tr>"
                f"{items}</table></body></html>")
    media = {AgendaFmt.csv: "text/csv; charset=utf-8", AgendaFmt.ics: "text/calendar; "
             "charset=utf-8", AgendaFmt.html: "text/html; charset=utf-8"}[fmt]
    return Response(body, media_type=media)


def _ics(name: str, rows: list[dict[str, Any]]) -> str:
    def esc(v: str) -> str:
        return (v.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
                .replace("\n", "\\n"))

    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//critmin//matchmaking//EN",
             f"X-WR-CALNAME:{esc('Agenda: ' + name)}"]
    for r in rows:
        lines += ["BEGIN:VEVENT", f"UID:critmin-{r['slot']}-{r['table']}-{r['with_id']}@critmin",
                  f"DTSTAMP:{stamp}", f"DTSTART:{r['start']:%Y%m%dT%H%M%S}",
                  f"DTEND:{r['end']:%Y%m%dT%H%M%S}",
                  f"SUMMARY:{esc('Meeting with ' + r['with'])}",
                  f"LOCATION:{esc('Table ' + str(r['table']))}", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


Who = Annotated[int | None, Query(ge=1, le=2**62, description="Participant (organisers).")]


@router.get("/agenda.{fmt}", summary="My agenda as json, ics, csv or html")
def agenda_fmt(request: Request, fmt: AgendaFmt, participant: Who = None,
               who: Principal = Depends(principal)) -> Response:
    return _agenda(request, who, participant, fmt)


@router.get("/agenda", summary="My agenda")
def agenda(request: Request, participant: Who = None,
           who: Principal = Depends(principal)) -> Response:
    return _agenda(request, who, participant, AgendaFmt.json)

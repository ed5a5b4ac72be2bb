"""The roundtable pages: the organiser's and the participants' flow in the browser.

Participants sign in with a one-time link, edit their profile in a form, see recommendations with
their reasons, request, accept or decline with one click, and read and download their published
agenda. Organisers set up the event, import participants (event JSON or CSV; each gets an account
and a one-time sign-in link, exported as CSV), watch demand and capacity warnings, run the
scheduler with a time limit (the page follows the run), publish, and export every agenda as a ZIP.

Every rule is the roundtable core's (:mod:`critmin.matchmaking.roundtable`) through the SQL
adapter (:mod:`critmin.matchmaking.store`); forms post with htmx, which sends the session's CSRF
token in ``X-CSRF-Token``; no inline script (the page script is ``/static/roundtable.js``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import or_, select

from critmin import auth
from critmin.api._core import SESSION_COOKIE, client_ip, principal
from critmin.auth import Principal
from critmin.errors import SpecError
from critmin.matchmaking import roundtable as core
from critmin.matchmaking import store
from critmin.matchmaking.profiles import VISIBLE_FIELDS, OrgKind, Role
from critmin.storage import audit
from critmin.storage.models import MeetingRequest, Participant, ScheduleRun

Who = Annotated[Principal, Depends(principal)]
MAX_UPLOAD = 20_000_000
EDITABLE = ("kind", "roles", "minerals", "offers", "needs", "description", "contact_email",
            "sessions", "unavailable_slots")


def show(value: Any) -> str:
    """A profile value as text: lists joined, offers/needs as ``mineral (stage): text``.

    >>> show([{"mineral": "lithium", "stage": "refining", "text": "LiOH"}, "x"])
    'lithium (refining): LiOH; x'
    """
    if isinstance(value, list):
        return "; ".join(show(v) for v in value)
    if isinstance(value, dict):
        if "mineral" in value:
            out = str(value["mineral"])
            if value.get("stage"):
                out += f" ({value['stage']})"
            if value.get("text"):
                out += f": {value['text']}"
            return out
        return "; ".join(f"{k}: {show(v)}" for k, v in value.items())
    return "–" if value is None or value == "" else str(value)


def _render(request: Request, template: str, who: Principal, status: int = 200,
            **ctx: Any) -> HTMLResponse:
    from critmin.web.pages import render, templates

    templates().env.globals.setdefault("show", show)
    return render(request, template, who, status=status, **ctx)


def _fragment(request: Request, who: Principal, kind: str, message: str,
              status: int = 200) -> HTMLResponse:
    """A message fragment; htmx requests get it with 200 (htmx swaps only 2xx answers), others
    with ``status``."""
    if request.headers.get("HX-Request") == "true":
        status = 200
    return _render(request, "_message.html", who, status=status, kind=kind, message=message)


def gate(request: Request, who: Principal, *, staff: bool = False) -> Response | None:
    """Sign-in and role check of every roundtable page (None = allowed)."""
    from critmin.web.pages import error_page

    if who.user_id is None:
        return RedirectResponse(f"/login?next={quote(str(request.url.path))}", status_code=303)
    if not (who.is_staff or who.role == "participant"):
        return error_page(request, who, 403, f"role {who.role!r} has no access to the "
                          "roundtable (participants and organisers only)")
    if staff and not who.is_staff:
        return error_page(request, who, 403, "this page is for organisers")
    return None


def _view(p: Participant, who: Principal) -> dict[str, Any]:
    from critmin.api.match import profile_view

    return profile_view(p, who)


def _signin_routes(r: APIRouter) -> None:
    """Sign-in by one-time link: the form and the post that opens a session."""

    @r.get("/signin/{token}", response_class=HTMLResponse)
    def signin_form(request: Request, who: Who, token: str) -> Response:
        return _render(request, "roundtable/signin.html", who, title="Sign in",
                       token=token[:100], error=None)

    @r.post("/signin", response_class=HTMLResponse)
    def signin(request: Request, token: Annotated[str, Form(max_length=100)]) -> Response:
        with request.app.state.store.session() as s:
            try:
                user, cookie, _csrf = store.use_signin_link(s, token, auth.SESSION_TTL)
            except store.Conflict as exc:
                msg = str(exc)
                user = None
            if user is not None:
                audit(s, "login.link", actor=user.username, user_id=user.id,
                      target=f"user:{user.id}", ip=client_ip(request))
        if user is None:
            return _render(request, "roundtable/signin.html", Principal(), status=401,
                           title="Sign in", token=token, error=msg)
        resp = RedirectResponse("/roundtable/me", status_code=303)
        resp.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https",
                        max_age=int(auth.SESSION_TTL.total_seconds()))
        return resp


def _profile_routes(r: APIRouter) -> None:
    """The profiles list, one profile, and my profile form."""

    @r.get("/roundtable", response_class=HTMLResponse)
    def profiles(request: Request, who: Who) -> Response:
        if (denied := gate(request, who)) is not None:
            return denied
        with request.app.state.store.session() as s:
            rows = [_view(p, who) for p in s.scalars(select(Participant)
                                                      .order_by(Participant.id))]
            ev = store.load_event(s).event
        for row in rows:
            row["all"] = {**row["public"], **row.get("private", {})}
        return _render(request, "roundtable/profiles.html", who, title="Roundtable",
                       profiles=rows, event=ev)

    @r.get("/roundtable/profiles/{participant_id}", response_class=HTMLResponse)
    def profile(request: Request, who: Who, participant_id: int) -> Response:
        from critmin.web.pages import error_page

        if (denied := gate(request, who)) is not None:
            return denied
        with request.app.state.store.session() as s:
            p = s.get(Participant, participant_id)
            row = _view(p, who) if p is not None else None
        if row is None:
            return error_page(request, who, 404, f"no participant {participant_id}")
        return _render(request, "roundtable/profile.html", who, title=row["display_name"],
                       p=row)

    @r.get("/roundtable/me", response_class=HTMLResponse)
    def me(request: Request, who: Who) -> Response:
        if (denied := gate(request, who)) is not None:
            return denied
        if who.role != "participant":
            return _render(request, "roundtable/me.html", who, title="My profile", p=None,
                           form=None, roles=list(Role), kinds=list(OrgKind),
                           fields=VISIBLE_FIELDS)
        with request.app.state.store.session() as s:
            p = s.scalar(select(Participant).where(Participant.user_id == who.user_id))
            form = _form_of(p)
        return _render(request, "roundtable/me.html", who, title="My profile", p=p, form=form,
                       roles=list(Role), kinds=list(OrgKind), fields=VISIBLE_FIELDS)

    @r.post("/roundtable/me", response_class=HTMLResponse)
    async def save_me(request: Request, who: Who) -> Response:
        if who.role != "participant" or who.user_id is None:
            return _fragment(request, who, "error", "only participants edit a profile", 403)
        form = await request.form()
        try:
            fields = _fields_of(form)
            with request.app.state.store.session() as s:
                p, created = store.save_own_profile(s, who.user_id, fields)
                audit(s, "profile.create" if created else "profile.edit", actor=who.username,
                      user_id=who.user_id, target=f"participant:{p.id}",
                      ip=client_ip(request))
        except (ValueError, SpecError) as exc:
            return _fragment(request, who, "error", str(exc), 422)
        return _fragment(request, who, "ok", "Profile saved." if not created else
                         "Profile created: see your recommendations.")


def _request_routes(r: APIRouter) -> None:
    """Recommendations with a request button; requests with accept and decline."""

    @r.get("/roundtable/recommendations", response_class=HTMLResponse)
    def recommendations(request: Request, who: Who) -> Response:
        if (denied := gate(request, who)) is not None:
            return denied
        rows: list[dict[str, Any]] = []
        note = None
        if who.participant_id is None:
            note = "Register your profile to get recommendations."
        else:
            with request.app.state.store.session() as s:
                se = store.load_event(s)
                orgs = {p.id: p.organisation for p in s.scalars(select(Participant))}
            for rec in core.recommend_for(se.event, se.profile_id[who.participant_id],
                                          top_k=10):
                db = se.db_id[rec.target]
                rows.append({"id": db, "name": se.event.profile(rec.target).name,
                             "organisation": orgs.get(db, ""), "score": f"{rec.score:.2f}",
                             "reasons": list(rec.reasons)})
            if not rows:
                note = "No recommendation: complete your offers and needs, or you have " \
                       "requested everyone who fits."
        return _render(request, "roundtable/recommendations.html", who,
                       title="Recommendations", rows=rows, note=note)

    @r.post("/roundtable/request", response_class=HTMLResponse)
    def request_meeting(request: Request, who: Who,
                        to: Annotated[int, Form(ge=1, le=2**62)]) -> Response:
        if who.role != "participant" or who.participant_id is None:
            return _fragment(request, who, "error", "register your profile first", 409)
        from critmin.api.match import _event_now

        with request.app.state.store.session() as s:
            if s.get(Participant, to) is None:
                return _fragment(request, who, "error", f"no participant {to}", 404)
            try:
                row = store.add_request(s, who.participant_id, to, now=_event_now(s))
            except store.Conflict as exc:
                return _fragment(request, who, "error", str(exc), 409)
            except SpecError as exc:
                return _fragment(request, who, "error", str(exc), 422)
            audit(s, "request.send", actor=who.username, user_id=who.user_id,
                  target=f"request:{row.id}", ip=client_ip(request))
            status = row.status
        return _fragment(request, who, "ok", f"Requested ({status}).")

    @r.get("/roundtable/requests", response_class=HTMLResponse)
    def requests_page(request: Request, who: Who) -> Response:
        if (denied := gate(request, who)) is not None:
            return denied
        with request.app.state.store.session() as s:
            rows = _request_rows(s, who)
        return _render(request, "roundtable/requests.html", who, title="Meeting requests",
                       rows=rows)

    @r.post("/roundtable/requests/{request_id}/{answer}", response_class=HTMLResponse)
    def answer(request: Request, who: Who, request_id: int, answer: str) -> Response:
        if answer not in ("accept", "decline") or gate(request, who) is not None:
            return _fragment(request, who, "error", "not allowed", 403)
        with request.app.state.store.session() as s:
            req = s.get(MeetingRequest, request_id)
            if req is None or not (who.is_staff or who.participant_id in (req.from_id,
                                                                           req.to_id)):
                return _fragment(request, who, "error", f"no request {request_id}", 404)
            try:
                store.respond(s, request_id, accept=answer == "accept",
                              by_db=None if who.is_staff else who.participant_id)
            except PermissionError as exc:
                return _fragment(request, who, "error", str(exc), 403)
            except store.Conflict as exc:
                return _fragment(request, who, "error", str(exc), 409)
            audit(s, f"request.{answer}", actor=who.username, user_id=who.user_id,
                  target=f"request:{request_id}", ip=client_ip(request))
            row = next(x for x in _request_rows(s, who) if x["id"] == request_id)
        return _render(request, "roundtable/_request_row.html", who, r=row)


def _agenda_routes(r: APIRouter) -> None:
    """My agenda and the organiser's schedule grid."""

    @r.get("/roundtable/agenda", response_class=HTMLResponse)
    def agenda(request: Request, who: Who,
               participant: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> Response:
        from critmin.api.match import agenda_rows
        from critmin.web.pages import error_page

        if (denied := gate(request, who)) is not None:
            return denied
        if participant and not who.is_staff and participant != who.participant_id:
            return error_page(request, who, 403, "participants see only their own agenda")
        pid = participant if (who.is_staff and participant) else who.participant_id
        if pid is None:
            return _render(request, "roundtable/agenda.html", who, title="My agenda",
                           name=None, rows=[], pid=None)
        name, rows = agenda_rows(request.app.state.store, pid)
        return _render(request, "roundtable/agenda.html", who, title="My agenda", name=name,
                       rows=rows, pid=pid)

    @r.get("/roundtable/schedule", response_class=HTMLResponse)
    def schedule(request: Request, who: Who) -> Response:
        if (denied := gate(request, who, staff=True)) is not None:
            return denied
        with request.app.state.store.session() as s:
            pub = store.published(s)
            run = None
            if pub is not None:
                run = s.scalar(select(ScheduleRun).where(
                    ScheduleRun.run_id == pub[2].published_run_id))
        grid: dict[tuple[int, int], tuple[str, str]] = {}
        times: list[str] = []
        event = pub[0] if pub else None
        if pub is not None:
            event, entries, _se = pub
            reqs = core.accepted_requests(event)
            for e in entries:
                q = reqs[e.meeting - 1]
                grid[(e.slot, e.table)] = (event.profile(q.requester).name,
                                           event.profile(q.target).name)
            times = [f"{core.slot_times(event, k)[0]:%H:%M}"
                     for k in range(1, event.n_slots + 1)]
        booth_names = ({t: event.profile(p).name for p, t in event.booths.items()}
                       if event is not None else {})
        return _render(request, "roundtable/schedule.html", who, title="Schedule", run=run,
                       event=event, grid=grid, times=times, booth_names=booth_names)


def _organise_routes(r: APIRouter) -> None:
    """The organiser's page: event settings and import."""

    @r.get("/roundtable/organise", response_class=HTMLResponse)
    def organise(request: Request, who: Who) -> Response:
        if (denied := gate(request, who, staff=True)) is not None:
            return denied
        with request.app.state.store.session() as s:
            se = store.load_event(s)
            runs = list(s.scalars(select(ScheduleRun).order_by(ScheduleRun.id.desc())
                                  .limit(10)))
        cap = core.capacity_check(se.event)
        rows = core.demand(se.event)
        return _render(request, "roundtable/organise.html", who, title="Organise",
                       event=se.event, published=se.published_run_id, cap=cap, demand=rows,
                       db_id=se.db_id, runs=runs,
                       zero=sum(d.accepted == 0 for d in rows),
                       one=sum(d.accepted == 1 for d in rows))

    @r.post("/roundtable/organise/event", response_class=HTMLResponse)
    async def save_event(request: Request, who: Who) -> Response:
        if not who.is_staff:
            return _fragment(request, who, "error", "organisers only", 403)
        form = await request.form()
        try:
            settings = _settings_of(form)
            with request.app.state.store.session() as s:
                store.save_settings(s, settings)
                if settings.get("auto_accept"):
                    ev = core.accept_all_pending(store.load_event(s).event)
                    for q in ev.requests:
                        if q.status == "accepted":
                            row = s.get(MeetingRequest, int(q.id))
                            if row is not None and row.status == "pending":
                                store.respond(s, row.id, accept=True, by_db=None)
                audit(s, "event.edit", actor=who.username, user_id=who.user_id,
                      target="event", ip=client_ip(request))
        except (ValueError, SpecError) as exc:
            from critmin.api.match import _first_line

            return _fragment(request, who, "error", _first_line(exc), 422)
        return _fragment(request, who, "ok", "Event saved.")

    @r.post("/roundtable/organise/import", response_class=HTMLResponse)
    async def import_file(request: Request, who: Who,
                          file: Annotated[UploadFile, File()]) -> Response:
        if not who.is_staff:
            return _fragment(request, who, "error", "organisers only", 403)
        from fastapi import HTTPException

        from critmin.api.match import import_bytes

        raw = await file.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            return _fragment(request, who, "error", f"file over {MAX_UPLOAD} bytes", 413)
        name = (file.filename or "").lower()
        kind = "text/csv" if name.endswith(".csv") else "application/json"
        try:
            rows = import_bytes(request.app.state.store, raw, kind, who, client_ip(request))
        except HTTPException as exc:
            return _fragment(request, who, "error", str(exc.detail), exc.status_code)
        base = str(request.base_url).rstrip("/")
        return _render(request, "roundtable/_imported.html", who, rows=rows, base=base)


def _run_routes(r: APIRouter) -> None:
    """Scheduler runs (started in a thread, followed by polling), publishing, the ZIP export."""

    @r.post("/roundtable/organise/run", response_class=HTMLResponse)
    def start_run(request: Request, who: Who,
                  time_limit_s: Annotated[float, Form(gt=0, le=600)] = 30.0) -> Response:
        if not who.is_staff:
            return _fragment(request, who, "error", "organisers only", 403)
        from critmin.api.match import begin_run, start_background_run

        app_store = request.app.state.store
        run_id, event = begin_run(app_store, who.user_id)
        start_background_run(app_store, run_id, event, time_limit_s=time_limit_s, publish=False)
        return _render(request, "roundtable/_run.html", who, run=None, run_id=run_id,
                       pending=True, limit=time_limit_s, elapsed=0.0, published=None,
                       can_publish=False, published_total=None)

    @r.get("/roundtable/organise/run/{run_id}", response_class=HTMLResponse)
    def run_status(request: Request, who: Who, run_id: str,
                   limit: Annotated[float, Query(gt=0, le=600)] = 30.0) -> Response:
        if not who.is_staff:
            return _fragment(request, who, "error", "organisers only", 403)
        with request.app.state.store.session() as s:
            run = s.scalar(select(ScheduleRun).where(ScheduleRun.run_id == run_id[:40]))
            se = store.load_event(s)
            new = store.run_outcome(s, run_id[:40]) if run is not None else None
            old = (store.run_outcome(s, se.published_run_id)
                   if se.published_run_id else None)
        end = (run.finished_at if run is not None and run.finished_at else
               dt.datetime.now(dt.UTC).replace(tzinfo=None))
        elapsed = (end - run.created_at).total_seconds() if run is not None else 0.0
        pending = run is None or run.status == "RUNNING"
        return _render(request, "roundtable/_run.html", who, run=run, run_id=run_id,
                       pending=pending, limit=limit, elapsed=elapsed,
                       published=se.published_run_id,
                       can_publish=bool(new and core.replaces(new, old)),
                       published_total=old.total_breaks if old else None)

    @r.post("/roundtable/organise/publish/{run_id}", response_class=HTMLResponse)
    def publish(request: Request, who: Who, run_id: str) -> Response:
        if not who.is_staff:
            return _fragment(request, who, "error", "organisers only", 403)
        with request.app.state.store.session() as s:
            done = store.publish_run(s, run_id[:40], force=False)
            if done:
                audit(s, "schedule.publish", actor=who.username, user_id=who.user_id,
                      target=f"run:{run_id}", ip=client_ip(request))
        if not done:
            return _fragment(request, who, "note", "Not published: this run is not better "
                             "than the published schedule (or has no complete schedule).", 409)
        return _fragment(request, who, "ok", "Published: participants now see their agendas.")

    @r.get("/roundtable/organise/agendas.zip")
    def agendas_zip(request: Request, who: Who) -> Response:
        from critmin.api.match import agendas_zip_bytes
        from critmin.web.pages import error_page

        if (denied := gate(request, who, staff=True)) is not None:
            return denied
        data = agendas_zip_bytes(request.app.state.store)
        if data is None:
            return error_page(request, who, 404, "no published schedule yet")
        return Response(data, media_type="application/zip",
                        headers={"Content-Disposition": 'attachment; filename="agendas.zip"'})


def build_roundtable_router() -> APIRouter:
    """The roundtable pages: one function per page or route group adds its routes."""
    r = APIRouter(include_in_schema=False)
    for add in (_signin_routes, _profile_routes, _request_routes, _agenda_routes,
                _organise_routes, _run_routes):
        add(r)
    return r


def _request_rows(s: Any, who: Principal) -> list[dict[str, Any]]:
    q = select(MeetingRequest).order_by(MeetingRequest.id)
    if not who.is_staff:
        me = who.participant_id if who.participant_id is not None else -1
        q = q.where(or_(MeetingRequest.from_id == me, MeetingRequest.to_id == me))
    names = {p.id: p.display_name for p in s.scalars(select(Participant))}
    return [{"id": x.id, "from": names.get(x.from_id, f"#{x.from_id}"),
             "to": names.get(x.to_id, f"#{x.to_id}"), "to_id": x.to_id,
             "session": x.session, "status": x.status, "message": x.message,
             "can_answer": x.status == "pending" and (who.is_staff
                                                      or who.participant_id == x.to_id)}
            for x in s.scalars(q)]


def _items_text(items: list[dict[str, Any]] | None) -> str:
    lines = []
    for it in items or []:
        line = str(it.get("mineral", ""))
        if it.get("stage"):
            line += f" / {it['stage']}"
        if it.get("text"):
            line += f" : {it['text']}"
        lines.append(line)
    return "\n".join(lines)


def _parse_items(text: str) -> list[dict[str, Any]]:
    """``mineral [/ stage] [: text]`` per line."""
    out = []
    for line in text.splitlines()[:60]:
        if not line.strip():
            continue
        head, _, note = line.partition(":")
        mineral, _, stage = head.partition("/")
        out.append({"mineral": mineral.strip(), "stage": stage.strip() or None,
                    "text": note.strip()})
    return out


def _form_of(p: Participant | None) -> dict[str, Any]:
    """The form's values and each field's visibility for participant ``p``."""
    if p is None:
        return {"display_name": "", "organisation": "", "country": "", "vis": {},
                "sessions": ["morning", "afternoon"]}
    merged = {**(p.private or {}), **(p.public or {})}
    vis = {k: ("public" if k in (p.public or {}) else "organiser") for k in merged}
    return {"display_name": p.display_name, "organisation": p.organisation,
            "country": p.country or "", "kind": merged.get("kind", "company"),
            "roles": merged.get("roles", []), "minerals": ", ".join(merged.get("minerals", [])),
            "offers": _items_text(merged.get("offers")), "needs": _items_text(merged.get("needs")),
            "description": merged.get("description", ""),
            "contact_email": merged.get("contact_email") or "",
            "sessions": merged.get("sessions", ["morning", "afternoon"]),
            "unavailable_slots": ", ".join(str(x) for x in merged.get("unavailable_slots", [])),
            "vis": vis, "extra": {k: v for k, v in merged.items() if k not in VISIBLE_FIELDS}}


def _fields_of(form: Any) -> dict[str, Any]:
    """The profile fields of a submitted form, split public/private by the chosen visibility."""
    def text(name: str, limit: int = 5000) -> str:
        v = form.get(name) or ""
        if not isinstance(v, str) or len(v) > limit:
            raise ValueError(f"{name}: at most {limit} characters")
        return v.strip()

    values: dict[str, Any] = {
        "kind": text("kind", 20) or "company",
        "roles": [str(x) for x in form.getlist("roles")][:20],
        "minerals": [m.strip() for m in text("minerals", 3000).split(",") if m.strip()],
        "offers": _parse_items(text("offers")),
        "needs": _parse_items(text("needs")),
        "description": text("description", 4000),
        "contact_email": text("contact_email", 254) or None,
        "sessions": [str(x) for x in form.getlist("sessions")][:2],
    }
    slots = text("unavailable_slots", 1000)
    try:
        values["unavailable_slots"] = [int(x) for x in slots.replace(";", ",").split(",")
                                       if x.strip()]
    except ValueError:
        raise ValueError("unavailable_slots: slot numbers separated by commas") from None
    public: dict[str, Any] = {}
    private: dict[str, Any] = {}
    defaults = {"contact_email": "organiser", "unavailable_slots": "organiser"}
    for k, v in values.items():
        vis = text(f"vis_{k}", 20) or defaults.get(k, "public")
        if v in (None, "", []) and k not in ("sessions",):
            continue
        (public if vis == "public" else private)[k] = v
    country = text("country", 3).upper() or None
    return {"display_name": text("display_name", 200), "organisation": text("organisation", 200),
            "country": country, "public": public, "private": private}


def _settings_of(form: Any) -> dict[str, Any]:
    """Event settings from the organiser's form (validated by the event model)."""
    def get(name: str) -> str:
        v = form.get(name) or ""
        if not isinstance(v, str) or len(v) > 300:
            raise ValueError(f"{name}: at most 300 characters")
        return v.strip()

    def num(name: str) -> int:
        try:
            return int(get(name))
        except ValueError:
            raise ValueError(f"{name}: a whole number") from None

    def pairs(name: str) -> list[tuple[str, int]]:
        """``key: number; key: number`` (also one per line)."""
        v = form.get(name) or ""
        if not isinstance(v, str) or len(v) > 3000:
            raise ValueError(f"{name}: at most 3000 characters")
        out = []
        for item in v.replace("\n", ";").split(";"):
            if not item.strip():
                continue
            key, sep, value = item.rpartition(":")
            if not sep or not key.strip() or not value.strip().isdigit():
                raise ValueError(f"{name}: {item.strip()!r} is not 'name: number'")
            out.append((key.strip(), int(value)))
        return out

    deadline = get("request_deadline")
    fairness = get("fairness")
    locations = [{"name": k, "tables": n} for k, n in pairs("locations")]
    booths = dict(pairs("booths"))
    return {
        "name": get("name"), "date": get("date"), "timezone": get("timezone") or "UTC",
        "venue": get("venue"), "slot_minutes": num("slot_minutes"),
        "n_tables": sum(x["tables"] for x in locations) if locations else num("n_tables"),
        "locations": locations, "booths": booths,
        "morning": {"start": get("morning_start"), "slots": num("morning_slots")},
        "afternoon": {"start": get("afternoon_start"), "slots": num("afternoon_slots")},
        "partner_countries": [c.strip().upper() for c in get("partner_countries").split(",")
                              if c.strip()],
        "auto_accept": get("auto_accept") == "on",
        "request_deadline": deadline or None,
        "fairness": int(fairness) if fairness.isdigit() else None,
    }

"""The watch pages: ``/watch`` (a user's rules, inbox, channels and feed) and ``/whats-new``
(what the last atlas build changed). Thin: each route calls :mod:`critmin.watch`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from critmin.auth import Principal
from critmin.errors import CritminError
from critmin.web.pages import Who, render

Stage = Annotated[str, Form(max_length=10)]


def _panel(request: Request, who: Principal, *, message: str | None = None,
           kind: str = "note", token: str | None = None, partial: bool = True) -> HTMLResponse:
    from critmin.watch import delivery, watchlists
    from critmin.watch.rules import EVENTS, INDICATORS

    ctx: dict[str, Any] = {"message": message, "kind": kind, "token": token,
                           "indicators": INDICATORS, "events": EVENTS}
    if who.user_id is not None:
        with request.app.state.store.session() as s:
            ctx["rules"] = [watchlists.rule_dict(r) for r in watchlists.list_rules(s, who.user_id)]
            ctx["alerts"] = [delivery.alert_payload(a)
                             for a in watchlists.list_alerts(s, who.user_id, limit=100)]
            ctx["channels"] = watchlists.list_channels(s, who.user_id)
            ctx["deliveries"] = watchlists.deliveries(s, who.user_id)[:50]
    template = "_watch_panel.html" if partial else "watch.html"
    return render(request, template, who, title="Watch", **ctx)


def build_router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/watch", response_class=HTMLResponse)
    def watch_page(request: Request, who: Who) -> Response:
        return _panel(request, who, partial=False)

    def _act(request: Request, who: Principal, action: Any, done: str) -> Response:
        if who.user_id is None:
            return _panel(request, who, message="Sign in to keep watchlists.", kind="error")
        try:
            with request.app.state.store.session() as s:
                extra = action(s, who.user_id)
        except CritminError as exc:
            return _panel(request, who, message=str(exc), kind="error")
        return _panel(request, who, message=done, token=extra if isinstance(extra, str)
                      else None)

    @r.post("/watch/rules", response_class=HTMLResponse)
    def add_rule(request: Request, who: Who,
                 country: Annotated[str, Form(max_length=20)],
                 mineral: Annotated[str, Form(max_length=60)],
                 what: Annotated[str, Form(max_length=40)],
                 stage: Stage = "all",
                 supplier: Annotated[str, Form(max_length=20)] = "",
                 op: Annotated[str, Form(max_length=6)] = ">",
                 value: Annotated[str, Form(max_length=30)] = "",
                 watchlist: Annotated[str, Form(max_length=80)] = "default") -> Response:
        from critmin.errors import SpecError
        from critmin.watch import watchlists
        from critmin.watch.rules import EVENTS, RuleSpec

        def action(s: Any, uid: int) -> None:
            if what in EVENTS:
                spec = RuleSpec(country, mineral, what, "event", stage=stage,
                                watchlist=watchlist)
            else:
                try:
                    limit = float(value)
                except ValueError:
                    raise SpecError(f"value: a number, got {value!r}") from None
                kind = "change" if op in ("up", "down", "move") else "threshold"
                spec = RuleSpec(country, mineral, what, kind, stage=stage,
                                supplier=supplier or None, op=op, value=limit,
                                watchlist=watchlist)
            watchlists.add_rule(s, uid, spec, request.app.state.atlas.atlas())

        return _act(request, who, action, "Rule added.")

    @r.post("/watch/rules/{rule_id}/remove", response_class=HTMLResponse)
    def remove_rule(request: Request, who: Who, rule_id: int) -> Response:
        from critmin.watch import watchlists

        return _act(request, who, lambda s, uid: watchlists.remove_rule(s, uid, rule_id),
                    "Rule removed.")

    @r.post("/watch/alerts/{alert_id}/read", response_class=HTMLResponse)
    def read(request: Request, who: Who, alert_id: int) -> Response:
        from critmin.watch import watchlists

        return _act(request, who, lambda s, uid: watchlists.mark_read(s, uid, alert_id),
                    "Marked read.")

    @r.post("/watch/feed-token", response_class=HTMLResponse)
    def feed_token(request: Request, who: Who) -> Response:
        from critmin.watch import watchlists

        return _act(request, who, watchlists.new_feed_token,
                    "New feed token (shown once; the previous one no longer works).")

    @r.post("/watch/check", response_class=HTMLResponse)
    def check(request: Request, who: Who) -> Response:
        from critmin.watch.delivery import deliver_due
        from critmin.watch.evaluate import evaluate

        if who.user_id is None:
            return _panel(request, who, message="Sign in to keep watchlists.", kind="error")
        store = request.app.state.store
        res = evaluate(store, request.app.state.atlas.atlas(), user_id=who.user_id)
        deliver_due(store)
        return _panel(request, who, message=f"{res.rules} rules checked, "
                      f"{len(res.alerts)} new alerts.")

    @r.get("/whats-new", response_class=HTMLResponse)
    def whats_new(request: Request, who: Who) -> Response:
        from critmin.watch.diff import whats_new as saved

        d = saved(request.app.state.atlas.path)
        return render(request, "whats_new.html", who, title="What's new", d=d)

    return r

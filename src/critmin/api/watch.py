"""``/api/v1/watch``: a signed-in user's watchlists, inbox, channels and Atom feed (thin: each
route is one call into :mod:`critmin.watch`)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from critmin.api._core import error_response, fail, json_response, principal, require
from critmin.auth import Principal
from critmin.errors import SpecError

router = APIRouter(prefix="/watch", tags=["watch"])
Id = Annotated[int, Path(ge=1, le=2**62)]


class RuleIn(BaseModel):
    country: str = Field(min_length=2, max_length=20, description="ISO3 code or group id")
    mineral: str = Field(min_length=1, max_length=60)
    kind: str = Field(description="threshold, change or event")
    indicator: str = Field(max_length=40, description="an indicator, or for events "
                           "restriction / project_status")
    stage: str = Field(default="all", max_length=10)
    supplier: str | None = Field(default=None, max_length=20)
    op: str | None = Field(default=None, max_length=6,
                           description="threshold: > >= < <=; change: up down move")
    value: float | None = None
    watchlist: str = Field(default="default", max_length=80)


class ChannelIn(BaseModel):
    kind: str = Field(description="email or webhook")
    target: str = Field(min_length=3, max_length=500)


def _who(who: Principal) -> int:
    require(who, what="keep watchlists")
    assert who.user_id is not None
    return who.user_id


def _deliver(store: Any) -> None:
    from critmin.watch.delivery import deliver_due

    deliver_due(store)


def _owned(request: Request, who: Principal, op: Any, item_id: int) -> Response:
    """Run ``op(session, user_id, item_id)`` on one of the caller's items (404 if not theirs)."""
    uid = _who(who)
    try:
        with request.app.state.store.session() as s:
            op(s, uid, item_id)
    except SpecError as exc:
        raise fail(404, str(exc)) from None
    return json_response({"ok": True, "id": item_id})


@router.get("", summary="Your rules")
def list_rules(request: Request, who: Principal = Depends(principal)) -> Response:
    from critmin.watch import watchlists

    uid = _who(who)
    with request.app.state.store.session() as s:
        rules = [watchlists.rule_dict(r) for r in watchlists.list_rules(s, uid)]
    return json_response({"ok": True, "rules": rules})


@router.get("/indicators", summary="What a rule may watch")
def catalogue() -> Response:
    from critmin.watch.rules import CHANGE_OPS, EVENTS, INDICATORS, THRESHOLD_OPS

    return json_response({"ok": True, "indicators": {
        n: {"description": i.description, "unit": i.unit, "stages": list(i.stages),
            "supplier": i.supplier, "world": i.world} for n, i in INDICATORS.items()},
        "events": EVENTS, "threshold_ops": list(THRESHOLD_OPS), "change_ops": list(CHANGE_OPS)})


@router.post("", status_code=201, summary="Add a rule")
def add_rule(request: Request, body: RuleIn, who: Principal = Depends(principal)) -> Response:
    from critmin.watch import watchlists
    from critmin.watch.rules import RuleSpec

    uid = _who(who)
    spec = RuleSpec(**body.model_dump())
    with request.app.state.store.session() as s:
        rule = watchlists.rule_dict(watchlists.add_rule(s, uid, spec,
                                                        request.app.state.atlas.atlas()))
    return json_response({"ok": True, "rule": rule}, status=201)


@router.delete("/{rule_id}", summary="Remove a rule")
def remove_rule(request: Request, rule_id: Id, who: Principal = Depends(principal)) -> Response:
    from critmin.watch import watchlists

    return _owned(request, who, watchlists.remove_rule, rule_id)


@router.post("/check", summary="Evaluate your rules now")
def check(request: Request, who: Principal = Depends(principal)) -> Response:
    """Evaluate your rules against the atlas served; new alerts are stored, then sent."""
    from critmin.watch.evaluate import evaluate

    uid = _who(who)
    store = request.app.state.store
    result = evaluate(store, request.app.state.atlas.atlas(), trigger="on-demand", user_id=uid)
    resp = json_response({"ok": True, **result.to_dict()})
    resp.background = BackgroundTask(_deliver, store)
    return resp


@router.get("/alerts", summary="Your inbox, newest first")
def alerts(request: Request, unread: bool = False,
           limit: Annotated[int, Query(ge=1, le=1000)] = 200,
           who: Principal = Depends(principal)) -> Response:
    from critmin.watch import delivery, watchlists

    uid = _who(who)
    with request.app.state.store.session() as s:
        rows = [delivery.alert_payload(a)
                for a in watchlists.list_alerts(s, uid, unread=unread, limit=limit)]
    return json_response({"ok": True, "alerts": rows})


@router.post("/alerts/{alert_id}/read", summary="Mark an alert read")
def read(request: Request, alert_id: Id, who: Principal = Depends(principal)) -> Response:
    from critmin.watch import watchlists

    return _owned(request, who, watchlists.mark_read, alert_id)


@router.get("/deliveries", summary="Where your alerts were sent, and what failed")
def deliveries(request: Request, who: Principal = Depends(principal)) -> Response:
    from critmin.watch import watchlists

    uid = _who(who)
    with request.app.state.store.session() as s:
        return json_response({"ok": True, "deliveries": watchlists.deliveries(s, uid)})


@router.get("/channels", summary="Your e-mail and webhook channels")
def channels(request: Request, who: Principal = Depends(principal)) -> Response:
    from critmin.watch import watchlists

    uid = _who(who)
    with request.app.state.store.session() as s:
        rows = [{"id": c.id, "kind": c.kind, "target": c.target, "active": c.active}
                for c in watchlists.list_channels(s, uid)]
    return json_response({"ok": True, "channels": rows})


@router.post("/channels", status_code=201, summary="Add a channel (a webhook's secret is "
             "returned once)")
def add_channel(request: Request, body: ChannelIn, who: Principal = Depends(principal)
                ) -> Response:
    from critmin.watch import watchlists

    uid = _who(who)
    with request.app.state.store.session() as s:
        c, secret = watchlists.add_channel(s, uid, body.kind, body.target)
        out = {"id": c.id, "kind": c.kind, "target": c.target, "secret": secret}
    return json_response({"ok": True, "channel": out}, status=201)


@router.delete("/channels/{channel_id}", summary="Remove a channel")
def remove_channel(request: Request, channel_id: Id, who: Principal = Depends(principal)
                   ) -> Response:
    from critmin.watch import watchlists

    return _owned(request, who, watchlists.remove_channel, channel_id)


@router.post("/feed-token", summary="A new token for your Atom feed (shown once)")
def feed_token(request: Request, who: Principal = Depends(principal)) -> Response:
    from critmin.watch import watchlists

    uid = _who(who)
    with request.app.state.store.session() as s:
        token = watchlists.new_feed_token(s, uid)
    return json_response({"ok": True, "token": token,
                          "url": f"/api/v1/watch/feed.atom?token={token}"})


@router.get("/feed.atom", summary="Your alerts as an Atom feed (token in the query)")
def feed(request: Request, token: Annotated[str, Query(min_length=8, max_length=200)]
         ) -> Response:
    """Feed readers cannot send headers: the feed token (``POST /watch/feed-token``) is the
    credential; it reads this feed and nothing else."""
    from critmin.watch import delivery, watchlists

    with request.app.state.store.session() as s:
        user = watchlists.feed_user(s, token)
        if user is None:
            return error_response(401, "invalid feed token")
        body = delivery.atom_feed(user, watchlists.list_alerts(s, user.id, limit=100),
                                  base_url=str(request.base_url).rstrip("/"))
    return Response(body, media_type="application/atom+xml",
                    headers={"Cache-Control": "private, no-store"})


def after_registry_edit(store: Any, pool: Any) -> BackgroundTask:
    """Evaluate the event rules and send what they raised (run after a registry edit)."""

    def run() -> None:
        from critmin.watch.evaluate import evaluate

        evaluate(store, pool.atlas(), trigger="registry", events_only=True)
        _deliver(store)

    return BackgroundTask(run)


@contextlib.asynccontextmanager
async def delivery_loop(app: FastAPI) -> AsyncIterator[None]:
    """The service's lifespan: a thread sends due deliveries (retries included) every
    ``$CRITMIN_WATCH_DELIVERY_INTERVAL`` seconds (default 60; 0 turns it off). Several workers
    may run it: each delivery is claimed by one of them."""
    interval = float(os.environ.get("CRITMIN_WATCH_DELIVERY_INTERVAL", "60"))
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval):
            try:
                _deliver(app.state.store)
            except Exception:  # a broken database must not end the loop
                logging.getLogger("critmin.watch").exception("watch delivery failed")

    thread = threading.Thread(target=run, name="critmin-watch-delivery", daemon=True)
    if interval > 0:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(timeout=30)

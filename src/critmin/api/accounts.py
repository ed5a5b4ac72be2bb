"""Sign-in for the web (session cookie + CSRF token), API tokens, and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from critmin import auth
from critmin.api._core import (
    SESSION_COOKIE,
    client_ip,
    error_response,
    fail,
    json_response,
    principal,
    require,
)
from critmin.auth import Principal

router = APIRouter(prefix="/auth", tags=["accounts"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1000)


class TokenRequest(BaseModel):
    name: str = Field(default="", max_length=120)


def _me(p: Principal) -> dict[str, object]:
    return {"username": p.username, "role": p.role, "user_id": p.user_id,
            "participant_id": p.participant_id, "via": p.via}


@router.post("/login", summary="Sign in: sets the session cookie, returns the CSRF token")
def login(request: Request, body: Login) -> Response:
    """Check the password (argon2) and open a session. The response sets the HttpOnly
    ``critmin_session`` cookie and returns ``csrf_token``: send it back in ``X-CSRF-Token`` on
    every POST/PUT/PATCH/DELETE made with the cookie. Five failures a minute for one user from
    one address lock further attempts for that minute (429)."""
    store = request.app.state.store
    s = store.new_session()
    try:
        try:
            user, cookie, csrf = auth.login(s, body.username, body.password, client_ip(request))
        except auth.RateLimited as exc:
            s.rollback()
            return error_response(429, str(exc), headers={"Retry-After": "60"})
        except auth.AuthError as exc:
            s.commit()  # the failed attempt counts
            return error_response(401, str(exc))
        s.commit()
        p = Principal(user.id, user.username, user.role, None, "session", csrf)
    finally:
        s.close()
    resp = json_response({"ok": True, "user": _me(p), "csrf_token": csrf})
    resp.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax",
                    secure=request.url.scheme == "https", max_age=int(auth.SESSION_TTL
                                                                        .total_seconds()))
    return resp


@router.post("/logout", summary="Sign out (ends the session)")
def logout(request: Request, who: Principal = Depends(principal)) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and who.via == "session":
        with request.app.state.store.session() as s:
            auth.logout(s, cookie)
    resp = json_response({"ok": True})
    resp.delete_cookie(SESSION_COOKIE)
    return resp


@router.get("/me", summary="Who am I")
def me(who: Principal = Depends(principal)) -> Response:
    out = _me(who)
    if who.via == "session":
        out["csrf_token"] = who.csrf_token
    return json_response({"ok": True, "user": out})


@router.post("/tokens", status_code=201, summary="Create an API token (shown once)")
def create_token(request: Request, body: TokenRequest,
                 who: Principal = Depends(principal)) -> Response:
    require(who, what="create API tokens")
    with request.app.state.store.session() as s:
        user = s.get(auth.User, who.user_id)
        if user is None:
            raise fail(401, "unknown user")
        token = auth.issue_token(s, user, body.name, by=who)
    return json_response({"ok": True, "token": token, "name": body.name,
                          "note": "shown once: only its hash is stored"}, status=201)


@router.get("/tokens", summary="API tokens (prefixes only): mine, or everyone's for admins")
def list_tokens(request: Request, who: Principal = Depends(principal),
                all: Annotated[bool, Query(description="Every user's tokens (admins only).")]
                = False) -> Response:
    """My API tokens; with ``all=true`` (admins) every user's, with the owner's name. Secrets are
    never listed: only their first characters."""
    require(who, what="list API tokens")
    if all:
        require(who, check=lambda p: p.role == "admin" or p.via == "cli",
                what="list every user's API tokens")
    with request.app.state.store.session() as s:
        user = None if all else s.get(auth.User, who.user_id)
        if user is None and not all:
            raise fail(401, "unknown user")
        rows = auth.list_tokens(s, user)
    return json_response({"ok": True, "tokens": rows})


@router.delete("/tokens/{token_id}", summary="Revoke one of my API tokens")
def revoke_token(request: Request, token_id: Annotated[int, Path(ge=1, le=2**62)],
                 who: Principal = Depends(principal)) -> Response:
    require(who, what="revoke API tokens")
    with request.app.state.store.session() as s:
        try:
            auth.revoke_token(s, token_id, by=who)
        except auth.AuthError as exc:
            raise fail(404, str(exc)) from None
    return json_response({"ok": True, "id": token_id, "revoked": True})

"""Accounts: users and roles, argon2 password hashes, API tokens, web sessions, login rate limit.

Library functions used by both ``critmin user ...`` and the HTTP API; every write adds an audit
entry in the same transaction.

- Passwords are hashed with argon2id, OWASP's minimum parameters (19 MiB, 2 passes, 1 lane);
  :func:`set_password_params` changes them (tests use cheap ones).
- API tokens are 32 random bytes (``cm_`` + base64url), shown once; only their SHA-256 is stored
  (a fast hash is right for high-entropy secrets), with an 8-character prefix for listings.
- Web sessions: a random cookie value, stored hashed, with a synchronizer CSRF token that the
  client must echo in ``X-CSRF-Token`` on every unsafe request made with the cookie.
- Login is rate-limited: after :data:`MAX_FAILURES` failed attempts for one username from one
  address within :data:`WINDOW`, further attempts fail with :class:`RateLimited` until the window
  has passed (attempts are recorded in the database, so the limit holds across workers).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from critmin.errors import CritminError
from critmin.storage import audit
from critmin.storage.models import (
    ROLES,
    ApiToken,
    LoginAttempt,
    Participant,
    User,
    WebSession,
    utcnow,
)

MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=1)
SESSION_TTL = dt.timedelta(hours=12)
TOKEN_PREFIX = "cm_"


class AuthError(CritminError):
    """Wrong credentials, unknown user or a forbidden action."""


class RateLimited(AuthError):
    """Too many failed logins for this user and address."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (with role and participant id) or anonymous (``user_id`` None)."""

    user_id: int | None = None
    username: str = "anonymous"
    role: str = "anonymous"
    participant_id: int | None = None
    via: str = "none"  # none | token | session | cli
    csrf_token: str | None = None

    @property
    def is_staff(self) -> bool:
        """Admins and organisers see and schedule everything."""
        return self.role in ("admin", "organiser")

    @property
    def can_analyse(self) -> bool:
        """Analysts (and staff) run scenarios and edit the registry."""
        return self.role in ("admin", "organiser", "analyst")


CLI = Principal(username="cli", role="admin", via="cli")

_hasher = None
_params = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}


_dummy: str | None = None


def set_password_params(**params: int) -> None:
    """Set argon2 ``time_cost``, ``memory_cost`` (KiB) and ``parallelism`` for new hashes
    (existing hashes keep verifying: their parameters are stored in them)."""
    global _hasher, _dummy
    _params.update(params)
    _hasher = _dummy = None


def _dummy_hash() -> str:
    """A hash of a random password with the current parameters: verified against when the user
    is unknown or has no password, so a failed sign-in costs the same either way."""
    global _dummy
    if _dummy is None:
        _dummy = hash_password(secrets.token_urlsafe(16))
    return _dummy


def _ph():  # type: ignore[no-untyped-def]
    global _hasher
    if _hasher is None:
        from argon2 import PasswordHasher

        _hasher = PasswordHasher(**_params)
    return _hasher


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _ph().hash(password)


def verify_password(hashed: str | None, password: str) -> bool:
    """True when ``password`` matches ``hashed`` (constant time in argon2)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if not hashed:
        return False
    try:
        return bool(_ph().verify(hashed, password))
    except (VerificationError, InvalidHashError):
        return False


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def add_user(s: Session, username: str, role: str, password: str | None = None, *,
             by: Principal = CLI) -> User:
    """Create a user (``password`` None: token-only account)."""
    username = username.strip()
    if not username or len(username) > 80:
        raise AuthError("username must be 1 to 80 characters")
    check_role(role)
    if s.scalar(select(User).where(User.username == username)) is not None:
        raise AuthError(f"user {username!r} already exists")
    user = User(username=username, role=role, active=True,
                password_hash=hash_password(password) if password else None)
    s.add(user)
    s.flush()
    audit(s, "user.add", actor=by.username, user_id=by.user_id, target=f"user:{user.id}",
          detail={"username": username, "role": role})
    return user


def get_user(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise AuthError(f"no user {username!r}")
    return user


def list_users(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.id)))


def issue_token(s: Session, user: User, name: str = "", *, by: Principal = CLI) -> str:
    """Create an API token for ``user``; returns the token (not stored: show it once)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=sha256(token), prefix=token[:8],
                   revoked=False)
    s.add(row)
    s.flush()
    audit(s, "token.issue", actor=by.username, user_id=by.user_id, target=f"token:{row.id}",
          detail={"user": user.username, "name": name})
    return token


def revoke_token(s: Session, token_id: int, *, by: Principal) -> ApiToken:
    row = s.get(ApiToken, token_id)
    if row is None or (row.user_id != by.user_id and by.role != "admin"):
        raise AuthError(f"no token {token_id}")
    row.revoked = True
    audit(s, "token.revoke", actor=by.username, user_id=by.user_id, target=f"token:{row.id}")
    return row


def list_tokens(s: Session, user: User | None = None) -> list[dict[str, object]]:
    """API tokens (never the secrets: id, owner, name, prefix, dates, revoked), of ``user`` or of
    everyone (for admins)."""
    q = (select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
         .order_by(ApiToken.id))
    if user is not None:
        q = q.where(ApiToken.user_id == user.id)
    return [{"id": t.id, "username": name, "name": t.name, "prefix": t.prefix,
             "created_at": t.created_at, "last_used_at": t.last_used_at, "revoked": t.revoked}
            for t, name in s.execute(q).all()]


def _end_sessions(s: Session, user: User) -> int:
    rows = list(s.scalars(select(WebSession).where(WebSession.user_id == user.id)))
    for row in rows:
        s.delete(row)
    return len(rows)


def set_active(s: Session, username: str, active: bool, *, by: Principal = CLI) -> User:
    """Deactivate (or reactivate) a user: an inactive user's tokens and sessions are refused,
    and its open sessions are ended."""
    user = get_user(s, username)
    user.active = active
    ended = 0 if active else _end_sessions(s, user)
    audit(s, "user.activate" if active else "user.deactivate", actor=by.username,
          user_id=by.user_id, target=f"user:{user.id}", detail={"sessions_ended": ended})
    return user


def set_password(s: Session, username: str, password: str, *, by: Principal = CLI) -> User:
    """Set a new password and end the user's open sessions."""
    if not password:
        raise AuthError("the password must not be empty")
    user = get_user(s, username)
    user.password_hash = hash_password(password)
    ended = _end_sessions(s, user)
    audit(s, "user.passwd", actor=by.username, user_id=by.user_id, target=f"user:{user.id}",
          detail={"sessions_ended": ended})
    return user


def delete_user(s: Session, username: str, *, by: Principal = CLI) -> int:
    """Delete a user with its tokens and sessions (its participant profile, if any, is kept
    without an owner); returns the id it had. The audit log keeps its entries."""
    user = get_user(s, username)
    uid = user.id
    for row in s.scalars(select(ApiToken).where(ApiToken.user_id == uid)):
        s.delete(row)
    _end_sessions(s, user)
    for p in s.scalars(select(Participant).where(Participant.user_id == uid)):
        p.user_id = None
    s.delete(user)
    audit(s, "user.delete", actor=by.username, user_id=by.user_id, target=f"user:{uid}",
          detail={"username": username})
    return uid


def principal_for(s: Session, user: User, via: str, csrf: str | None = None) -> Principal:
    pid = s.scalar(select(Participant.id).where(Participant.user_id == user.id))
    return Principal(user.id, user.username, user.role, pid, via, csrf)


# One statement object each (SQLAlchemy compiles it once): the credential's row, its user and the
# user's participant id, by the unique (indexed) hash of the secret.
_TOKEN_LOOKUP = (
    select(ApiToken.revoked, User.id, User.username, User.role, User.active, Participant.id)
    .join(User, User.id == ApiToken.user_id)
    .outerjoin(Participant, Participant.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("secret_hash")))
_SESSION_LOOKUP = (
    select(WebSession.expires_at, WebSession.csrf_token, User.id, User.username, User.role,
           User.active, Participant.id)
    .join(User, User.id == WebSession.user_id)
    .outerjoin(Participant, Participant.user_id == User.id)
    .where(WebSession.session_hash == bindparam("secret_hash")))


def from_token(db: Session | Connection, token: str) -> Principal | None:
    """The principal an API token belongs to (None for unknown, revoked or inactive): one indexed
    query, on a session or (cheaper: no ORM unit of work) a plain connection."""
    row = db.execute(_TOKEN_LOOKUP, {"secret_hash": sha256(token)}).first()
    if row is None:
        return None
    revoked, user_id, username, role, active, participant_id = row
    if revoked or not active:
        return None
    return Principal(user_id, username, role, participant_id, "token")


def from_session(db: Session | Connection, cookie: str) -> Principal | None:
    """The principal of a web-session cookie (None when unknown or expired): one indexed query,
    on a session or a plain connection."""
    row = db.execute(_SESSION_LOOKUP, {"secret_hash": sha256(cookie)}).first()
    if row is None:
        return None
    expires_at, csrf, user_id, username, role, active, participant_id = row
    if expires_at < utcnow() or not active:
        return None
    return Principal(user_id, username, role, participant_id, "session", csrf)


def login(s: Session, username: str, password: str, ip: str) -> tuple[User, str, str]:
    """Check the password and open a web session: ``(user, cookie value, csrf token)``.

    Raises :class:`RateLimited` after too many failures, :class:`AuthError` on bad credentials
    (the failure is recorded; commit the session even then).
    """
    since = utcnow() - WINDOW
    failures = s.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.ip == ip,
        LoginAttempt.success.is_(False), LoginAttempt.at >= since)) or 0
    if failures >= MAX_FAILURES:
        raise RateLimited(f"too many failed logins for {username!r}; try again in a minute")
    user = s.scalar(select(User).where(User.username == username))
    # one argon2 verification whether or not the user exists (no timing oracle for user names)
    stored = user.password_hash if user is not None and user.password_hash else None
    verified = verify_password(stored or _dummy_hash(), password)
    ok = user is not None and user.active and stored is not None and verified
    s.add(LoginAttempt(username=username[:80], ip=ip[:64], success=ok))
    if not ok or user is None:
        audit(s, "login.fail", actor=username[:80], target=f"user:{username[:60]}", ip=ip)
        raise AuthError("wrong username or password")
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    s.add(WebSession(user_id=user.id, session_hash=sha256(cookie), csrf_token=csrf,
                     expires_at=utcnow() + SESSION_TTL))
    audit(s, "login", actor=user.username, user_id=user.id, target=f"user:{user.id}", ip=ip)
    return user, cookie, csrf


def logout(s: Session, cookie: str) -> None:
    row = s.scalar(select(WebSession).where(WebSession.session_hash == sha256(cookie)))
    if row is not None:
        audit(s, "logout", actor=str(row.user_id), user_id=row.user_id, target=f"user:{row.user_id}")
        s.delete(row)

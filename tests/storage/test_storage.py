"""Migrations, accounts, tokens, sessions, rate limit and audit log on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from critmin import auth
from critmin.storage import Store
from critmin.storage.models import AuditEntry, Base, LoginAttempt, User


def test_upgrade_creates_every_table_and_is_idempotent(store: Store) -> None:
    assert store.current_revision() is None
    store.upgrade()
    store.upgrade()
    assert store.current_revision() == "0006_run_progress"
    with store.engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
    assert set(Base.metadata.tables) <= names


def test_migrations_match_models(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    store.upgrade()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_users_tokens_and_audit(store: Store) -> None:
    store.upgrade()
    with store.session() as s:
        u = auth.add_user(s, "ana", "analyst", "pw-ana-123")
        token = auth.issue_token(s, u, "script")
    assert token.startswith("cm_") and len(token) > 40
    with store.session() as s:
        hashes = [u.password_hash for u in s.scalars(select(User))]
        assert hashes[0] and hashes[0].startswith("$argon2id$") and "pw-ana-123" not in hashes[0]
        p = auth.from_token(s, token)
        assert p is not None and p.username == "ana" and p.role == "analyst"
        assert auth.from_token(s, token + "x") is None
        actions = [a.action for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["user.add", "token.issue"]
    with store.session() as s, pytest.raises(auth.AuthError, match="already exists"):
        auth.add_user(s, "ana", "analyst", "x")
    with store.session() as s, pytest.raises(auth.AuthError, match="unknown role"):
        auth.add_user(s, "bob", "king", "x")


def test_revoked_token_and_inactive_user_rejected(store: Store) -> None:
    store.upgrade()
    with store.session() as s:
        u = auth.add_user(s, "ana", "analyst", None)
        token = auth.issue_token(s, u)
    with store.session() as s:
        tid = s.scalars(select(auth.ApiToken.id)).one()
        auth.revoke_token(s, tid, by=auth.CLI)
    with store.session() as s:
        assert auth.from_token(s, token) is None


def test_login_session_and_rate_limit(store: Store) -> None:
    store.upgrade()
    with store.session() as s:
        auth.add_user(s, "org", "organiser", "right-password")
    with store.session() as s:
        _u, cookie, csrf = auth.login(s, "org", "right-password", "127.0.0.1")
    with store.session() as s:
        p = auth.from_session(s, cookie)
        assert p is not None and p.role == "organiser" and p.csrf_token == csrf
    for _ in range(auth.MAX_FAILURES):
        s = store.new_session()
        with pytest.raises(auth.AuthError, match="wrong"):
            auth.login(s, "org", "bad", "10.0.0.1")
        s.commit()
        s.close()
    with store.session() as s, pytest.raises(auth.RateLimited):
        auth.login(s, "org", "right-password", "10.0.0.1")
    # another address is not limited
    with store.session() as s:
        auth.login(s, "org", "right-password", "10.0.0.2")
        assert s.scalar(select(LoginAttempt).where(LoginAttempt.success.is_(True))) is not None


def test_login_costs_one_password_verification_whether_or_not_the_user_exists(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.upgrade()
    with store.session() as s:
        auth.add_user(s, "known", "analyst", "the-password")
        auth.add_user(s, "tokenonly", "analyst")
    calls: list[str] = []
    real = auth.verify_password

    def counting(hashed: str | None, password: str) -> bool:
        calls.append(hashed or "")
        return real(hashed, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    for name in ("known", "unknown-user", "tokenonly"):
        calls.clear()
        s = store.new_session()
        with pytest.raises(auth.AuthError):
            auth.login(s, name, "wrong", "10.9.9.9")
        s.close()
        assert len(calls) == 1 and calls[0].startswith("$argon2id$"), (name, calls)

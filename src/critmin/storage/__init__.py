"""The transactional store for operational data (accounts, matchmaking, registry edits, audit log).

SQLAlchemy 2 over SQLite by default (``<user data dir>/critmin/critmin.db``) or PostgreSQL when
``$CRITMIN_DATABASE_URL`` is set (``postgresql://user@host/db``; the psycopg 3 driver is used).
The schema is managed by the Alembic migrations shipped in ``critmin/storage/migrations``:
:func:`upgrade` runs them programmatically (``critmin db upgrade``, and the service on start).

>>> store = Store("sqlite://")          # an in-memory database
>>> store.upgrade()
>>> store.current_revision()
'0006_run_progress'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from critmin.storage.models import AuditEntry, Base

__all__ = ["Base", "Store", "database_url", "normalise_url"]


def database_url() -> str:
    """``$CRITMIN_DATABASE_URL``, else a SQLite file in the user data dir."""
    env = os.environ.get("CRITMIN_DATABASE_URL")
    if env:
        return normalise_url(env)
    import platformdirs

    return f"sqlite:///{Path(platformdirs.user_data_dir('critmin', appauthor=False)) / 'critmin.db'}"


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` / ``postgres://`` URLs.

    >>> normalise_url("postgresql://postgres@127.0.0.1:5432/test")
    'postgresql+psycopg://postgres@127.0.0.1:5432/test'
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Store:
    """An engine and session factory for one operational database.

    ``schema`` (PostgreSQL only) puts every table in that schema (created if missing) through the
    connection's ``search_path``; the tests use it to isolate runs.
    """

    def __init__(self, url: str | None = None, *, schema: str | None = None,
                 engine: Engine | None = None) -> None:
        self.url = normalise_url(url) if url else database_url()
        self.schema = schema
        self.engine = engine or _engine(self.url, schema)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        """Run the migrations up to ``revision`` (idempotent)."""
        from alembic import command

        if self.url.startswith("sqlite:///") and self.url != "sqlite:///:memory:":
            Path(self.url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        with self.engine.begin() as conn:
            if self.schema:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            cfg = _alembic_config(conn)
            command.upgrade(cfg, revision)

    def current_revision(self) -> str | None:
        """The migration revision the database is at (None before the first upgrade)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions() as s, s.begin():
            yield s

    def new_session(self) -> Session:
        return self._sessions()

    def dispose(self) -> None:
        self.engine.dispose()


def audit(s: Session, action: str, *, actor: str, user_id: int | None = None, target: str = "",
          detail: dict[str, Any] | None = None, ip: str | None = None) -> None:
    """Add an audit-log entry to the session's transaction (written with the change itself)."""
    s.add(AuditEntry(action=action, actor=actor, user_id=user_id, target=target,
                     detail=detail or {}, ip=ip))


def _engine(url: str, schema: str | None) -> Engine:
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        eng = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                            poolclass=StaticPool if memory else None)

        @event.listens_for(eng, "connect")
        def _pragmas(dbapi_con: Any, _record: Any) -> None:
            cur = dbapi_con.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return eng
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}
    if schema:
        kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    return create_engine(url, **kwargs)


def _alembic_config(conn: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "critmin.storage:migrations")
    cfg.attributes["connection"] = conn
    return cfg

"""An API app on the bundled starter atlas with a SQLite operational database, and users of every
role with API tokens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from critmin import auth
from critmin.storage import Store

ROLES = ("admin", "organiser", "analyst", "participant")


@dataclass
class Service:
    app: object
    client: TestClient
    store: Store
    tokens: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        """Headers authenticating as ``who`` (a role name or a user name); {} for anonymous."""
        return {} if who == "anonymous" else {"Authorization": f"Bearer {self.tokens[who]}"}

    def add_user(self, name: str, role: str, password: str | None = None) -> str:
        with self.store.session() as s:
            u = auth.add_user(s, name, role, password)
            token = auth.issue_token(s, u, "tests")
        self.tokens[name] = token
        return token


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    auth.set_password_params(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth.set_password_params(time_cost=2, memory_cost=19456, parallelism=1)


def make_service(atlas: Path, store: Store) -> Service:
    from critmin.api import create_app

    app = create_app(atlas, store=store, web=False)
    svc = Service(app, TestClient(app), store, {})
    for role in ROLES:
        svc.tokens[role] = svc.add_user(role, role, f"{role}-password")
    return svc


@contextmanager
def sqlite_service(atlas: Path, folder: Path) -> Iterator[Service]:
    """:func:`make_service` on ``atlas`` with a fresh SQLite operational database in ``folder``,
    closed and disposed on exit."""
    store = Store(f"sqlite:///{folder / 'critmin.db'}")
    svc = make_service(atlas, store)
    try:
        yield svc
    finally:
        svc.client.close()
        store.dispose()


@pytest.fixture(scope="module")
def service(starter_atlas: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with sqlite_service(starter_atlas, tmp_path_factory.mktemp("ops")) as svc:
        yield svc


@pytest.fixture(scope="module")
def fuzz_service(starter_atlas: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with sqlite_service(starter_atlas, tmp_path_factory.mktemp("fuzz")) as svc:
        yield svc


@pytest.fixture(scope="module")
def org_client(starter_atlas: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A client of an API app with its web pages on a fresh SQLite store (one per test module)
    and the headers of an organiser (a bearer token, which the pages accept too)."""
    from critmin.api import create_app

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('org') / 'ops.db'}")
    app = create_app(starter_atlas, store=store, web=True)
    with store.session() as s:
        token = auth.issue_token(s, auth.add_user(s, "olga", "organiser", None), "t")
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c, {"Authorization": f"Bearer {token}"}
    store.dispose()

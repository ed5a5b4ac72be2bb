"""Matchmaking writes under concurrency, against a real ``critmin serve`` (``running_server`` of
``tests/stress.py``) with one and two worker processes, on SQLite and PostgreSQL: first-time
profile registrations, identical meeting requests, A-to-B with B-to-A at the same moment, and
concurrent answers. One writer wins, the others get 409, and no request ever gets a 500."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from critmin import auth
from critmin.storage import Store
from critmin.storage.models import MeetingRequest, Participant
from tests import stress

PG_URL = os.environ.get("CRITMIN_TEST_DATABASE_URL")
N_PEOPLE = 24


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL tests need CRITMIN_TEST_DATABASE_URL")
    with stress.database(request.param, tmp_path) as url:
        yield url


def _seed(url: str) -> dict[str, str]:
    auth.set_password_params(time_cost=1, memory_cost=1024, parallelism=1)
    store = Store(url)
    store.upgrade()
    tokens = {}
    with store.session() as s:
        for i in range(N_PEOPLE):
            u = auth.add_user(s, f"u{i}", "participant", None)
            tokens[f"u{i}"] = auth.issue_token(s, u, "t")
    store.dispose()
    return tokens


def _burst(calls: list[Callable[[], httpx.Response]]) -> Counter[int]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return Counter(r.status_code for r in pool.map(lambda f: f(), calls))


def _profile(name: str) -> dict[str, Any]:
    return {"display_name": name, "country": "IND",
            "public": {"roles": ["mining"], "minerals": ["lithium"],
                       "offers": [{"mineral": "lithium", "stage": "mining"}]}}


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_concurrent_match_writes(starter_atlas: Path, db_url: str, workers: int,
                                 tmp_path: Path) -> None:
    tokens = _seed(db_url)
    server = stress.running_server(starter_atlas, tmp_path, "--workers", str(workers),
                                   database_url=db_url, env={"PYTHONWARNINGS": "ignore"})
    with server as base, httpx.Client(base_url=base, timeout=60) as c:
        def as_(u: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[u]}"}

        # 20 simultaneous first-time registrations of one user: one creates it
        got = _burst([lambda: c.put("/api/v1/match/profile", headers=as_("u0"),
                                    json=_profile("U0"))] * 20)
        assert got[201] == 1 and set(got) <= {200, 201, 409}, got
        ids = {}
        for i in range(N_PEOPLE):
            r = c.put("/api/v1/match/profile", headers=as_(f"u{i}"), json=_profile(f"U{i}"))
            assert r.status_code in (200, 201), r.text
            ids[i] = r.json()["profile"]["id"]
        # 20 identical requests: one is created
        got = _burst([lambda: c.post("/api/v1/match/requests", headers=as_("u1"),
                                     json={"to": ids[2]})] * 20)
        assert got == Counter({201: 1, 409: 19}), got
        # A->B and B->A at the same moment, for 10 pairs: one request per pair
        calls = []
        for a in range(4, 24, 2):
            b = a + 1
            calls.append(lambda a=a, b=b: c.post("/api/v1/match/requests",
                                                 headers=as_(f"u{a}"), json={"to": ids[b]}))
            calls.append(lambda a=a, b=b: c.post("/api/v1/match/requests",
                                                 headers=as_(f"u{b}"), json={"to": ids[a]}))
        got = _burst(calls)
        assert got == Counter({201: 10, 409: 10}), got
        # 20 simultaneous answers to one request: one wins
        rid = c.get("/api/v1/match/requests", headers=as_("u2")).json()["requests"][0]["id"]
        got = _burst([lambda: c.post(f"/api/v1/match/requests/{rid}/accept",
                                     headers=as_("u2"))] * 20)
        assert got == Counter({200: 1, 409: 19}), got
    store = Store(db_url)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Participant)) == N_PEOPLE
        assert s.scalar(select(func.count()).select_from(MeetingRequest)) == 11
        statuses = Counter(r.status for r in s.scalars(select(MeetingRequest)))
        assert statuses == Counter({"pending": 10, "accepted": 1})
    store.dispose()

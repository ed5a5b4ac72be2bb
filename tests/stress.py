"""A stress harness for concurrent writes: real ``critmin serve`` processes on 127.0.0.1 over
SQLite or PostgreSQL, with one or more workers, and many writers released at the same instant.

Used by ``tests/api/test_api_concurrency.py`` and by ``scripts/reliability.py`` (the figures in
``docs/reliability.md``). A scenario is a function ``(Target) -> Outcome`` registered with
:func:`scenario`: it fires its writes with :func:`fire` (all threads wait on one barrier, then
send at once), reads the final state back over HTTP and says whether the status codes and the
final state are the ones allowed. To add writes of another area (matchmaking profiles, meeting
requests), add a function decorated with ``@scenario("name")``; every test and the report pick it
up on every database and worker count.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

WRITERS = 50


@dataclass(frozen=True)
class Call:
    """One HTTP request: method, path (under the server's base URL), JSON body, headers."""

    method: str
    path: str
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Answer:
    status: int
    body: Any


@dataclass
class Target:
    """A running server and what a scenario needs to talk to it."""

    url: str
    database: str  # "sqlite" or "postgresql"
    workers: int
    tokens: dict[str, str]  # role -> bearer token
    writers: int = WRITERS

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, path: str, role: str | None = None) -> Answer:
        r = httpx.get(self.url + path, headers=self.auth(role) if role else {}, timeout=60)
        return Answer(r.status_code, _body(r))


@dataclass
class Outcome:
    """What a scenario saw: the status codes of its writes and whether all was as allowed."""

    name: str
    statuses: Counter[int]
    ok: bool
    problem: str = ""
    seconds: float = 0.0


SCENARIOS: dict[str, Callable[[Target], Outcome]] = {}


def scenario(name: str) -> Callable[[Callable[[Target], Outcome]], Callable[[Target], Outcome]]:
    """Register a scenario under ``name``."""

    def register(fn: Callable[[Target], Outcome]) -> Callable[[Target], Outcome]:
        SCENARIOS[name] = fn
        return fn

    return register


def _body(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return r.text


def fire(url: str, calls: list[Call]) -> list[Answer]:
    """Send ``calls`` from one thread each, released together by a barrier; the answers in the
    order of ``calls`` (a transport failure is status 0)."""
    barrier = threading.Barrier(len(calls))
    out: list[Answer | None] = [None] * len(calls)

    def send(i: int, call: Call) -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            barrier.wait()
            try:
                r = client.request(call.method, call.path, json=call.json, headers=call.headers)
                out[i] = Answer(r.status_code, _body(r))
            except httpx.TransportError as exc:
                out[i] = Answer(0, str(exc))

    threads = [threading.Thread(target=send, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [a for a in out if a is not None]


def outcome(name: str, answers: list[Answer], problems: list[str], start: float) -> Outcome:
    statuses = Counter(a.status for a in answers)
    errors = [a for a in answers if a.status >= 500 or a.status == 0]
    if errors:
        problems = [f"{len(errors)} server errors, e.g. {errors[0].body!r}", *problems]
    return Outcome(name, statuses, not problems, "; ".join(problems),
                   round(time.perf_counter() - start, 2))


# ------------------------------------------------------------------------ registry scenarios


def _project(pid: str, name: str = "Stress test project") -> dict[str, Any]:
    return {"id": pid, "name": name, "country": "AUS", "mineral": "lithium", "stage": "mine",
            "status": "announced", "source_url": "https://example.org/stress"}


def _created(t: Target) -> str:
    """The id of a new project, added by one request."""
    pid = f"STRESS-{uuid.uuid4().hex[:8]}"
    r = httpx.post(t.url + "/api/v1/coop/registry/projects", json=_project(pid),
                   headers=t.auth("analyst"), timeout=60)
    if r.status_code != 201:
        raise AssertionError(f"adding {pid} answered {r.status_code}: {r.text}")
    return pid


def _registry_ids(t: Target) -> list[str]:
    a = t.get("/api/v1/coop/registry/projects")
    if a.status != 200:
        raise AssertionError(f"registry read answered {a.status}: {a.body!r}")
    return [r["id"] for r in a.body["rows"]]


def _expect(statuses: Counter[int], allowed: dict[int, int | None]) -> list[str]:
    """Problems when ``statuses`` has a code outside ``allowed`` or a count differing from the
    expected one (None: any count)."""
    out = [f"unexpected status {s} x{n}" for s, n in statuses.items() if s not in allowed]
    out += [f"status {s} x{statuses.get(s, 0)}, expected x{n}"
            for s, n in allowed.items() if n is not None and statuses.get(s, 0) != n]
    return out


@scenario("registry: add one id")
def registry_add_same(t: Target) -> Outcome:
    pid = f"STRESS-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    answers = fire(t.url, [Call("POST", "/api/v1/coop/registry/projects", _project(pid),
                                t.auth("analyst"))] * t.writers)
    statuses = Counter(a.status for a in answers)
    problems = _expect(statuses, {201: 1, 409: t.writers - 1})
    if (n := _registry_ids(t).count(pid)) != 1:
        problems.append(f"{pid} is listed {n} times")
    return outcome("registry: add one id", answers, problems, start)


@scenario("registry: add distinct ids")
def registry_add_distinct(t: Target) -> Outcome:
    tag = uuid.uuid4().hex[:6]
    ids = [f"STRESS-{tag}-{i}" for i in range(t.writers)]
    start = time.perf_counter()
    answers = fire(t.url, [Call("POST", "/api/v1/coop/registry/projects", _project(pid),
                                t.auth("analyst")) for pid in ids])
    problems = _expect(Counter(a.status for a in answers), {201: t.writers})
    listed = _registry_ids(t)
    missing = [pid for pid in ids if listed.count(pid) != 1]
    if missing:
        problems.append(f"{len(missing)} ids not listed exactly once, e.g. {missing[0]}")
    return outcome("registry: add distinct ids", answers, problems, start)


@scenario("registry: edit one record, no If-Match")
def registry_edit_same(t: Target) -> Outcome:
    """Unconditional edits (accepted for backward compatibility): each is validated against the
    registry as it is when stored, so several may succeed; the last stored one stands."""
    pid = _created(t)
    start = time.perf_counter()
    answers = fire(t.url, [Call("PATCH", f"/api/v1/coop/registry/projects/{pid}",
                                {"name": f"name {i}"}, t.auth("analyst"))
                           for i in range(t.writers)])
    statuses = Counter(a.status for a in answers)
    problems = _expect(statuses, {200: None, 409: None})
    if not statuses.get(200):
        problems.append("no edit succeeded")
    winners = {f"name {i}" for i, a in enumerate(answers) if a.status == 200}
    rows = t.get("/api/v1/coop/registry/projects").body["rows"]
    final = [row["name"] for row in rows if row["id"] == pid]
    if len(final) != 1 or final[0] not in winners:
        problems.append(f"final name {final} is not one a successful edit wrote")
    return outcome("registry: edit one record, no If-Match", answers, problems, start)


def _version(t: Target, pid: str) -> str:
    """The version of project ``pid`` as ``GET`` answers it (body and ``ETag``)."""
    r = httpx.get(f"{t.url}/api/v1/coop/registry/projects/{pid}", timeout=60)
    if r.status_code != 200 or r.headers.get("ETag") != f'"{r.json()["version"]}"':
        raise AssertionError(f"reading {pid} answered {r.status_code} {r.headers}: {r.text}")
    return str(r.json()["version"])


def _conditional(t: Target, method: str, pid: str, version: str, i: int) -> Call:
    """Writer ``i``'s conditional change of ``pid``: even writers send the version as
    ``If-Match``, odd ones in the JSON body."""
    path = f"/api/v1/coop/registry/projects/{pid}"
    body: dict[str, Any] = {"name": f"name {i}"} if method == "PATCH" else {}
    if i % 2:
        return Call(method, path, {**body, "version": version}, t.auth("analyst"))
    return Call(method, path, body or None, {**t.auth("analyst"), "If-Match": f'"{version}"'})


def _conditional_race(t: Target, method: str
                      ) -> tuple[str, list[Answer], list[str], float]:
    """A new project, then ``t.writers`` conditional ``method`` calls on it with the version
    read before: (id, answers, problems unless exactly one 200 and 409 for the rest, start)."""
    pid = _created(t)
    version = _version(t, pid)
    start = time.perf_counter()
    answers = fire(t.url, [_conditional(t, method, pid, version, i) for i in range(t.writers)])
    problems = _expect(Counter(a.status for a in answers), {200: 1, 409: t.writers - 1})
    return pid, answers, problems, start


@scenario("registry: edit one record, If-Match")
def registry_edit_if_match(t: Target) -> Outcome:
    pid, answers, problems, start = _conditional_race(t, "PATCH")
    won = [(i, a.body) for i, a in enumerate(answers) if a.status == 200]
    rows = t.get("/api/v1/coop/registry/projects").body["rows"]
    final = [row["name"] for row in rows if row["id"] == pid]
    if len(won) == 1 and (final != [f"name {won[0][0]}"]
                          or _version(t, pid) != won[0][1]["version"]):
        problems.append(f"final name {final} or version is not the one winner's")
    return outcome("registry: edit one record, If-Match", answers, problems, start)


@scenario("registry: remove one record, If-Match")
def registry_remove_if_match(t: Target) -> Outcome:
    pid, answers, problems, start = _conditional_race(t, "DELETE")
    if pid in _registry_ids(t):
        problems.append(f"{pid} is still listed")
    return outcome("registry: remove one record, If-Match", answers, problems, start)


@scenario("registry: remove one record")
def registry_remove_same(t: Target) -> Outcome:
    pid = _created(t)
    start = time.perf_counter()
    answers = fire(t.url, [Call("DELETE", f"/api/v1/coop/registry/projects/{pid}",
                                None, t.auth("analyst"))] * t.writers)
    problems = _expect(Counter(a.status for a in answers), {200: 1, 409: t.writers - 1})
    if pid in _registry_ids(t):
        problems.append(f"{pid} is still listed")
    for path in ("/api/v1/coop/registry/groups", "/cooperation"):
        if (a := t.get(path)).status != 200:
            problems.append(f"GET {path} answered {a.status} afterwards")
    return outcome("registry: remove one record", answers, problems, start)


# ------------------------------------------------------------------------ servers and databases


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """An empty operational database: a SQLite file in ``folder``, or a fresh schema in
    ``$CRITMIN_TEST_DATABASE_URL`` (dropped afterwards). Yields its URL."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'critmin.db'}"
        return
    base = os.environ.get("CRITMIN_TEST_DATABASE_URL")
    if not base:
        raise LookupError("PostgreSQL needs CRITMIN_TEST_DATABASE_URL")
    from sqlalchemy import create_engine, text

    from critmin.storage import normalise_url

    schema = f"s_{uuid.uuid4().hex[:12]}"
    eng = create_engine(normalise_url(base))
    with eng.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with eng.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()


def seed_users(database_url: str, roles: tuple[str, ...] = ("analyst", "organiser",
                                                              "participant")) -> dict[str, str]:
    """Migrate the database and add one token-only user per role; their tokens by role."""
    from critmin import auth
    from critmin.storage import Store

    store = Store(database_url)
    store.upgrade()
    tokens = {}
    with store.session() as s:
        for role in roles:
            tokens[role] = auth.issue_token(s, auth.add_user(s, f"stress-{role}", role), "stress")
    store.dispose()
    return tokens


@contextmanager
def running_server(atlas: Path, folder: Path, *options: str, database_url: str | None = None,
                   env: dict[str, str] | None = None, pids: list[int] | None = None
                   ) -> Iterator[str]:
    """``critmin serve`` on 127.0.0.1 and a free port (default database: a SQLite file in
    ``folder``), answering; yields its base URL and terminates it on exit. The server's process
    id is appended to ``pids`` when given."""
    port = free_port()
    url_db = database_url or f"sqlite:///{folder / 'critmin.db'}"
    environ = {**os.environ, "CRITMIN_DATABASE_URL": url_db, **(env or {})}
    log_path = folder / f"serve-{port}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from critmin.cli import main; main()", "serve", "--port", str(port),
         "--db", str(atlas), "--log-level", "warning", *options],
        env=environ, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if pids is not None:
        pids.append(proc.pid)
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"critmin serve exited: {log_path.read_text()}")
            try:
                if httpx.get(f"{url}/api/v1", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("critmin serve did not answer in 60 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def target(atlas: Path, folder: Path, kind: str, workers: int) -> Iterator[Target]:
    """A server with ``workers`` workers over a fresh ``kind`` database, users seeded."""
    with database(kind, folder) as url:
        tokens = seed_users(url)
        with running_server(atlas, folder, "--workers", str(workers), database_url=url) as base:
            yield Target(base, kind, workers, tokens)

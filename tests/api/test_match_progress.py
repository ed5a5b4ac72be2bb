"""Live progress of a scheduler run through the API: while a run that takes several seconds is
RUNNING, ``GET /match/runs/{id}`` shows the best schedule found so far and the proved lower
bound; a re-run that finds nothing better keeps the published schedule."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from critmin.matchmaking.event import Event, read_event

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roundtable" / "event.json"


def hard_event(n_requests: int = 240, cap: int = 8, seed: int = 3) -> Event:
    """The 75 example organisations on 24 tables x 16 slots with ``n_requests`` accepted requests
    between random pairs (at most ``cap`` each) and no fairness bound: the optimum is not proved
    in seconds, so the run goes on for its whole time limit."""
    base = read_event(EXAMPLE)
    ids = [p.id for p in base.participants]
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    seen: set[frozenset[str]] = set()
    deg = dict.fromkeys(ids, 0)
    while len(pairs) < n_requests:
        a, b = rng.sample(ids, 2)
        if frozenset((a, b)) in seen or deg[a] >= cap or deg[b] >= cap:
            continue
        seen.add(frozenset((a, b)))
        pairs.append((a, b))
        deg[a] += 1
        deg[b] += 1
    reqs = [{"id": f"r{k}", "from": a, "to": b, "status": "accepted"}
            for k, (a, b) in enumerate(pairs, start=1)]
    return Event.model_validate({
        **base.model_dump(mode="json", by_alias=True), "n_tables": 24, "fairness": None,
        "morning": {"start": "09:00", "slots": 9}, "afternoon": {"start": "14:00", "slots": 7},
        "requests": reqs})


def _follow(c: TestClient, org: dict[str, str], run_id: str) -> tuple[list[dict[str, Any]],
                                                                       dict[str, Any]]:
    """Poll the run until it ends: the progress reports seen while it was RUNNING, and the run."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = c.get(f"/api/v1/match/runs/{run_id}", headers=org).json()["run"]
        if run["status"] != "RUNNING":
            return seen, run
        seen = run["progress"]
        time.sleep(0.25)
    raise AssertionError(f"run {run_id} still RUNNING after 120 s")


def test_run_reports_best_so_far_and_bound_while_running(
        org_client: tuple[TestClient, dict[str, str]]) -> None:
    c, org = org_client
    ev = hard_event()
    r = c.post("/api/v1/match/import", headers={**org, "Content-Type": "application/json"},
               content=ev.model_dump_json(by_alias=True).encode())
    assert r.status_code == 201, r.text
    r = c.post("/api/v1/match/schedule", headers=org,
               json={"time_limit_s": 5, "background": True})
    assert r.status_code == 202 and r.json()["status"] == "RUNNING", r.text
    first = r.json()["run_id"]
    seen, run = _follow(c, org, first)
    # before the end, at least one report had a schedule whose total is at or above the bound
    with_best = [x for x in seen if x["best"] is not None]
    assert with_best, seen
    assert all(x["bound"] <= x["best"] for x in with_best)
    assert [x["seconds"] for x in seen] == sorted(x["seconds"] for x in seen)
    bests = [x["best"] for x in with_best]
    assert bests == sorted(bests, reverse=True)  # the best so far never gets worse
    # the final answer is at least as good as every report, and no worse bound than reported
    assert run["status"] in ("FEASIBLE", "OPTIMAL")
    assert run["total_breaks"] <= bests[-1]
    assert run["lower_bound"] >= max(x["bound"] for x in seen) or run["status"] == "OPTIMAL"
    assert run["published"] is True  # nothing was published: a complete schedule is
    # a re-run that finds nothing better keeps the published schedule
    r = c.post("/api/v1/match/schedule", headers=org, json={"time_limit_s": 2})
    again = r.json()
    assert again["total_breaks"] is not None
    if again["total_breaks"] >= run["total_breaks"]:
        assert again["published"] is False and again["kept_published"] == first
    else:
        assert again["published"] is True
    pub = c.get("/api/v1/match/event", headers=org).json()["published_run_id"]
    assert pub == (first if again["published"] is False else again["run_id"])

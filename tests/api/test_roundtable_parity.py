"""One roundtable core: the same event gives the same recommendations and the same optimal total
breaks through the CLI (event file), the HTTP API and the web pages (SQL store)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from critmin import auth
from critmin.matchmaking.event import Event, read_event, write_event
from critmin.matchmaking.roundtable import accept_all_pending, add_request, recommend_for
from critmin.storage import Store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roundtable" / "event.json"


def small_event() -> Event:
    """Every third organisation of the example (25), two recommended requests each, accepted."""
    full = read_event(EXAMPLE)
    ev = full.model_copy(update={"participants": full.participants[::3], "requests": []})
    for p in ev.participants:
        for _ in range(2):
            recs = recommend_for(ev, p.id, top_k=1)
            if recs:
                ev = add_request(ev, p.id, recs[0].target)
    return accept_all_pending(ev)


@pytest.fixture(scope="module")
def client(starter_atlas: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[TestClient, str]]:
    from critmin.api import create_app

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('parity') / 'ops.db'}")
    app = create_app(starter_atlas, store=store, web=True)
    with store.session() as s:
        token = auth.issue_token(s, auth.add_user(s, "olga", "organiser", None), "t")
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c, token
    store.dispose()


def test_cli_api_and_web_agree(client: tuple[TestClient, str], tmp_path: Path,
                               cli: Callable[..., str]) -> None:
    c, token = client
    org = {"Authorization": f"Bearer {token}"}
    ev = small_event()
    path = tmp_path / "event.json"
    write_event(ev, path)
    r = c.post("/api/v1/match/import", headers={**org, "Content-Type": "application/json"},
               content=path.read_bytes())
    assert r.status_code == 201, r.text
    links = {row["ref"]: row["signin_path"] for row in r.json()["participants"]}
    ids = {p["ref"]: p["id"] for p in
           c.get("/api/v1/match/profiles", headers=org).json()["profiles"]}
    name_of = {p.id: p.name for p in ev.participants}
    by_country: dict[str, str] = {}
    for p in ev.participants:
        by_country.setdefault(p.country_iso3, p.id)
    for who in sorted(by_country.values()):
        from_cli = json.loads(cli("match", "recommend", str(path), "--participant", who,
                                  "--top", "5", "--format", "json"))
        api = c.get(f"/api/v1/match/recommendations?participant={ids[who]}&limit=5",
                    headers=org).json()["recommendations"]
        assert [x["target"] for x in from_cli] == [
            next(k for k, v in ids.items() if v == a["participant_id"]) for a in api]
        assert [x["score"] for x in from_cli] == [a["score"] for a in api]
        # the web page of that participant, signed in with its one-time link
        c.cookies.clear()
        r = c.post("/signin", data={"token": links[who].rsplit("/", 1)[1]},
                   headers={"Origin": "http://127.0.0.1"}, follow_redirects=False)
        assert r.status_code == 303, r.text
        page = c.get("/roundtable/recommendations").text
        shown = re.findall(r'<a href="/roundtable/profiles/\d+">([^<]+)</a>', page)
        assert shown[:5] == [name_of[x["target"]] for x in from_cli]
        c.cookies.clear()
    # the same optimum: the CLI on the file, the API on the store
    cli_res = json.loads(cli("match", "schedule", str(path), "--format", "json",
                             "--time-limit", "60"))
    api_res = c.post("/api/v1/match/schedule", headers=org, json={"time_limit_s": 60}).json()
    assert cli_res["status"] == api_res["status"] == "OPTIMAL"
    assert cli_res["total_breaks"] == api_res["total_breaks"]
    assert api_res["published"] is True and api_res["meetings"] == len(ev.requests)
    # a re-run that finds nothing better keeps the published schedule
    again = c.post("/api/v1/match/schedule", headers=org, json={"time_limit_s": 60}).json()
    assert again["published"] is False and again["kept_published"] == api_res["run_id"]

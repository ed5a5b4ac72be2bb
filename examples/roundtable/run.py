"""Run the fictitious India–Japan roundtable end to end.

recommendations → requests → answers → optimal schedule → independent check → agendas.

    python examples/roundtable/run.py [OUT_DIR]

Writes ``event_with_requests.json``, ``schedule.json`` and ``agendas/{id}.ics|csv|html`` to
``OUT_DIR`` (default ``examples/roundtable/out``). The same steps as CLI commands::

    critmin match recommend examples/roundtable/event.json --participant ind-01 --top 3
    critmin match schedule OUT_DIR/event_with_requests.json --format json > schedule.json
    critmin match check OUT_DIR/event_with_requests.json schedule.json
    critmin match agenda OUT_DIR/event_with_requests.json schedule.json --participant ind-01 \\
        --format ics -o ind-01.ics
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from critmin.matchmaking.agenda import agenda_csv, agenda_html, agenda_ics
from critmin.matchmaking.check import check_schedule
from critmin.matchmaking.event import Event, read_event, write_event
from critmin.matchmaking.recommend import score_matrix
from critmin.matchmaking.roundtable import (
    accepted_requests,
    add_request,
    build_instance,
    recommendation_profiles,
    recommend_for,
    respond,
    schedule_event,
)

HERE = Path(__file__).resolve().parent
REQUESTS_PER_PARTICIPANT = 2
MAX_MEETINGS = 7  # a participant declines requests beyond this many accepted meetings


def make_requests(event: Event, *, spread: bool = True) -> Event:
    """Each participant in turn asks for its best recommended counterpart not yet paired with it,
    ``REQUESTS_PER_PARTICIPANT`` times (with ``spread``, recommendations weigh current demand)."""
    matrix = score_matrix(recommendation_profiles(event), event.partner_countries)
    for p in event.participants:
        for _ in range(REQUESTS_PER_PARTICIPANT):
            recs = recommend_for(event, p.id, top_k=1, spread=spread, matrix=matrix)
            if not recs:
                break
            event = add_request(event, p.id, recs[0].target, note="recommended")
    return event


def meeting_counts(event: Event) -> dict[str, int]:
    """Accepted meetings per participant."""
    counts = {p.id: 0 for p in event.participants}
    for r in accepted_requests(event):
        counts[r.requester] += 1
        counts[r.target] += 1
    return counts


def answer_requests(event: Event) -> Event:
    """Targets accept in request order while both sides have room, then decline.

    Room: at most ``MAX_MEETINGS`` meetings, and fewer than the participant's available slots.
    """
    room = {}
    for p in event.participants:
        slots = set(range(1, event.n_slots + 1)) - set(p.unavailable_slots)
        if "afternoon" not in p.sessions:
            slots -= set(range(event.morning.slots + 1, event.n_slots + 1))
        room[p.id] = min(MAX_MEETINGS, len(slots) - 1)
    load: dict[str, int] = {}
    for r in list(event.requests):
        if r.status != "pending":
            continue
        ok = all(load.get(who, 0) < room[who] for who in (r.requester, r.target))
        event = respond(event, r.id, accept=ok)
        if ok:
            load[r.target] = load.get(r.target, 0) + 1
            load[r.requester] = load.get(r.requester, 0) + 1
    return event


def run(out_dir: Path, *, time_limit_s: float = 60.0, spread: bool = True) -> dict[str, object]:
    """Run every step, write the outputs to ``out_dir`` and return a summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    event = answer_requests(make_requests(read_event(HERE / "event.json"), spread=spread))
    write_event(event, out_dir / "event_with_requests.json")
    result = schedule_event(event, time_limit_s=time_limit_s)
    (out_dir / "schedule.json").write_text(json.dumps({
        "status": result.status, "total_breaks": result.total_breaks,
        "lower_bound": result.lower_bound,
        "schedule": [{"meeting": e.meeting, "slot": e.slot, "table": e.table}
                     for e in result.schedule]}, indent=1) + "\n")
    entries = list(result.schedule)
    report = check_schedule(build_instance(event), entries, fairness=event.fairness)
    agendas = out_dir / "agendas"
    agendas.mkdir(exist_ok=True)
    for p in event.participants:
        (agendas / f"{p.id}.ics").write_bytes(agenda_ics(event, entries, p.id).encode("utf-8"))
        (agendas / f"{p.id}.csv").write_text(agenda_csv(event, entries, p.id), encoding="utf-8")
        (agendas / f"{p.id}.html").write_text(agenda_html(event, entries, p.id), encoding="utf-8")
    counts = meeting_counts(event)
    return {
        "participants": len(event.participants),
        "requests": len(event.requests),
        "accepted": len(accepted_requests(event)),
        "with_0_meetings": sum(c == 0 for c in counts.values()),
        "with_1_meeting": sum(c == 1 for c in counts.values()),
        "status": result.status,
        "total_breaks": result.total_breaks,
        "lower_bound": result.lower_bound,
        "valid": report.valid,
        "seconds": round(result.wall_time_s, 2),
    }


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "out"
    print(json.dumps(run(target), indent=2))

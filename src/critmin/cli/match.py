"""``critmin match``: business matchmaking — recommend partners, schedule meetings, agendas.

Every command reads its input, calls one library function of :mod:`critmin.matchmaking` and
formats the answer. OR-Tools is imported only inside the scheduling call.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path

import typer

from critmin.cli import app
from critmin.cli.options import TableOrJson
from critmin.errors import InputError, SpecError

match_app = typer.Typer(
    help="Business matchmaking: partner recommendations, optimal meeting schedules, agendas.",
    no_args_is_help=True,
)
app.add_typer(match_app, name="match")


class SolveMethod(str, Enum):
    auto = "auto"
    maxsat = "maxsat"
    cpsat = "cpsat"


class AgendaFormat(str, Enum):
    ics = "ics"
    csv = "csv"
    html = "html"


def load_instance(path: Path):  # type: ignore[no-untyped-def]
    """A B2B instance from a ``.dzn`` benchmark file or an event JSON file (by extension)."""
    from critmin.matchmaking.dzn import read_dzn
    from critmin.matchmaking.event import read_event
    from critmin.matchmaking.roundtable import build_instance

    if path.suffix.lower() == ".json":
        return build_instance(read_event(path), path)
    if path.suffix.lower() == ".dzn":
        return read_dzn(path)
    raise InputError(path, "unknown instance format: use a .dzn benchmark file or an event .json")


@match_app.command("schedule")
def schedule_cmd(
    file: Path = typer.Argument(..., help="Instance: benchmark .dzn or event .json."),
    fairness: int = typer.Option(2, "--fairness", min=0,
                                 help="Fairness d: max breaks - min breaks <= d."),
    time_limit: float | None = typer.Option(None, "--time-limit", min=0.0,
                                            help="Solver time limit in seconds."),
    fmt: TableOrJson = typer.Option(TableOrJson.table, "--format",
                                    help="table (readable) or json (stable contract)."),
    workers: int = typer.Option(2, "--workers", min=1,
                                help="Solver processes (MaxSAT) or threads (CP-SAT)."),
    method: SolveMethod = typer.Option(SolveMethod.auto, "--method",
                                       help="auto (MaxSAT portfolio, CP-SAT for a schedule if "
                                            "time runs out), maxsat or cpsat."),
) -> None:
    """Schedule the accepted meetings into slots and tables with the fewest breaks (proved).

    For an event file the capacity check comes first: a violated necessary condition answers
    INFEASIBLE at once, with the numbers and what to drop or add."""
    from critmin.matchmaking.scheduler import solve_schedule

    if file.suffix.lower() == ".json":
        from critmin.matchmaking.event import read_event
        from critmin.matchmaking.roundtable import capacity_check

        cap = capacity_check(read_event(file))
        if not cap.feasible:
            if fmt is TableOrJson.json:
                sys.stdout.write(json.dumps({"status": "INFEASIBLE", "total_breaks": None,
                                             "lower_bound": 0, "schedule": [],
                                             "reasons": list(cap.reasons),
                                             "advice": list(cap.advice)}) + "\n")
                return
            typer.echo("INFEASIBLE (capacity, before solving)")
            for line in (*cap.reasons, *(f"advice: {a}" for a in cap.advice)):
                typer.echo(f"  - {line}")
            return
    inst = load_instance(file)
    result = solve_schedule(inst, fairness=fairness, time_limit_s=time_limit, workers=workers,
                            method=method.value)
    if fmt is TableOrJson.json:
        sys.stdout.write(json.dumps(result.to_json()) + "\n")
        return
    _print_schedule(inst, result)


def _print_schedule(inst, result) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(120, Console().width))
    console.print(
        f"[bold]{result.status}[/bold]  total breaks: {result.total_breaks}  "
        f"lower bound: {result.lower_bound}  ({result.wall_time_s:.1f} s)"
    )
    if result.status == "INFEASIBLE":
        from critmin.matchmaking.scheduler import explain_infeasibility

        for reason in explain_infeasibility(inst, result.fairness):
            console.print(f"  - {reason}")
    if not result.schedule:
        return
    grid = Table(title="Meetings per slot (table: participants)", show_lines=False)
    grid.add_column("slot", justify="right")
    grid.add_column("session")
    grid.add_column("meetings", overflow="fold")
    by_slot: dict[int, list[str]] = {}
    for a in sorted(result.schedule, key=lambda a: (a.slot, a.table)):
        mt = inst.meetings[a.meeting - 1]
        by_slot.setdefault(a.slot, []).append(
            f"T{a.table}: {inst.name(mt.p1)}–{inst.name(mt.p2)}"
        )
    for t in range(1, inst.n_slots + 1):
        grid.add_row(str(t), "morning" if t <= inst.n_morning_slots else "afternoon",
                     "; ".join(by_slot.get(t, [])) or "—")
    console.print(grid)
    if result.breaks_by_participant:
        worst = sorted(
            ((b, p) for p, b in enumerate(result.breaks_by_participant, start=1) if b),
            reverse=True,
        )
        if worst:
            console.print("breaks: " + ", ".join(f"{inst.name(p)}={b}" for b, p in worst))


@match_app.command("check")
def check_cmd(
    file: Path = typer.Argument(..., help="Instance: benchmark .dzn or event .json."),
    schedule: Path = typer.Argument(..., help="Schedule JSON (from `match schedule --format json`)."),
    fairness: int = typer.Option(2, "--fairness", min=0, help="Fairness d to verify."),
) -> None:
    """Verify a schedule independently: every constraint, breaks recomputed. Exit 1 if invalid."""
    from critmin.matchmaking.check import check_schedule, read_schedule_json

    inst = load_instance(file)
    entries, meta = read_schedule_json(schedule)
    claimed = meta.get("total_breaks")
    report = check_schedule(inst, entries, fairness=fairness,
                            claimed_total=claimed if isinstance(claimed, int) else None)
    if report.valid:
        typer.echo(f"valid: {len(entries)} meetings, total breaks {report.total_breaks}, "
                   f"fairness d={fairness} holds")
        return
    for problem in report.violations:
        typer.echo(f"violation: {problem}")
    typer.echo(f"invalid: {len(report.violations)} violation(s); "
               f"recomputed total breaks {report.total_breaks}")
    raise typer.Exit(1)


@match_app.command("recommend")
def recommend_cmd(
    event_file: Path = typer.Argument(..., help="Event JSON."),
    participant: str | None = typer.Option(None, "--participant", help="Participant id."),
    top: int = typer.Option(5, "--top", min=1, help="Suggestions per participant."),
    fmt: str = typer.Option("table", "--format", help="table, csv or json."),
    no_spread: bool = typer.Option(False, "--no-spread",
                                   help="Rank by fit alone, ignoring demand and capacity."),
) -> None:
    """Suggest counterparts for each participant, with the score and the reasons (public
    profile fields only; pairs already requested left out; demand spread by capacity)."""
    import pandas as pd

    from critmin.cli import emit
    from critmin.matchmaking.event import read_event
    from critmin.matchmaking.roundtable import recommend_for

    event = read_event(event_file)
    recs = recommend_for(event, participant, top_k=top, spread=not no_spread)
    df = pd.DataFrame(
        [
            {"participant": r.participant, "target": r.target,
             "target_name": event.profile(r.target).name, "score": r.score,
             "reasons": "; ".join(r.reasons)}
            for r in recs
        ],
        columns=["participant", "target", "target_name", "score", "reasons"],
    )
    if fmt not in ("table", "csv", "json"):
        raise SpecError(f"unknown format {fmt!r}: use table, csv or json")
    emit(df, fmt, title="Recommended meetings")


@match_app.command("agenda")
def agenda_cmd(
    event_file: Path = typer.Argument(..., help="Event JSON."),
    schedule: Path = typer.Argument(..., help="Schedule JSON of the event."),
    participant: str = typer.Option(..., "--participant", help="Participant id."),
    fmt: AgendaFormat = typer.Option(AgendaFormat.ics, "--format", help="ics, csv or html."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Output file (else stdout)."),
) -> None:
    """Write one participant's agenda as an iCalendar file, CSV or printable HTML page."""
    from critmin.matchmaking.agenda import agenda_csv, agenda_html, agenda_ics
    from critmin.matchmaking.check import read_schedule_json
    from critmin.matchmaking.event import read_event

    event = read_event(event_file)
    entries, _ = read_schedule_json(schedule)
    writer = {AgendaFormat.ics: agenda_ics, AgendaFormat.csv: agenda_csv,
              AgendaFormat.html: agenda_html}[fmt]
    text = writer(event, entries, participant)
    if output is None:
        sys.stdout.write(text)
    else:
        # ics needs its CRLF line ends kept as written
        output.write_bytes(text.encode("utf-8"))
        typer.echo(f"wrote {output}", err=True)

"""`critmin match` commands, the quick benchmark instances and the 75-participant example."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from critmin.cli import main
from critmin.matchmaking.check import ScheduleEntry, check_schedule
from critmin.matchmaking.dzn import read_dzn
from critmin.matchmaking.scheduler import solve_schedule

ROOT = Path(__file__).resolve().parents[2]
B2B = (ROOT / ".." / "shared" / "data" / "b2b").resolve()
# instances that the scheduler proves optimal in a few seconds on 2 cores
QUICK = ["forumt-14", "tic-12", "tic-13crafb", "tic-14crafa",
         # optimum above the trivial bound, or a tight break-free feasibility (seconds each)
         "forumt-14crafe", "tic-13crafc", "forum-13crafc", "forum-14"]

TINY = """nBusiness = 4; nMeetings = 3; nTables = 2; nTotalSlots = 4; nMorningSlots = 2;
requested = [|1, 2,1, |1, 3,3, |1, 4,2, |];
forbidden = [{0},{0},{0,3},{0}]; fixed = [0,0,0]; precedences = [{},{},{}];
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def reference() -> dict[str, int]:
    if not B2B.exists():
        pytest.skip(f"B2B benchmark data not found at {B2B}")
    with (B2B / "reference_optima_d2.csv").open() as fh:
        return {r["file"]: int(r["optimum_total_breaks"]) for r in csv.DictReader(fh)}


def test_schedule_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dzn = tmp_path / "tiny.dzn"
    dzn.write_text(TINY)
    code, out, _ = run(["match", "schedule", str(dzn), "--format", "json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"status", "total_breaks", "lower_bound", "schedule"}
    assert result["status"] == "OPTIMAL" and result["total_breaks"] == 0
    assert sorted(r["meeting"] for r in result["schedule"]) == [1, 2, 3]
    sched = tmp_path / "s.json"
    sched.write_text(out)
    code, out, _ = run(["match", "check", str(dzn), str(sched)], capsys)
    assert code == 0 and out.startswith("valid:")
    code, out, _ = run(["match", "schedule", str(dzn)], capsys)
    assert code == 0 and "OPTIMAL" in out


def test_check_reports_violations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dzn = tmp_path / "tiny.dzn"
    dzn.write_text(TINY)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schedule": [{"meeting": 1, "slot": 3, "table": 1},
                                            {"meeting": 2, "slot": 3, "table": 1}]}))
    code, out, _ = run(["match", "check", str(dzn), str(bad)], capsys)
    assert code == 1
    assert "violation: meeting 1: morning meeting in afternoon slot 3" in out
    assert "violation: 1 meeting(s) not scheduled: 3" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nBusiness = 4;\nnMeetings = 1;\nrequested = [|1, 2 1 |];",
         "line 3, field 'requested': expected ',' or '|' in a 2-d array"),
        (TINY.replace("|1, 4,2,", "|1, 9,2,"), "meeting 3 has unknown participant 9"),
        (TINY.replace("fixed = [0,0,0]", "fixed = [0,3,0]"),
         "meeting 2 is fixed to slot 3, which is forbidden for participant 3"),
    ],
)
def test_bad_input_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    dzn = tmp_path / "bad.dzn"
    dzn.write_text(text)
    code, out, err = run(["match", "schedule", str(dzn)], capsys)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.parametrize("name", QUICK)
def test_quick_benchmark_instances_are_proved_optimal(name: str) -> None:
    ref = reference()
    inst = read_dzn(B2B / f"{name}.original.dzn")
    res = solve_schedule(inst, fairness=2, time_limit_s=60)
    assert res.status == "OPTIMAL"
    assert res.total_breaks == ref[f"{name}.original.dzn"] == res.lower_bound
    entries = [ScheduleEntry(a.meeting, a.slot, a.table) for a in res.schedule]
    report = check_schedule(inst, entries, fairness=2)
    assert report.valid, report.violations
    assert report.total_breaks == res.total_breaks


@pytest.mark.slow
def test_roundtable_example_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("roundtable_run",
                                                  ROOT / "examples" / "roundtable" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    summary = module.run(tmp_path, time_limit_s=60)
    assert summary["participants"] == 75
    assert summary["accepted"] > 100
    assert summary["status"] in ("OPTIMAL", "FEASIBLE") and summary["valid"]
    ics = (tmp_path / "agendas" / "ind-01.ics").read_bytes().decode()
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and "BEGIN:VEVENT" in ics
    assert (tmp_path / "agendas" / "jpn-02.html").exists()
    # the same files through the CLI
    event_file = tmp_path / "event_with_requests.json"
    code, out, _ = run(["match", "check", str(event_file), str(tmp_path / "schedule.json")],
                       capsys)
    assert code == 0, out
    out_csv = tmp_path / "a.csv"
    code, _, _ = run(["match", "agenda", str(event_file), str(tmp_path / "schedule.json"),
                      "--participant", "gov-1", "--format", "csv", "-o", str(out_csv)], capsys)
    assert code == 0 and out_csv.read_text().startswith("slot,start,end,table")
    code, out, _ = run(["match", "recommend", str(event_file), "--participant", "ind-01",
                        "--top", "3", "--format", "json"], capsys)
    assert code == 0 and len(json.loads(out)) == 3

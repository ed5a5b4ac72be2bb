"""The .dzn reader (real benchmark files, malformed input) and the independent checker."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from critmin.errors import InputError
from critmin.matchmaking.check import ScheduleEntry, check_schedule, parse_schedule_rows
from critmin.matchmaking.dzn import instance_from_dzn_text, instance_to_dzn, read_dzn
from critmin.matchmaking.instance import Session

B2B = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "b2b").resolve()

TINY = """nBusiness = 3;
nMeetings = 2;
nTables = 1;
nTotalSlots = 3;
nMorningSlots = 2;
requested = [|1, 2,1,
|2, 3,3,
|];
meetingsxBusiness = [{1,2},{1,2,3},{1,3}];
nMeetingsBusiness = [1,2,1];
forbidden = [{0},{0,3},{0}];
fixed = [0,0];
precedences = [{},{}];
"""


def b2b_dir() -> Path:
    if not B2B.exists():
        pytest.skip(f"B2B benchmark data not found at {B2B}")
    return B2B


def test_tiny_instance_quirks() -> None:
    inst = instance_from_dzn_text(TINY, "tiny.dzn")
    assert inst.meetings[0].session is Session.MORNING
    assert inst.forbidden == (frozenset(), frozenset({3}), frozenset())  # dummy 0 dropped
    assert inst.fixed == (None, None)
    assert instance_from_dzn_text(instance_to_dzn(inst)) == inst


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TINY.replace("|2, 3,3,", "|2, 7,3,"), "line 6, field 'requested': meeting 2 has unknown "
         "participant 7"),
        (TINY.replace("nTables = 1;", "nTables = ;"), "line 3, field 'nTables': unsupported value ';'"),
        (TINY.replace("nBusiness = 3;", ""), "missing parameter nBusiness"),
        (TINY.replace("[1,2,1]", "[1,2,2]"), "nMeetingsBusiness says participant 3 has 2 meetings"),
        (TINY.replace("{1,2,3},{1,3}", "{1,2},{1,3}"), "meetingsxBusiness of participant 2"),
        (TINY.replace("fixed = [0,0]", "fixed = [0,3]"),
         "meeting 2 is fixed to slot 3, which is forbidden for participant 2"),
        (TINY.replace("fixed = [0,0]", "fixed = [3,0]"), "outside its session"),
        (TINY.replace("2,1,", "2,5,", 1), "meeting 1 has session 5"),
        (TINY + "oops", "expected '=', found end of file"),
        (TINY.replace("{0,3}", "{0,3"), "line 11: expected an integer, found '{'"),
        (TINY.replace("precedences = [{},{}]", "precedences = [{},{4}]"), "unknown meeting 4"),
        ("nBusiness = 3 $", "unexpected character"),
    ],
)
def test_malformed_dzn_gives_one_line_error(text: str, message: str) -> None:
    with pytest.raises(InputError) as exc:
        instance_from_dzn_text(text, "bad.dzn")
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_missing_file() -> None:
    with pytest.raises(InputError, match="file not found"):
        read_dzn("/nonexistent/x.dzn")


def test_all_benchmark_files_parse() -> None:
    files = sorted(b2b_dir().glob("*.dzn"))
    assert len(files) == 20
    with (B2B / "reference_optima_d2.csv").open() as fh:
        ref = {r["file"] for r in csv.DictReader(fh)}
    assert {f.name for f in files} == ref
    for f in files:
        inst = read_dzn(f)
        assert inst.n_meetings > 0 and inst.n_participants >= 42


def test_checker_reports_each_violation() -> None:
    inst = instance_from_dzn_text(TINY)
    clash = [ScheduleEntry(1, 1, 1), ScheduleEntry(2, 1, 1)]
    assert check_schedule(inst, clash).violations == (
        "slot 1: 2 meetings for 1 tables",
        "slot 1, table 1: 2 meetings (1, 2)",
        "slot 1: participant 2 has 2 meetings (1, 2)",
    )
    good = [ScheduleEntry(1, 1, 1), ScheduleEntry(2, 2, 1)]
    report = check_schedule(inst, good)
    assert report.valid and report.total_breaks == 0
    bad = [ScheduleEntry(1, 3, 1), ScheduleEntry(2, 3, 1), ScheduleEntry(2, 1, 1)]
    problems = check_schedule(inst, bad, claimed_total=5).violations
    assert "meeting 1: morning meeting in afternoon slot 3" in problems
    assert "meeting 2: slot 3 is forbidden for participant 2" in problems
    assert "meeting 2 is scheduled more than once" in problems
    assert "slot 3, table 1: 2 meetings (1, 2)" in problems
    assert "slot 3: participant 2 has 2 meetings (1, 2)" in problems
    assert "total_breaks says 5, recomputed 0" in problems


def test_checker_breaks_and_fairness() -> None:
    text = TINY.replace("nTotalSlots = 3", "nTotalSlots = 4").replace("{0,3}", "{0}")
    inst = instance_from_dzn_text(text)
    report = check_schedule(inst, [ScheduleEntry(1, 1, 1), ScheduleEntry(2, 4, 1)], fairness=0)
    assert report.total_breaks == 1
    assert report.breaks_by_participant == {1: 0, 2: 1, 3: 0}
    assert report.violations == (
        "fairness d=0 violated: participant 2 has 1 breaks, the minimum is 0",
    )


def test_schedule_rows_are_validated() -> None:
    with pytest.raises(InputError, match="'slot' must be an integer"):
        parse_schedule_rows({"schedule": [{"meeting": 1, "slot": "2", "table": 1}]}, "s.json")
    with pytest.raises(InputError, match="no 'schedule' list"):
        parse_schedule_rows({"status": "OPTIMAL"}, "s.json")

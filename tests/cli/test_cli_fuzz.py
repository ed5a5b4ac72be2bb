"""No traceback from any CLI input: random bytes and random structures fed to every command that
reads a file (``atlas build``, ``scenario run``, ``match schedule``, ``match check``, ``match
agenda``, ``coop restore``). The only outcomes allowed are success, or a one-line error with
exit 1 or 2.

Each command is fuzzed with three kinds of input: random bytes, random JSON/YAML/CSV/.dzn
structures built from the keys the real files use, and a real valid file with random bytes
overwritten or cut off. ``CRITMIN_FUZZ_EXAMPLES`` sets the examples per command (default 10);
``CRITMIN_FUZZ_LOG`` names a JSON-lines file that receives one line per example (command and
outcome), which ``scripts/reliability.py`` counts for ``docs/reliability.md``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
EVENT = ROOT / "examples" / "roundtable" / "event.json"
SCENARIO = ROOT / "examples" / "scenarios" / "china-graphite-ban.yaml"
EXAMPLES = int(os.environ.get("CRITMIN_FUZZ_EXAMPLES", "10"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])

# ----------------------------------------------------------------------------- strategies

KEYS = ["name", "base_year", "shocks", "exporter", "mineral", "stage", "cut", "targets",
        "duration_months", "reallocation", "method", "theta", "spare_capacity", "prefer",
        "stockpiles", "country", "days_of_imports", "format", "date", "timezone", "n_tables",
        "slot_minutes", "morning", "afternoon", "start", "slots", "participants", "id", "kind",
        "roles", "requests", "schedule", "meeting", "slot", "table", "p1", "p2"]
LEAVES = (st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
          | st.floats(allow_nan=True, allow_infinity=True)
          | st.sampled_from(["CHN", "JPN", "graphite", "mine", "all", "lp", "09:30", "25:99",
                             "2026-02-12", "Mars/Olympus", "ind-01", "critmin-event/1", ""])
          | st.text(max_size=12))
VALUES = st.recursive(LEAVES, lambda ch: st.lists(ch, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), ch,
                                        max_size=5), max_leaves=25)
STRUCTURES = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8) | VALUES


def _yaml(v: Any) -> bytes:
    import yaml

    return yaml.safe_dump(v, allow_unicode=True).encode("utf-8")


def _json(v: Any) -> bytes:
    return json.dumps(v, allow_nan=True).encode("utf-8")


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with up to 8 bytes overwritten, then possibly cut short."""
    data = bytearray(original)
    for _ in range(draw(st.integers(0, 8))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut] if draw(st.booleans()) else data)


def contents(original: bytes, structured: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=600) | structured | mutated(original)


DZN_TOKENS = st.sampled_from(["nBusiness", "nMeetings", "nTables", "nTotalSlots",
                              "nMorningSlots", "requested", "forbidden", "fixed", "precedences",
                              "=", ";", "[", "]", "{", "}", "|", ",", "..", "0", "1", "2", "3",
                              "99999999999999999999", "-1", "\n", " ", "%", "\r"])
DZN = st.lists(DZN_TOKENS, max_size=60).map(lambda ts: " ".join(ts).encode())
CSV_CELLS = st.lists(st.lists(st.sampled_from(
    ["", "x", "1", "nan", "inf", "1e308", "-5", "9999", "IND", "JPN", "cobalt", "mine",
     "operating", '"', '"a,b"', "\r", "\n", ";", "2024-01", "99999"]), max_size=8), max_size=8)
CSV = CSV_CELLS.map(lambda rows: "\n".join(",".join(r) for r in rows).encode())

# ----------------------------------------------------------------------------- running


def _run(args: list[str], capsys: pytest.CaptureFixture[str], label: str) -> None:
    """Run the CLI in-process; fail on any outcome but success or a one-line error (exit 1/2)."""
    from critmin.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(args)
    out = capsys.readouterr()
    code = exit_.value.code or 0
    log = os.environ.get("CRITMIN_FUZZ_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"command": label, "exit": code}) + "\n")
    if code == 0:
        return
    assert code in (1, 2), (code, out.err)
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.err, out.err


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An atlas (the starter atlas), a saved registry folder and a valid schedule of the
    example event."""
    from critmin import starter
    from critmin.cooperation.registry import Registry

    d = tmp_path_factory.mktemp("fuzz")
    starter.install(d / "atlas.duckdb", quiet=True)
    Registry.from_package().save_csv(d / "registry")
    return d


def _write(d: Path, name: str, data: bytes) -> Path:
    p = d / name
    if p.is_dir():
        shutil.rmtree(p)
    p.write_bytes(data)
    return p


@pytest.mark.slow
@FUZZ
@given(data=contents(SCENARIO.read_bytes(), STRUCTURES.map(_yaml) | STRUCTURES.map(_json)),
       suffix=st.sampled_from([".yaml", ".json"]))
def test_scenario_run(workdir: Path, capsys: pytest.CaptureFixture[str], data: bytes,
                      suffix: str) -> None:
    spec = _write(workdir, f"spec{suffix}", data)
    _run(["scenario", "run", str(spec), "--db", str(workdir / "atlas.duckdb"), "--format",
          "json"], capsys, "scenario run")


@pytest.mark.slow
@FUZZ
@given(data=contents(EVENT.read_bytes(), STRUCTURES.map(_json)) | DZN,
       suffix=st.sampled_from([".json", ".dzn"]))
def test_match_schedule(workdir: Path, capsys: pytest.CaptureFixture[str], data: bytes,
                        suffix: str) -> None:
    f = _write(workdir, f"instance{suffix}", data)
    _run(["match", "schedule", str(f), "--time-limit", "1", "--workers", "1", "--format",
          "json"], capsys, "match schedule")


def _schedule(workdir: Path, capsys: pytest.CaptureFixture[str]) -> bytes:
    p = workdir / "schedule.json"
    if not p.exists():
        from critmin.cli import main

        with pytest.raises(SystemExit):
            main(["match", "schedule", str(EVENT), "--time-limit", "20", "--format", "json"])
        p.write_text(capsys.readouterr().out)
    return p.read_bytes()


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_match_check_and_agenda(workdir: Path, capsys: pytest.CaptureFixture[str],
                                data: st.DataObject) -> None:
    good = _schedule(workdir, capsys)
    body = data.draw(contents(good, STRUCTURES.map(_json)))
    sched = _write(workdir, "fuzz-schedule.json", body)
    event = EVENT
    if data.draw(st.booleans()):  # damage the event instead
        event = _write(workdir, "fuzz-event.json",
                       data.draw(contents(EVENT.read_bytes(), STRUCTURES.map(_json))))
        sched = _write(workdir, "fuzz-schedule.json", good)
    _run(["match", "check", str(event), str(sched)], capsys, "match check")
    _run(["match", "agenda", str(event), str(sched), "--participant", "ind-01", "--output",
          str(workdir / "agenda.ics")], capsys, "match agenda")


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_atlas_build(workdir: Path, capsys: pytest.CaptureFixture[str],
                     data: st.DataObject) -> None:
    name = data.draw(st.sampled_from([
        "BACI_HS92_Y2024_V202401b.csv", "country_codes_V202401b.csv", "wgidataset.csv",
        "MCS2026_Commodities_Data.csv", "world_mining_data_2018_2024_long.csv",
        "comtrade_fuzz_2020_2024.csv", "us_dataweb_fuzz.csv", "unknown.csv"]))
    header = {"BACI": b"t,i,j,k,v,q\n", "coun": b"country_code,country_name,country_iso3\n",
              "wgid": b"code,year,indicator,estimate\n",
              "MCS2": b"MCS chapter,Section,Commodity,Country,Statistics,Statistics_detail,"
                      b"Unit,Year,Value,Notes,Is critical mineral 2025,Other notes\n",
              "worl": b"commodity,country,m49,iso3,year,value,unit,data_source\n",
              "comt": b"refYear,reporterCode,flowCode,partnerCode,classificationCode,cmdCode,"
                      b"primaryValue\n",
              "us_d": b"hts4,flow,partner,partner_iso,year,ytd_flag,value_usd\n",
              "unkn": b""}[name[:4]]
    body = data.draw(st.binary(max_size=600) | CSV.map(lambda b: header + b)
                     | mutated(header + b"2024,4,8,260300,1.5,2\n"))
    d = workdir / "src"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    _write(d, name, body)
    db = workdir / "build.duckdb"
    kind = data.draw(st.sampled_from(["atlas", "atlas", "garbage", "folder"]))
    shutil.rmtree(db, ignore_errors=True) if db.is_dir() else db.unlink(missing_ok=True)
    if kind == "atlas":
        shutil.copy(workdir / "atlas.duckdb", db)
    elif kind == "garbage":
        db.write_bytes(data.draw(st.binary(max_size=64)))
    else:
        db.mkdir()
    _run(["atlas", "build", str(d), "--db", str(db), "--silent", "--no-watch"], capsys,
         "atlas build")


@pytest.mark.slow
@FUZZ
@given(data=st.data())
def test_coop_restore(workdir: Path, capsys: pytest.CaptureFixture[str],
                      data: st.DataObject) -> None:
    folder = workdir / "fuzz-registry"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(workdir / "registry", folder)
    victim = data.draw(st.sampled_from(sorted(p.name for p in folder.iterdir())))
    original = (folder / victim).read_bytes()
    header = original.split(b"\n", 1)[0] + b"\n"
    _write(folder, victim, data.draw(contents(original, CSV.map(lambda b: header + b))))
    db = workdir / "restore.duckdb"
    if not db.exists():
        shutil.copy(workdir / "atlas.duckdb", db)
    _run(["coop", "restore", str(folder), "--db", str(db)], capsys, "coop restore")


# ----------------------------------------------------------------------------- named cases

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
DEEP_YAML = b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n"
DEEP_BLOCK_YAML = "".join(f"{' ' * i}k{i}:\n" for i in range(3000)).encode()
DEEP_DZN = b"x = " + b"[" * 100_000 + b"]" * 100_000 + b";\n"
NAMED = [
    ("scenario run", "spec.yaml", DEEP_YAML),
    ("scenario run", "spec.yaml", DEEP_BLOCK_YAML),
    ("scenario run", "spec.json", DEEP_JSON),
    ("scenario run", "spec.yaml", "name: caf\xe9\n".encode("latin-1")),
    ("scenario run", "spec.yaml", b"a: &a [*a, *a]\n"),
    ("match schedule", "i.dzn", DEEP_DZN),
    ("match schedule", "i.dzn", b"nTotalSlots = 99999999999999999999;\n"),
    ("match schedule", "i.json", DEEP_JSON),
    ("match check", "s.json", DEEP_JSON),
    ("match agenda", "s.json", DEEP_JSON),
    ("atlas build", "MCS2026_Commodities_Data.csv", b"MCS chapter,Section\rx,y\r"),
]


@pytest.mark.parametrize(("command", "name", "body"), NAMED,
                         ids=[f"{c}-{n}-{i}" for i, (c, n, _b) in enumerate(NAMED)])
def test_named_hostile_inputs(workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              command: str, name: str, body: bytes) -> None:
    f = _write(tmp_path, name, body)
    db = str(workdir / "atlas.duckdb")
    args = {
        "scenario run": ["scenario", "run", str(f), "--db", db],
        "match schedule": ["match", "schedule", str(f), "--time-limit", "1"],
        "match check": ["match", "check", str(EVENT), str(f)],
        "match agenda": ["match", "agenda", str(EVENT), str(f), "--participant", "ind-01"],
        "atlas build": ["atlas", "build", str(tmp_path), "--db", str(tmp_path / "a.duckdb"),
                        "--silent", "--no-watch"],
    }[command]
    from critmin.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 1, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err


@pytest.mark.parametrize("kind", ["text file", "folder", "empty file"])
@pytest.mark.parametrize("command", ["atlas build", "atlas info", "assess", "scenario run",
                                     "coop restore"])
def test_db_not_an_atlas(tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str,
                         command: str) -> None:
    db = tmp_path / "x.duckdb"
    if kind == "folder":
        db.mkdir()
    else:
        db.write_text("" if kind == "empty file" else "not a database\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    args = {
        "atlas build": ["atlas", "build", str(tmp_path), "--silent"],
        "atlas info": ["atlas", "info"],
        "assess": ["assess", "JPN"],
        "scenario run": ["scenario", "run", str(SCENARIO)],
        "coop restore": ["coop", "restore", str(tmp_path)],
    }[command]
    from critmin.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([*args, "--db", str(db)])
    err = capsys.readouterr().err
    assert exit_.value.code == 1, err
    assert len(err.strip().splitlines()) == 1 and str(db) in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before

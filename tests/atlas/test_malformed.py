"""Malformed source files never replace good data.

Each case starts from an atlas built from real files (BACI, WGI, USGS MCS, World Mining Data,
UN Comtrade), puts one damaged copy of a real file (or of its code table) in a folder and runs
``critmin atlas build``: the answer is a one-line error naming the file, line and field, exit 1,
and the atlas file is byte-identical. ``MALFORMED`` is also what ``scripts/reliability.py``
counts for ``docs/reliability.md``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import shared

BACI = "BACI_HS92_Y2024_V202401b.csv"
BACI_CODES = "country_codes_V202401b.csv"
WGI = "wgidataset.csv"
MCS = "MCS2026_Commodities_Data.csv"
WMD = "world_mining_data_2018_2024_long.csv"
COMTRADE = "comtrade_cmm_gold_qa_extract.csv"
WGI_PV = "wgi_pv_estimate_full_precision_1996_2024.csv"
ORIGIN = {WGI_PV: ("wgi",), BACI: ("baci",), BACI_CODES: ("baci",), WGI: ("wgi",), MCS: ("usgs",), WMD: ("wmd",),
          COMTRADE: ("comtrade",)}
ENCODING = {MCS: "cp1252"}


def _read(name: str) -> str:
    return shared(*ORIGIN[name], name).read_bytes().decode(ENCODING.get(name, "utf-8"))


def _set(name: str, line: int, field: str, value: str) -> str:
    """The real file ``name`` with ``field`` of the row starting at physical ``line`` set."""
    text = _read(name)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    starts, n = [], 1
    for r in rows:  # physical start line of each row
        starts.append(n)
        n += 1 + sum(c.count("\n") for c in r)
    i = starts.index(line)
    rows[i][header.index(field)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _loaded_line(name: str, table: str) -> int:
    """The physical line of the first row the loader keeps from the real file ``name``."""
    from critmin import atlas
    from critmin.sources import detect

    f = shared(*ORIGIN[name], name)
    return detect(f).parse(f, atlas.context()).tables[table].column("_line")[0].as_py()


def _lines(name: str, keep: Callable[[list[str]], list[str]]) -> str:
    return "".join(keep(_read(name).splitlines(keepends=True)))


def _next_release(name: str, *, drop_year: str = "", shift: int = 0, every: int = 1) -> str:
    """The real file ``name`` as a later release of its family would hold it: without the rows
    of ``drop_year`` (before the span the later release's name promises), years moved by
    ``shift``; keeping one data row in ``every`` makes a thinned copy of it."""
    rows = list(csv.reader(io.StringIO(_read(name), newline="")))
    year = [h.strip().lower() for h in rows[0]].index("year")
    kept = [r for r in rows[1:] if r[year].strip() != drop_year][::every]
    for r in kept:
        r[year] = str(int(r[year]) + shift) if shift else r[year]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([rows[0], *kept])
    return out.getvalue()


#: Later releases of a family (the file names a release after the real file's), damaged: they
#: are compared with the release they replace for the years and parts they cover.
MCS_NEXT = "MCS2027_Commodities_Data.csv"
BACI_NEXT = "BACI_HS92_Y2024_V202701.csv"
WGI_PV_NEXT = "wgi_pv_estimate_full_precision_1996_2025.csv"
WMD_NEXT = "world_mining_data_2019_2025_long.csv"


@dataclass(frozen=True)
class Case:
    id: str
    file: str
    content: Callable[[], str | bytes]
    error: str  # regex the one-line error must match (after the file name)


MALFORMED = [
    # BACI: impossible values, truncated codes, duplicates, years against the file name
    Case("baci-v-nan", BACI, lambda: _set(BACI, 2, "v", "nan"),
         r"line 2, field 'v': not a finite number"),
    Case("baci-v-inf", BACI, lambda: _set(BACI, 2, "v", "inf"),
         r"line 2, field 'v': not a finite number"),
    Case("baci-v-1e308", BACI, lambda: _set(BACI, 2, "v", "1e308"),
         r"line 2, field 'v': 1e\+308 above the maximum"),
    Case("baci-q-negative", BACI, lambda: _set(BACI, 3, "q", "-5"),
         r"line 3, field 'q': negative"),
    Case("baci-k-7-digits", BACI, lambda: _set(BACI, 2, "k", "1234567"),
         r"line 2, field 'k': not an HS6 code: '1234567'"),
    Case("baci-duplicate-key", BACI, lambda: _lines(BACI, lambda ls: [*ls[:3], ls[2], *ls[3:]]),
         r"line 4, field 't': duplicate key .*first at line 3"),
    Case("baci-year-1800", BACI, lambda: _set(BACI, 2, "t", "1800"),
         r"line 2, field 't': year 1800 in a file for 2024"),
    Case("baci-year-99999", BACI, lambda: _set(BACI, 2, "t", "99999"),
         r"line 2, field 't': not a year: '99999'"),
    Case("baci-header-only", BACI, lambda: _lines(BACI, lambda ls: ls[:1]),
         r"no data rows: refusing to load an empty file over [\d,]+ rows"),
    Case("baci-far-fewer-rows", BACI, lambda: _lines(BACI, lambda ls: ls[:101]),
         r"100 rows would replace [\d,]+ rows of baci-hs92-v202401b-y2024 .*--allow-shrink"),
    Case("baci-empty-file", BACI, lambda: "", r"line 1: empty file"),
    Case("baci-missing-column", BACI, lambda: "t,i,j,k,q\n2024,4,8,260300,1\n",
         r"line 1: unexpected header: missing column\(s\) v"),
    Case("baci-wrong-delimiter", BACI,
         lambda: _lines(BACI, lambda ls: [x.replace(",", ";") for x in ls[:50]]),
         r"line 1: unexpected header: missing column\(s\) t, i, j, k, v, q"),
    Case("baci-not-utf8", BACI, lambda: b"t,i,j,k,v,q\n2024,4,8,\xff\xfe,1,1\n",
         r"line 2: not valid utf-8"),
    Case("baci-bare-cr", BACI,
         lambda: _lines(BACI, lambda ls: [ls[0], "2024,4\r8,260300,1,1\n", *ls[2:]]),
         r"line 2: expected 6 fields, found 2"),
    Case("baci-country-table-bad-row", BACI_CODES,
         lambda: _lines(BACI_CODES, lambda ls: [*ls[:5], "abc,Nowhere,NW,NWH\n", *ls[5:]]),
         r"line 6, field 'country_code': not a BACI country code: 'abc'"),
    Case("baci-next-release-header-only", BACI_NEXT, lambda: _lines(BACI, lambda ls: ls[:1]),
         r"no data rows: refusing to load an empty file of release V202701 over [\d,]+ rows of "
         r"release V202401b \(baci-hs92-v202401b-y2024\) for 2024 .*--allow-shrink"),
    Case("baci-next-release-far-fewer-rows", BACI_NEXT, lambda: _lines(BACI, lambda ls: ls[:101]),
         r"100 rows of release V202701 would replace [\d,]+ rows of release V202401b "
         r"\(baci-hs92-v202401b-y2024\) for 2024: refusing .*--allow-shrink"),
    # World Bank WGI
    Case("wgi-estimate-nan", WGI, lambda: _set(WGI, 2, "estimate", "nan"),
         r"line 2, field 'estimate': not a finite number"),
    Case("wgi-estimate-inf", WGI, lambda: _set(WGI, 2, "estimate", "inf"),
         r"line 2, field 'estimate': not a finite number"),
    Case("wgi-estimate-1e308", WGI, lambda: _set(WGI, 2, "estimate", "1e308"),
         r"line 2, field 'estimate': 1e\+308 above the maximum"),
    Case("wgi-year-minus-5", WGI, lambda: _set(WGI, 2, "year", "-5"),
         r"line 2, field 'year': year -5 in a file for 1996-2024"),
    Case("wgi-duplicate-key", WGI, lambda: _lines(WGI, lambda ls: [*ls[:2], ls[1], *ls[2:]]),
         r"line 3, field 'year': duplicate key \(year=1996, country=AFG, indicator=cc\), "
         r"first at line 2"),
    Case("wgi-header-only", WGI, lambda: _lines(WGI, lambda ls: ls[:1]),
         r"no data rows: refusing to load an empty file over [\d,]+ rows"),
    Case("wgi-empty-file", WGI, lambda: "", r"line 1: empty file"),
    Case("wgi-missing-column", WGI, lambda: "code,year,indicator\nAFG,1996,cc\n",
         r"line 1: unexpected header: missing column\(s\) estimate"),
    Case("wgi-wrong-delimiter", WGI,
         lambda: _lines(WGI, lambda ls: [x.replace(",", ";") for x in ls[:50]]),
         r"line 1: unexpected header: missing column\(s\) code, year, indicator, estimate"),
    Case("wgi-next-release-far-fewer-rows", WGI_PV_NEXT, lambda: _lines(WGI_PV, lambda ls: ls[:501]),
         r"[\d,]+ rows of release 2026 would replace 5,178 rows of release 2024 \(wgi-2024\) "
         r"for 1996, 1998, 2000, 2002-2023: refusing"),
    # USGS Mineral Commodity Summaries
    Case("usgs-value-400-digits", MCS,
         lambda: _set(MCS, _loaded_line(MCS, "production"), "Value", "9" * 400).encode("cp1252"),
         r"field 'value': not a finite number"),
    Case("usgs-year-9999", MCS,
         lambda: _set(MCS, _loaded_line(MCS, "production"), "Year", "9999").encode("cp1252"),
         r"field 'year': year 9999 in a file for 2021-2026"),
    Case("usgs-header-only", MCS, lambda: _lines(MCS, lambda ls: ls[:1]).encode("cp1252"),
         r"no data rows: refusing to load an empty file over [\d,]+ rows"),
    Case("usgs-empty-file", MCS, lambda: "", r"line 1: empty file"),
    Case("usgs-bare-cr-line-ends", MCS,
         lambda: (_lines(MCS, lambda ls: ls[:1]).rstrip("\r\n") + "\r"
                  + "x,y\r").encode("cp1252"),
         r"line 2: expected 12 fields, found 2"),
    Case("usgs-next-release-header-only", MCS_NEXT,
         lambda: _lines(MCS, lambda ls: ls[:1]).encode("cp1252"),
         r"no data rows: refusing to load an empty file of release MCS2027 over [\d,]+ rows of "
         r"release MCS2026 \(usgs-mcs2026\) for 2023-2025 .*--allow-shrink"),
    Case("usgs-next-release-far-fewer-rows", MCS_NEXT,
         lambda: _next_release(MCS, drop_year="2021", every=4).encode("cp1252"),
         r"[\d,]+ rows of release MCS2027 would replace [\d,]+ rows of release MCS2026 "
         r"\(usgs-mcs2026\) for 2022-2025: refusing to shrink a source family below 50%"),
    # World Mining Data
    Case("wmd-value-nan", WMD, lambda: _set(WMD, 2, "value", "nan"),
         r"line 2, field 'value': not a finite number"),
    Case("wmd-year-outside-name", WMD, lambda: _set(WMD, 2, "year", "2031"),
         r"line 2, field 'year': year 2031 in a file for 2018-2024"),
    Case("wmd-header-only", WMD, lambda: _lines(WMD, lambda ls: ls[:1]),
         r"no data rows"),
    Case("wmd-next-release-far-fewer-rows", WMD_NEXT,
         lambda: _next_release(WMD, shift=1, every=5),
         r"[\d,]+ rows of release 2027 would replace [\d,]+ rows of release 2026 "
         r"\(wmd-2018-2024\) for 2019-2024: refusing"),
    # UN Comtrade
    Case("comtrade-value-nan", COMTRADE, lambda: _set(COMTRADE, 2, "primaryValue", "nan"),
         r"line 2, field 'primaryValue': not a number"),
    Case("comtrade-value-inf", COMTRADE, lambda: _set(COMTRADE, 2, "primaryValue", "inf"),
         r"line 2, field 'primaryValue': not a number"),
    Case("comtrade-value-1e308", COMTRADE, lambda: _set(COMTRADE, 2, "primaryValue", "1e308"),
         r"line 2, field 'primaryValue': 1e\+305 above the maximum"),
    Case("comtrade-year-9999", COMTRADE, lambda: _set(COMTRADE, 2, "refYear", "9999"),
         r"line 2, field 'refYear': 9999 above the maximum"),
]


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An atlas holding one real file of every source the cases damage."""
    from critmin import atlas

    db = tmp_path_factory.mktemp("baseline") / "atlas.duckdb"
    files = [shared(*ORIGIN[n], n) for n in (BACI, BACI_CODES, WGI, MCS, WMD, COMTRADE)]
    atlas.build(files, db, fresh=True)
    return db


def _build(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from critmin.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["atlas", "build", *args, "--silent"])
    out = capsys.readouterr()
    return exit_.value.code or 0, out.out, out.err


def _damaged(tmp_path: Path, case: Case) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    body = case.content()
    (d / case.file).write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    if case.file == BACI_CODES:  # the code table is read for the data files beside it
        shutil.copy(shared("baci", BACI), d)
    return d


@pytest.mark.parametrize("case", MALFORMED, ids=[c.id for c in MALFORMED])
def test_malformed_file_is_refused(case: Case, baseline: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "atlas.duckdb"
    shutil.copy(baseline, db)
    before = _digest(db)
    code, _out, err = _build([str(_damaged(tmp_path, case)), "--db", str(db)], capsys)
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {tmp_path / 'in' / case.file}"), lines[0]
    assert __import__("re").search(case.error, lines[0]), lines[0]
    assert _digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atlas.duckdb", "in"]


def test_allow_shrink_loads_the_smaller_file(baseline: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from critmin import atlas

    db = tmp_path / "atlas.duckdb"
    shutil.copy(baseline, db)
    d = tmp_path / "in"
    d.mkdir()
    (d / BACI).write_text(_lines(BACI, lambda ls: ls[:101]))
    code, _out, err = _build([str(d), "--db", str(db), "--allow-shrink"], capsys)
    assert code == 0, err
    sid = {s["source_id"]: s["rows"] for s in atlas.info(db)["sources"]}
    assert sid["baci-hs92-v202401b-y2024"] == 100


def test_nothing_new_leaves_the_atlas_file_untouched(baseline: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A build that loads nothing new does not rewrite the atlas: same bytes, same mtime."""
    import json

    db = tmp_path / "atlas.duckdb"
    shutil.copy2(baseline, db)
    before, mtime = _digest(db), db.stat().st_mtime_ns
    files = [str(shared(*ORIGIN[n], n)) for n in (BACI, WGI, MCS)]
    from critmin.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["atlas", "build", *files, "--db", str(db), "--format", "json"])
    assert exit_.value.code in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert report["changed"] is False
    assert {x["status"] for x in report["loaded"]} == {"unchanged"}
    assert _digest(db) == before and db.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atlas.duckdb"]


def _build_json(tmp_path: Path, baseline: Path, files: dict[str, str | bytes | Path],
                capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict, Path]:
    """Build ``files`` (name -> content, or a real file to copy) into a copy of the baseline;
    (exit code, the JSON build report, the atlas)."""
    import json

    db = tmp_path / "atlas.duckdb"
    shutil.copy(baseline, db)
    d = tmp_path / "in"
    d.mkdir()
    for name, body in files.items():
        if isinstance(body, Path):
            shutil.copy(body, d / name)
        else:
            (d / name).write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    from critmin.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["atlas", "build", str(d), "--db", str(db), "--format", "json", "--no-watch",
              *extra])
    out = capsys.readouterr()
    code = exit_.value.code or 0
    return code, json.loads(out.out) if code == 0 else {"error": out.err}, db


def _rows_by_source(db: Path) -> dict[str, int]:
    from critmin import atlas

    return {s["source_id"]: s["rows"] for s in atlas.info(db)["sources"]}


def test_a_later_release_of_normal_size_replaces_the_earlier_one(
        baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """MCS2026's rows as a 2027 release (the years the name promises): loaded, and the build
    report says which years it replaces."""
    body = _next_release(MCS, drop_year="2021").encode("cp1252")
    code, report, db = _build_json(tmp_path, baseline, {MCS_NEXT: body}, capsys)
    assert code == 0, report
    rows = _rows_by_source(db)
    assert rows["usgs-mcs2027"] > 0 and rows["usgs-mcs2026"] > 0  # both releases are kept
    assert "production: usgs-mcs release MCS2027 replaces MCS2026 for 2024-2025" in report["notes"]


@pytest.mark.parametrize(("name", "origin"), [
    # HS17 is another product list than HS92 (21,723 rows against HS92's 49,292 for 2024)
    ("BACI_HS17_Y2024_V202601.csv", ("baci_hs17",)),
    # the full-precision WGI release of 2025 carries only pv (5,417 rows against 30,974)
    ("wgi_pv_estimate_full_precision_1996_2024.csv", ("wgi",)),
    # a second UN Comtrade file: Comtrade records have no release, nothing is replaced
    ("comtrade_china_imports_hs2846_by_origin_1993_2024.csv", ("comtrade",)),
])
def test_smaller_files_that_replace_nothing_or_one_part_load(
        name: str, origin: tuple[str, ...], baseline: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Real files of the same family with far fewer rows than the family's files in the atlas,
    which do not replace them (another HS revision, another source without release) or
    replace one part (the WGI pv indicator only)."""
    files: dict[str, str | bytes | Path] = {name: shared(*origin, name)}
    if name.startswith("BACI_HS17"):
        files["country_codes_V202601.csv"] = shared("baci_hs17", "country_codes_V202601.csv")
    before = _rows_by_source(baseline)
    code, report, db = _build_json(tmp_path, baseline, files, capsys)
    assert code == 0, report
    after = _rows_by_source(db)
    assert {k: v for k, v in after.items() if k in before} == before
    assert [x["status"] for x in report["loaded"]] == ["loaded"]
    if name.startswith("wgi_pv"):
        assert "governance: wgi release 2025 replaces 2024 for 1996, 1998, 2000, 2002-2023" \
            in report["notes"]


def test_allow_shrink_loads_a_thinned_later_release(
        baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = _next_release(MCS, drop_year="2021", every=4).encode("cp1252")
    code, report, db = _build_json(tmp_path, baseline, {MCS_NEXT: body}, capsys, "--allow-shrink")
    assert code == 0, report
    assert 0 < _rows_by_source(db)["usgs-mcs2027"] < _rows_by_source(db)["usgs-mcs2026"] / 2

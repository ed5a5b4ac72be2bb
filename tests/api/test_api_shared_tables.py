"""The analytics' shared tables (issue 17): the server answers assess, GeoPolRisk, N-1 and
concentration by filtering tables it computes once per process for every country, economy,
mineral and year (:meth:`critmin.api._core.AtlasPool.shared`). Its answers must be the library's
answers to the question alone, also while many requests arrive at once and the start-up warm-up
is still computing, on a real server over SQLite and PostgreSQL."""

from __future__ import annotations

import concurrent.futures
import json
import math
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from critmin import output, provenance
from critmin.api._core import AtlasPool
from critmin.atlas import Atlas
from tests import stress

#: (route, query parameters) asked of the server; the expected rows come from the library.
QUESTIONS: list[tuple[str, dict[str, Any]]] = [
    ("assess/JPN", {"year": 2023}),
    ("assess/DEU", {"year": 2022}),
    ("assess/JPN", {}),
    ("assess/IND", {"mineral": ["cobalt", "lithium"]}),
    ("geopolrisk", {"economy": "JPN", "year": 2022}),
    ("geopolrisk", {"economy": "EU27", "year": 2020}),
    ("geopolrisk", {"economy": ["JPN", "KOR"], "material": ["cobalt", "nickel"]}),
    ("geopolrisk", {"material": "lithium", "year": 2021}),
    ("n-minus-1", {"mineral": "cobalt", "stage": "mine", "year": 2023}),
    ("n-minus-1", {"mineral": "lithium", "stage": "refinery", "year": 2022}),
    ("n-minus-1", {"mineral": "graphite"}),
    ("n-minus-1", {"stage": "refinery"}),
]


def expected_rows(atlas_path: Path, route: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The library's answer to one question (nothing kept between questions)."""
    from critmin.assessment import assess
    from critmin.metrics.geopolrisk import geopolrisk
    from critmin.scenarios.nminus1 import n_minus_1

    def listed(v: Any) -> list[Any] | None:
        return None if v is None else v if isinstance(v, list) else [v]

    with Atlas(atlas_path) as atlas:
        if route.startswith("assess/"):
            df = assess(route.split("/")[1], year=params.get("year"),
                        minerals=listed(params.get("mineral")), atlas=atlas)
        elif route == "geopolrisk":
            df = geopolrisk(atlas, economies=listed(params.get("economy")),
                            materials=listed(params.get("material")),
                            years=listed(params.get("year")))
        else:
            df = n_minus_1(atlas, mineral=params.get("mineral"), stage=params.get("stage"),
                           year=params.get("year"))
    return json.loads(output.to_json(df, name=route, ann={}))["rows"]


def _sorted(rows: list[dict[str, Any]]) -> list[str]:
    """Rows as canonical JSON text, sorted (assess sorts by import value; ties may swap), floats
    to 12 significant digits: DuckDB sums in parallel, so the last bits of a share differ from
    one run of the same query to the next."""

    def fix(v: Any) -> Any:
        return float(f"{v:.12g}") if isinstance(v, float) else v

    return sorted(json.dumps({k: fix(v) for k, v in r.items()}, sort_keys=True) for r in rows)


@pytest.fixture(scope="module")
def expected(starter_atlas: Path) -> dict[str, list[str]]:
    return {url(r, p): _sorted(expected_rows(starter_atlas, r, p)) for r, p in QUESTIONS}


def url(route: str, params: dict[str, Any]) -> str:
    return f"/api/v1/{route}?{urllib.parse.urlencode(params, doseq=True)}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, starter_atlas: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp(f"shared-{request.param}")
    try:
        db = stress.database(request.param, folder)
        database_url = db.__enter__()
    except LookupError as exc:
        pytest.skip(str(exc))
    try:
        with stress.running_server(starter_atlas, folder, "--workers", "2", "--warm-years", "2",
                                   database_url=database_url) as base:
            yield base
    finally:
        db.__exit__(None, None, None)


@pytest.mark.slow  # two servers of two workers computing their tables: minutes on a busy machine
def test_concurrent_answers_are_the_librarys(server: str, expected: dict[str, list[str]]) -> None:
    """Every question twice, 16 at a time, from the first instant (the warm-up of both workers
    is running): each answer is the library's rows for that question."""
    urls = [u for u in expected for _ in range(2)]

    def ask(u: str) -> tuple[int, list[str]]:
        r = httpx.get(server + u, timeout=900)  # a loaded machine: the warm-up runs meanwhile
        return r.status_code, _sorted(r.json().get("rows", [])) if r.status_code == 200 else []

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        answers = list(ex.map(ask, urls))
    wrong = [(u, status, _first_difference(rows, expected[u]))
             for u, (status, rows) in zip(urls, answers, strict=True)
             if status != 200 or _first_difference(rows, expected[u]) is not None]
    assert not wrong, f"{len(wrong)} answers differ from the library's, e.g. {wrong[:3]}"


def _first_difference(got: list[str], want: list[str]) -> tuple[Any, Any] | None:
    """The first pair of rows (canonical JSON, :func:`_sorted`) that differ beyond the last
    digits of a float (relative 1e-9: a value rounded to 12 digits can flip at the boundary),
    or None when the answers agree."""
    if len(got) != len(want):
        return (len(got), len(want))
    for g, w in zip(got, want, strict=True):
        a, b = json.loads(g), json.loads(w)
        if a.keys() != b.keys() or any(
                not (math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12)
                     if isinstance(a[k], float) and isinstance(b[k], float) else a[k] == b[k])
                for k in a):
            return (a, b)
    return None


def test_shared_computes_once_for_concurrent_callers(starter_atlas: Path) -> None:
    pool = AtlasPool(starter_atlas)
    calls: list[int] = []
    gate = threading.Event()

    def compute() -> pd.DataFrame:
        calls.append(1)
        gate.wait(5)
        provenance.record("production")
        # a shared table may use another one (the lock is re-entrant)
        inner = pool.shared(("inner",), lambda: len(calls))
        return pd.DataFrame({"n": [inner]})

    def ask(_: int) -> tuple[pd.DataFrame, dict[str, set[str]]]:
        with provenance.recording() as reads:
            return pool.shared(("outer",), compute), reads

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        futures = [ex.submit(ask, i) for i in range(8)]
        time.sleep(0.2)
        gate.set()
        results = [f.result(timeout=30) for f in futures]
    assert len(calls) == 1
    assert all(df is results[0][0] for df, _ in results)
    assert all("production" in reads for _, reads in results)  # replayed for every caller


def test_threads_share_one_database_and_see_the_views(starter_atlas: Path) -> None:
    pool = AtlasPool(starter_atlas)
    counts: list[int] = []

    def count(_: int) -> None:
        t = pool.atlas().table("production")
        counts.append(int(t.count().to_pyarrow().as_py()))
        counts.append(pool.cursor().execute("SELECT count(*) FROM production").fetchone()[0])

    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        list(ex.map(count, range(12)))
    with Atlas(starter_atlas) as alone:
        want = int(alone.table("production").count().to_pyarrow().as_py())
    assert counts == [want] * 24


def test_warm_up_fills_the_shared_tables(starter_atlas: Path) -> None:
    from critmin.api import analytics

    pool = AtlasPool(starter_atlas)
    analytics.warm(pool, 2)

    def keys(kind: str) -> list[Any]:
        return [k for k in pool._shared if k[0] == kind]

    assert keys("concentration") and keys("geopolrisk")
    # each one's latest year, the two latest trade years and any later production year
    assert {None, 2023, 2024} <= {k[1] for k in keys("n-minus-1")}
    assert len(keys("assess")) == 3  # the trade years of every importer, and two years


def test_filtered_tables_are_the_librarys_answers(starter_atlas: Path) -> None:
    """In-process, each question of :data:`QUESTIONS` about GeoPolRisk and N-1: filtering the
    table of every economy (mineral) gives the rows, order and types of the direct query, and
    bad input is refused the same way."""
    from critmin.errors import ChoiceError
    from critmin.metrics.geopolrisk import geopolrisk
    from critmin.scenarios.nminus1 import n_minus_1

    def listed(v: Any) -> list[Any] | None:
        return None if v is None else v if isinstance(v, list) else [v]

    with Atlas(starter_atlas) as atlas:
        every = geopolrisk(atlas)
        n1 = {y: n_minus_1(atlas, year=y) for y in (None, 2022, 2023)}
        for route, p in QUESTIONS:
            if route == "geopolrisk":
                args = {"economies": listed(p.get("economy")),
                        "materials": listed(p.get("material")), "years": listed(p.get("year"))}
                for _ in range(2):  # the second answer reads the kept lookups
                    pd.testing.assert_frame_equal(geopolrisk(atlas, **args, every=every),
                                                  geopolrisk(atlas, **args))
            elif route == "n-minus-1":
                pd.testing.assert_frame_equal(
                    n_minus_1(atlas, **p, every=n1[p.get("year")]), n_minus_1(atlas, **p))
        for bad in ({"economies": ["XXX"]}, {"years": [1800]}, {"materials": ["unobtainium"]}):
            with pytest.raises(ChoiceError):
                geopolrisk(atlas, every=every, **bad)
        with pytest.raises(ChoiceError):
            n_minus_1(atlas, stage="moon", every=n1[None])

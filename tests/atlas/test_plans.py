"""Compiled plans (critmin.plans): a computation's SQL is kept per atlas, release and code, a hit
runs it without Ibis, and the answer and the sources cited are those of a fresh computation (the
figures are USGS's, as published in MCS 2023 and MCS 2024)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from critmin import atlas as atlas_mod
from critmin import plans, provenance
from critmin.atlas import Atlas, reference_memtable, sql_cache_dir
from tests.conftest import shared

#: Congo (Kinshasa), cobalt mine production in 2022, metric tons of contained cobalt:
#: MCS 2023 (estimate) and MCS 2024 (revised).
COD_2022 = {"MCS2023": 130_000, "MCS2024": 144_000}


def _cod(a: Atlas, builds: list[int]) -> float:
    def build() -> dict[str, Any]:
        builds.append(1)
        p = a.table("production")
        q = p.filter((p.mineral == "cobalt") & (p.year == 2022) & (p.country == "COD")
                     & (p.stage == "mine"))
        return {"cod": q.aggregate(value=q.value.sum())}

    return float(plans.frames(a, "test.cod", {"year": 2022}, build)["cod"].value.iloc[0])


def _plans() -> dict[Path, int]:
    folder = sql_cache_dir() / "plans"
    return {f: f.stat().st_mtime_ns for f in folder.glob("*.json")} if folder.exists() else {}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CRITMIN_RELEASE", raising=False)
    monkeypatch.delenv(atlas_mod.SQL_CACHE_ENV, raising=False)
    db = tmp_path / "atlas.duckdb"
    atlas_mod.build([shared("usgs", "mcs2023_world_production_reserves_long.csv")], db,
                    fresh=True)
    return db


def test_a_plan_is_reused_and_follows_the_atlas_and_the_release(cache: Path) -> None:
    db, builds = cache, []
    with Atlas(db) as a:
        assert _cod(a, builds) == COD_2022["MCS2023"]
    first = _plans()
    assert len(first) == 1 and len(builds) == 1
    with Atlas(db) as a:  # a new handle, as a new process: the saved SQL, nothing built
        assert _cod(a, builds) == COD_2022["MCS2023"]
    assert _plans() == first and len(builds) == 1

    # the atlas changes (MCS 2024 revises 2022): a new plan, a new figure
    atlas_mod.build([shared("usgs", "mcs2024_world_production_reserves_long.csv")], db)
    with Atlas(db) as a:
        assert _cod(a, builds) == COD_2022["MCS2024"]
    assert len(_plans()) == 2 and len(builds) == 2
    # another release pinned: its own plan and its own figure
    with Atlas(db, release="MCS2023") as a:
        assert _cod(a, builds) == COD_2022["MCS2023"]
    assert len(_plans()) == 3
    for release in ("MCS2023", None):  # each served from its own plan
        with Atlas(db, release=release) as a:
            assert _cod(a, builds) == COD_2022[release or "MCS2024"]
    assert len(builds) == 3


def test_a_hit_cites_the_sources_of_a_fresh_computation(cache: Path) -> None:
    reads = []
    for _ in range(2):  # a miss, then a hit
        with Atlas(cache) as a, provenance.recording() as r:
            _cod(a, [])
            reads.append(r)
    assert reads[0] == reads[1]
    assert "production" in reads[1]


def test_the_cache_can_be_turned_off(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(atlas_mod.SQL_CACHE_ENV, "0")
    builds: list[int] = []
    for _ in range(2):
        with Atlas(cache) as a:
            assert _cod(a, builds) == COD_2022["MCS2023"]
    assert len(builds) == 2 and not _plans()


HIT_CODE = """
import sys
from critmin import plans
from critmin.atlas import Atlas

a = Atlas(sys.argv[1])

def build():
    from critmin.atlas import reference_memtable

    p = a.table("production")
    ref = reference_memtable("test_minerals", {"mineral": ["cobalt", "lithium"]},
                             {"mineral": "string"})
    q = p.filter(p.stage == "mine").semi_join(ref, "mineral")
    return {"n": q.group_by("mineral").aggregate(n=q.count()).order_by("mineral")}

f = plans.frames(a, "test.count", {}, build)["n"]
print(",".join(f"{m}={n}" for m, n in zip(f.mineral, f.n)), "ibis" in sys.modules)
"""


def test_a_hit_runs_the_saved_sql_without_ibis(cache: Path) -> None:
    """A new process with the plan saved: the same rows, and Ibis is never imported (the
    reference table the query reads is registered from the plan)."""
    out = [subprocess.run([sys.executable, "-c", HIT_CODE, str(cache)], capture_output=True,
                          text=True, check=True).stdout.split() for _ in range(2)]
    assert out[0][1] == "True" and out[1][1] == "False"
    assert out[0][0] == out[1][0]
    counts = dict(kv.split("=") for kv in out[1][0].split(","))
    assert set(counts) == {"cobalt", "lithium"} and all(int(n) > 0 for n in counts.values())


def test_an_unnamed_in_memory_table_is_run_but_not_saved(cache: Path) -> None:
    import ibis

    builds: list[int] = []

    def build() -> dict[str, Any]:
        builds.append(1)
        return {"t": ibis.memtable({"a": [1, 2, 3]}).aggregate(s=ibis._.a.sum())}

    with Atlas(cache) as a:
        for _ in range(2):
            assert plans.frames(a, "test.memtable", {}, build)["t"].s.iloc[0] == 6
    assert not _plans() and len(builds) >= 2


def test_reference_memtable_names_follow_their_content() -> None:
    a = reference_memtable("x", {"k": ["a", "b"]}, {"k": "string"})
    assert a.op().name == reference_memtable("x", {"k": ["a", "b"]}, {"k": "string"}).op().name
    assert a.op() is reference_memtable("x", {"k": ["a", "b"]}, {"k": "string"}).op()
    assert a.op().name != reference_memtable("x", {"k": ["a", "c"]}, {"k": "string"}).op().name
    assert a.op().name.startswith(atlas_mod.REFERENCE_MEMTABLE_PREFIX)
    assert atlas_mod.expression_key(a.count()) is not None  # cacheable, unlike ibis.memtable


def test_in_background_returns_the_value_records_reads_and_raises(cache: Path) -> None:
    with Atlas(cache) as a, provenance.recording() as reads:
        result = plans.in_background(a, lambda r: r.duckdb_connection.execute(
            "SELECT count(*) FROM production").fetchall()[0][0] + (provenance.record("x") or 0))
        assert result() > 0
        assert "x" in reads  # recorded in the thread, seen by the caller

        def fail(_: Any) -> None:
            raise ValueError("boom")

        with pytest.raises(ValueError, match="boom"):
            plans.in_background(a, fail)()


def test_run_gives_each_query_its_frame(cache: Path) -> None:
    with Atlas(cache) as a:
        out = plans.run(a.duckdb_connection, {"one": "SELECT 1 AS x", "two": "SELECT 2 AS x",
                                              "n": "SELECT count(*) AS n FROM production"})
    assert list(out) == ["one", "two", "n"]
    assert out["one"].x.iloc[0] == 1 and out["two"].x.iloc[0] == 2
    assert isinstance(out["n"], pd.DataFrame) and out["n"].n.iloc[0] > 0


def test_a_command_prefetches_the_plans_it_used_last_time(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plans, "_used", {})
    monkeypatch.setattr(plans, "_ahead", {})
    builds: list[int] = []
    with Atlas(cache) as a:
        assert _cod(a, builds) == COD_2022["MCS2023"]
    plans.remember("critmin test cod")
    with Atlas(cache) as a:
        plans.prefetch(a, "critmin test cod")
        assert len(plans._ahead) == 1  # started before anything asked for it
        with provenance.recording() as reads:
            assert _cod(a, builds) == COD_2022["MCS2023"]
        assert not plans._ahead and "production" in reads  # taken, and its sources cited
        plans.prefetch(a, "another command")  # nothing remembered: nothing started
        assert not plans._ahead
    # the atlas changes: the remembered plan is not the one asked for, and is not used
    atlas_mod.build([shared("usgs", "mcs2024_world_production_reserves_long.csv")], db := cache)
    with Atlas(db) as a:
        plans.prefetch(a, "critmin test cod")
        assert _cod(a, builds) == COD_2022["MCS2024"]
    assert len(builds) == 2


def test_the_release_table_is_kept_per_atlas_file(cache: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def rows(release: str | None = None) -> list[tuple[Any, ...]]:
        con = atlas_mod.connect(cache, release=release)
        try:
            return con.execute("SELECT * FROM _release_active ORDER BY ALL").fetchall()
        finally:
            con.close()

    folder = sql_cache_dir() / "release"
    first = rows()
    assert len(list(folder.glob("*.parquet"))) == 1
    assert rows() == first  # read back from the cache
    monkeypatch.setenv(atlas_mod.SQL_CACHE_ENV, "0")
    assert rows() == first  # computed again: the same rows
    monkeypatch.delenv(atlas_mod.SQL_CACHE_ENV)
    assert rows("MCS2023") == first and len(list(folder.glob("*.parquet"))) == 2
    atlas_mod.build([shared("usgs", "mcs2024_world_production_reserves_long.csv")], cache)
    after = rows()
    assert after != first and len(list(folder.glob("*.parquet"))) == 3
    assert {r[1] for r in after} > {r[1] for r in first}  # the MCS 2024 source counts now


def test_the_remembered_runs_are_bounded(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plans, "_used", {"a-plan.json": None})
    monkeypatch.setattr(plans, "MAX_PLANS", 8)
    for i in range(20):
        plans.remember(f"critmin command {i}")
    runs = list((plans.sql_cache_folder() / "runs").glob("*.json"))
    assert 0 < len(runs) <= 8


def test_reference_tables_hold_the_values_and_types_arrow_would_give() -> None:
    """A plan's reference tables, written as SQL literals, read back exactly as the Arrow table
    Ibis registers for the same columns: text with quotes, NULLs, floats at full precision
    (and infinities), booleans, integers; an empty table keeps its columns and types."""
    import duckdb
    import pyarrow as pa

    columns = {"code": ["260600", "it's", None], "factor": [0.30049502404920253, 1e-300, None],
               "big": [float("inf"), -0.0, 1 / 3], "gross": [True, False, None],
               "n": [1, None, -(2**62)]}
    types = {"code": "string", "factor": "float64", "big": "float64", "gross": "boolean",
             "n": "int64"}
    arrow = {"string": pa.string(), "float64": pa.float64(), "boolean": pa.bool_(),
             "int64": pa.int64()}
    memtables = {"critmin_ref_t": {"types": types, "columns": columns},
                 "critmin_ref_empty": {"types": {"a": "string"}, "columns": {"a": []}}}
    con = duckdb.connect()
    plans._register(con, memtables)
    plans._register(con, memtables)  # (once per connection: a second call changes nothing)
    con.register("expected", pa.table({c: pa.array(v, arrow[types[c]])
                                       for c, v in columns.items()}))
    assert (con.execute("SELECT * FROM critmin_ref_t").fetchall()
            == con.execute("SELECT * FROM expected").fetchall())
    assert ([r[:2] for r in con.execute("DESCRIBE critmin_ref_t").fetchall()]
            == [r[:2] for r in con.execute("DESCRIBE expected").fetchall()])
    assert con.execute("SELECT count(*), any_value(typeof(a)) FROM critmin_ref_empty"
                       ).fetchall() == [(0, None)]
    assert con.execute("SELECT typeof(a) FROM (SELECT a FROM critmin_ref_empty UNION ALL "
                       "SELECT 'x')").fetchall() == [("VARCHAR",)]


def test_a_command_prefetches_the_package_queries_it_ran_last_time(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The package SQL queries (critmin.metrics._sql) a command ran are started ahead on its
    next run, on the atlas it opens; a query takes the result started for it (the same SQL
    and parameters, on the same atlas or a reader beside it) and gives the same frame as one
    run then; another atlas handle runs its own."""
    from critmin.metrics.concentration import family_concentration

    for name in ("_used", "_used_queries", "_ahead", "_ahead_queries"):
        monkeypatch.setattr(plans, name, {})
    monkeypatch.setattr(plans, "_remembering", False)
    fresh = family_concentration(Atlas(cache), "cobalt")
    assert not plans._used_queries  # outside a command line's run: nothing remembered
    with Atlas(cache) as a:
        plans.prefetch(a, "critmin test conc")  # (nothing remembered yet: nothing started)
        assert not plans._ahead_queries
        pd.testing.assert_frame_equal(family_concentration(a, "cobalt"), fresh)
        plans.forget()
    asked = dict(plans._used_queries)
    assert len(asked) >= 2  # the column lookup and the concentration query
    plans.remember("critmin test conc")

    taken: list[bool] = []
    real = plans.prefetched_query

    def spy(atlas: Any, sql: str, params: Any) -> Any:
        cursor = real(atlas, sql, params)
        taken.append(cursor is not None)
        return cursor

    monkeypatch.setattr(plans, "prefetched_query", spy)
    with Atlas(cache) as a:
        plans.prefetch(a, "critmin test conc")
        assert set(plans._ahead_queries) == set(asked)  # started before anything asked
        pd.testing.assert_frame_equal(family_concentration(a, "cobalt"), fresh)
        assert taken and all(taken) and not plans._ahead_queries
        plans.forget()
    taken.clear()
    with Atlas(cache) as a:  # a reader beside the atlas takes them too
        plans.prefetch(a, "critmin test conc")
        wait = plans.in_background(a, lambda reader: family_concentration(reader, "cobalt"))
        pd.testing.assert_frame_equal(wait(), fresh)
        assert taken and all(taken)
        plans.forget()
    taken.clear()
    with Atlas(cache) as a, Atlas(cache) as b:  # another handle: not its queries
        plans.prefetch(a, "critmin test conc")
        pd.testing.assert_frame_equal(family_concentration(b, "cobalt"), fresh)
        assert taken and not any(taken)
        plans.forget()
    assert not plans._ahead_queries


def test_a_query_key_reads_back_as_the_same_parameters() -> None:
    assert plans.query_key("SELECT $x", {"x": [1, "a", None]}) is not None
    assert plans.query_key("SELECT $x", {"x": (1, 2)}) is None  # a tuple reads back as a list
    assert plans.query_key("SELECT $x", {"x": float("nan")}) is None
    assert plans.query_key("SELECT $x", {"x": object()}) is None

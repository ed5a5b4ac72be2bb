"""The compiled-query cache: a query compiled once is reused, and never across a changed atlas or
another pinned release (the figures are USGS's, as published in MCS 2023 and MCS 2024)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from critmin import atlas as atlas_mod
from critmin.atlas import Atlas, expression_key, sql_cache_dir
from tests.conftest import shared

#: Congo (Kinshasa), cobalt mine production in 2022, metric tons of contained cobalt:
#: MCS 2023 (estimate) and MCS 2024 (revised).
COD_2022 = {"MCS2023": 130_000, "MCS2024": 144_000}


def _cod_cobalt_2022(db: Path, release: str | None = None) -> float:
    with Atlas(db, release=release) as a:
        p = a.table("production")
        q = p.filter((p.mineral == "cobalt") & (p.year == 2022) & (p.country == "COD")
                     & (p.stage == "mine"))
        return float(q.value.sum().to_pandas())


def _cached(folder: Path) -> dict[Path, int]:
    return {f: f.stat().st_mtime_ns for f in folder.rglob("*.sql")}


def test_compiled_queries_are_reused_and_follow_the_atlas_and_the_release(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CRITMIN_RELEASE", raising=False)
    monkeypatch.delenv(atlas_mod.SQL_CACHE_ENV, raising=False)
    monkeypatch.setattr(atlas_mod, "_sql_memory", {})
    db = tmp_path / "atlas.duckdb"
    atlas_mod.build([shared("usgs", "mcs2023_world_production_reserves_long.csv")], db,
                    fresh=True)

    assert _cod_cobalt_2022(db) == COD_2022["MCS2023"]
    first = _cached(sql_cache_dir())
    assert len(first) == 1  # compiled once, saved for the next process

    atlas_mod._sql_memory.clear()  # as a new process: only the saved query is left
    assert _cod_cobalt_2022(db) == COD_2022["MCS2023"]
    assert _cached(sql_cache_dir()) == first  # served from the cache: nothing compiled again

    # the atlas changes (MCS 2024 revises 2022): a new identity, compiled again, new figure
    atlas_mod.build([shared("usgs", "mcs2024_world_production_reserves_long.csv")], db)
    assert _cod_cobalt_2022(db) == COD_2022["MCS2024"]
    after_build = _cached(sql_cache_dir())
    assert len(after_build) == 2 and set(first) < set(after_build)

    # another release pinned: its own entry, its own figure; each pin keeps its answer
    assert _cod_cobalt_2022(db, "MCS2023") == COD_2022["MCS2023"]
    assert len(_cached(sql_cache_dir())) == 3
    atlas_mod._sql_memory.clear()
    for release in ("MCS2024", "MCS2023", None):
        assert _cod_cobalt_2022(db, release) == COD_2022[release or "MCS2024"]


def test_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(atlas_mod.SQL_CACHE_ENV, "0")
    monkeypatch.delenv("CRITMIN_RELEASE", raising=False)
    db = tmp_path / "atlas.duckdb"
    atlas_mod.build([shared("usgs", "mcs2023_world_production_reserves_long.csv")], db,
                    fresh=True)
    assert _cod_cobalt_2022(db) == COD_2022["MCS2023"]
    assert not _cached(tmp_path / "cache")


KEY_CODE = """
import ibis
from critmin.atlas import expression_key
t = ibis.table({"year": "int16", "mineral": "string", "value": "float64"}, name="production")
for y in (2022, 2023):
    print(expression_key(t.filter((t.year == y) & (t.mineral == "cobalt")).value.sum()))
print(expression_key(ibis.memtable({"a": [1, 2]}).a.sum()))
"""


def test_expression_key_is_the_same_in_every_process() -> None:
    runs = []
    for seed in ("1", "2"):  # str hashes differ between the two processes
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", KEY_CODE], capture_output=True, text=True,
                             check=True, env=env)
        runs.append(out.stdout.split())
    assert runs[0] == runs[1]
    k2022, k2023, mem = runs[0]
    assert k2022 != k2023  # a different literal is a different query
    assert mem == "None"  # an in-memory table has no stable name: never cached


def test_expression_key_in_process() -> None:
    import ibis

    t = ibis.table({"year": "int16"}, name="trade_flows")
    assert expression_key(t.filter(t.year == 2022)) == expression_key(t.filter(t.year == 2022))
    assert expression_key(t.filter(t.year == 2022)) != expression_key(t.filter(t.year > 2022))


def test_evict_drops_the_older_half_past_the_limit(tmp_path: Path) -> None:
    """The one rule of the on-disk caches: past ``most`` entries, the older half goes (files
    and folders alike); other names and writes in progress (a leading dot) are left alone."""
    for i in range(5):  # entries 0 (oldest) to 4
        entry = tmp_path / f"{i}.sql"
        if i == 1:
            entry.mkdir()
            (entry / "inside.txt").write_text("x")
        else:
            entry.write_text("x")
        os.utime(entry, ns=(i * 10**9, i * 10**9))
    for other in (".5.sql", "keep.json"):
        (tmp_path / other).write_text("x")
        os.utime(tmp_path / other, ns=(0, 0))
    every = sorted(p.name for p in tmp_path.iterdir())
    atlas_mod.evict(tmp_path, "*.sql", 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == every  # at the limit: nothing goes
    atlas_mod.evict(tmp_path, "*.sql", 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".5.sql", "2.sql", "3.sql", "4.sql",
                                                         "keep.json"]


def test_compiled_queries_are_bounded_per_identity_and_in_identities(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(atlas_mod, "SQL_CACHE_ENTRIES", 4)
    monkeypatch.setattr(atlas_mod, "SQL_CACHE_FILES", 3)
    for other in ("plans", "release"):  # the other caches' folders, older than every identity
        (sql_cache_dir() / other).mkdir(parents=True)
        os.utime(sql_cache_dir() / other, ns=(0, 0))
    for i in range(10):
        atlas_mod._save_sql("one atlas", f"q{i}", "SELECT 1")
    assert 0 < len(list(atlas_mod._sql_cache_folder("one atlas").glob("*.sql"))) <= 4
    for i in range(10):
        atlas_mod._save_sql(f"atlas {i}", "q", "SELECT 1")
    kept = [d for d in sql_cache_dir().iterdir() if (d / "identity.txt").exists()]
    assert 0 < len(kept) <= 3 and atlas_mod._sql_cache_folder("atlas 9") in kept
    assert (sql_cache_dir() / "plans").is_dir() and (sql_cache_dir() / "release").is_dir()

"""Atlas build on the real data: counts, provenance, atomicity and idempotence."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from critmin import atlas
from critmin.errors import AtlasError, InputError
from tests.conftest import shared


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_full_build_counts(full_atlas: Path) -> None:
    info = atlas.info(full_atlas)
    baci = [s for s in info["sources"] if s["family"] == "baci"]
    assert len(baci) == 30
    assert sum(s["rows"] for s in baci) == 1_264_888
    assert sorted(s["years"][0] for s in baci) == list(range(1995, 2025))
    assert info["tables"]["trade_flows"] >= 1_264_888
    mcs = next(s for s in info["sources"] if s["source_id"] == "usgs-mcs2026")
    assert mcs["rows"] > 1000 and mcs["years"][1] == 2025 and mcs["years"][0] <= 2024
    assert mcs["sha256"] == _digest(shared("usgs", "MCS2026_Commodities_Data.csv"))
    for s in info["sources"]:
        assert s["licence"] and s["publisher"] and len(s["sha256"]) == 64
    # all country columns hold known ISO3 codes
    con = duckdb.connect(str(full_atlas), read_only=True)
    try:
        for table, col in [("trade_flows", "exporter"), ("trade_flows", "importer"),
                           ("production", "country"), ("governance", "country")]:
            bad = con.execute(f"SELECT count(*) FROM {table} WHERE {col} NOT IN "
                              "(SELECT iso3 FROM countries)").fetchall()[0][0]
            assert bad == 0, (table, col)
    finally:
        con.close()


def test_info_cli_json(full_atlas: Path) -> None:
    from typer.testing import CliRunner

    from critmin.cli import app

    res = CliRunner().invoke(app, ["atlas", "info", "--db", str(full_atlas), "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["tables"]["trade_flows"] >= 1_264_888
    assert any(s["source_id"] == "usgs-mcs2026" for s in data["sources"])


def _small_dir(tmp_path: Path, years: list[int]) -> Path:
    d = tmp_path / "baci"
    d.mkdir()
    for y in years:
        shutil.copy(shared("baci", f"BACI_HS92_Y{y}_V202401b.csv"), d)
    shutil.copy(shared("baci", "country_codes_V202401b.csv"), d)
    return d


def test_idempotent(tmp_path: Path) -> None:
    d = _small_dir(tmp_path, [2023, 2024])
    db = tmp_path / "atlas.duckdb"
    first = atlas.build([d], db)
    assert [x.status for x in first.loaded] == ["loaded", "loaded"]
    before = atlas.info(db)
    again = atlas.build([d, d / "BACI_HS92_Y2023_V202401b.csv"], db)
    assert {x.status for x in again.loaded} == {"unchanged"}
    after = atlas.info(db)
    assert before["tables"] == after["tables"]
    assert [s["loaded_at"] for s in before["sources"]] == [s["loaded_at"] for s in after["sources"]]


def test_bad_file_leaves_previous_atlas(tmp_path: Path) -> None:
    d = _small_dir(tmp_path, [2024])
    db = tmp_path / "atlas.duckdb"
    atlas.build([d], db)
    digest = _digest(db)
    shutil.copy(shared("baci", "BACI_HS92_Y2023_V202401b.csv"), d)
    bad = d / "BACI_HS92_Y2022_V202401b.csv"
    bad.write_text("t,i,j,k,v,q\n2022,4,124,260300,1.0,2.0\n2022,4,124,260300,1.0,-5\n")
    with pytest.raises(InputError, match=r"BACI_HS92_Y2022_V202401b\.csv line 3, field 'q': negative"):
        atlas.build([d], db)
    assert _digest(db) == digest
    assert not list(tmp_path.glob(".atlas.duckdb.building-*"))
    assert {s["source_id"] for s in atlas.info(db)["sources"]} == {"baci-hs92-v202401b-y2024"}


def test_killed_build_leaves_previous_atlas(tmp_path: Path) -> None:
    """Kill the build process (SIGKILL) after its second file: the old atlas is intact."""
    d = _small_dir(tmp_path, [2021, 2022, 2023, 2024])
    db = tmp_path / "atlas.duckdb"
    atlas.build([d / "BACI_HS92_Y2021_V202401b.csv"], db)
    digest = _digest(db)
    script = textwrap.dedent(f"""
        import os, signal
        from critmin import atlas
        def progress(label, done, total):
            if done == 2:  # two files loaded, the third about to be
                os.kill(os.getpid(), signal.SIGKILL)
        atlas.build([{str(d)!r}], {str(db)!r}, progress=progress)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert _digest(db) == digest
    info = atlas.info(db)
    assert {s["source_id"] for s in info["sources"]} == {"baci-hs92-v202401b-y2021"}
    # the next build cleans up what the killed one left and completes
    report = atlas.build([d], db)
    assert not list(tmp_path.glob(".atlas.duckdb.building-*"))
    assert len(atlas.info(db)["sources"]) == 4
    assert sum(x.rows for x in report.loaded) > 0


def test_unknown_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        atlas.build([tmp_path / "nope"], tmp_path / "a.duckdb")


def test_default_path_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          cli: Callable[..., str]) -> None:
    """Opening writes nothing; the command line installs the starter atlas explicitly on first
    use (the README quick start on a fresh machine)."""
    monkeypatch.setenv("CRITMIN_ATLAS", str(tmp_path / "x.duckdb"))
    assert atlas.default_path() == tmp_path / "x.duckdb"
    with pytest.raises(AtlasError, match=r"no atlas at .*critmin atlas starter"):
        atlas.Atlas.open()
    assert not os.listdir(tmp_path)
    cli("atlas", "info", "--format", "json")  # installs the starter atlas there
    a = atlas.Atlas.open()
    assert a.table("trade_flows").count().to_pyarrow().as_py() > 100_000
    a.close()
    assert os.path.exists(tmp_path / "x.duckdb")


def test_atlas_is_a_clean_boundary() -> None:
    """The atlas imports neither the starter nor any loader by name, and no public function of
    it takes a test hook (a parameter whose name starts with an underscore)."""
    import ast
    import inspect

    tree = ast.parse(Path(atlas.__file__).read_text())
    imported = {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names}  # "critmin.starter", "critmin.sources.base.Context", ...
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    from critmin.sources import loaders

    forbidden = ("critmin.starter", *(m.__name__ for m in loaders()))
    assert not {m for m in imported if m.startswith(forbidden)}
    assert ".baci" not in Path(atlas.__file__).read_text()
    for name, fn in inspect.getmembers(atlas, inspect.isfunction):
        if not name.startswith("_") and fn.__module__ == "critmin.atlas":
            assert not [p for p in inspect.signature(fn).parameters if p.startswith("_")], name

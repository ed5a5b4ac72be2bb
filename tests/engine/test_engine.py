"""Engine setting, Parquet export round trip, the dependency scan on hand cases, real and
synthetic data (DuckDB), the synthetic generator, and the CLI commands."""

from __future__ import annotations

import builtins
import csv
import json
from pathlib import Path

import ibis
import pandas as pd
import pyarrow.parquet as pq
import pytest

from critmin import engine, synthetic
from critmin.atlas import Atlas
from critmin.errors import CritminError
from critmin.metrics import concentration, scan


def test_engine_name_from_argument_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRITMIN_ENGINE", raising=False)
    assert engine.engine_name() == "duckdb"
    monkeypatch.setenv("CRITMIN_ENGINE", "Spark")
    assert engine.engine_name() == "spark"
    assert engine.engine_name("duckdb") == "duckdb"
    with pytest.raises(CritminError, match="unknown engine 'polars'"):
        engine.engine_name("polars")


def test_spark_missing_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args, **kwargs):
        if name == "pyspark" or name.startswith("pyspark."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(CritminError, match=r"pip install 'critmin\[spark\]'"):
        engine.require_spark()


def test_parquet_export_keeps_schema_types(two_year_atlas: Path, two_year_parquet: Path) -> None:
    from critmin import schema

    manifest = json.loads((two_year_parquet / engine.MANIFEST).read_text())
    assert manifest["tables"]["trade_flows"]["rows"] > 100_000
    t = pq.read_schema(next((two_year_parquet / "trade_flows").glob("*.parquet")))
    for c in schema.table("trade_flows").columns:
        assert t.field(c.name).type == c.arrow_type, c.name
    dates = pq.read_schema(next((two_year_parquet / "country_groups").glob("*.parquet")))
    assert str(dates.field("joined").type) == "date32[day]"


def test_export_refuses_non_empty_folder(two_year_atlas: Path, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    with pytest.raises(CritminError, match="not empty"):
        engine.export_parquet(tmp_path, atlas=two_year_atlas, tables=["units"])
    rows = engine.export_parquet(tmp_path, atlas=two_year_atlas, tables=["units"], overwrite=True)
    assert rows["units"] > 0


def test_duckdb_on_parquet_matches_the_atlas_file(two_year_atlas: Path,
                                                  two_year_parquet: Path) -> None:
    with Atlas(two_year_atlas) as a, engine.open_atlas("duckdb", parquet=two_year_parquet) as b:
        x = concentration.production_concentration(a.table("production")).to_pandas()
        y = concentration.production_concentration(b.table("production")).to_pandas()
        keys = ["mineral", "stage", "year", "unit", "basis"]
        pd.testing.assert_frame_equal(x.sort_values(keys, ignore_index=True),
                                      y.sort_values(keys, ignore_index=True)[x.columns],
                                      check_dtype=False)
        with pytest.raises(KeyError, match="no atlas table"):
            b.table("nope")


def _hand_tables() -> dict[str, ibis.Table]:
    # bloc {AAA, BBB}; product 1: outside imports 90 (CCC 80, DDD 10), intra 10, bloc exports 20
    # -> HHI (8/9)^2 + (1/9)^2 = 0.802, ratio 4.5, share 0.9: dependent.
    # product 2: outside 50 from 5 equal suppliers -> HHI 0.2: not dependent.
    # product 3: outside 30 from CCC, bloc exports 40 -> ratio 0.75: not dependent.
    rows = [("CCC", "AAA", "000001", 80.0), ("DDD", "BBB", "000001", 10.0),
            ("BBB", "AAA", "000001", 10.0), ("AAA", "EEE", "000001", 10.0),
            ("AAA", "AAA", "000001", 999.0)]
    rows += [(s, "AAA", "000002", 10.0) for s in ("CCC", "DDD", "EEE", "FFF", "GGG")]
    rows += [("CCC", "AAA", "000003", 30.0), ("AAA", "CCC", "000003", 40.0)]
    tf = pd.DataFrame(rows, columns=["exporter", "importer", "hs_code", "value_kusd"])
    tf["year"], tf["hs_revision"], tf["quantity_t"], tf["source_id"] = 2022, "HS92", None, "b"
    hs = pd.DataFrame({"hs_code": ["000001", "000001"], "hs_revision": ["HS92", "HS92"],
                       "mineral": ["lithium", "cobalt"]})
    return {"trade_flows": ibis.memtable(tf), "hs_map": ibis.memtable(hs),
            "members": ibis.memtable(pd.DataFrame({"iso3": ["AAA", "BBB"]}))}


def test_scan_hand_case() -> None:
    t = _hand_tables()
    df = scan.normalise(scan.scan(t["trade_flows"], t["members"], year=2022,
                                  hs_map=t["hs_map"], family=None).to_pandas())
    r = df.set_index("hs_code")
    one = r.loc["000001"]
    assert one.extra_imports_kusd == pytest.approx(90)
    assert one.intra_imports_kusd == pytest.approx(10)
    assert one.exports_kusd == pytest.approx(20)
    assert one.hhi == pytest.approx((8 / 9) ** 2 + (1 / 9) ** 2)
    assert one.import_export_ratio == pytest.approx(4.5)
    assert one.extra_share == pytest.approx(0.9)
    assert one.top_supplier == "CCC" and one.n_suppliers == 2
    assert one.dependent and one.minerals == "cobalt,lithium" and one.critical_mineral
    assert r.loc["000002"].hhi == pytest.approx(0.2) and not r.loc["000002"].dependent
    assert r.loc["000003"].import_export_ratio == pytest.approx(0.75)
    assert not r.loc["000003"].c_import_export and not r.loc["000003"].dependent
    assert list(df.hs_code) == ["000001", "000002", "000003"]
    # thresholds are parameters
    strict = scan.scan(t["trade_flows"], t["members"], year=2022, family=None,
                       extra_share_min=0.95).to_pandas()
    assert not strict.dependent.any()


def test_scan_real_data_eu27_and_country(two_year_atlas: Path) -> None:
    with Atlas(two_year_atlas) as a:
        eu = scan.dependency_scan("EU27", atlas=a)
        us = scan.dependency_scan("united states", atlas=a, year=2021, dependent_only=True)
    assert eu.attrs["year"] == 2022 and len(eu.attrs["members"]) == 27
    assert list(eu.columns) == [*scan.COLUMNS, "hs_codes", "hs_codes_missing"]
    dep = eu[eu.dependent]
    assert len(dep) > 0 and (dep.hhi > 0.4).all() and (dep.extra_share > 0.5).all()
    assert dep.critical_mineral.any()
    assert (eu.extra_share <= 1 + 1e-12).all() and (eu.hhi <= 1 + 1e-12).all()
    assert us.attrs["bloc"] == "USA" and us.dependent.all() and (us.extra_share == 1).all()


def test_scan_unknown_threshold_and_country(two_year_atlas: Path) -> None:
    with Atlas(two_year_atlas) as a:
        with pytest.raises(CritminError, match="unknown threshold"):
            scan.dependency_scan("EU27", atlas=a, hhi=0.3)
        with pytest.raises(CritminError, match="unknown country"):
            scan.dependency_scan("Atlantis", atlas=a)


def test_synthetic_shape(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    from tests.conftest import shared

    shared("baci")
    r = synthetic.generate(tmp_path, 25_000, rows_per_year=10_000, chunk_rows=4_000, seed=1)
    assert r.rows == 25_000 and r.years == [2020, 2021, 2022]
    df = pd.concat(pd.read_csv(f, dtype={"k": str}, keep_default_na=False) for f in r.files)
    assert list(df.columns) == ["t", "i", "j", "k", "v", "q"]
    assert not df.duplicated(["t", "i", "j", "k"]).any()
    assert (df.i != df.j).all() and (df.k.str.len() == 6).all()
    na = (df.q == "NA").mean()
    assert 0.03 < na < 0.07
    with (tmp_path / "country_codes_V202401b.csv").open() as f:
        codes = {int(x["country_code"]) for x in csv.DictReader(f)}
    assert set(df.i) <= codes and set(df.j) <= codes
    # heavy tail: the top 1 % of flows hold far more than 1 % of the value
    v = df.v.sort_values(ascending=False)
    assert v.head(len(v) // 100).sum() > 0.2 * v.sum()
    # Zipf-like: the most popular exporter has many times the median exporter's flows
    counts = df.i.value_counts()
    assert counts.iloc[0] > 10 * counts.median()


def test_scan_on_synthetic_data(synthetic_atlas: Path) -> None:
    with Atlas(synthetic_atlas) as a:
        df = scan.dependency_scan("EU27", atlas=a)
        assert a.table("trade_flows").count().to_pandas() == 60_000
    assert len(df) > 100 and df.dependent.any()


def _cli(args: list[str]) -> str:
    from typer.testing import CliRunner

    from critmin.cli import app

    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    return r.stdout


def test_cli_scan_export_synthetic(two_year_atlas: Path, tmp_path: Path) -> None:
    from tests.conftest import shared

    out = json.loads(_cli(["scan", "EU27", "--db", str(two_year_atlas), "--format", "json"]))
    assert out and all(r["dependent"] for r in out)
    table = _cli(["scan", "USA", "--db", str(two_year_atlas), "--year", "2021"])
    assert "Strategic dependencies of USA" in table
    res = json.loads(_cli(["atlas", "export", "--db", str(two_year_atlas), "--parquet",
                           str(tmp_path / "pq"), "--table", "trade_flows"]))
    assert res["tables"]["trade_flows"] > 0
    shared("baci")
    res = json.loads(_cli(["synthetic", "--rows", "2000", "--out", str(tmp_path / "syn"),
                           "--silent"]))
    assert res["rows"] == 2000


def test_missing_java_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """No Java for Spark: one 'error:' line and exit 1, before any export or Spark start."""
    from critmin.cli import main

    monkeypatch.setenv("JAVA_HOME", str(tmp_path))  # no bin/java there
    with pytest.raises(CritminError, match=r"needs Java: \$JAVA_HOME .* has no bin/java"):
        engine.require_java()
    for args in (["assess", "JPN"], ["concentration", "--mineral", "cobalt"],
                 ["geopolrisk", "--economy", "JPN"], ["scenario", "n-minus-1"], ["scan", "USA"]):
        with pytest.raises(SystemExit) as exc:
            main([*args, "--engine", "spark", "--db", str(tmp_path / "none.duckdb")])
        assert exc.value.code == 1
        err = capsys.readouterr().err
        assert err.startswith("error: the Spark engine needs Java") and err.count("\n") == 1, err


@pytest.mark.parametrize("args", [["coop", "blocs", "--mineral", "cobalt"],
                                  ["coop", "whatif", "--project", "JERVOIS-ICO"],
                                  ["scenario", "montecarlo"],
                                  ["geopolrisk", "--compat", "geopolrisk-py"]])
def test_duckdb_only_commands_refuse_spark(args: list[str], monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A command that cannot run on Spark says so in one line; it never runs on DuckDB."""
    from critmin.cli import main

    monkeypatch.setenv("CRITMIN_ENGINE", "spark")
    with pytest.raises(SystemExit) as exc:
        main([*args, "--db", str(tmp_path / "none.duckdb")])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "DuckDB only" in err and err.count("\n") == 1, err
    assert not (tmp_path / "none.duckdb").exists()

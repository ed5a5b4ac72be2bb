"""Watch rules on real BACI data: an atlas built without, then with, the 2024 file raises the
alerts the 2024 figures imply (values computed here from the CSV files, independently of
critmin); a new export restriction raises an alert for importers of the mineral."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from critmin.scenarios import restrictions
from tests.conftest import shared
from tests.watch.conftest import add_user, baci_imports

GRAPHITE_HS92 = {250410, 250490, 380110}  # natural graphite (powder/flakes, other), artificial
ANTIMONY_HS92 = {261710, 811000, 282580}  # ores and concentrates, unwrought metal, oxides
#: EU member states since 1 February 2020 (Treaty on European Union, Art. 52).
EU27 = {"AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC",
        "HUN", "IRL", "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK",
        "SVN", "ESP", "SWE"}


def share(values: pd.Series, suppliers: set[str]) -> float:
    return float(values[values.index.isin(suppliers)].sum() / values.sum())


def hhi(values: pd.Series) -> float:
    s = values / values.sum()
    return float((s * s).sum())


@pytest.fixture(scope="module")
def truth() -> dict[str, float]:
    """The figures the alerts must carry, from the BACI CSVs."""
    jpn = {y: baci_imports(y, {"JPN"}, GRAPHITE_HS92) for y in (2023, 2024)}
    eu = baci_imports(2023, EU27, GRAPHITE_HS92)
    sb = baci_imports(2024, {"JPN"}, ANTIMONY_HS92)
    return {"chn_2023": share(jpn[2023], {"CHN"}), "chn_2024": share(jpn[2024], {"CHN"}),
            "hhi_2023": hhi(jpn[2023]), "hhi_2024": hhi(jpn[2024]),
            "eu_chn_2023": share(eu, {"CHN"}), "sb_chn_2024": share(sb, {"CHN"})}


def alerts(cli: Callable[..., str], url: str) -> list[dict]:
    return json.loads(cli("watch", "alerts", "--user", "ana", "--format", "json",
                          "--database-url", url))


@pytest.mark.slow
def test_build_without_then_with_2024_raises_the_2024_alerts(
        cli: Callable[..., str], db_url: str, tmp_path: Path, truth: dict[str, float]) -> None:
    baci = shared("baci")
    db = tmp_path / "atlas.duckdb"
    common = ["--db", str(db), "--silent", "--database-url", db_url]
    cli("atlas", "build", str(baci / "BACI_HS92_Y2022_V202401b.csv"),
        str(baci / "BACI_HS92_Y2023_V202401b.csv"), str(baci / "country_codes_V202401b.csv"),
        *common)
    add_user(db_url, "ana")
    up = truth["chn_2024"] > truth["chn_2023"]
    mid = (truth["chn_2023"] + truth["chn_2024"]) / 2
    dh = abs(truth["hhi_2024"] - truth["hhi_2023"])
    assert dh > 1e-4 and abs(truth["chn_2024"] - truth["chn_2023"]) > 1e-4
    add = ["--user", "ana", "--db", str(db), "--database-url", db_url]
    # 1: crosses only with the 2024 figures
    cli("watch", "add", "JPN", "graphite", "--indicator", "import_share", "--supplier", "CHN",
        "--above" if up else "--below", repr(mid), *add)
    # 2: HHI moves by more than half its real move; 3: by more than twice (must stay silent)
    cli("watch", "add", "JPN", "graphite", "--indicator", "import_hhi", "--moves",
        repr(dh / 2), *add)
    cli("watch", "add", "JPN", "graphite", "--indicator", "import_hhi", "--moves",
        repr(dh * 2), *add)
    # 4: a bloc as importer: holds on the 2023 data already
    cli("watch", "add", "EU27", "graphite", "--indicator", "import_share", "--supplier", "CHN",
        "--above", "0.0", *add)
    # 5: an export restriction on antimony touching Japan
    cli("watch", "add", "JPN", "antimony", "--event", "restriction", *add)

    out = json.loads(cli("watch", "check", "--db", str(db), "--database-url", db_url,
                         "--format", "json"))
    assert out["rules"] == 5
    first = alerts(cli, db_url)
    assert [a["rule"]["id"] for a in first] == [4]
    assert first[0]["new_value"] == pytest.approx(truth["eu_chn_2023"], rel=1e-9)
    assert first[0]["new_release"]["year"] == 2023
    assert first[0]["provenance"]["sources"][0]["source_id"] == "baci-hs92-v202401b-y2023"

    # the atlas gains the 2024 file: the build evaluates the rules
    cli("atlas", "build", str(baci / "BACI_HS92_Y2024_V202401b.csv"),
        str(baci / "country_codes_V202401b.csv"), *common)
    new = {a["rule"]["id"]: a for a in alerts(cli, db_url) if a["rule"]["id"] != 4}
    assert sorted(new) == [1, 2]
    assert all(a["trigger"] == "atlas-build" for a in new.values())
    a1, a2 = new[1], new[2]
    assert a1["old_value"] == pytest.approx(truth["chn_2023"], rel=1e-9)
    assert a1["new_value"] == pytest.approx(truth["chn_2024"], rel=1e-9)
    assert a2["old_value"] == pytest.approx(truth["hhi_2023"], rel=1e-9)
    assert a2["new_value"] == pytest.approx(truth["hhi_2024"], rel=1e-9)
    for a in (a1, a2):
        assert a["old_release"]["year"] == 2023 and a["new_release"]["year"] == 2024
        assert [s["source_id"] for s in a["new_release"]["sources"]] == \
            ["baci-hs92-v202401b-y2024"]
        assert a["new_release"]["sources"][0]["release"] == "V202401b"
    # what changed: the 2024 rows, nothing removed or changed
    whats_new = json.loads((tmp_path / "atlas.duckdb.whats-new.json").read_text())
    tf = [t for t in whats_new["tables"] if t["table"] == "trade_flows"]
    assert [(t["family"], t["removed"], t["changed"]) for t in tf] == [("baci", 0, 0)]
    assert {r["year"] for r in tf[0]["added_examples"]} == {2024}
    assert tf[0]["added"] == len(pd.read_csv(baci / "BACI_HS92_Y2024_V202401b.csv"))
    # ... shown on the what's-new page
    from fastapi.testclient import TestClient

    from critmin.api import create_app
    from critmin.storage import Store

    store = Store(db_url)
    try:
        with TestClient(create_app(db, store=store)) as client:
            page = client.get("/whats-new").text
    finally:
        store.dispose()
    assert f"{tf[0]['added']:,}" in page and 'id="moved"' in page

    # nothing new on the same data: no duplicates
    cli("watch", "check", "--db", str(db), "--database-url", db_url)
    assert len(alerts(cli, db_url)) == 3

    # a new restriction on antimony by China, for all destinations
    reg = restrictions.registry()
    row = {c: "" for c in reg.columns} | {
        "id": "TEST-CHN-SB-BAN", "exporter": "CHN", "target": "all", "mineral": "antimony",
        "stage": "all", "measure": "ban", "announced": "2025-01-01", "effective": "2025-02-01",
        "source_url": "https://example.org/announcement"}
    rx = tmp_path / "restrictions.csv"
    pd.concat([reg, pd.DataFrame([row])]).to_csv(rx, index=False)
    cli("watch", "check", "--restrictions", str(rx), "--db", str(db), "--database-url", db_url)
    ev = [a for a in alerts(cli, db_url) if a["rule"]["id"] == 5]
    assert len(ev) == 1
    assert ev[0]["detail"]["restriction"]["id"] == "TEST-CHN-SB-BAN"
    assert ev[0]["new_value"] == pytest.approx(truth["sb_chn_2024"], rel=1e-9)
    assert ev[0]["detail"]["trade_year"] == 2024
    # the same registry again: no second alert
    cli("watch", "check", "--restrictions", str(rx), "--db", str(db), "--database-url", db_url)
    assert len([a for a in alerts(cli, db_url) if a["rule"]["id"] == 5]) == 1

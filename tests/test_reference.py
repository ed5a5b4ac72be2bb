"""Reference tables shipped with the package are consistent with each other."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from critmin import schema


def _rows(pkg: str, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(resources.files(pkg).joinpath(name).read_text("utf-8").splitlines()))


MINERALS = {r["mineral"] for r in _rows("critmin.reference", "minerals.csv")}


@pytest.mark.parametrize(("pkg", "name"), [
    ("critmin.reference", "hs_map.csv"), ("critmin.data", "critical_lists.csv"),
    ("critmin.data", "projects.csv"), ("critmin.data", "export_restrictions.csv"),
])
def test_mineral_ids_known(pkg: str, name: str) -> None:
    used = {r["mineral"] for r in _rows(pkg, name) if r.get("mineral")}
    assert used - MINERALS == set(), f"{name}: mineral ids missing from reference/minerals.csv"


def test_minerals_unique() -> None:
    ids = [r["mineral"] for r in _rows("critmin.reference", "minerals.csv")]
    assert len(ids) == len(set(ids))


def test_hs_map_codes_six_digits_and_stages() -> None:
    for r in _rows("critmin.reference", "hs_map.csv"):
        assert len(r["hs_code"]) == 6 and r["hs_code"].isdigit(), r
        assert r["stage"] in {"ore", "intermediate", "chemical", "metal", "alloy", "scrap"}
        assert r["chain_stage"] == ("mine" if r["stage"] == "ore" else "refined"), r
        if r["content_factor"]:
            assert 0 < float(r["content_factor"]) <= 1, r


def test_hs_map_covers_issue_minerals() -> None:
    covered = {(r["mineral"], r["chain_stage"]) for r in _rows("critmin.reference", "hs_map.csv")}
    for m in ("rare_earths", "lithium", "cobalt", "nickel", "graphite", "manganese", "copper",
              "gallium", "germanium", "tungsten", "antimony", "titanium", "vanadium", "pgm"):
        assert (m, "refined") in covered or (m, "mine") in covered, m
    for m in ("cobalt", "nickel", "manganese", "copper", "tungsten", "antimony", "titanium"):
        assert (m, "mine") in covered and (m, "refined") in covered, m


def test_units_canonical() -> None:
    for r in _rows("critmin.reference", "units.csv"):
        assert float(r["factor"]) > 0
        assert r["canonical"] in {"t", "ct", "m3", "l"}


def test_every_schema_table_has_descriptions() -> None:
    for t in schema.tables().values():
        assert t.description
        for c in t.columns:
            assert c.description, (t.name, c.name)

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


def test_every_content_factor_is_cited() -> None:
    """Each content factor names its source (a publisher's figure, an industry specification,
    stoichiometry or the HS heading itself); none is a critmin assumption, and the factor the
    HS map shows is the cited one (a form without a cited grade has no factor)."""
    cited = _rows("critmin.reference", "content_factors.csv")
    assert cited
    for r in cited:
        where = f"content_factors.csv {r['hs_revision']}:{r['hs_code']} {r['mineral']}"
        source = r["source"].strip().lower()
        assert source, f"{where}: no source"
        assert "assumption" not in source and "no publisher figure" not in source, where
        assert 0 < float(r["content_factor"]) <= 1, where
    by_key = {(r["hs_code"], r["hs_revision"], r["mineral"]): r["content_factor"] for r in cited}
    assert len(by_key) == len(cited), "a form is cited twice"
    for h in _rows("critmin.reference", "hs_map.csv"):
        key = (h["hs_code"], h["hs_revision"], h["mineral"])
        shown = h["content_factor"].strip()
        if key in by_key:
            assert shown and float(shown) == float(by_key[key]), (key, shown, by_key[key])
        else:
            assert not shown, f"hs_map.csv {key}: factor {shown} without a cited source"


def test_usgs_reliance_bases_are_known() -> None:
    """Each stated basis of a USGS reliance statistic names known minerals, traded forms of the
    HS map and a production stage, and quotes USGS's definition."""
    forms = {h["stage"] for h in _rows("critmin.reference", "hs_map.csv")}
    rows = _rows("critmin.reference", "usgs_reliance_basis.csv")
    assert rows
    for r in rows:
        assert r["mineral"] in MINERALS, r["mineral"]
        assert r["stage"] in {"mine", "refinery", "smelter"}, r
        assert {f for f in r["forms"].split(";") if f} <= forms, r["forms"]
        assert r["statistic"].startswith(r["statistic"].split(":")[0]) and r["usgs_definition"]
    keys = [(r["mineral"], r["statistic"]) for r in rows]
    assert len(keys) == len(set(keys))


def test_hs92_codes_exist_in_the_published_nomenclature() -> None:
    """Every HS92 code critmin maps is a subheading of CEPII's HS92 product list (a code that does
    not exist, such as an HS 2017 subdivision written as HS92, never matches a trade flow)."""
    from tests.conftest import shared

    (codes_file,) = sorted(shared("baci").glob("product_codes_HS92_*.csv"))
    with codes_file.open(encoding="utf-8") as fh:
        published = {r["code"].zfill(6) for r in csv.DictReader(fh)}
    mapped = {r["hs_code"] for r in _rows("critmin.reference", "hs_map.csv")
              if r["hs_revision"] == "HS92"}
    assert mapped - published == set(), f"not HS92 subheadings: {sorted(mapped - published)}"


def test_the_iso3_fast_path_is_the_full_tables_answer() -> None:
    """resolve_country answers an ISO 3166-1 alpha-3 code from pycountry's data file without
    building the country table: the codes are pycountry's, each a row of the full table, and
    the answer for any three letters (known or not) is the full table's."""
    import pycountry

    from critmin.countries import country_codes, iso3166_alpha3
    from critmin.errors import ChoiceError
    from critmin.reference import resolve_country

    fast = iso3166_alpha3()
    assert fast == {c.alpha_3 for c in pycountry.countries} and len(fast) > 240
    rows = country_codes().rows
    assert fast <= set(rows)
    for code in [*sorted(fast)[::7], "jpn", " ind ", "SUN", "XKX"]:  # (SUN former, XKX alias)
        want = code.strip().upper()
        assert want in rows and resolve_country(code) == want
    with pytest.raises(ChoiceError, match="country"):
        resolve_country("QQQ")

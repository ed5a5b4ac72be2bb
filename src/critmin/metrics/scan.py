"""Whole-economy strategic-dependency scan over every HS6 product (shares dimensionless, values kUSD).

The method follows the European Commission's bottom-up mapping of foreign dependencies in
"Strategic dependencies and capacities", Commission Staff Working Document SWD(2021) 352 final,
Brussels, 5.5.2021 (accompanying COM(2021) 350, "Updating the 2020 New Industrial Strategy").
The Commission screened some 5,200 HS6 products with three indicators computed on trade data and
called a product *dependent* when all three exceed their thresholds:

1. concentration of extra-EU imports: the Herfindahl-Hirschman index of the supplier shares of
   extra-EU imports, HHI = sum_i s_i^2 > 0.4 (``hhi_min``);
2. substitutability of extra-EU imports by EU production, proxied by the ratio of extra-EU
   imports to total EU exports of the product (intra- plus extra-EU): ratio > 1
   (``import_export_ratio_min``: outside imports exceed what the bloc itself exports, so the
   bloc cannot simply redirect its own output);
3. importance of extra-EU imports in total demand, proxied by the share of extra-EU imports in
   total EU imports (intra- plus extra-EU): share > 0.5 (``extra_share_min``).

The same criteria and the first two thresholds are used by CEPII's GeoDep database (BACI-based:
HHI > 0.4, imports/exports > 1; Lefebvre & Wibaux, CEPII Policy Brief 47, 2024), which applies
the method to every country. The third threshold (0.5) is the one of the SWD's mapping; it is a
parameter here because it is a proxy for "a large share of total supply".

For a bloc B (a group of ``country_groups``, with its membership in the scanned year) or a single
country (B = {c}), year t and HS6 product k, with values v(i -> j) in thousand USD and self-trade
dropped:

- ``extra_imports_kusd`` = sum over j in B, i not in B of v(i -> j);
- ``intra_imports_kusd`` = sum over j in B, i in B, i != j of v(i -> j);
- ``total_imports_kusd`` = extra + intra; ``extra_share`` = extra / total;
- ``exports_kusd`` = sum over i in B, any j != i of v(i -> j) (intra- plus extra-bloc);
- ``import_export_ratio`` = extra / exports (null when the bloc exports none, which passes
  criterion 2);
- ``hhi``, ``n_suppliers``, ``top_supplier``, ``top_supplier_share`` over the extra-bloc
  suppliers' shares of ``extra_imports_kusd``.

For a single country there are no intra-bloc imports, so ``extra_share`` is 1 and criterion 3
always holds: the scan then rests on concentration and the import/export ratio, as GeoDep's
country-level scan does. Products are mapped to minerals through the atlas ``hs_map`` table
(``minerals``: comma-separated critmin mineral ids; ``critical_mineral``: true when any).

Everything is one set-based Ibis expression, so it runs unchanged on DuckDB and Spark.

>>> DEFAULT_THRESHOLDS
{'hhi_min': 0.4, 'import_export_ratio_min': 1.0, 'extra_share_min': 0.5}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis import _

from critmin.errors import ChoiceError, CritminError
from critmin.metrics.concentration import concentration
from critmin.metrics.trade import members_in_year, one_hs_revision
from critmin.reference import resolve_country

if TYPE_CHECKING:
    from critmin.atlas import Atlas

#: The thresholds of SWD(2021) 352 (see the module docstring).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "hhi_min": 0.4, "import_export_ratio_min": 1.0, "extra_share_min": 0.5,
}

#: Column order of the scan table (a stable contract: new columns may be appended).
COLUMNS = [
    "year", "hs_code", "hs_revision", "dependent", "extra_imports_kusd", "intra_imports_kusd",
    "total_imports_kusd", "exports_kusd", "hhi", "n_suppliers", "top_supplier",
    "top_supplier_share", "import_export_ratio", "extra_share", "c_hhi", "c_import_export",
    "c_extra_share", "minerals", "critical_mineral",
]

KEY = ["year", "hs_code", "hs_revision"]


def bloc_members(bloc: str, year: int, *, countries: ir.Table,
                 country_groups: ir.Table) -> ir.Table:
    """ISO3 codes (column ``iso3``) of ``bloc`` in ``year``: the members of group ``bloc`` that
    year (:func:`critmin.metrics.trade.members_in_year`), or the country ``bloc`` itself."""
    cg = country_groups.filter(country_groups.group_id == bloc)
    years = countries.select(year=ibis.literal(year, "int16")).limit(1)
    grp = members_in_year(cg, years)
    grp = grp.select(iso3=grp.iso3.cast("string"))
    own = countries.filter(countries.iso3 == bloc)
    own = own.select(iso3=own.iso3.cast("string"))
    return grp.union(own).distinct()


def scan(trade_flows: ir.Table, members: ir.Table, *, year: int,
         hs_map: ir.Table | None = None, sources: ir.Table | None = None,
         family: str | None = "baci", hhi_min: float = DEFAULT_THRESHOLDS["hhi_min"],
         import_export_ratio_min: float = DEFAULT_THRESHOLDS["import_export_ratio_min"],
         extra_share_min: float = DEFAULT_THRESHOLDS["extra_share_min"]) -> ir.Table:
    """Dependency indicators for every HS6 product the bloc ``members`` imports from outside.

    ``members`` is a table with an ``iso3`` column (see :func:`bloc_members`). Returns an Ibis
    expression with :data:`COLUMNS` (one row per product with extra-bloc imports in ``year``);
    ``dependent`` is true where all three criteria hold (see the module docstring).
    """
    t = trade_flows.filter((trade_flows.year == year)
                           & (trade_flows.exporter != trade_flows.importer)
                           & (trade_flows.value_kusd > 0))
    if family is not None and sources is not None:
        t = t.semi_join(sources.filter(sources.family == family).select("source_id"), "source_id")
    # one HS revision per product and year (HS92 and HS17 rows of the same goods never both)
    t = one_hs_revision(t)
    mem = members.select("iso3").distinct()
    m1, m2, m3, m4 = (mem.view() for _i in range(4))  # one reference per join
    imports = t.semi_join(m1, t.importer == m1.iso3)
    extra = imports.anti_join(m2, imports.exporter == m2.iso3)
    intra = imports.semi_join(m3, imports.exporter == m3.iso3)
    exports = t.semi_join(m4, t.exporter == m4.iso3)

    conc = concentration(extra, KEY, "value_kusd", "exporter")
    ia = intra.group_by(KEY).aggregate(intra_imports_kusd=_.value_kusd.sum())
    ea = exports.group_by(KEY).aggregate(exports_kusd=_.value_kusd.sum())
    j = conc.left_join(ia, KEY).select(conc, ia.intra_imports_kusd)
    j = j.left_join(ea, KEY).select(j, ea.exports_kusd)

    zero = ibis.literal(0.0, "float64")
    extra_v = j.total
    intra_v = j.intra_imports_kusd.fill_null(zero)
    exp_v = j.exports_kusd.fill_null(zero)
    total_v = extra_v + intra_v
    out = j.select(
        year=j.year, hs_code=j.hs_code, hs_revision=j.hs_revision,
        extra_imports_kusd=extra_v, intra_imports_kusd=intra_v, total_imports_kusd=total_v,
        exports_kusd=exp_v, hhi=j.hhi, n_suppliers=j.n_suppliers.cast("int64"),
        top_supplier=j.top_supplier, top_supplier_share=j.top1_share,
        import_export_ratio=ibis.ifelse(exp_v > 0, extra_v / exp_v, ibis.null("float64")),
        extra_share=extra_v / total_v,
        c_hhi=j.hhi > hhi_min,
        c_import_export=(exp_v <= 0) | (extra_v > exp_v * import_export_ratio_min),
        c_extra_share=extra_v > total_v * extra_share_min,
    )
    out = out.mutate(dependent=out.c_hhi & out.c_import_export & out.c_extra_share)
    if hs_map is not None:
        m = hs_map.select("hs_code", "hs_revision", "mineral").distinct()
        m = m.group_by(["hs_code", "hs_revision"]).aggregate(
            minerals=m.mineral.group_concat(","))
        out = out.left_join(m, ["hs_code", "hs_revision"]).select(out, m.minerals)
    else:
        out = out.mutate(minerals=ibis.null("string"))
    out = out.mutate(critical_mineral=out.minerals.notnull())
    return out.select(*COLUMNS)


def is_group(atlas: Any, code: str) -> bool:
    """True when ``code`` is a group id of the atlas ``country_groups`` table."""
    cg = atlas.table("country_groups")
    return bool(cg.filter(cg.group_id == code).count().to_pandas() > 0)


def dependency_scan(country: str, *, year: int | None = None, atlas: Atlas | Any = None,
                    dependent_only: bool = False, **thresholds: float) -> pd.DataFrame:
    """The strategic-dependency scan of ``country`` (ISO3 code, name or group id such as EU27)
    as a pandas DataFrame (:data:`COLUMNS`), dependent products first, then by extra-bloc import
    value, with ``hs_codes`` and ``hs_codes_missing`` appended (:func:`with_codes`).
    ``atlas`` is an :class:`~critmin.atlas.Atlas` or any object with its ``.table(name)``
    (e.g. :func:`critmin.engine.open_atlas` on Spark); ``year`` defaults to the latest BACI year.
    ``thresholds`` override :data:`DEFAULT_THRESHOLDS`. ``df.attrs`` holds ``bloc``, ``year``,
    ``members`` and ``thresholds``.
    """
    from critmin.atlas import Atlas

    unknown = set(thresholds) - set(DEFAULT_THRESHOLDS)
    if unknown:
        raise ChoiceError("threshold", sorted(unknown)[0], DEFAULT_THRESHOLDS)
    th = {**DEFAULT_THRESHOLDS, **thresholds}
    atlas = atlas if atlas is not None else Atlas.open()
    code = country.strip()
    bloc = code.upper() if is_group(atlas, code.upper()) else resolve_country(code)
    tf, src = atlas.table("trade_flows"), atlas.table("sources")
    if year is None:
        baci = tf.semi_join(src.filter(src.family == "baci").select("source_id"), "source_id")
        latest = baci.year.max().to_pandas()
        if latest is None or pd.isna(latest):
            raise CritminError("no BACI trade data in the atlas: run 'critmin atlas build'")
        year = int(latest)
    members = bloc_members(bloc, year, countries=atlas.table("countries"),
                           country_groups=atlas.table("country_groups"))
    member_list = sorted(members.to_pandas().iso3)
    if not member_list:
        raise CritminError(f"{bloc} has no members in {year}")
    expr = scan(tf, members, year=year, hs_map=atlas.table("hs_map"), sources=src, **th)
    df = with_codes(normalise(expr.to_pandas()), atlas, year, member_list)
    if dependent_only:
        df = df[df.dependent].reset_index(drop=True)
    df.attrs.update({"bloc": bloc, "year": year, "members": member_list, "thresholds": th})
    return df


def with_codes(df: pd.DataFrame, atlas: Atlas | Any, year: int, members: list[str]
               ) -> pd.DataFrame:
    """``df`` (every product of the scan of the bloc ``members``) with ``hs_codes`` (the one code
    each row's values count, labelled ``HS92:260500``) and ``hs_codes_missing`` (the mapped
    codes of the row's minerals without imports from outside the bloc in ``year``) appended:
    :func:`critmin.metrics.trade.hs_coverage` of the extra-bloc flows, one grouped query, so a
    code whose goods another HS revision serves (:func:`one_hs_revision`) is never missing."""
    from critmin.metrics.trade import hs_coverage

    cov = hs_coverage(atlas.table("trade_flows"), atlas.table("hs_map"), year=year,
                      by_importer=False, sources=atlas.table("sources"),
                      where=lambda j: j.importer.isin(members) & ~j.exporter.isin(members))
    cov = cov.select("mineral", "hs_codes_missing").to_pandas()
    missing = {str(m): set(x) if x is not None else set()
               for m, x in zip(cov.mineral, cov.hs_codes_missing, strict=True)}
    df = df.copy()
    df["hs_codes"] = [[f"{r}:{c}"] for r, c in zip(df.hs_revision, df.hs_code, strict=True)]
    df["hs_codes_missing"] = [
        sorted({c for mi in str(v).split(",") for c in missing.get(mi, set())})
        if isinstance(v, str) and v else [] for v in df.minerals]
    return df


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Scan output in a canonical form, whatever engine made it: column order, dtypes, minerals
    sorted within their list, rows ordered dependent first then by extra-bloc imports."""
    df = df[COLUMNS].copy()
    df["minerals"] = df["minerals"].map(
        lambda v: ",".join(sorted(str(v).split(","))) if isinstance(v, str) and v else None)
    for c in ("year", "n_suppliers"):
        df[c] = df[c].astype("int64")
    for c in ("dependent", "c_hhi", "c_import_export", "c_extra_share", "critical_mineral"):
        df[c] = df[c].astype(bool)
    for c in ("extra_imports_kusd", "intra_imports_kusd", "total_imports_kusd", "exports_kusd",
              "hhi", "top_supplier_share", "import_export_ratio", "extra_share"):
        df[c] = df[c].astype("float64")
    df = df.sort_values(["dependent", "extra_imports_kusd", "hs_code"],
                        ascending=[False, False, True], ignore_index=True)
    return df

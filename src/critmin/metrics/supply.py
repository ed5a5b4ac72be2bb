"""Which production source serves which stage: one source family per mineral and stage.

Mine production comes from USGS MCS. Refining is published by fewer sources, each for a few
minerals: USGS MCS gives refinery output for copper, cobalt (some), gallium, germanium, indium,
selenium, tellurium, titanium, alumina, ...; the IEA Critical Minerals Data Explorer gives
refining by country for copper, cobalt, lithium, nickel, graphite and rare earths (base year
only, with projections in ``supply_outlook``); World Mining Data gives refinery output for a
few by-product metals. :data:`FAMILY_PREFERENCE` fixes, per stage, the order in which families
are tried; for each (mineral, stage) the first family with rows serves it, alone: figures of
two families are never added up or mixed in one share. Pin one family with ``family=`` (the
CLI's ``--source``) to see another publisher's view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

#: Production source families per stage, in order of preference (``auto``).
FAMILY_PREFERENCE: Mapping[str, Sequence[str]] = {
    "mine": ("usgs-mcs",),
    "refinery": ("usgs-mcs", "iea", "wmd"),
    "smelter": ("usgs-mcs", "wmd"),
    "capacity": ("usgs-mcs",),
}
#: Families a user may pin (``--source``), plus ``auto``.
FAMILIES: tuple[str, ...] = ("auto", "usgs-mcs", "iea", "wmd")


def check_family(family: str) -> str:
    """``family`` if it is one critmin knows, else a one-line error listing the choices."""
    from critmin.errors import CritminError

    if family not in FAMILIES:
        raise CritminError(f"unknown source {family!r}; use one of {', '.join(FAMILIES)}")
    return family


def preferred_family(production: ir.Table, sources: ir.Table, family: str = "auto",
                     preference: Mapping[str, Sequence[str]] = FAMILY_PREFERENCE) -> ir.Table:
    """Rows of ``production`` from one source family per (mineral, stage).

    ``family="auto"``: per mineral and stage, the first family of ``preference[stage]`` that has
    rows (stages not listed: USGS MCS). Any other value keeps that family's rows only. Within
    the family, per natural key, only the latest release's rows count
    (:func:`critmin.metrics.concentration.latest_release`). Adds a ``family`` column.
    """
    import ibis

    from critmin.metrics.concentration import latest_release

    src = sources.select("source_id", "family")
    j = latest_release(production, sources, None).join(src, "source_id")
    if family != "auto":
        return j.filter(j.family == family)
    # the rank of each (stage, family) as a CASE expression, not an in-memory table: the
    # expression then compiles to the same SQL in every process (see critmin.atlas's cache)
    rank = ibis.cases(*[((j.stage == st) & (j.family == fam), i)
                        for st, fams in preference.items() for i, fam in enumerate(fams)],
                      else_=ibis.null("int64"))
    j = j.mutate(_rank=rank)
    j = j.filter(j._rank.notnull())
    best = j._rank.min().over(ibis.window(group_by=["mineral", "stage"]))
    j = j.mutate(_best=best)
    return j.filter(j._rank == j._best).drop("_rank", "_best")

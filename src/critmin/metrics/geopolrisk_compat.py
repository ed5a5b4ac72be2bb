"""GeoPolRisk compat oracle: geopolrisk-py 2.0.1 reproduced to the last digit on its inputs.

:func:`critmin.metrics.geopolrisk.geopolrisk` with ``compat="geopolrisk-py"`` runs this module's
query (``sql/geopolrisk_compat.sql``) instead of the default one. It serves as an oracle: the
tests compare it with the tool's own published output (``tests/data/geopolrisk_py_2.0.1_*.csv``),
so the default mode's deliberate differences are the only ones.

It uses the tool's inputs (WMD production, the published material-to-HS map, WGI PV full
precision), defaults and quirks included:

- production figures truncated to integers before the HHI (exact integer arithmetic); ``kg``
  figures divided by 1000 for p and every other unit used as published (natural gas in Mio m3,
  diamonds in carats);
- missing import quantities count as 0;
- a partner whose PV the tool cannot match by its numeric code gets ``g = 0.5`` (no numeric code
  in the PV file: :data:`COMPAT_PV_UNMATCHED`; or not in the PV file at all), a matched partner
  without an estimate for the year ``g = 0``;
- PV normalised as ``1 - (PV + 2.5)/5`` up to 2022 and ``(2.5 - PV)/5`` from 2023 (the tool's
  bundled table was built so; the two differ in the last bit);
- numeric codes join economies, partners, production and PV (:data:`COMPAT_ALIASES`), so
  Kosovo's production and PV (WMD/WGI code R20 = 697) belong to BACI's 697 "Europe EFTA, nes"
  (XEF), and French Guiana's gold (coded 328 in WMD) is read as Guyana's own production (the
  tool takes the first row with the code);
- sums in the tool's order (partners by BACI code; HS codes within a partner with pandas'
  compensated sum);
- no imports and no production give WTA = 0, score 0 and price 0.

Economies: every country of BACI's country table (by ISO3) plus user regions (a group id counts
as a region of its current members, as the tool computes a region for its EU); materials: the
map's ``material`` names. The query relies on DuckDB's exact 128-bit integers and ordered list
sums and runs on DuckDB only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from critmin.errors import ChoiceError, CritminError
from critmin.metrics._sql import Runner, SparkRunner, queries, render

COMPAT = "geopolrisk-py"

#: Economies whose PV row geopolrisk-py cannot join (the PV file gives them no numeric code).
COMPAT_PV_UNMATCHED = ("JEY", "LIE", "MCO", "MTQ", "PRI", "REU", "TWN")
#: Codes the tool's numeric joins fold together: (atlas ISO3, the economy it counts for).
COMPAT_ALIASES = (("XKX", "XEF"), ("GUF", "GUY"))

_FILE = "geopolrisk_compat.sql"


def check_materials(run: Runner, materials: list[str]) -> list[str]:
    """``materials`` when each is a ``material`` name of the published map; else
    :class:`~critmin.errors.ChoiceError` listing them."""
    known = sorted(set(run.column(queries(_FILE)["materials"])))
    for m in materials:
        if m not in known:
            raise ChoiceError("material", m, known)
    return materials


def query(run: Runner, *, regions: Mapping[str, Sequence[str]], pv_unmatched: Sequence[str],
          cf_cu: float, filters: Mapping[str, list | None]) -> pd.DataFrame:
    """The compat rows for the ``filters`` (economies, materials, years; None: all)."""
    if isinstance(run, SparkRunner):
        raise CritminError(f"compat mode {COMPAT!r} runs on DuckDB only (exact 128-bit "
                           "integers, ordered sums): use the DuckDB engine")
    params = {
        "aliases": [{"iso3": a, "as_iso3": b} for a, b in COMPAT_ALIASES],
        "pv_unmatched": list(pv_unmatched),
        "regions": [{"economy": name, "member": m, "ord": i}
                    for name, members in regions.items() for i, m in enumerate(members)] or None,
        "cf_cu": cf_cu, **filters,
    }
    return run.df(render(_FILE, "compat", filter="geopolrisk.sql:filter"), params)

"""Supply-risk metrics: pure, set-based functions over atlas tables (Ibis expressions).

Each function takes Ibis tables (or an :class:`critmin.atlas.Atlas`) and returns an Ibis
expression or a pandas DataFrame covering every country x mineral x year at once; nothing loops
over countries in Python, so the same code runs on DuckDB and on Spark.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from critmin.metrics.geopolrisk import geopolrisk  # (its queries are package SQL: no Ibis)

if TYPE_CHECKING:
    from critmin.metrics.concentration import hhi, production_concentration
    from critmin.metrics.trade import import_metrics, mineral_trade

__all__ = ["geopolrisk", "hhi", "import_metrics", "mineral_trade", "production_concentration"]

#: The module of each Ibis-based name above, imported on first use: a command whose queries are
#: package SQL (``critmin geopolrisk``) imports ``critmin.metrics`` without loading Ibis.
_HOMES = {"hhi": "concentration",
          "production_concentration": "concentration", "import_metrics": "trade",
          "mineral_trade": "trade"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"critmin.metrics.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'critmin.metrics' has no attribute {name!r}")

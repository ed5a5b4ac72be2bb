"""Supply-risk metrics: pure, set-based functions over atlas tables (Ibis expressions).

Each function takes Ibis tables (or an :class:`critmin.atlas.Atlas`) and returns an Ibis
expression or a pandas DataFrame covering every country x mineral x year at once; nothing loops
over countries in Python, so the same code runs on DuckDB and on Spark.
"""

from __future__ import annotations

from critmin.metrics.concentration import hhi, production_concentration
from critmin.metrics.geopolrisk import geopolrisk
from critmin.metrics.trade import import_metrics, mineral_trade

__all__ = ["geopolrisk", "hhi", "import_metrics", "mineral_trade", "production_concentration"]

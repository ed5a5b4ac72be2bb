"""critmin: critical-minerals supply-chain security platform.

Layers (data flows one way)::

    sources/ -> atlas -> metrics/ scenarios/ cooperation/ matchmaking/ -> cli/ api/ web/

Nothing runs at import time.
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["__version__", "assess"]


def assess(country: str, **kwargs: Any) -> pd.DataFrame:
    """Supply-risk table for ``country``, one row per mineral (see :func:`critmin.assessment.assess`).

    >>> critmin.assess("JPN", year=2023)  # doctest: +SKIP
    """
    from critmin.assessment import assess as _assess

    return _assess(country, **kwargs)

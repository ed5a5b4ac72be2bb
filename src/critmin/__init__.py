"""critmin: critical-minerals supply-chain security platform.

Layers (data flows one way)::

    sources/ -> atlas -> metrics/ scenarios/ cooperation/ matchmaking/ -> cli/ api/ web/

Nothing runs at import time.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

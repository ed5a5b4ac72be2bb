"""Source loaders: one module per public data set, each a pure parse into canonical rows.

:func:`detect` finds the loader for a file by its name and header.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from critmin.sources.base import first_line

#: Loader modules in detection order.
LOADER_MODULES = ("baci", "usgs", "wgi", "wmd", "comtrade", "iea")


def loaders() -> list[ModuleType]:
    """The loader modules that are available."""
    out = []
    for name in LOADER_MODULES:
        try:
            out.append(importlib.import_module(f"critmin.sources.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"critmin.sources.{name}":
                raise
    return out


def detect(path: Path) -> ModuleType | None:
    """The loader module that recognises ``path``, or None when no loader does."""
    if path.suffix.lower() not in {".csv", ".txt"}:
        return None
    header = first_line(path)
    for mod in loaders():
        if mod.detect(path, header):
            return mod
    return None

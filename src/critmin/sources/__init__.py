"""Source loaders: one module per public data set, each a pure parse into canonical rows.

:func:`detect` finds the loader for a file by its name and header.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from critmin.sources import baci, comtrade, iea, usgs, wgi, wmd
from critmin.sources.base import first_line


def loaders() -> list[ModuleType]:
    """The loader modules, in detection order."""
    return [baci, usgs, wgi, wmd, comtrade, iea]


def detect(path: Path) -> ModuleType | None:
    """The loader module that recognises ``path``, or None when no loader does."""
    if path.suffix.lower() not in {".csv", ".txt"}:
        return None
    header = first_line(path)
    for mod in loaders():
        if mod.detect(path, header):
            return mod
    for mod in loaders():  # a known file name with a broken header: its parser names the problem
        names = getattr(mod, "FILE_NAMES", None)
        if names is not None and names.search(path.name):
            return mod
    return None


def reference_file(path: Path) -> ModuleType | None:
    """The loader whose reference files (code tables) include ``path``, or None."""
    for mod in loaders():
        names = getattr(mod, "REFERENCE_FILES", None)
        if names is not None and names.search(path.name):
            return mod
    return None

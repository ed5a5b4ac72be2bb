"""Exceptions that critmin raises for bad input; the CLI prints them as one line."""

from __future__ import annotations

from pathlib import Path


class CritminError(Exception):
    """Base class: a problem the user can fix, reported as a single line without a traceback."""


class InputError(CritminError):
    """A problem in an input file: names the file, the line (1-based, header = line 1) and the problem.

    >>> str(InputError("a.csv", "unknown country code 'XYZ'", line=41, field="i"))
    "a.csv line 41, field 'i': unknown country code 'XYZ'"
    """

    def __init__(
        self,
        file: str | Path | None,
        problem: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.problem = problem
        self.line = line
        self.field = field
        where = self.file or "<input>"
        if line is not None:
            where += f" line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")


class SpecError(CritminError):
    """An invalid scenario, event or registry specification."""


class AtlasError(CritminError):
    """The atlas is missing, locked or does not hold what a command needs."""

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


class ConflictError(SpecError):
    """A change made against a version of a record that is no longer current (optimistic
    concurrency: the HTTP API answers 409, the CLI prints one line and exits 1)."""


class AtlasError(CritminError):
    """The atlas is missing, locked or does not hold what a command needs."""


class ChoiceError(CritminError, ValueError):
    """A value that is not one of the valid choices (mineral, country, group, stage, year, format).

    The one exception type for unknown input: the message names the value and the valid choices
    (or the available range), so the CLI prints it as one line and the API answers 400 (422 for a
    request body). It is also a :class:`ValueError`, so pydantic validators report it per field.

    >>> str(ChoiceError("stage", "bogus", ["mine", "refinery"]))
    "unknown stage 'bogus': use one of mine, refinery"
    """

    def __init__(self, what: str, value: object, choices: object = None, *,
                 hint: str | None = None) -> None:
        self.what = what
        self.value = value
        self.choices = list(choices) if choices is not None and not isinstance(choices, str) \
            else choices
        if hint is None:
            hint = ("use one of " + ", ".join(map(str, self.choices))
                    if isinstance(self.choices, list) else str(self.choices or ""))
        super().__init__(f"unknown {what} {value!r}" + (f": {hint}" if hint else ""))


class NoDataError(CritminError):
    """A valid question the atlas holds no data for; the message says why (no trade codes
    mapped, no production source, outside the years the data covers)."""

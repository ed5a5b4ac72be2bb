"""``python -m critmin.cli``: the same as the ``critmin`` command."""

from critmin.cli import console

console()

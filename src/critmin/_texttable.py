"""A fast terminal table whose text is byte for byte what rich 15 prints, for plain text only.

:func:`critmin.output.text_table` printed every CLI table through ``rich.table.Table`` and a
recording ``rich.console.Console``; for a wide table (``critmin assess JPN``: 13 columns, 40 rows
and long source notes) that took ~150 ms of a command that should answer in under a second
(issue #17). The text rich produces for plain, one-cell-per-character strings follows a handful
of rules, which this module reproduces without importing rich:

- column widths: ``Table._calculate_column_widths`` (each column measured as its widest cell,
  shrunk by ``Table._collapse_widths`` and, as a last resort, ``rich._ratio.ratio_reduce`` when
  the table is wider than the console);
- cells: ``Text.wrap`` with ``rich._wrap.divide_line`` (word wrap; words longer than the
  column are folded), in a ``Padding`` of one space either side, left justified; header cells
  aligned to the bottom of the header row, body cells to the top;
- the ``box.HEAVY_HEAD`` borders, the centred title wrapped at the table's width, and the notes
  printed by ``Console.print`` (wrapped at the console width, trailing spaces kept as rich keeps
  them);
- the console width of ``Console()`` (``COLUMNS``, ``LINES``, ``TERM=dumb``, the terminal size
  of the standard streams).

:func:`text_table` returns ``None`` for anything outside what it is sure of (a character rich
may count as zero or two cells or as white space, markup in a header or the title, an emoji
code, Jupyter or Windows), and the caller then renders with rich as before. A property test
(tests/test_texttable.py) compares the two on random tables.
"""

from __future__ import annotations

import builtins
import os
import re
import sys
from collections.abc import Mapping, Sequence
from itertools import pairwise

#: Characters that are one terminal cell wide for rich in every Unicode version it ships, are
#: not white space (for ``str.split``, ``re``'s ``\s`` and ``str.splitlines``), are not control
#: codes and join no grapheme: printable ASCII, Latin-1 and Latin Extended-A/B letters, Greek
#: letters and a few typographic marks that critmin's tables and notes use.
ALLOWED: frozenset[str] = frozenset(
    [chr(c) for c in range(0x20, 0x7F)]
    + [chr(c) for c in range(0xA1, 0x250) if c != 0xAD]  # no NBSP (space), no soft hyphen
    + [chr(c) for c in range(0x391, 0x3AA) if c != 0x3A2]  # Greek capitals
    + [chr(c) for c in range(0x3B1, 0x3CA)]  # Greek small letters
    + list("–—‘’‚“”„…•‰′″€→←↑↓−≈≠≤≥")
)
_allowed = ALLOWED.issuperset

#: ``rich._emoji_replace``'s pattern: a text where it matches may have an emoji code replaced.
_EMOJI_CANDIDATE = re.compile(r"(:(\S*?)(?:(?:\-)(emoji|text))?:)")

#: ``rich.markup.RE_TAGS``: a text where it matches has a markup tag (or an escaped one).
_MARKUP_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")


def _markup(text: str) -> bool:
    """``text`` is not plain text for ``rich.markup.render``: it has a tag, or a ``\\[`` that
    rich turns into ``[`` (without either, rich keeps every character as it is)."""
    return "[" in text and (_MARKUP_TAG.search(text) is not None or "\\[" in text)


# box.HEAVY_HEAD: top, header row, line under the header, body rows, bottom
_TOP = ("┏", "━", "┳", "┓")
_HEAD = ("┃", "┃", "┃")
_HEAD_ROW = ("┡", "━", "╇", "┩")
_BODY = ("│", "│", "│")
_BOTTOM = ("└", "─", "┴", "┘")


# ------------------------------------------------------------------------- console width


def _is_terminal(file: object, environ: Mapping[str, str]) -> bool:
    """``rich.console.Console.is_terminal`` for a console writing to ``file`` (not Jupyter)."""
    if hasattr(sys.stdin, "__module__") and sys.stdin.__module__.startswith("idlelib"):
        return False
    tty_compatible = environ.get("TTY_COMPATIBLE", "")
    if tty_compatible == "0":
        return False
    if tty_compatible == "1":
        return True
    force_color = environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    file = getattr(file, "rich_proxied_file", file)
    isatty = getattr(file, "isatty", None) if file is not None else None
    try:
        return False if isatty is None else bool(isatty())
    except ValueError:
        return False


def _is_dumb(environ: Mapping[str, str]) -> bool:
    return environ.get("TERM", "").lower() in ("dumb", "unknown")


def _digits(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name)
    return int(value) if value is not None and value.isdigit() else None


def _std_fds() -> tuple[int, int, int]:
    """The file descriptors rich asks for a terminal size (``rich.console._STD_STREAMS``)."""
    fds = []
    for stream, default in ((sys.__stdin__, 0), (sys.__stdout__, 1), (sys.__stderr__, 2)):
        try:
            fds.append(stream.fileno())  # type: ignore[union-attr]
        except Exception:  # rich's own fallback: no stream, a closed one, ...
            fds.append(default)
    return fds[0], fds[1], fds[2]


def console_width(environ: Mapping[str, str] | None = None) -> int | None:
    """``rich.console.Console().width`` without importing rich, or ``None`` where rich would
    decide by what this does not reproduce (Jupyter/IPython, Windows)."""
    environ = os.environ if environ is None else environ
    if sys.platform == "win32" or hasattr(builtins, "get_ipython"):
        return None
    try:
        fixed_width = _digits(environ, "COLUMNS")
        fixed_height = _digits(environ, "LINES")
    except ValueError:  # a digit str() that int() refuses ("²"): rich raises, let it
        return None
    if fixed_width is not None and fixed_height is not None:
        return fixed_width
    if _is_dumb(environ) and _is_terminal(sys.stdout, environ):
        return 80
    width: int | None = None
    for fd in _std_fds():
        try:
            width, _height = os.get_terminal_size(fd)
        except (AttributeError, ValueError, OSError):
            pass
        else:
            break
    if fixed_width is not None:
        width = fixed_width
    width = width or 80
    return width if fixed_width is None else fixed_width


def _render_width(width: int, environ: Mapping[str, str]) -> int | None:
    """The width of ``Console(width=width, file=io.StringIO(), record=True)``: ``width``, but
    80 on a (forced) dumb terminal without ``LINES``."""
    try:
        fixed_height = _digits(environ, "LINES")
    except ValueError:
        return None
    if fixed_height is None and _is_dumb(environ) and _is_terminal(None, environ):
        return 80
    return width


# ------------------------------------------------------------------------------ wrapping

_WORD = re.compile(r"\s*\S+\s*")


def _divide_line(text: str, width: int) -> list[int]:
    """``rich._wrap.divide_line(text, width, fold=True)`` for one-cell characters."""
    breaks: list[int] = []
    offset = 0
    match = _WORD.match(text, 0)
    while match is not None:
        start, end = match.span()
        word = match.group(0)
        word_length = len(word.rstrip())
        if width - offset >= word_length:
            offset += len(word)
        elif word_length > width:  # fold the word across lines
            pieces = [word[i:i + width] for i in range(0, len(word), width)]
            for piece in pieces[:-1]:
                if start:
                    breaks.append(start)
                start += len(piece)
            if start:
                breaks.append(start)
            offset = len(pieces[-1])
        elif offset and start:
            breaks.append(start)
            offset = len(word)
        match = _WORD.match(text, end)
    return breaks


def _wrap(text: str, width: int) -> list[str]:
    """The lines of ``Text(text).wrap(width, overflow="fold")`` before justification: divided
    at :func:`_divide_line`'s offsets, each with the white space beyond ``width`` cut
    (``Text.rstrip_end``) and cropped to ``width`` (``Text.truncate``)."""
    bounds = [0, *_divide_line(text, width), len(text)]
    lines = []
    for a, b in pairwise(bounds):
        line = text[a:b]
        if len(line) > width:
            spaces = len(line) - len(line.rstrip(" "))
            if spaces:
                line = line[:-min(spaces, len(line) - width)]
            line = line[:width]
        lines.append(line)
    return lines


# ----------------------------------------------------------------------------- the table


def _column_measure(longest: int, widest_word: int, max_width: int) -> tuple[int, int]:
    """``Table._measure_column`` of a column whose cells (header included, each in a
    ``Padding((0, 1))``) are at most ``longest`` long with words at most ``widest_word``."""
    if max_width < 1:
        return 0, 0
    if max_width - 2 < 1:
        return max_width, max_width
    return min(widest_word + 2, max_width), min(longest + 2, max_width)


def _ratio_reduce(total: int, ratios: list[int], maximums: list[int],
                  values: list[int]) -> list[int]:
    """``rich._ratio.ratio_reduce``."""
    ratios = [ratio if _max else 0 for ratio, _max in zip(ratios, maximums, strict=True)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    total_remaining = total
    result = []
    for ratio, maximum, value in zip(ratios, maximums, values, strict=True):
        if ratio and total_ratio > 0:
            distributed = min(maximum, round(ratio * total_remaining / total_ratio))
            result.append(value - distributed)
            total_remaining -= distributed
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def _collapse_widths(widths: list[int], max_width: int) -> list[int]:
    """``Table._collapse_widths`` with every column wrappable."""
    total_width = sum(widths)
    excess_width = total_width - max_width
    while total_width and excess_width > 0:
        max_column = max(widths)
        second_max_column = max(w if w != max_column else 0 for w in widths)
        column_difference = max_column - second_max_column
        ratios = [1 if w == max_column else 0 for w in widths]
        if not any(ratios) or not column_difference:
            break
        max_reduce = [min(excess_width, column_difference)] * len(widths)
        widths = _ratio_reduce(excess_width, ratios, max_reduce, widths)
        total_width = sum(widths)
        excess_width = total_width - max_width
    return widths


def _column_widths(longest: list[int], widest_word: list[int], max_width: int) -> list[int]:
    """``Table._calculate_column_widths`` (not expanded, no fixed or minimum widths)."""
    ranges = [_column_measure(lg, ww, max_width)
              for lg, ww in zip(longest, widest_word, strict=True)]
    widths = [r[1] or 1 for r in ranges]
    if sum(widths) > max_width:
        widths = _collapse_widths(widths, max_width)
        table_width = sum(widths)
        if table_width > max_width:  # last resort: reduce columns evenly
            widths = _ratio_reduce(table_width - max_width, [1] * len(widths), widths, widths)
        widths = [_column_measure(lg, ww, max(0, w))[1] or 0
                  for lg, ww, w in zip(longest, widest_word, widths, strict=True)]
    return widths


def _cell_lines(text: str, width: int) -> list[str]:
    """A cell rendered in a column ``width`` wide: one space either side, the text wrapped and
    padded to ``width - 2``; no lines at all when there is no room for text."""
    inner = width - 2
    if inner < 1:
        return []
    return [f" {line.ljust(inner)} " for line in _wrap(text, inner)]


def _edge(chars: tuple[str, str, str, str], widths: list[int]) -> str:
    left, horizontal, cross, right = chars
    return left + cross.join(horizontal * w for w in widths) + right


def _row(chars: tuple[str, str, str], widths: list[int], cells: list[str],
         header: bool) -> list[str]:
    left, divider, right = chars
    rendered = [_cell_lines(text, w) for text, w in zip(cells, widths, strict=True)]
    height = max(1, *(len(lines) for lines in rendered))
    out_cells = []
    for lines, w in zip(rendered, widths, strict=True):
        blank = [" " * w] * (height - len(lines))
        out_cells.append(blank + lines if header else lines + blank)
    return [left + divider.join(cell[i] for cell in out_cells) + right for i in range(height)]


def _title_lines(title: str, width: int) -> list[str]:
    """The title wrapped at the table's ``width`` and centred (``Lines.justify("center")``)."""
    out = []
    for line in _wrap(title, width):
        line = line.rstrip()[:width]
        left = (width - len(line)) // 2
        out.append(" " * left + line + " " * (width - len(line) - left))
    return out


def _plain(texts: Sequence[str]) -> bool:
    """Every text is in :data:`ALLOWED` and has no emoji code that rich replaces (rich prints
    headers, the title and the notes with emoji codes on)."""
    for text in texts:
        if not _allowed(text):
            return False
        if _EMOJI_CANDIDATE.search(text) is not None:
            from rich._emoji_replace import _emoji_replace  # only for such texts: a dict look-up

            if _emoji_replace(text) != text:
                return False
    return True


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None,
           notes: Sequence[str] | None, width: int) -> str | None:
    """The text that ``Console(width=width, record=True)`` exports after printing a
    ``Table(title=title)`` of ``headers`` (``overflow="fold"``) and ``rows`` (``Text`` cells),
    then ``"\\n".join(notes)`` (``highlight=False, markup=False``); ``None`` where unsure.

    ``width`` is the console's width (at least 1): rich crops every line to it.
    """
    if width < 1 or not isinstance(title, str | None):
        return None
    # headers and the title are console markup for rich: a tag or an escaped "[" is not plain
    if any(map(_markup, headers)) or (title and _markup(title)):
        return None
    if not _plain(headers) or not _plain([title or ""]):
        return None
    note_lines = "\n".join(notes).split("\n") if notes else []
    if not _plain(note_lines):
        return None
    ncols = len(headers)
    if any(len(row) != ncols for row in rows):
        return None
    if not all(_allowed(text) for row in rows for text in row):
        return None

    out: list[str] = []
    if ncols:
        longest = [len(h) for h in headers]
        widest_word = [max(map(len, h.split()), default=len(h)) for h in headers]
        for row in rows:
            for i, text in enumerate(row):
                if len(text) > longest[i]:
                    longest[i] = len(text)
                if text:
                    words = text.split()
                    ww = max(map(len, words)) if words else len(text)
                    if ww > widest_word[i]:
                        widest_word[i] = ww
        extra_width = ncols + 1  # the edges and the dividers
        widths = _column_widths(longest, widest_word, max(0, width - extra_width))
        table_width = sum(widths) + extra_width
        if title:
            out += _title_lines(title, table_width)
        out.append(_edge(_TOP, widths))
        out += _row(_HEAD, widths, list(headers), header=True)
        out.append(_edge(_HEAD_ROW, widths))
        for row in rows:
            out += _row(_BODY, widths, list(row), header=False)
        out.append(_edge(_BOTTOM, widths))
    else:  # a table without columns prints an empty line (and no title)
        out.append("")
    for note in note_lines:
        out += _wrap(note, width)
    return "".join(line[:width] + "\n" for line in out)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str | None,
               notes: Sequence[str] | None, width: int) -> str | None:
    """:func:`render` at the width :func:`critmin.output.text_table` gives rich:
    ``max(width, Console().width)``, as the recording console sees it."""
    environ = os.environ
    terminal = console_width(environ)
    if terminal is None:
        return None
    render_width = _render_width(max(width, terminal), environ)
    if render_width is None:
        return None
    return render(headers, rows, title=title, notes=notes, width=render_width)

"""critmin._texttable writes rich's table text byte for byte, or declines.

The reference is :func:`critmin.output.rich_text_table` (rich 15, what ``text_table`` printed
before the fast path and still prints for what the fast path declines).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.markup import RE_TAGS

from critmin import _texttable, output

# ---------------------------------------------------------------------------- helpers


@contextmanager
def _environ(**values: str | None) -> Iterator[None]:
    """``os.environ`` with ``values`` set (``None``: unset) inside the block."""
    with mock.patch.dict(os.environ):
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield


#: a console whose ``Console().width`` is 1 (COLUMNS and LINES fixed), so ``text_table`` renders
#: at exactly the ``width`` it is given, whatever terminal runs the tests
_FIXED = {"COLUMNS": "1", "LINES": "1", "TERM": "xterm", "FORCE_COLOR": None,
          "TTY_COMPATIBLE": None}


def _both(cols: list[str], rows: list[list[str]], title: str | None, notes: list[str] | None,
          width: int) -> tuple[str | None, str]:
    with _environ(**_FIXED):
        fast = _texttable.text_table(cols, rows, title=title, notes=notes, width=width)
        ref = output.rich_text_table(cols, rows, title=title, notes=notes, width=width)
    return fast, ref


def _rich_would_rewrite(text: str) -> bool:
    """rich replaces an emoji code in ``text`` (headers, title and notes are printed so)."""
    from rich._emoji_replace import _emoji_replace

    return _emoji_replace(text) != text


# ------------------------------------------------------------------------- the domain


def test_allowed_characters_are_one_plain_cell_in_every_unicode_version() -> None:
    """What the fast path assumes of each character it accepts, checked against rich's tables."""
    import re

    from rich._unicode_data._versions import VERSIONS
    from rich.cells import get_character_cell_size

    for ch in sorted(_texttable.ALLOWED):
        assert unicodedata.category(ch)[0] not in "CMZ" or ch == " ", hex(ord(ch))
        for version in VERSIONS:
            assert get_character_cell_size(ch, version) == 1, (hex(ord(ch)), version)
        if ch != " ":
            assert not ch.isspace() and re.match(r"\s", ch) is None, hex(ord(ch))
            assert len(f"a{ch}b".splitlines()) == 1 and f"a{ch}b".split() == [f"a{ch}b"]


# ----------------------------------------------------------------------- property test

_PUNCT = "-–—%[]().,;:/'&+*=<>!?#$|\"_\\@"
_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJXYZ0123456789éüßøÅ" + _PUNCT)
_WORD = st.text(_CHARS, min_size=1, max_size=12) | st.text(_CHARS, min_size=13, max_size=90)
_SPACES = st.sampled_from([" ", " ", " ", "  ", "   "])


@st.composite
def _phrase(draw: st.DrawFn, max_words: int = 8) -> str:
    """Words (short, or longer than a column so that they fold) separated, led and followed by
    random runs of spaces; sometimes empty or only spaces."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return ""
    if kind == 1:
        return " " * draw(st.integers(1, 4))
    words = draw(st.lists(_WORD, min_size=1, max_size=max_words))
    text = ""
    for i, word in enumerate(words):
        text += (draw(_SPACES) if i else draw(st.sampled_from(["", "", "", " ", "  "]))) + word
    return text + draw(st.sampled_from(["", "", "", " ", "   "]))


@st.composite
def _table(draw: st.DrawFn) -> tuple[list[str], list[list[str]], str | None,
                                     list[str] | None, int]:
    ncols = draw(st.integers(1, 15))
    cols = draw(st.lists(_phrase(3), min_size=ncols, max_size=ncols))
    nrows = draw(st.integers(0, 50))
    # most cells short, as in critmin's tables; some long enough to make the table shrink
    cell = st.one_of(_phrase(2), _phrase(2), _phrase(12))
    rows = draw(st.lists(st.lists(cell, min_size=ncols, max_size=ncols), min_size=nrows,
                         max_size=nrows))
    title = draw(st.none() | st.just("") | _phrase(4) | _phrase(40))
    notes = draw(st.none() | st.lists(_phrase(4) | _phrase(60), max_size=4))
    width = draw(st.integers(20, 250))
    return cols, rows, title, notes, width


@settings(max_examples=70, deadline=None)
@given(_table())
def test_fast_table_is_rich_byte_for_byte(
        case: tuple[list[str], list[list[str]], str | None, list[str] | None, int]) -> None:
    cols, rows, title, notes, width = case
    fast, ref = _both(cols, rows, title, notes, width)
    markup = any(RE_TAGS.search(t) or "\\[" in t for t in [*cols, title or ""])
    emoji = any(map(_rich_would_rewrite, [*cols, title or "", *(notes or [])]))
    if not markup and not emoji:  # the supported domain: the fast path must answer
        assert fast is not None
    if fast is not None:
        assert fast == ref


@pytest.mark.parametrize("width", [1, 2, 3, 5, 9, 14, 15, 16, 17, 20])
def test_narrow_consoles(width: int) -> None:
    """Consoles narrower than the borders: columns of zero to two cells (no text at all),
    lines cropped at the console's edge."""
    cols = ["mineral", "imports k$", "share", "lists", "x", "", "  "]
    rows = [["coking_coal", "24,637,484", "100% [v]", "EU-2023, USA-2025", "", "a", "b c"],
            ["pgm", "–", "– [p]", "", "y", "  ", "longwordlongwordlongword"]]
    fast, ref = _both(cols, rows, "JPN — supply risk 2024", ["Sources: a b", "x"], width)
    assert fast is not None and fast == ref


@pytest.mark.parametrize(("cols", "rows"), [
    (["a", "b"], []),  # no rows: the header alone
    ([], []),  # no columns: an empty line, no title
    ([], [[], []]),
    (["only"], [[""], [" "], ["   x   "]]),
])
@pytest.mark.parametrize("title", [None, "", "  ", "a title longer than the whole table is wide"])
@pytest.mark.parametrize("notes", [None, [], [""], ["", ""], ["a\nb", "c  "]])
def test_empty_tables_titles_and_notes(cols: list[str], rows: list[list[str]],
                                       title: str | None, notes: list[str] | None) -> None:
    fast, ref = _both(cols, rows, title, notes, 24)
    assert fast is not None and fast == ref


@pytest.mark.parametrize(("cols", "title", "notes", "rows"), [
    (["[b]bold[/b]"], None, None, [["x"]]),  # headers are console markup for rich
    (["a"], "[red]t[/red]", None, [["x"]]),  # and so is the title
    (["a \\[b] c"], None, None, [["x"]]),  # an escaped bracket loses its backslash
    (["a :smile: b"], None, None, [["x"]]),  # an emoji code in a header, title or note
    (["a"], "go :rocket:", None, [["x"]]),
    (["a"], None, ["see :warning: here"], [["x"]]),
    (["a"], None, None, [["tab\there"]]),  # characters outside the one-cell plain domain
    (["a"], None, None, [["wide 漢字"]]),
    (["a"], None, None, [["e\u0301"]]),
    (["a\u00a0b"], None, None, [["x"]]),
])
def test_declines_what_it_does_not_reproduce(cols: list[str], title: str | None,
                                              notes: list[str] | None,
                                              rows: list[list[str]]) -> None:
    fast, _ = _both(cols, rows, title, notes, 60)
    assert fast is None


def test_text_that_only_looks_like_an_emoji_code_stays_fast() -> None:
    cols = ["HS codes", "at 12:30:00"]
    fast, ref = _both(cols, [["HS17:270112", "a:b:c"]], "t :nosuchemoji: x",
                      ["copper: HS17:740311, HS92:260300", "::"], 80)
    assert fast is not None and fast == ref


def test_text_table_takes_the_fast_path_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    df = pd.DataFrame({"mineral": ["cobalt", "lithium"], "share [%]": [0.5, float("inf")],
                       "year": [2023, 2024]})
    calls: list[Any] = []
    rich = output.rich_text_table
    monkeypatch.setattr(output, "rich_text_table", lambda *a, **k: calls.append(a) or rich(*a, **k))
    with _environ(**_FIXED):
        text = output.text_table(df, title="t", notes=["n"], width=40)
        assert not calls
        cols = [str(c) for c in df.columns]
        rows = [[output.cell(v, c) for v, c in zip(r, cols, strict=True)]
                for r in df.itertuples(index=False, name=None)]
        assert text == rich(cols, rows, title="t", notes=["n"], width=40)
        assert "2023" in text and "–" in text
        output.text_table(df, title="[b]t[/b]", width=40)  # markup in the title: rich
        assert len(calls) == 1


# ------------------------------------------------------------------------ console width

_WIDTH_PROBE = """
import json, sys
from critmin import _texttable
from rich.console import Console
print(json.dumps([Console().width, _texttable.console_width()]))
"""

_ENVS: list[dict[str, str]] = [
    {},
    {"COLUMNS": "123"},
    {"COLUMNS": "123", "LINES": "40"},
    {"COLUMNS": "abc"},
    {"COLUMNS": "0"},
    {"COLUMNS": ""},
    {"TERM": "dumb"},
    {"TERM": "dumb", "FORCE_COLOR": "1"},
    {"TERM": "Unknown", "TTY_COMPATIBLE": "1", "COLUMNS": "200"},
    {"TERM": "dumb", "FORCE_COLOR": "1", "COLUMNS": "200", "LINES": "50"},
    {"TERM": "dumb", "TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"},
    {"TERM": "dumb", "FORCE_COLOR": ""},
]


def _probe_env(extra: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if k not in {"COLUMNS", "LINES", "TERM", "FORCE_COLOR", "TTY_COMPATIBLE"}}
    return {**keep, "PYTHONPATH": os.pathsep.join(sys.path), **extra}


@pytest.mark.parametrize("env", _ENVS, ids=[json.dumps(e) for e in _ENVS])
def test_console_width_is_rich_console_width(env: dict[str, str]) -> None:
    """Without a terminal on any standard stream (pipes), under each environment."""
    out = subprocess.run([sys.executable, "-c", _WIDTH_PROBE], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, env=_probe_env(env), check=True)
    rich_width, fast_width = json.loads(out.stdout)
    assert fast_width == rich_width


@pytest.mark.parametrize("env", [{}, {"COLUMNS": "99"}, {"TERM": "dumb"}, {"LINES": "7"}],
                         ids=["plain", "COLUMNS", "dumb", "LINES"])
def test_console_width_on_a_terminal(env: dict[str, str]) -> None:
    """With a pseudo-terminal 173 columns wide as stdin, stdout and stderr; the answer comes
    back through a pipe named on the command line."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 173, 0, 0))
    read, write = os.pipe()
    code = _WIDTH_PROBE.replace("print(", f"import os; os.write({write}, (").replace(
        "_texttable.console_width()]))", "_texttable.console_width()]) + '\\n').encode())")
    try:
        proc = subprocess.run([sys.executable, "-c", code], stdin=slave, stdout=slave,
                              stderr=slave, env=_probe_env(env), pass_fds=(write,), timeout=60)
        os.close(write)
        answer = os.read(read, 1000).decode()
    finally:
        for fd in (master, slave, read):
            os.close(fd)
    assert proc.returncode == 0
    rich_width, fast_width = json.loads(answer)
    assert fast_width == rich_width


_TABLE_PROBE = """
import json
from critmin import _texttable, output
cols = ["mineral", "imports k$", "reliance"]
rows = [["coking_coal " * 4, "24,637,484", "100% [v]"]] * 3
fast = _texttable.text_table(cols, rows, title="JPN — risk", notes=["Sources: " + "x " * 90],
                             width=int(__import__("sys").argv[1]))
ref = output.rich_text_table(cols, rows, title="JPN — risk", notes=["Sources: " + "x " * 90],
                             width=int(__import__("sys").argv[1]))
print(json.dumps([fast is not None, fast == ref, len(ref.splitlines()[-1])]))
"""


@pytest.mark.parametrize("env", [{}, {"COLUMNS": "300"}, {"TERM": "dumb", "FORCE_COLOR": "1"},
                                 {"TERM": "dumb", "FORCE_COLOR": "1", "LINES": "30"}],
                         ids=["plain", "wide", "forced dumb", "forced dumb with LINES"])
def test_text_table_width_under_environments(env: dict[str, str]) -> None:
    """The recording console's own width too: 80 on a forced dumb terminal without LINES."""
    for width in ("40", "160"):
        out = subprocess.run([sys.executable, "-c", _TABLE_PROBE, width], capture_output=True,
                             text=True, stdin=subprocess.DEVNULL, env=_probe_env(env), check=True)
        taken, same, _ = json.loads(out.stdout)
        assert taken and same, (env, width)


# -------------------------------------------------------------------- the CLI's tables

#: the interactive commands of issue 17 item 3, on the fixture atlas
COMMANDS = [
    ["assess", "JPN"],
    ["concentration", "--mineral", "cobalt"],
    ["geopolrisk", "--economy", "JPN", "--year", "2022"],
    ["scenario", "n-minus-1", "--year", "2024"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_cli_tables_are_rich_byte_for_byte(args: list[str], fixture_atlas: Path,
                                           cli: Callable[..., str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables the CLI prints (captured at ``text_table``): the fast path renders each,
    equal to rich's text, and that text is what the command wrote."""
    seen: list[tuple[list[str], list[list[str]], dict[str, Any], str]] = []
    text_table = output.text_table

    def spy(df: Any, **kw: Any) -> str:
        text = text_table(df, **kw)
        cols = [str(c) for c in df.columns]
        rows = [[output.cell(v, c) for v, c in zip(r, cols, strict=True)]
                for r in df.itertuples(index=False, name=None)]
        seen.append((cols, rows, kw, text))
        return text

    monkeypatch.setattr(output, "text_table", spy)
    with _environ(**_FIXED):
        stdout = cli(*args, "--format", "table", "--db", str(fixture_atlas))
    assert len(seen) == 1
    cols, rows, kw, text = seen[0]
    assert len(rows) > 0 and stdout == text
    fast, ref = _both(cols, rows, kw.get("title"), kw.get("notes"), kw.get("width", 160))
    assert fast is not None and fast == ref == text

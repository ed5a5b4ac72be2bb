"""Read (and write) B2B scheduling instances in the benchmark's MiniZinc ``.dzn`` data format.

The Girona benchmark files (Bofill et al., JAIR 74, 2022) hold these parameters:

==================== ======================================================================
``nBusiness``        number of participants
``nMeetings``        number of requested meetings
``nTables``          meetings that can run at the same time
``nTotalSlots``      slots in the day; the morning is ``1..nMorningSlots``
``nMorningSlots``    last morning slot
``requested``        2-d array ``[| p1, p2, session | ... |]``; session 1 morning, 2 afternoon, 3 any
``meetingsxBusiness`` per participant, the set of its meetings **shifted by +1** (``1`` is a dummy
                     "no meeting" that every set holds)
``nMeetingsBusiness`` per participant, its number of meetings
``forbidden``        per participant, a set of forbidden slots; ``0`` is a dummy and is dropped
``fixed``            per meeting, the slot it must take (``0`` = free)
``precedences``      per meeting ``m``, the meetings that must be held before ``m``
==================== ======================================================================

``meetingsxBusiness`` and ``nMeetingsBusiness`` are redundant with ``requested``; the reader checks
they agree and reports the first disagreement. Every problem raises
:class:`~critmin.errors.InputError` naming the file, the line and the parameter.

Work is bounded before anything is allocated: the file size (``critmin.inputs.MAX_BYTES``), the
nesting of values (:data:`MAX_DEPTH`), the span of a set range (:data:`MAX_SET_SPAN`) and the
sizes the file declares (:data:`LIMITS`; the benchmark's largest instance has 78 participants,
302 meetings and 22 slots).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from critmin.errors import InputError
from critmin.matchmaking.instance import B2BInstance, Meeting, Session, validate_instance

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<nl>\n)
  | (?P<comment>%[^\n]*)
  | (?P<block>/\*.*?\*/)
  | (?P<range>\.\.)
  | (?P<int>-?\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<sym>[=;\[\]{},|()])
    """,
    re.VERBOSE | re.DOTALL,
)

_KIND_NAMES = {"int": "an integer", "ident": "a parameter name"}
#: Largest value of each size parameter (the same bounds as an event file's).
LIMITS = {"nBusiness": 5000, "nMeetings": 50_000, "nTables": 1000, "nTotalSlots": 200,
          "nMorningSlots": 200}
#: Deepest nesting of values (a 2-d array of sets is 3).
MAX_DEPTH = 4
#: Widest set range ``lo..hi``.
MAX_SET_SPAN = 100_000
REQUIRED = ("nBusiness", "nMeetings", "nTables", "nTotalSlots", "nMorningSlots", "requested")


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    line: int


@dataclass(frozen=True)
class DznValue:
    """A parsed right-hand side: an ``int``, a ``frozenset`` of ints, or a (nested) list, with its line."""

    value: object
    line: int


def _tokens(text: str, file: str | None) -> Iterator[_Tok]:
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            snippet = text[pos : pos + 20].split("\n")[0]
            raise InputError(file, f"unexpected character(s) {snippet!r} in MiniZinc data",
                             line=line)
        kind = m.lastgroup or ""
        chunk = m.group()
        if kind in ("int", "ident", "sym", "range"):
            yield _Tok(kind, chunk, line)
        line += chunk.count("\n")
        pos = m.end()
    yield _Tok("eof", "", line)


class _Parser:
    def __init__(self, text: str, file: str | None) -> None:
        self.toks = list(_tokens(text, file))
        self.i = 0
        self.file = file
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self, text: str | None = None, kind: str | None = None) -> _Tok:
        tok = self.toks[self.i]
        if (text is not None and tok.text != text) or (kind is not None and tok.kind != kind):
            want = repr(text) if text is not None else _KIND_NAMES.get(kind or "", kind)
            got = repr(tok.text) if tok.kind != "eof" else "end of file"
            raise InputError(self.file, f"expected {want}, found {got}", line=tok.line)
        self.i += 1
        return tok

    def statements(self) -> dict[str, DznValue]:
        out: dict[str, DznValue] = {}
        while self.peek().kind != "eof":
            name_tok = self.take(kind="ident")
            self.take("=")
            value = self.value(name_tok.text)
            self.take(";")
            if name_tok.text in out:
                raise InputError(self.file, f"parameter {name_tok.text} is assigned twice",
                                 line=name_tok.line, field=name_tok.text)
            out[name_tok.text] = DznValue(value, name_tok.line)
        return out

    def value(self, name: str) -> object:
        tok = self.peek()
        if tok.kind == "int":
            self.i += 1
            return int(tok.text)
        if tok.text in "{[" and self.depth >= MAX_DEPTH:
            raise InputError(self.file, f"values nested deeper than {MAX_DEPTH} levels",
                             line=tok.line, field=name)
        if tok.text == "{":
            return self.set_literal(name)
        if tok.text == "[":
            self.depth += 1
            try:
                return self.array(name)
            finally:
                self.depth -= 1
        raise InputError(self.file, f"unsupported value {tok.text!r} for {name}", line=tok.line,
                         field=name)

    def set_literal(self, name: str) -> frozenset[int]:
        self.take("{")
        items: set[int] = set()
        while self.peek().text != "}":
            lo = int(self.take(kind="int").text)
            if self.peek().kind == "range":
                self.i += 1
                tok = self.take(kind="int")
                hi = int(tok.text)
                if hi - lo + 1 > MAX_SET_SPAN:
                    raise InputError(self.file, f"set range {lo}..{hi} holds more than "
                                     f"{MAX_SET_SPAN:,} values", line=tok.line, field=name)
                items.update(range(lo, hi + 1))
            else:
                items.add(lo)
            if self.peek().text == ",":
                self.i += 1
            elif self.peek().text != "}":
                tok = self.peek()
                raise InputError(self.file, f"expected ',' or '}}' in a set, found {tok.text!r}",
                                 line=tok.line, field=name)
        self.take("}")
        return frozenset(items)

    def array(self, name: str) -> list[object]:
        self.take("[")
        if self.peek().text == "|":
            return self.array2d(name)
        items: list[object] = []
        while self.peek().text != "]":
            items.append(self.value(name))
            if self.peek().text == ",":
                self.i += 1
            elif self.peek().text != "]":
                tok = self.peek()
                raise InputError(self.file, f"expected ',' or ']' in an array, found "
                                 f"{tok.text or 'end of file'!r}", line=tok.line, field=name)
        self.take("]")
        return items

    def array2d(self, name: str) -> list[object]:
        rows: list[list[object]] = []
        self.take("|")
        while True:
            if self.peek().text == "]":  # "[| |]" -> empty
                break
            row: list[object] = []
            while self.peek().text not in ("|",):
                row.append(self.value(name))
                if self.peek().text == ",":
                    self.i += 1
                elif self.peek().text != "|":
                    tok = self.peek()
                    raise InputError(self.file, f"expected ',' or '|' in a 2-d array, found "
                                     f"{tok.text or 'end of file'!r}", line=tok.line, field=name)
            rows.append(row)
            self.take("|")
            if self.peek().text == "]":
                break
        self.take("]")
        return list(rows)


def parse_dzn_values(text: str, file: str | Path | None = None) -> dict[str, DznValue]:
    """Parse MiniZinc data text into ``{parameter: DznValue}`` (ints, sets, 1-d and 2-d arrays).

    >>> vals = parse_dzn_values("n = 3; s = {0, 2..3}; a = [|1, 2, 3|\\n 4, 5, 6|];")
    >>> vals["n"].value, sorted(vals["s"].value), vals["a"].value
    (3, [0, 2, 3], [[1, 2, 3], [4, 5, 6]])
    """
    return _Parser(text, str(file) if file is not None else None).statements()


def _int(vals: dict[str, DznValue], name: str, file: str | None) -> int:
    v = vals[name]
    if not isinstance(v.value, int):
        raise InputError(file, f"{name} must be an integer", line=v.line, field=name)
    return v.value


def _int_list(vals: dict[str, DznValue], name: str, n: int, what: str, file: str | None) -> list[int]:
    v = vals[name]
    if not isinstance(v.value, list) or not all(isinstance(x, int) for x in v.value):
        raise InputError(file, f"{name} must be an array of integers", line=v.line, field=name)
    if len(v.value) != n:
        raise InputError(file, f"{name} has {len(v.value)} entries, expected {what}={n}",
                         line=v.line, field=name)
    return list(v.value)


def _set_list(
    vals: dict[str, DznValue], name: str, n: int, what: str, file: str | None
) -> list[frozenset[int]]:
    v = vals[name]
    if not isinstance(v.value, list) or not all(isinstance(x, frozenset) for x in v.value):
        raise InputError(file, f"{name} must be an array of sets", line=v.line, field=name)
    if len(v.value) != n:
        raise InputError(file, f"{name} has {len(v.value)} sets, expected {what}={n}",
                         line=v.line, field=name)
    return list(v.value)


def instance_from_dzn_text(text: str, file: str | Path | None = None) -> B2BInstance:
    """Build a validated :class:`B2BInstance` from ``.dzn`` text (see the module doc for quirks).

    >>> inst = instance_from_dzn_text('''nBusiness = 3; nMeetings = 2; nTables = 1;
    ... nTotalSlots = 3; nMorningSlots = 2; requested = [| 1, 2, 1 | 2, 3, 3 |];
    ... forbidden = [{0}, {0, 3}, {0}]; fixed = [0, 0]; precedences = [{}, {1}];''')
    >>> inst.meetings[0], sorted(inst.forbidden[1]), inst.precedences[1]
    (Meeting(p1=1, p2=2, session=<Session.MORNING: 1>), [3], frozenset({1}))
    """
    fname = str(file) if file is not None else None
    vals = parse_dzn_values(text, fname)
    for name in REQUIRED:
        if name not in vals:
            raise InputError(fname, f"missing parameter {name}", field=name)
    for name, limit in LIMITS.items():  # before anything of these sizes is allocated
        if name in vals and isinstance(vals[name].value, int) and vals[name].value > limit:
            raise InputError(fname, f"{name} = {vals[name].value} is over the limit of {limit}",
                             line=vals[name].line, field=name)
    n_p = _int(vals, "nBusiness", fname)
    n_m = _int(vals, "nMeetings", fname)
    req = vals["requested"]
    rows = req.value
    if not isinstance(rows, list) or not all(
        isinstance(r, list) and len(r) == 3 and all(isinstance(x, int) for x in r) for r in rows
    ):
        raise InputError(fname, "requested must be a 2-d array [| p1, p2, session | ... |]",
                         line=req.line, field="requested")
    if len(rows) != n_m:
        raise InputError(fname, f"requested has {len(rows)} rows, expected nMeetings={n_m}",
                         line=req.line, field="requested")
    meetings = []
    for i, (p1, p2, s) in enumerate(rows, start=1):  # type: ignore[misc]
        if s not in (1, 2, 3):
            raise InputError(fname, f"meeting {i} has session {s}, expected 1, 2 or 3",
                             line=req.line, field="requested")
        meetings.append(Meeting(int(p1), int(p2), Session(s)))
    forbidden: list[frozenset[int]] = [frozenset()] * n_p
    if "forbidden" in vals:
        forbidden = [s - {0} for s in _set_list(vals, "forbidden", n_p, "nBusiness", fname)]
    fixed: list[int | None] = [None] * n_m
    if "fixed" in vals:
        fixed = [x or None for x in _int_list(vals, "fixed", n_m, "nMeetings", fname)]
    precedences: list[frozenset[int]] = [frozenset()] * n_m
    if "precedences" in vals:
        precedences = _set_list(vals, "precedences", n_m, "nMeetings", fname)
    inst = B2BInstance(
        n_participants=n_p,
        n_tables=_int(vals, "nTables", fname),
        n_slots=_int(vals, "nTotalSlots", fname),
        n_morning_slots=_int(vals, "nMorningSlots", fname),
        meetings=tuple(meetings),
        forbidden=tuple(forbidden),
        fixed=tuple(fixed),
        precedences=tuple(precedences),
        source=fname,
    )
    try:
        validate_instance(inst, fname)
    except InputError as exc:
        field_name = exc.field
        line = vals[field_name].line if field_name in vals else None
        raise InputError(fname, exc.problem, line=line, field=field_name) from None
    _check_redundant(inst, vals, fname)
    return inst


def _check_redundant(inst: B2BInstance, vals: dict[str, DznValue], file: str | None) -> None:
    """Check ``meetingsxBusiness`` (ids +1, dummy 1) and ``nMeetingsBusiness`` against ``requested``."""
    n_p = inst.n_participants
    per: list[set[int]] = [set() for _ in range(n_p)]
    for m, mt in enumerate(inst.meetings, start=1):
        per[mt.p1 - 1].add(m)
        per[mt.p2 - 1].add(m)
    if "meetingsxBusiness" in vals:
        line = vals["meetingsxBusiness"].line
        sets = _set_list(vals, "meetingsxBusiness", n_p, "nBusiness", file)
        for p, s in enumerate(sets, start=1):
            listed = {x - 1 for x in s if x != 1}
            if listed != per[p - 1]:
                diff = sorted(listed ^ per[p - 1])
                raise InputError(
                    file,
                    f"meetingsxBusiness of participant {p} disagrees with requested on meeting "
                    f"{diff[0]} (ids there are shifted by +1, 1 = no meeting)",
                    line=line, field="meetingsxBusiness",
                )
    if "nMeetingsBusiness" in vals:
        line = vals["nMeetingsBusiness"].line
        counts = _int_list(vals, "nMeetingsBusiness", n_p, "nBusiness", file)
        for p, c in enumerate(counts, start=1):
            if c != len(per[p - 1]):
                raise InputError(
                    file,
                    f"nMeetingsBusiness says participant {p} has {c} meetings, requested has "
                    f"{len(per[p - 1])}",
                    line=line, field="nMeetingsBusiness",
                )


def read_dzn(path: str | Path) -> B2BInstance:
    """Read and validate a benchmark ``.dzn`` file (see :func:`instance_from_dzn_text`)."""
    from critmin import inputs

    path = Path(path)
    return instance_from_dzn_text(inputs.read_text(path, "dzn"), path)


def _fmt_set(values: frozenset[int] | set[int]) -> str:
    return "{" + ",".join(str(v) for v in sorted(values)) + "}"


def instance_to_dzn(inst: B2BInstance) -> str:
    """Write ``inst`` as ``.dzn`` text in the benchmark's conventions (round-trips with the reader).

    >>> inst = B2BInstance(2, 1, 2, 1, (Meeting(1, 2, Session.ANY),))
    >>> instance_from_dzn_text(instance_to_dzn(inst)) == inst
    True

    The benchmark format has no booths: an instance with hosts raises ``ValueError`` rather
    than losing them.
    """
    if any(b is not None for b in inst.booths):
        raise ValueError("the .dzn format has no booths: this instance has participants "
                         "hosting at fixed tables")
    per: list[set[int]] = [{1} for _ in range(inst.n_participants)]
    for m, mt in enumerate(inst.meetings, start=1):
        per[mt.p1 - 1].add(m + 1)
        per[mt.p2 - 1].add(m + 1)
    lines = [
        f"nBusiness = {inst.n_participants};",
        f"nMeetings = {inst.n_meetings};",
        f"nTables = {inst.n_tables};",
        f"nTotalSlots = {inst.n_slots};",
        f"nMorningSlots = {inst.n_morning_slots};",
        "",
        "requested = [|"
        + "\n|".join(f"{mt.p1}, {mt.p2},{int(mt.session)}, " for mt in inst.meetings)
        + "\n|];",
        "",
        "meetingsxBusiness = [" + ",\n".join(_fmt_set(s) for s in per) + "];",
        "",
        "nMeetingsBusiness = [" + ",".join(str(len(s) - 1) for s in per) + "];",
        "",
        "forbidden = [" + ",\n".join(_fmt_set({0, *f}) for f in inst.forbidden) + "];",
        "",
        "fixed = [" + ",".join(str(f or 0) for f in inst.fixed) + "];",
        "",
        "precedences = [" + ",\n".join(_fmt_set(p) for p in inst.precedences) + "];",
        "",
    ]
    return "\n".join(lines)

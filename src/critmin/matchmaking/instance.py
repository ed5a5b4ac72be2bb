"""The B2B meeting scheduling instance: who meets whom, in which session, with which restrictions.

This is the Business-to-Business Meeting Scheduling Problem (B2BSP) of Bofill et al.,
"Constraint Solving Approaches to the Business-to-Business Meeting Scheduling Problem",
JAIR 74 (2022). All numbering is 1-based, as in the published ``.dzn`` files and in the
schedule JSON: participants ``1..n_participants``, meetings ``1..len(meetings)`` (their index in
``requested``), slots ``1..n_slots`` (the morning is ``1..n_morning_slots``) and tables
``1..n_tables``.

The instance is plain data; :func:`validate_instance` checks its internal consistency and raises
:class:`~critmin.errors.InputError` with a fix-it message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from critmin.errors import InputError


class Session(IntEnum):
    """When a meeting may be held: ``1`` morning, ``2`` afternoon, ``3`` either (``.dzn`` codes)."""

    MORNING = 1
    AFTERNOON = 2
    ANY = 3


@dataclass(frozen=True)
class Meeting:
    """A requested one-to-one meeting between participants ``p1`` and ``p2`` (1-based ids)."""

    p1: int
    p2: int
    session: Session = Session.ANY

    @property
    def participants(self) -> tuple[int, int]:
        """Both participants, in the requested order."""
        return (self.p1, self.p2)


@dataclass(frozen=True)
class B2BInstance:
    """A B2B scheduling instance (1-based ids everywhere).

    - ``forbidden[p - 1]``: slots in which participant ``p`` cannot meet.
    - ``fixed[m - 1]``: the slot meeting ``m`` must take, or ``None``.
    - ``precedences[m - 1]``: meetings that must be held in a strictly *earlier* slot than ``m``.
    - ``names[p - 1]``: optional display names.
    - ``booths[p - 1]``: the table participant ``p`` hosts at, or ``None``. A meeting with a host
      is held at a host's booth (two hosts meeting use one of their booths); the other meetings
      share the pool of the ``n_tables - #booths`` remaining tables, so per slot at most
      :attr:`pool_tables` meetings without a host.

    >>> inst = B2BInstance(3, 1, 3, 3, (Meeting(1, 2), Meeting(2, 3)))
    >>> inst.meetings_of(2)
    (1, 2)
    """

    n_participants: int
    n_tables: int
    n_slots: int
    n_morning_slots: int
    meetings: tuple[Meeting, ...]
    forbidden: tuple[frozenset[int], ...] = ()
    fixed: tuple[int | None, ...] = ()
    precedences: tuple[frozenset[int], ...] = ()
    names: tuple[str, ...] = ()
    source: str | None = field(default=None, compare=False)
    booths: tuple[int | None, ...] = ()

    def __post_init__(self) -> None:
        # fill optional per-participant / per-meeting arrays with their neutral value
        if not self.forbidden:
            object.__setattr__(self, "forbidden", (frozenset(),) * self.n_participants)
        if not self.fixed:
            object.__setattr__(self, "fixed", (None,) * len(self.meetings))
        if not self.precedences:
            object.__setattr__(self, "precedences", (frozenset(),) * len(self.meetings))
        if not self.booths:
            object.__setattr__(self, "booths", (None,) * self.n_participants)

    @property
    def pool_tables(self) -> int:
        """Tables left for meetings without a host: ``n_tables`` minus the booths."""
        return self.n_tables - sum(b is not None for b in self.booths)

    def needs_pool(self, m: int) -> bool:
        """Whether meeting ``m`` (1-based) needs a pool table (neither side hosts a booth)."""
        mt = self.meetings[m - 1]
        return self.booths[mt.p1 - 1] is None and self.booths[mt.p2 - 1] is None

    def booth_of(self, m: int) -> int | None:
        """The table of meeting ``m`` (1-based) when a side hosts: ``p1``'s booth, else ``p2``'s."""
        mt = self.meetings[m - 1]
        b1 = self.booths[mt.p1 - 1]
        return b1 if b1 is not None else self.booths[mt.p2 - 1]

    @property
    def n_meetings(self) -> int:
        """Number of requested meetings."""
        return len(self.meetings)

    def meetings_of(self, participant: int) -> tuple[int, ...]:
        """1-based ids of the meetings of ``participant``."""
        return tuple(
            i for i, mt in enumerate(self.meetings, start=1) if participant in mt.participants
        )

    def session_slots(self, session: Session) -> range:
        """Slots (1-based) a meeting of ``session`` may take."""
        if session is Session.MORNING:
            return range(1, self.n_morning_slots + 1)
        if session is Session.AFTERNOON:
            return range(self.n_morning_slots + 1, self.n_slots + 1)
        return range(1, self.n_slots + 1)

    def name(self, participant: int) -> str:
        """Display name of ``participant`` (its number when no names are given)."""
        if self.names and 1 <= participant <= len(self.names):
            return self.names[participant - 1]
        return f"#{participant}"


def validate_instance(inst: B2BInstance, file: str | Path | None = None) -> B2BInstance:
    """Check sizes, ids and restrictions of ``inst``; raise :class:`InputError` on the first problem.

    Checks: positive sizes, ``0 <= n_morning_slots <= n_slots``, meetings between two different
    known participants, session codes, forbidden and fixed slots within ``1..n_slots``, a fixed
    slot inside the meeting's session and not forbidden for either participant, precedences on
    known meetings.

    >>> validate_instance(B2BInstance(2, 1, 2, 1, (Meeting(1, 3),)))
    Traceback (most recent call last):
    ...
    critmin.errors.InputError: <input>, field 'requested': meeting 1 has unknown participant 3 \
(participants are 1..2)
    """
    file = file if file is not None else inst.source
    n_p, n_t = inst.n_participants, inst.n_slots
    if n_p < 0:
        raise InputError(file, f"nBusiness must be >= 0, got {n_p}", field="nBusiness")
    if inst.n_tables < 1:
        raise InputError(file, f"nTables must be >= 1, got {inst.n_tables}", field="nTables")
    if n_t < 1:
        raise InputError(file, f"nTotalSlots must be >= 1, got {n_t}", field="nTotalSlots")
    if not 0 <= inst.n_morning_slots <= n_t:
        raise InputError(
            file,
            f"nMorningSlots must be within 0..nTotalSlots={n_t}, got {inst.n_morning_slots}",
            field="nMorningSlots",
        )
    if len(inst.forbidden) != n_p:
        raise InputError(
            file, f"forbidden has {len(inst.forbidden)} sets, expected nBusiness={n_p}",
            field="forbidden",
        )
    if len(inst.fixed) != inst.n_meetings:
        raise InputError(
            file, f"fixed has {len(inst.fixed)} entries, expected nMeetings={inst.n_meetings}",
            field="fixed",
        )
    if len(inst.precedences) != inst.n_meetings:
        raise InputError(
            file,
            f"precedences has {len(inst.precedences)} sets, expected nMeetings={inst.n_meetings}",
            field="precedences",
        )
    if len(inst.booths) != n_p:
        raise InputError(file, f"booths has {len(inst.booths)} entries, expected nBusiness={n_p}",
                         field="booths")
    taken: dict[int, int] = {}
    for p, table in enumerate(inst.booths, start=1):
        if table is None:
            continue
        if not 1 <= table <= inst.n_tables:
            raise InputError(file, f"participant {p} hosts at table {table}, outside "
                             f"1..{inst.n_tables}", field="booths")
        if table in taken:
            raise InputError(file, f"table {table} is the booth of participants {taken[table]} "
                             f"and {p}", field="booths")
        taken[table] = p
    for m, mt in enumerate(inst.meetings, start=1):
        for p in mt.participants:
            if not 1 <= p <= n_p:
                raise InputError(
                    file,
                    f"meeting {m} has unknown participant {p} (participants are 1..{n_p})",
                    field="requested",
                )
        if mt.p1 == mt.p2:
            raise InputError(file, f"meeting {m} pairs participant {mt.p1} with itself",
                             field="requested")
        if int(mt.session) not in (1, 2, 3):
            raise InputError(file, f"meeting {m} has session {mt.session}, expected 1, 2 or 3",
                             field="requested")
    for p, slots in enumerate(inst.forbidden, start=1):
        bad = sorted(s for s in slots if not 1 <= s <= n_t)
        if bad:
            raise InputError(
                file, f"participant {p} has forbidden slot {bad[0]} outside 1..{n_t}",
                field="forbidden",
            )
    for m, slot in enumerate(inst.fixed, start=1):
        if slot is None:
            continue
        mt = inst.meetings[m - 1]
        if not 1 <= slot <= n_t:
            raise InputError(file, f"meeting {m} is fixed to slot {slot} outside 1..{n_t}",
                             field="fixed")
        if slot not in inst.session_slots(mt.session):
            raise InputError(
                file,
                f"meeting {m} is fixed to slot {slot}, outside its session "
                f"({mt.session.name.lower()}, slots {_span(inst.session_slots(mt.session))})",
                field="fixed",
            )
        for p in mt.participants:
            if slot in inst.forbidden[p - 1]:
                raise InputError(
                    file,
                    f"meeting {m} is fixed to slot {slot}, which is forbidden for participant {p}",
                    field="fixed",
                )
    for m, before in enumerate(inst.precedences, start=1):
        for other in sorted(before):
            if not 1 <= other <= inst.n_meetings:
                raise InputError(
                    file,
                    f"meeting {m} must follow unknown meeting {other} "
                    f"(meetings are 1..{inst.n_meetings})",
                    field="precedences",
                )
            if other == m:
                raise InputError(file, f"meeting {m} must precede itself", field="precedences")
    return inst


def _span(slots: range) -> str:
    return f"{slots.start}..{slots.stop - 1}" if len(slots) else "none"

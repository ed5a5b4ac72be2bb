"""Per-participant agendas of a scheduled event: rows, iCalendar (RFC 5545), CSV and HTML.

An agenda row holds the slot, its local start and end time, the table, the counterpart and the
counterpart's profile *as this participant may see it* (:func:`~critmin.matchmaking.profiles.profile_view`).
The iCalendar writer is hand-written: CRLF line ends, ``TEXT`` escaping of ``\\``, ``;``, ``,``
and newlines, and lines folded at 75 octets without splitting a UTF-8 character (RFC 5545 §3.1).
"""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from critmin.errors import SpecError
from critmin.matchmaking.check import ScheduleEntry
from critmin.matchmaking.event import Event, accepted_requests
from critmin.matchmaking.profiles import profile_view


@dataclass(frozen=True)
class AgendaRow:
    """One meeting in a participant's agenda (times are naive local times of the event)."""

    slot: int
    start: datetime
    end: datetime
    table: int
    counterpart_id: str
    counterpart_name: str
    counterpart_summary: str
    request_id: str


def agenda_rows(event: Event, schedule: list[ScheduleEntry], participant: str) -> list[AgendaRow]:
    """The meetings of ``participant`` in slot order, counterparts shown as it may see them.

    ``schedule`` numbers meetings as :func:`~critmin.matchmaking.event.event_instance` does (the
    ``m``-th accepted request).
    """
    event.profile(participant)
    reqs = accepted_requests(event)
    rows = []
    for e in schedule:
        if not 1 <= e.meeting <= len(reqs):
            raise SpecError(f"schedule names meeting {e.meeting}; the event has {len(reqs)} "
                            "accepted requests")
        r = reqs[e.meeting - 1]
        if participant not in (r.requester, r.target):
            continue
        other = r.target if r.requester == participant else r.requester
        view = profile_view(event.profile(other), participant)
        start, end = event.slot_times(e.slot)
        rows.append(AgendaRow(e.slot, start, end, e.table, other, view["name"],
                              _summary(view), r.id))
    return sorted(rows, key=lambda r: r.slot)


def _summary(view: dict[str, object]) -> str:
    parts = []
    if "kind" in view:
        parts.append(str(view["kind"]))
    if "country_iso3" in view:
        parts.append(str(view["country_iso3"]))
    if view.get("roles"):
        parts.append("roles: " + ", ".join(str(r) for r in view["roles"]))  # type: ignore[union-attr]
    if view.get("minerals"):
        parts.append("minerals: " + ", ".join(str(m) for m in view["minerals"]))  # type: ignore[union-attr]
    if view.get("offers"):
        parts.append("offers: " + "; ".join(
            str(o["mineral"]) + (f" {o['stage']}" if o.get("stage") else "")  # type: ignore[index]
            for o in view["offers"]  # type: ignore[union-attr]
        ))
    if view.get("description"):
        parts.append(str(view["description"]))
    return " · ".join(parts)


# ---- iCalendar -------------------------------------------------------------------------------


def ics_escape(text: str) -> str:
    r"""Escape a TEXT value (RFC 5545 §3.3.11): ``\`` ``;`` ``,`` and newlines.

    >>> ics_escape("a;b,c\\d\nе")
    'a\\;b\\,c\\\\d\\nе'
    """
    return (
        text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    )


def ics_fold(line: str) -> str:
    """Fold a content line at 75 octets (continuations start with a space), UTF-8 safe.

    >>> folded = ics_fold("DESCRIPTION:" + "é" * 50)
    >>> [len(x.encode()) for x in folded.split("\\r\\n")]
    [74, 39]
    """
    out, cur, size, limit = [], [], 0, 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append("".join(cur))
            cur, size, limit = [" "], 1, 75
        cur.append(ch)
        size += n
    out.append("".join(cur))
    return "\r\n".join(out)


def _ics_dt(dt: datetime) -> str:
    return dt.strftime("%Y%m%dT%H%M%S")


def agenda_ics(event: Event, schedule: list[ScheduleEntry], participant: str,
               *, stamp: datetime | None = None) -> str:
    """The agenda of ``participant`` as an iCalendar (``.ics``) text with one VEVENT per meeting.

    Times are local to the event's time zone (``DTSTART;TZID=...``); UIDs are stable
    (``{event date}-{request id}-{participant}@critmin``) so re-imports update events.
    """
    stamp = stamp or datetime(event.date.year, event.date.month, event.date.day, tzinfo=UTC)
    tz = event.timezone
    me = event.profile(participant)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//critmin//matchmaking agenda//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{ics_escape(event.name + ' — ' + me.name)}",
    ]
    for row in agenda_rows(event, schedule, participant):
        uid = f"{event.date.isoformat()}-{row.request_id}-{participant}@critmin"
        desc = f"Table {row.table}. {row.counterpart_name}: {row.counterpart_summary}"
        time_prop = (
            (f"DTSTART;TZID={tz}:{_ics_dt(row.start)}", f"DTEND;TZID={tz}:{_ics_dt(row.end)}")
            if tz != "UTC"
            else (f"DTSTART:{_ics_dt(row.start)}Z", f"DTEND:{_ics_dt(row.end)}Z")
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:{ics_escape(uid)}",
            f"DTSTAMP:{stamp.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}",
            *time_prop,
            f"SUMMARY:{ics_escape(f'Meeting with {row.counterpart_name} (table {row.table})')}",
            f"LOCATION:{ics_escape(f'{event.venue}, table {row.table}'.lstrip(', '))}",
            f"DESCRIPTION:{ics_escape(desc)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(ics_fold(line) + "\r\n" for line in lines)


# ---- CSV and HTML ----------------------------------------------------------------------------


def agenda_csv(event: Event, schedule: list[ScheduleEntry], participant: str) -> str:
    """The agenda as CSV: slot, start, end, table, counterpart id, name and summary."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["slot", "start", "end", "table", "counterpart_id", "counterpart_name",
                "counterpart_summary"])
    for r in agenda_rows(event, schedule, participant):
        w.writerow([r.slot, r.start.strftime("%H:%M"), r.end.strftime("%H:%M"), r.table,
                    r.counterpart_id, r.counterpart_name, r.counterpart_summary])
    return buf.getvalue()


def agenda_html(event: Event, schedule: list[ScheduleEntry], participant: str) -> str:
    """A printable, self-contained HTML page with the agenda of ``participant`` (all text escaped)."""
    me = event.profile(participant)
    esc = html.escape
    rows = "\n".join(
        f"<tr><td>{r.start:%H:%M}–{r.end:%H:%M}</td><td>{r.table}</td>"
        f"<td><strong>{esc(r.counterpart_name)}</strong></td>"
        f"<td>{esc(r.counterpart_summary)}</td></tr>"
        for r in agenda_rows(event, schedule, participant)
    ) or '<tr><td colspan="4">No meetings scheduled.</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(event.name)} — agenda of {esc(me.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #111; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #999; padding: .4em .6em; text-align: left; vertical-align: top; }}
th {{ background: #eee; }}
@media print {{ body {{ margin: 0; }} }}
</style>
</head>
<body>
<h1>{esc(event.name)}</h1>
<p>{esc(event.date.isoformat())} · {esc(event.venue)} · times in {esc(event.timezone)}</p>
<h2>Agenda of {esc(me.name)}</h2>
<table>
<thead><tr><th>Time</th><th>Table</th><th>Counterpart</th><th>Profile</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""

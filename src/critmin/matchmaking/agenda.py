"""The one agenda writer of critmin: iCalendar (RFC 5545), CSV, printable HTML and a ZIP of all.

The rows come from :func:`critmin.matchmaking.roundtable.agenda_rows` (the counterpart's profile
*as this participant may see it*). The iCalendar writer is hand-written: CRLF line ends, ``TEXT``
escaping of ``\\``, ``;``, ``,`` and every newline (CR, LF, CRLF), lines folded at 75 octets
without splitting a UTF-8 character (§3.1), a ``VTIMEZONE`` for the event's IANA time zone built
from :mod:`zoneinfo` (§3.6.5), and one stable ``UID`` per meeting (its request id and the event),
so re-importing an updated agenda moves meetings instead of duplicating them.
"""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from critmin.matchmaking.check import ScheduleEntry
from critmin.matchmaking.event import Event
from critmin.matchmaking.roundtable import accepted_requests, agenda_rows

Schedule = Sequence[ScheduleEntry]


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


def _offset(td: timedelta | None) -> str:
    minutes = int((td or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def vtimezone(tzid: str, year: int) -> list[str]:
    """VTIMEZONE lines for IANA zone ``tzid`` covering ``year`` (RFC 5545 §3.6.5).

    One observance from 1 January, then one per UTC-offset change during the year (found from
    :mod:`zoneinfo`, to the minute), each ``STANDARD`` or ``DAYLIGHT`` with its offsets and name.

    >>> [x for x in vtimezone("Asia/Kolkata", 2026) if x.startswith(("TZID", "TZOFFSETTO"))]
    ['TZID:Asia/Kolkata', 'TZOFFSETTO:+0530']
    >>> sum(x == "BEGIN:DAYLIGHT" for x in vtimezone("Europe/Berlin", 2026))
    1
    """
    tz = zoneinfo.ZoneInfo(tzid)
    t = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)

    def state(u: datetime) -> tuple[timedelta | None, timedelta | None, str | None]:
        local = u.astimezone(tz)
        return local.utcoffset(), local.dst(), local.tzname()

    changes = []  # (utc instant, offset before)
    cur = state(t)
    first = cur
    while t < end:
        nxt = t + timedelta(days=1)
        if state(nxt)[0] != cur[0]:
            lo, hi = 0, 24 * 60  # minutes after t: the offset changes in (lo, hi]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if state(t + timedelta(minutes=mid))[0] == cur[0] else (lo, mid)
            at = t + timedelta(minutes=hi)
            changes.append((at, cur[0]))
            cur = state(at)
        t = nxt

    def block(start_local: datetime, before: timedelta | None,
              st: tuple[timedelta | None, timedelta | None, str | None]) -> list[str]:
        kind = "DAYLIGHT" if st[1] else "STANDARD"
        return [f"BEGIN:{kind}", f"DTSTART:{_ics_dt(start_local)}",
                f"TZOFFSETFROM:{_offset(before)}", f"TZOFFSETTO:{_offset(st[0])}",
                *([f"TZNAME:{ics_escape(st[2])}"] if st[2] else []), f"END:{kind}"]

    lines = ["BEGIN:VTIMEZONE", f"TZID:{tzid}"]
    lines += block(datetime(year, 1, 1), first[0], first)
    for instant, before in changes:
        st = state(instant)
        lines += block((instant + (before or timedelta())).replace(tzinfo=None), before, st)
    lines.append("END:VTIMEZONE")
    return lines


def place(location: str, table: int) -> str:
    """Where a meeting is held: ``"Hall A, table 3"``, or ``"table 3"`` without a location.

    >>> place("Hall A", 3), place("", 3)
    ('Hall A, table 3', 'table 3')
    """
    return f"{location}, table {table}" if location else f"table {table}"


def meeting_uid(event: Event, request_id: str) -> str:
    """The UID of the meeting of ``request_id``: the same in both participants' calendars and
    across re-runs of the scheduler (it does not depend on slot or table)."""
    slug = re.sub(r"[^a-z0-9]+", "-", event.name.lower()).strip("-")[:40] or "event"
    return f"{request_id}.{event.date.isoformat()}.{slug}@critmin"


def agenda_ics(event: Event, schedule: Schedule, participant: str,
               *, stamp: datetime | None = None) -> str:
    """The agenda of ``participant`` as an iCalendar (``.ics``) text with one VEVENT per meeting.

    Times are local to the event's time zone (``DTSTART;TZID=...`` with its ``VTIMEZONE``; UTC
    times end in ``Z``); UIDs come from :func:`meeting_uid`.
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
        *([f"X-WR-TIMEZONE:{tz}", *vtimezone(tz, event.date.year)] if tz != "UTC" else []),
    ]
    for row in agenda_rows(event, schedule, participant):
        where = place(row.location, row.table)
        desc = f"{where[0].upper()}{where[1:]}. {row.counterpart_name}: {row.counterpart_summary}"
        time_prop = (
            (f"DTSTART;TZID={tz}:{_ics_dt(row.start)}", f"DTEND;TZID={tz}:{_ics_dt(row.end)}")
            if tz != "UTC"
            else (f"DTSTART:{_ics_dt(row.start)}Z", f"DTEND:{_ics_dt(row.end)}Z")
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:{ics_escape(meeting_uid(event, row.request_id))}",
            f"DTSTAMP:{stamp.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}",
            *time_prop,
            f"SUMMARY:{ics_escape(f'Meeting with {row.counterpart_name} (table {row.table})')}",
            f"LOCATION:{ics_escape(', '.join(x for x in (event.venue, where) if x))}",
            f"DESCRIPTION:{ics_escape(desc)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(ics_fold(line) + "\r\n" for line in lines)


# ---- CSV and HTML ----------------------------------------------------------------------------


def agenda_csv(event: Event, schedule: Schedule, participant: str) -> str:
    """The agenda as CSV: slot, start, end, table, location, counterpart id, name and summary."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["slot", "start", "end", "table", "location", "counterpart_id",
                "counterpart_name", "counterpart_summary"])
    for r in agenda_rows(event, schedule, participant):
        w.writerow([r.slot, r.start.strftime("%H:%M"), r.end.strftime("%H:%M"), r.table,
                    r.location, r.counterpart_id, r.counterpart_name, r.counterpart_summary])
    return buf.getvalue()


def agenda_html(event: Event, schedule: Schedule, participant: str) -> str:
    """A printable, self-contained HTML page with the agenda of ``participant`` (all text escaped)."""
    me = event.profile(participant)
    esc = html.escape
    rows = "\n".join(
        f"<tr><td>{r.start:%H:%M}–{r.end:%H:%M}</td><td>{esc(place(r.location, r.table))}</td>"
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
<thead><tr><th>Time</th><th>Where</th><th>Counterpart</th><th>Profile</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body>
</html>
"""


WRITERS = {"ics": agenda_ics, "csv": agenda_csv, "html": agenda_html}


def agendas_zip(event: Event, schedule: Schedule) -> bytes:
    """Every participant's agenda as ``ics/``, ``csv/`` and ``html/`` files in one ZIP archive
    (file names are participant ids made file-safe), plus ``schedule.csv`` with all meetings."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in event.participants:
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", p.id)
            for ext, writer in WRITERS.items():
                z.writestr(f"{ext}/{name}.{ext}", writer(event, schedule, p.id).encode("utf-8"))
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["slot", "start", "end", "table", "location", "request_id", "from", "to"])
        reqs = accepted_requests(event)
        for e in sorted(schedule, key=lambda e: (e.slot, e.table)):
            r = reqs[e.meeting - 1]
            start, end = event.slot_times(e.slot)
            w.writerow([e.slot, f"{start:%H:%M}", f"{end:%H:%M}", e.table,
                        event.location_of(e.table), r.id, event.profile(r.requester).name,
                        event.profile(r.target).name])
        z.writestr("schedule.csv", out.getvalue().encode("utf-8"))
    return buf.getvalue()

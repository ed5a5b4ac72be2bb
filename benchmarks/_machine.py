"""Machine facts the benchmark scripts print beside their figures, and the CPU use of a server
they measure (from /proc)."""

from __future__ import annotations

import os
import platform
import time
import urllib.parse
from pathlib import Path


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            parts = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(parts[1]), []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _stat_cpu(path: Path) -> float:
    """utime + stime of a /proc ``stat`` file, in seconds (0 when it is gone)."""
    try:
        parts = path.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its descendants (from /proc)."""
    return sum(_stat_cpu(Path(f"/proc/{p}/stat")) for p in _tree(pid))


def main_thread_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by the main threads of ``pid`` and its descendants (from
    /proc/P/task/P/stat): for ``critmin serve`` the event loops, which parse HTTP and run the
    handlers that need no thread; the rest of :func:`cpu_seconds` is handler threads and
    DuckDB's own threads."""
    return sum(_stat_cpu(Path(f"/proc/{p}/task/{p}/stat")) for p in _tree(pid))


def wait_idle(pid: int, timeout: float = 600) -> float:
    """Wait until the server (``pid`` and its workers) uses under 10 % of a CPU for a second
    (start-up work done in every worker); the seconds waited."""
    start = time.perf_counter()
    last = cpu_seconds(pid)
    while time.perf_counter() - start < timeout:
        time.sleep(1)
        now = cpu_seconds(pid)
        if now - last < 0.1:
            break
        last = now
    return time.perf_counter() - start


def server_pid(port_url: str) -> int:
    """The pid of the ``critmin serve`` process listening at ``port_url``."""
    port = urllib.parse.urlsplit(port_url).port
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmd and str(port).encode() in cmd:
                return int(d.name)
    raise LookupError(f"no critmin serve process on port {port}")

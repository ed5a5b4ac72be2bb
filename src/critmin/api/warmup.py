"""The server's start-up warm-up: one background thread computing one ordered list of steps.

``critmin serve`` turns it on. :func:`plan` lists what to compute, most requested first:

0. before the server answers (:func:`start`), the page index of the busiest atlas tables;
1. with ``$CRITMIN_WARMUP=1`` (``critmin serve`` sets it) and the dashboard mounted, the data of
   every page in the navigation bar (:func:`critmin.web.pages.warm_steps`: the home page's
   first), then the ``/docs`` page (the OpenAPI document, the compressed Swagger UI assets);
   "critmin: pages warmed up in N s" is logged on uvicorn's log when these are done;
2. when either is on, the page index of every atlas table (:func:`critmin.api.tables.warm_steps`:
   table pages answered from memory, see :mod:`critmin.api.pageindex`);
3. with ``warm_years`` > 0 (``critmin serve --warm-years``, ``$CRITMIN_WARM_YEARS``), the tables
   the analytic routes share (:func:`critmin.api.analytics.warm_steps`).

Steps run one at a time (on a 2-core machine two warm-up threads only slow each other and the
requests that arrive meanwhile); the server answers while they run, and a request for something
being computed waits for it (:meth:`critmin.api._core.AtlasPool.shared`). A step that fails is
logged and skipped: the route computes it when asked and says why it cannot.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

__all__ = ["THREAD_NAME", "plan", "run", "run_steps", "start"]

THREAD_NAME = "critmin-warm-up"
Step = tuple[str, Callable[[], Any]]
LOG = "uvicorn.error"  # the server's log: where "pages warmed up" is read


def pages_asked() -> bool:
    """Whether the page warm-up is on: ``$CRITMIN_WARMUP=1``."""
    from critmin.web import WARMUP_ENV

    return os.environ.get(WARMUP_ENV) == "1"


def plan(app: FastAPI) -> tuple[list[Step], list[Step]]:
    """``(page steps, analytics steps)`` of ``app``'s warm-up, each in the order they run (the
    page steps first). Building the plan computes nothing."""
    from critmin.api import analytics, tables

    pages: list[Step] = []
    if pages_asked():
        if getattr(app.state, "web", False):
            from critmin.web.pages import warm_steps

            pages += warm_steps(app.state.atlas, app.state.store, app.state.overlay)
        pages.append(("API docs page", app.state.docs_page.warm))
    rest = analytics.warm_steps(app.state.atlas, app.state.warm_years)
    if pages or rest:  # a server's warm-up (critmin serve): table pages too
        rest = tables.warm_steps(app.state.atlas) + rest
    return pages, rest


def run_steps(steps: list[Step], log: logging.Logger | None = None) -> list[str]:
    """Run ``steps`` in order; a failure is logged as a warning and the next step runs. Returns
    the names of the steps that failed."""
    log = log or logging.getLogger("critmin.api")
    failed = []
    for name, step in steps:
        try:
            step()
        except Exception as exc:
            log.warning("critmin: warm-up step %r failed: %s", name, exc)
            failed.append(name)
    return failed


def run(app: FastAPI) -> None:
    """Run :func:`plan` (the body of the warm-up thread), logging its progress, then
    :func:`freeze` what it kept."""
    log = logging.getLogger(LOG)
    t0 = time.perf_counter()
    pages, rest = plan(app)
    if pages:
        failed = run_steps(pages, log)
        log.info("critmin: pages warmed up in %.1f s%s", time.perf_counter() - t0,
                 f" ({len(failed)} step(s) failed)" if failed else "")
    if rest:
        failed = run_steps(rest, log)
        log.info("critmin: analytics warmed up in %.1f s%s", time.perf_counter() - t0,
                 f" ({len(failed)} step(s) failed)" if failed else "")
    freeze(log)


def freeze(log: logging.Logger) -> None:
    """Move every object alive now (the modules, the atlas tables and results the warm-up
    kept) out of the cyclic garbage collector's sight (:func:`gc.freeze`), after one last
    collection. A served process holds some 450,000 such objects: each full collection walked
    them all, about 165 ms with every thread stopped, which under load was a stall of every
    request in flight (docs/benchmarks.md). What is allocated afterwards is collected as
    before."""
    gc.collect()
    gc.freeze()
    log.info("critmin: %d objects frozen for the garbage collector", gc.get_freeze_count())


def start(app: FastAPI) -> threading.Thread | None:
    """Start :func:`run` in a daemon thread when the plan has any step (else None). Before
    that, while the server does not yet answer, load the page indexes of the busiest tables
    (:data:`critmin.api.tables.BUSIEST`; about 1.5 s for the full atlas's trade flows): their
    pages are most of what is asked, and each costs milliseconds of DuckDB until its index is
    there."""
    pages, rest = plan(app)
    if not pages and not rest:
        return None
    from critmin.api import tables

    t0 = time.perf_counter()
    failed = run_steps(tables.warm_steps(app.state.atlas, tables.BUSIEST),
                       logging.getLogger(LOG))
    logging.getLogger(LOG).info("critmin: busiest tables indexed in %.1f s%s",
                                time.perf_counter() - t0,
                                f" ({len(failed)} failed)" if failed else "")
    thread = threading.Thread(target=run, args=(app,), name=THREAD_NAME, daemon=True)
    thread.start()
    return thread

"""Analytic read endpoints: each calls the same library function as its CLI command.

Every route exists as ``/path`` (JSON) and ``/path.{fmt}`` (json, csv, parquet, xlsx).
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Annotated, Any

import annotated_types
import pandas as pd
from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi import params as params_
from fastapi.responses import Response
from pydantic.fields import FieldInfo
from starlette.types import ASGIApp, Scope

from critmin import provenance
from critmin.api._cache import cached
from critmin.api._core import (
    AtlasPool,
    FmtPath,
    atlas_pool,
    direct_app,
    fail,
    json_response,
    principal,
    render_frame,
    require,
)
from critmin.auth import Principal
from critmin.output import FILE_FORMATS, Format

router = APIRouter()

#: ``(path, parse, respond)`` of every :func:`data_route` whose parameters :func:`_parser`
#: can read, for :func:`direct_route`.
_DIRECT: list[tuple[str, Callable[[Request], dict[str, Any] | None],
                    Callable[[Request, Format, dict[str, Any]], Response]]] = []


def data_route(path: str, *, tags: list[str] | None = None, summary: str | None = None
               ) -> Callable[[Callable[..., pd.DataFrame]],
                                                        Callable[..., pd.DataFrame]]:
    """Register ``fn(request, **query) -> DataFrame`` at ``path`` and ``path.{fmt}``; the result
    is cached per query (the atlas is read-only) and annotated with the sources of the tables
    and source families the computation read (:mod:`critmin.provenance`)."""

    def deco(fn: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
        hints = typing.get_type_hints(fn, include_extras=True)
        sig = inspect.signature(fn)
        params = [p.replace(annotation=hints.get(p.name, p.annotation))
                  for p in sig.parameters.values()]
        name = fn.__name__

        def respond(request: Request, fmt: Format, kwargs: dict[str, Any]) -> Response:
            pool = atlas_pool(request)
            key = (name, tuple(sorted((k, repr(v)) for k, v in kwargs.items())))

            def render() -> Response:
                with provenance.recording() as reads:
                    df = pool.cached(key, lambda: fn(request, **kwargs))
                return render_frame(df, fmt, name=name, ann=pool.annotations(reads=reads))

            return cached(request, render)

        def plain(request: Request, **kwargs: Any) -> Response:
            return respond(request, Format.json, kwargs)

        def with_fmt(request: Request, fmt: str, **kwargs: Any) -> Response:
            return respond(request, Format(fmt), kwargs)

        rest = [p for p in params if p.name != "request"]
        req = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=Request)
        fmt_p = inspect.Parameter("fmt", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                  annotation=FmtPath)
        plain.__signature__ = sig.replace(parameters=[req, *rest],  # type: ignore[attr-defined]
                                          return_annotation=Response)
        with_fmt.__signature__ = sig.replace(  # type: ignore[attr-defined]
            parameters=[req, fmt_p, *rest], return_annotation=Response)
        parse = _parser(rest)
        if parse is not None:
            _DIRECT.append((path, parse, respond))
        doc = (fn.__doc__ or "").strip()
        router.add_api_route(path + ".{fmt}", with_fmt, methods=["GET"], tags=tags,
                             summary=(summary or doc.splitlines()[0]) + " (format by extension)",
                             description=doc, operation_id=f"{name}_fmt")
        router.add_api_route(path, plain, methods=["GET"], tags=tags,
                             summary=summary or doc.splitlines()[0], description=doc,
                             operation_id=name)
        return fn

    return deco


_INT = re.compile(r"0|-?[1-9][0-9]{0,17}")
_CHECKS: dict[type, Callable[[Any, Any], bool]] = {
    annotated_types.MaxLen: lambda m, v: len(v) <= m.max_length,
    annotated_types.MinLen: lambda m, v: len(v) >= m.min_length,
    annotated_types.Ge: lambda m, v: v >= m.ge,
    annotated_types.Le: lambda m, v: v <= m.le,
    annotated_types.Gt: lambda m, v: v > m.gt,
    annotated_types.Lt: lambda m, v: v < m.lt,
}


def _parser(params: list[inspect.Parameter]) -> Callable[[Request], dict[str, Any] | None] | None:
    """A reader of a route's path and query parameters, for :func:`direct_route`, or None when
    a parameter is of a kind it does not read. It reads text, integers and lists of them with
    length and bound checks, and gives what FastAPI would pass the function for such input;
    anything it is not sure of (a missing required value, a repeated single value, an integer
    not written plainly, a failed check) is None, and the full stack answers (its 422)."""
    readers: list[Callable[[Request], tuple[str, Any] | None]] = []
    for p in params:
        hint, info = p.annotation, None
        if typing.get_origin(hint) is Annotated:
            hint, *extras = typing.get_args(hint)
            info = next((x for x in extras if isinstance(x, FieldInfo)), None)
        if not isinstance(info, (params_.Query, params_.Path)) or info.alias is not None:
            return None
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = hint is not None and type(None) in typing.get_args(hint)
        base = args[0] if optional and len(args) == 1 else hint
        many = typing.get_origin(base) is list
        item = typing.get_args(base)[0] if many else base
        checks = [(type(m), m) for m in info.metadata]
        if item not in (str, int) or any(k not in _CHECKS for k, _ in checks) \
                or (optional and p.default is not None) or (many and checks):
            return None
        required = p.default is inspect.Parameter.empty
        readers.append(_reader(p.name, isinstance(info, params_.Path), item, many, required,
                               None if required else p.default, checks))

    def parse(request: Request) -> dict[str, Any] | None:
        out = {}
        for read in readers:
            got = read(request)
            if got is None:
                return None
            out[got[0]] = got[1]
        return out

    return parse


def _reader(name: str, in_path: bool, item: type, many: bool, required: bool, default: Any,
            checks: list[tuple[type, Any]]) -> Callable[[Request], tuple[str, Any] | None]:
    """One parameter's reader for :func:`_parser`: ``(name, value)``, or None when unsure."""

    def value(text: str) -> Any:
        if item is int:
            if not _INT.fullmatch(text):
                return None
            v: Any = int(text)
        else:
            v = text
        return v if all(_CHECKS[k](m, v) for k, m in checks) else None

    def read(request: Request) -> tuple[str, Any] | None:
        texts = [request.path_params[name]] if in_path else request.query_params.getlist(name)
        if not texts:
            return None if required else (name, default)
        if many:
            vals = [value(x) for x in texts]
            return None if any(v is None for v in vals) else (name, vals)
        if len(texts) > 1:
            return None
        v = value(texts[0])
        return None if v is None else (name, v)

    return read


def direct_route(prefix: str) -> Callable[[Scope, ASGIApp], ASGIApp | None]:
    """For :class:`~critmin.api._cache.ResponseCacheMiddleware`, as
    :func:`critmin.api.tables.direct_route` for table pages: ``direct(scope, fallback)`` gives an
    ASGI app answering a ``GET`` of an analytic route (``{prefix}{path}``, ``.{fmt}``) whose
    parameters :func:`_parser` reads, without FastAPI's routing and dependency resolution
    (about a millisecond of the event loop per request under load: docs/benchmarks.md), else
    None. The route's own ``respond`` runs in the thread pool with the values FastAPI would
    pass it; a request it cannot read, or one the handler refuses or fails (nothing has been
    sent yet, and a ``GET`` changes nothing), goes to ``fallback``, the full stack, which
    answers it as it always has."""
    routes = _routes(prefix)

    def direct(scope: Scope, fallback: ASGIApp) -> ASGIApp | None:
        if scope.get("root_path") or not scope["path"].startswith(prefix):
            return None
        found = _match(routes, scope["path"])
        if found is None:
            return None
        params, fmt, parse, respond = found

        def call(request: Request) -> Response:
            kwargs = parse(request)
            if kwargs is None:
                raise LookupError("not read here: the full stack answers")
            return respond(request, Format(fmt), kwargs)

        # from kept tables: on the loop; a whole-atlas table to compute first, or a workbook
        # (tens of ms to write): in the thread pool
        return direct_app(params, fallback, call, kept=True, on_loop=fmt in _ON_LOOP_FORMATS)

    return direct


Route = tuple[re.Pattern[str], Callable[[Request], dict[str, Any] | None],
              Callable[[Request, Format, dict[str, Any]], Response]]


def _routes(prefix: str) -> list[Route]:
    """The path patterns of :data:`_DIRECT` under ``prefix``, in the order FastAPI tries them
    (``path.{fmt}`` first, then ``path``; a path parameter is one path segment)."""
    routes = []
    for path, parse, respond in _DIRECT:
        pattern = re.escape(prefix + path)
        for n in re.findall(r"{(\w+)}", path):
            pattern = pattern.replace(re.escape("{" + n + "}"), f"(?P<{n}>[^/]+)")
        routes.append((re.compile(pattern + r"\.(?P<fmt>[^/]+)"), parse, respond))
        routes.append((re.compile(pattern), parse, respond))
    return routes


def _match(routes: list[Route], path: str) -> tuple[dict[str, str], str, Any, Any] | None:
    """``(path parameters, format, parse, respond)`` of the route ``path`` is for, or None (no
    such route, or a format the routes do not serve)."""
    for regex, parse, respond in routes:
        m = regex.fullmatch(path)
        if m is not None:
            params = m.groupdict()
            fmt = params.pop("fmt", "json")
            if fmt not in _FORMATS:
                return None
            return params, fmt, parse, respond
    return None


_FORMATS = frozenset(f.value for f in FILE_FORMATS)
#: Formats an analytic answer is rendered in on the event loop (the others in a thread).
_ON_LOOP_FORMATS = frozenset({"json", "csv"})


def _atlas(request: Request) -> Any:
    return atlas_pool(request).atlas()


Year = Annotated[int | None, Query(ge=1900, le=2100, description="Year (default: latest).")]
Mineral = Annotated[str | None, Query(max_length=60, description="Mineral id, e.g. cobalt.")]


@data_route("/assess/{country}", tags=["analytics"])
def assess(request: Request,
           country: Annotated[str, Path(max_length=80, description="ISO3, ISO2 or name.")],
           year: Year = None,
           mineral: Annotated[list[str] | None, Query(description="Mineral id(s).")] = None,
           ) -> pd.DataFrame:
    """Supply risk of a country per mineral (as `critmin assess`)."""
    from critmin.assessment import assess as run

    pool = atlas_pool(request)
    # each year's figures for every country are computed once per process (pool.shared)
    return run(country, year=year, minerals=mineral, atlas=_atlas(request), cache=pool.shared)


@data_route("/concentration", tags=["analytics"])
def concentration(request: Request,
                  mineral: Annotated[str, Query(max_length=60, description="Mineral id.")],
                  stage: Annotated[str | None, Query(max_length=20)] = None,
                  year: Year = None) -> pd.DataFrame:
    """Production concentration of a mineral: HHI, top-1/top-3 shares (as `critmin concentration`)."""
    from critmin.reports import views

    full = concentration_every(atlas_pool(request))  # every mineral, stage and year
    return views.concentration_view(full, mineral, stage, year)


@data_route("/geopolrisk", tags=["analytics"])
def geopolrisk(request: Request,
               economy: Annotated[list[str] | None, Query(description="ISO3 or group id(s).")]
               = None,
               material: Annotated[list[str] | None, Query(description="Material(s).")] = None,
               year: Annotated[list[int] | None, Query(description="Year(s).")] = None,
               compat: Annotated[str | None, Query(description="'geopolrisk-py' to reproduce "
                                                   "the reference tool.")] = None,
               ) -> pd.DataFrame:
    """GeoPolRisk score and characterisation factor (as `critmin geopolrisk`)."""
    from critmin.metrics.geopolrisk import geopolrisk as run

    if year is not None and any(not 1900 <= y <= 2100 for y in year):
        raise fail(400, "year must be between 1900 and 2100")
    pool = atlas_pool(request)
    # one query gives every economy, material and year: computed once per process, filtered
    every = None if compat else geopolrisk_every(pool)
    return run(_atlas(request), economies=economy, materials=material, years=year, compat=compat,
               every=every)


@data_route("/n-minus-1", tags=["analytics"])
def n_minus_1(request: Request, mineral: Mineral = None,
              stage: Annotated[str | None, Query(max_length=20, description="mine or refinery")]
              = None, year: Year = None) -> pd.DataFrame:
    """N-1 test: the largest producer removed (as `critmin scenario n-minus-1`)."""
    from critmin.scenarios.nminus1 import n_minus_1 as run

    pool = atlas_pool(request)
    # every mineral and stage of the year at once, once per process and year, then filtered
    every = n_minus_1_every(pool, year)
    return run(_atlas(request), mineral=mineral, stage=stage, year=year, every=every)


@data_route("/coop/blocs", tags=["cooperation"])
def coop_blocs(request: Request,
               mineral: Annotated[str, Query(max_length=60, description="Mineral id.")],
               stage: Annotated[str | None, Query(max_length=20)] = None,
               year: Year = None) -> pd.DataFrame:
    """Each group's share of world production and exports (as `critmin coop blocs`)."""
    from critmin.cooperation.analytics import blocs as run

    return run(mineral, stage=stage, year=year, atlas=_atlas(request))


@data_route("/coop/coverage/{country}", tags=["cooperation"])
def coop_coverage(request: Request,
                  country: Annotated[str, Path(max_length=80)],
                  group: Annotated[str, Query(max_length=40, description="Group id, e.g. QUAD.")],
                  mineral: Mineral = None, year: Year = None,
                  spare_capacity: Annotated[float, Query(ge=0, le=10)] = 0.10) -> pd.DataFrame:
    """How much of a country's imports its partners in a group could supply (as `critmin coop
    coverage`)."""
    from critmin.cooperation.analytics import coverage as run

    return run(country, group, mineral=mineral, year=year, spare_capacity=spare_capacity,
              atlas=_atlas(request))


@data_route("/coop/whatif", tags=["cooperation"])
def coop_whatif(request: Request,
                project: Annotated[list[str], Query(description="Project id(s).")],
                year: Year = None) -> pd.DataFrame:
    """Concentration before/after projects come online (as `critmin coop whatif`)."""
    from critmin.cooperation.analytics import whatif as run

    return run(project, year=year, atlas=_atlas(request))


@data_route("/trace/{country}", tags=["analytics"])
def trace(request: Request,
          country: Annotated[str, Path(max_length=80, description="Importer: ISO3, ISO2 or name.")],
          mineral: Annotated[str, Query(max_length=60, description="Mineral id.")],
          year: Year = None) -> pd.DataFrame:
    """Where a country's supply really comes from: direct (by exporter) and traced (by mine
    origin, one step upstream, proportional sourcing) shares with HHI and GeoPolRisk-style
    risk of both views (as `critmin trace`)."""
    from critmin.valuechain import trace_country

    t = trace_country(_atlas(request), country, mineral, year)
    return t.views.merge(t.metrics, on=["mineral", "importer"]).assign(year=t.year)


@data_route("/outlook", tags=["analytics"])
def outlook(request: Request,
            mineral: Annotated[str, Query(max_length=60, description="Mineral id.")],
            scenario: Annotated[str, Query(max_length=8, description="STEPS, APS or NZE.")]
            = "STEPS",
            with_projects: Annotated[bool, Query(description="Add registry projects not yet "
                                                 "operating from their start year.")] = False,
            ) -> pd.DataFrame:
    """Projected demand against base-case supply for mining and refining, 2030-2040, with the
    balance, top-3 share and HHI of supply (as `critmin outlook`; IEA, CC BY 4.0)."""
    from critmin.valuechain import outlook as run

    return run(_atlas(request), mineral, scenario.upper(), with_projects=with_projects).balance


def concentration_every(pool: AtlasPool) -> pd.DataFrame:
    """Production concentration of every mineral, stage and year (once per process): the
    figures are computed per (mineral, stage, year, unit, basis), so a filtered query gives the
    same rows as filtering this table, and building and compiling the Ibis expression costs far
    more than the query itself."""
    from critmin.reports import views

    return pool.shared(("concentration", "all minerals, stages and years"),
                       lambda: views.concentration(pool.atlas()))


def geopolrisk_every(pool: AtlasPool) -> pd.DataFrame:
    """GeoPolRisk (default mode) of every economy, material and year (once per process)."""
    from critmin.metrics.geopolrisk import geopolrisk

    return pool.shared(("geopolrisk", "every"), lambda: geopolrisk(pool.atlas()))


def n_minus_1_every(pool: AtlasPool, year: int | None) -> pd.DataFrame:
    """The N-1 table of every mineral and stage in ``year`` (once per process and year)."""
    from critmin.scenarios.nminus1 import n_minus_1

    return pool.shared(("n-minus-1", year), lambda: n_minus_1(pool.atlas(), year=year))


#: A step of the start-up warm-up: its name (logged when it fails) and what it computes.
WarmStep = tuple[str, Callable[[], Any]]


def warm_steps(pool: AtlasPool, years: int) -> list[WarmStep]:
    """What the analytic routes share (:meth:`AtlasPool.shared`), most requested first, for the
    start-up warm-up (:mod:`critmin.api.warmup`): the concentration and GeoPolRisk tables of
    every mineral, economy and year and the N-1 table of each one's latest year; then, for each
    of the ``years`` latest trade years, latest first, the assess figures of every country;
    then the N-1 table of every mineral and stage for those years and any later production
    year, latest first. A request for another year computes that year's tables once, the first
    time it is asked. ``years`` = 0: nothing (an empty list). Building the list computes
    nothing."""
    if years <= 0:
        return []
    steps: list[WarmStep] = [
        ("concentration", lambda: concentration_every(pool)),
        ("geopolrisk", lambda: geopolrisk_every(pool)),
        ("n-minus-1", lambda: n_minus_1_every(pool, None)),
    ]
    steps += [(f"assess, latest trade year - {back}", lambda b=back: _warm_assess(pool, b))
              for back in range(years)]
    steps.append((f"n-minus-1, the {years} latest trade years and later production years",
                  lambda: _warm_n_minus_1_years(pool, years)))
    return steps


def warm(pool: AtlasPool, years: int) -> None:
    """Run :func:`warm_steps` in order. Failures are logged, not raised: a route that cannot
    answer says why when asked."""
    from critmin.api.warmup import run_steps

    run_steps(warm_steps(pool, years))


def _trade_years(pool: AtlasPool) -> dict[str, tuple[int, int]]:
    """First and last trade year of every importer (once per process)."""
    from critmin.assessment import trade_years

    return pool.shared(("assess", "trade years"), lambda: trade_years(pool.atlas()))


def _warm_assess(pool: AtlasPool, back: int) -> None:
    """The assess figures of every country for the latest trade year minus ``back`` (computed
    for all countries by one assess call: see :func:`critmin.assessment.assess`)."""
    from critmin.assessment import assess as run_assess

    spans = _trade_years(pool)
    last = max((hi for _, hi in spans.values()), default=None)
    if last is None:
        return
    year = last - back
    who = next((c for c, (lo, hi) in sorted(spans.items()) if lo <= year <= hi), None)
    if who is not None:
        run_assess(who, year=year, atlas=pool.atlas(), cache=pool.shared)


def _warm_n_minus_1_years(pool: AtlasPool, years: int) -> None:
    """The N-1 table of every production year from the ``years``-th latest trade year on, latest
    first (production runs a year ahead of trade: USGS publishes estimates for the year just
    ended)."""
    last = max((hi for _, hi in _trade_years(pool).values()), default=None)
    if last is None:
        return
    produced = pool.cursor().execute("SELECT max(year) FROM production").fetchone()[0]
    for year in range(max(last, produced or last), last - years, -1):
        n_minus_1_every(pool, year)


# ------------------------------------------------------------------------------ scenarios


@router.post("/scenarios", tags=["scenarios"], summary="Run a scenario spec (analysts)")
def run_scenario(request: Request,
                 spec: Annotated[dict[str, Any], Body(description="A scenario spec as in "
                                                      "docs/scenarios.md (the YAML as JSON).")],
                 who: Principal = Depends(principal)) -> Response:
    """Run a scenario (as `critmin scenario run --format json`): shocks, summary, importers,
    supply mix and exposure tables. Analysts, organisers and admins."""
    require(who, check=lambda p: p.can_analyse, what="run scenarios")
    from critmin.output import records
    from critmin.scenarios import parse_spec, run

    s = parse_spec(spec)  # SpecError -> 422 before any work
    pool = atlas_pool(request)
    with provenance.recording() as reads:
        res = run(s, pool.atlas())
    out = {"ok": True, "scenario": s.name, "base_year": s.base_year, "notes": res.notes,
           **{name: records(getattr(res, name)) for name in
              ("shocks", "summary", "importers", "supply_mix", "exposure")},
           "annotations": pool.annotations(reads=reads)}
    return json_response(out)

"""The dashboard's routes: parse the request, call :mod:`critmin.reports`, render a template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from critmin import auth, reference
from critmin.api._core import SESSION_COOKIE, AtlasPool, atlas_pool, client_ip, principal
from critmin.auth import Principal
from critmin.errors import CritminError
from critmin.reports import charts, views
from critmin.reports.html import fmt, table

TEMPLATES = Path(__file__).parent / "templates"
Who = Annotated[Principal, Depends(principal)]

_templates: Any = None


def templates() -> Any:
    global _templates
    if _templates is None:
        from fastapi.templating import Jinja2Templates

        _templates = Jinja2Templates(directory=str(TEMPLATES))
        _templates.env.globals.update(table=table, fmt=fmt)
    return _templates


def _pool(request: Request) -> AtlasPool:
    return atlas_pool(request)


def _cached(request: Request, key: tuple[Any, ...], fn: Any) -> Any:
    pool = _pool(request)
    return pool.cached(("web", *key), lambda: fn(pool.atlas()))


def render(request: Request, template: str, who: Principal, status: int = 200, **ctx: Any
           ) -> HTMLResponse:
    return templates().TemplateResponse(request, template, {"who": who, "csrf": who.csrf_token,
                                                         **ctx}, status_code=status)


def error_page(request: Request, who: Principal, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", who, status=status, title="Error", message=message)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


#: The page data behind the navigation bar, under the keys the pages cache it with: the
#: concentration overview, the mineral and country lists, the trade years and the home page's
#: default country (for visitors without one of their own).
DEFAULT_COUNTRY = "JPN"
WARM_KEYS: list[tuple[tuple[Any, ...], Any]] = [  # the home page's two first
    (("main_concentration",), views.main_concentration),
    (("country", DEFAULT_COUNTRY, None, None), lambda a: views.country_page(a, DEFAULT_COUNTRY)),
    (("minerals",), views.minerals),
    (("countries",), views.countries),
    (("trade_years",), views.trade_years),
]


def warm_steps(pool: AtlasPool, store: Any = None, overlay: Any = None
               ) -> list[tuple[str, Any]]:
    """The start-up warm-up's steps for the pages (:mod:`critmin.api.warmup`), most requested
    first: the atlas data of every page in the navigation bar (:data:`WARM_KEYS`, the home
    page's first), computed into ``pool``'s cache under the keys the pages read; then, given
    the store and the registry ``overlay`` of the app, the cooperation registry as of the last
    stored edit and the cooperation page's tables and map of that registry."""
    steps: list[tuple[str, Any]] = [
        (" ".join(str(k) for k in key if k is not None),
         lambda key=key, fn=fn: pool.cached(("web", *key), lambda: fn(pool.atlas())))
        for key, fn in WARM_KEYS]
    if store is not None and overlay is not None:
        def cooperation() -> None:
            with store.session() as s:
                cooperation_view(overlay, overlay.current(pool, s))

        steps.append(("cooperation", cooperation))
    return steps


def warm_up(pool: AtlasPool, store: Any = None, overlay: Any = None) -> None:
    """Run :func:`warm_steps` now, in order (raising the first failure)."""
    for _name, step in warm_steps(pool, store, overlay):
        step()


def cooperation_view(overlay: Any, reg: Any) -> tuple[dict[str, Any], Any]:
    """The cooperation page's tables and map for registry state ``reg`` (from
    ``overlay.current``), computed once per state (:meth:`critmin.api.coop.Overlay.view`)."""

    def compute(reg: Any) -> tuple[dict[str, Any], Any]:
        page = views.cooperation_page(reg)
        ppc = page["projects_per_country"]
        return page, charts.country_map(list(ppc.country), list(ppc.projects),
                                        "Cooperation projects per host country", "projects")

    view: tuple[dict[str, Any], Any] = overlay.view(reg, ("web", "cooperation"), compute)
    return view


def build_router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    # ------------------------------------------------------------------ home and search

    @r.get("/", response_class=HTMLResponse)
    def home(request: Request, who: Who,
             country: Annotated[str | None, Query(max_length=80)] = None) -> Response:
        conc = _cached(request, ("main_concentration",), views.main_concentration)
        iso3 = country or _my_country(request, who) or DEFAULT_COUNTRY
        try:
            page = _cached(request, ("country", iso3.upper(), None, None),
                           lambda a: views.country_page(a, iso3))
            risk_fig = charts.risk_matrix(page["matrix"], f"Supply risks of {page['name']}")
            note = None
        except CritminError as exc:
            page, risk_fig, note = None, None, str(exc)
        return render(request, "home.html", who, title="Overview", conc=conc,
                      conc_fig=charts.concentration_bars(conc), page=page, risk_fig=risk_fig,
                      note=note, country=iso3)

    @r.get("/search", response_class=HTMLResponse)
    def search(request: Request, who: Who,
               q: Annotated[str, Query(max_length=80)] = "") -> Response:
        hits = views.search(_pool(request).atlas(), q) if q.strip() else []
        if _is_htmx(request):
            return render(request, "_search.html", who, hits=hits, q=q)
        if len(hits) == 1:
            return RedirectResponse(hits[0]["url"], status_code=303)
        return render(request, "search.html", who, title="Search", hits=hits, q=q)

    # ------------------------------------------------------------------ minerals and countries

    @r.get("/minerals", response_class=HTMLResponse)
    def mineral_list(request: Request, who: Who) -> Response:
        return render(request, "minerals.html", who, title="Minerals",
                      minerals=_cached(request, ("minerals",), views.minerals),
                      conc=_cached(request, ("main_concentration",), views.main_concentration))

    @r.get("/minerals/{mineral}", response_class=HTMLResponse)
    def mineral(request: Request, who: Who, mineral: str) -> Response:
        try:
            page = _cached(request, ("mineral", mineral), lambda a: views.mineral_page(a, mineral))
        except CritminError as exc:
            return error_page(request, who, 404, str(exc))
        prod = page["producers"]
        stage = prod.stage.iloc[0] if len(prod) else ""
        year = int(prod.year.iloc[0]) if len(prod) else ""
        ex = page["exporters"]
        figs = {
            "map": charts.producer_map(prod, f"{page['name']}: producers ({stage}, {year})"),
            "conc": charts.concentration_lines(page["concentration"],
                                               f"{page['name']}: concentration over time"),
            "exporters": charts.hbar(list(ex.name), list(ex.value_kusd),
                                     f"Top exporters ({ex.year.iloc[0] if len(ex) else ''}, "
                                     "thousand USD)", "thousand USD"),
            "sankey": charts.sankey(page["flows"], "Largest trade flows (thousand USD)"),
            "chain": charts.chain_sankey(page["chain"], f"{page['name']}: mine → refine → "
                                         "importer (traced, contained t)"),
        }
        if page["outlook"] is not None:
            figs["outlook"] = charts.outlook_chart(
                page["outlook"]["demand"], page["outlook"]["supply"],
                f"{page['name']}: demand by scenario against refining supply by country (IEA)")
        return render(request, "mineral.html", who, title=page["name"], page=page, figs=figs)

    @r.get("/countries", response_class=HTMLResponse)
    def country_list(request: Request, who: Who) -> Response:
        return render(request, "countries.html", who, title="Countries",
                      countries=_cached(request, ("countries",), views.countries))

    @r.get("/countries/{iso3}", response_class=HTMLResponse)
    def country(request: Request, who: Who, iso3: str,
                year: Annotated[int | None, Query(ge=1900, le=2100)] = None,
                group: Annotated[str | None, Query(max_length=40)] = None) -> Response:
        try:
            page = _cached(request, ("country", iso3.upper(), year, group),
                           lambda a: views.country_page(a, iso3, year, group))
        except CritminError as exc:
            return error_page(request, who, 404, str(exc))
        sup = page["suppliers"]
        figs = {
            "matrix": charts.risk_matrix(page["matrix"], f"Risk matrix: {page['name']}"),
            "suppliers": charts.hbar(list(sup.name), list(sup.value_kusd),
                                     "Largest suppliers, all mapped minerals (thousand USD)",
                                     "thousand USD"),
        }
        # the largest import that can be traced (a mineral with mine production data)
        for top in list(page["risk"].mineral[:views.CHAIN_TRIES]):
            chain = _cached(request, ("chain", top), lambda a, m=top: views.chain_flows(a, m))
            mine = chain[chain.importer == page["iso3"]]
            if len(mine):
                figs["chain"] = charts.chain_sankey(
                    mine, f"{page['name']}: where its {top} comes from (mine → refine → "
                    f"{page['iso3']}, contained t)")
                break
        return render(request, "country.html", who, title=page["name"], page=page, figs=figs,
                      groups=reference.groups())

    # ------------------------------------------------------------------ scenarios

    @r.get("/scenarios", response_class=HTMLResponse)
    def scenarios(request: Request, who: Who) -> Response:
        return render(request, "scenarios.html", who, title="Scenarios",
                      minerals=_cached(request, ("minerals",), views.minerals),
                      countries=_cached(request, ("countries",), views.countries),
                      years=_cached(request, ("trade_years",), views.trade_years))

    @r.post("/scenarios/run", response_class=HTMLResponse)
    def scenario_run(request: Request, who: Who,
                     exporter: Annotated[str, Form(max_length=80)],
                     mineral: Annotated[str, Form(max_length=60)],
                     base_year: Annotated[int, Form(ge=1900, le=2100)],
                     stage: Annotated[str, Form(max_length=10)] = "all",
                     cut_percent: Annotated[float, Form(ge=0, le=100)] = 100.0,
                     targets: Annotated[str, Form(max_length=400)] = "all") -> Response:
        if not who.can_analyse:
            return render(request, "_message.html", who, kind="note",
                          message="Sign in as an analyst (or organiser) to run scenarios.")
        spec = views.scenario_spec(exporter.strip().upper(), mineral, stage=stage,
                                   cut=cut_percent / 100.0, targets=targets,
                                   base_year=base_year)
        try:
            res = views.run_scenario(_pool(request).atlas(), spec)
        except CritminError as exc:
            return render(request, "_message.html", who, kind="error", message=str(exc))
        return render(request, "_scenario_result.html", who, spec=spec, res=res,
                      fig=charts.scenario_bars(res.importers))

    # ------------------------------------------------------------------ cooperation

    @r.get("/cooperation", response_class=HTMLResponse)
    def cooperation(request: Request, who: Who) -> Response:
        pool = _pool(request)
        overlay = request.app.state.overlay
        with request.app.state.store.session() as s:
            reg = overlay.current(pool, s)
        page, fig = cooperation_view(overlay, reg)
        return render(request, "cooperation.html", who, title="Cooperation", page=page, fig=fig)

    @r.get("/cooperation/whatif", response_class=HTMLResponse)
    def whatif(request: Request, who: Who,
               project: Annotated[list[str] | None, Query()] = None,
               year: Annotated[int | None, Query(ge=1900, le=2100)] = None) -> Response:
        if not project:
            return render(request, "_message.html", who, kind="note",
                          message="Choose one or more projects.")
        try:
            df = views.whatif(_pool(request).atlas(), project, year)
        except CritminError as exc:
            return render(request, "_message.html", who, kind="error", message=str(exc))
        return render(request, "_whatif.html", who, df=df)

    # ------------------------------------------------------------------ sign-in

    @r.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, who: Who,
                   next: Annotated[str, Query(max_length=200)] = "/") -> Response:
        return render(request, "login.html", who, title="Sign in", next=_safe_next(next),
                      error=None)

    @r.post("/login", response_class=HTMLResponse)
    def login(request: Request, username: Annotated[str, Form(max_length=80)],
              password: Annotated[str, Form(max_length=1000)],
              next: Annotated[str, Form(max_length=200)] = "/") -> Response:
        store = request.app.state.store
        s = store.new_session()
        try:
            try:
                _user, cookie, _csrf = auth.login(s, username, password, client_ip(request))
            except auth.RateLimited as exc:
                s.rollback()
                return render(request, "login.html", auth_anonymous(), status=429,
                              title="Sign in", next=_safe_next(next), error=str(exc))
            except auth.AuthError as exc:
                s.commit()  # the failed attempt counts
                return render(request, "login.html", auth_anonymous(), status=401,
                              title="Sign in", next=_safe_next(next), error=str(exc))
            s.commit()
        finally:
            s.close()
        resp = RedirectResponse(_safe_next(next), status_code=303)
        resp.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https",
                        max_age=int(auth.SESSION_TTL.total_seconds()))
        return resp

    @r.post("/logout")
    def logout(request: Request, who: Who) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie and who.via == "session":
            with request.app.state.store.session() as s:
                auth.logout(s, cookie)
        resp = Response(status_code=204, headers={"HX-Redirect": "/"})
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    from critmin.web.roundtable import build_roundtable_router

    r.include_router(build_roundtable_router())
    return r


def _my_country(request: Request, who: Principal) -> str | None:
    if who.participant_id is None:
        return None
    from critmin.storage.models import Participant

    with request.app.state.store.session() as s:
        p = s.get(Participant, who.participant_id)
        return p.country if p is not None else None


def _safe_next(target: str) -> str:
    """Only same-site paths (no open redirect)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def auth_anonymous() -> Principal:
    return Principal()

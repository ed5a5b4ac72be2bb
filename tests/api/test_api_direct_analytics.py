"""Analytic routes answered by the cache middleware's direct path (no FastAPI routing or
dependency resolution) give the full stack's answer: status, headers and body, for valid
questions in every format and for every kind of refusal; and the direct path reads exactly
the parameters FastAPI would pass, or leaves the request to the full stack."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from starlette.requests import Request

from critmin.api import API_PREFIX, analytics

URLS = [
    "/assess/JPN",
    "/assess/JPN?year=2022",
    "/assess/jpn.csv?year=2022&mineral=cobalt&mineral=lithium",
    "/assess/Japan.json",
    "/concentration?mineral=cobalt",
    "/concentration.csv?mineral=cobalt&stage=mine&year=2022",
    "/geopolrisk?economy=JPN&material=cobalt&year=2022",
    "/geopolrisk.csv?economy=JPN&economy=IND&material=cobalt",
    "/geopolrisk?economy=jpn&year=2022&year=2021",
    "/n-minus-1?mineral=cobalt",
    "/n-minus-1.parquet?mineral=cobalt&stage=mine",
    "/coop/blocs?mineral=cobalt",
    "/trace/JPN?mineral=cobalt",
    "/concentration?mineral=cobalt&unknown=1",  # FastAPI ignores unknown parameters
    # refusals and what the direct path leaves to the full stack
    "/assess/ZZZ",
    "/assess/JPN?year=1800",
    "/assess/JPN?year=abc",
    "/assess/JPN?year=",
    "/assess/JPN?year=+2022",
    "/assess/JPN?year=02022",
    "/assess/JPN?year=2022&year=2023",
    "/assess/JPN?mineral=bogus",
    "/assess/" + "J" * 81,
    "/assess/JPN.xml",
    "/assess/JPN.",
    "/concentration",
    "/concentration?mineral=" + "c" * 61,
    "/concentration?mineral=bogus",
    "/geopolrisk?year=1800",
    "/geopolrisk?economy=ZZZ",
    "/geopolrisk?year=x",
    "/n-minus-1?stage=bogus",
    "/n-minus-1?stage=" + "s" * 21,
    "/geopolrisk?_release=NOPE",
]


def _answer(service: Any, url: str, headers: dict[str, str]) -> tuple[int, list[Any], Any]:
    service.app.state.response_cache.clear()  # each path computes its own answer
    r = service.client.get(API_PREFIX + url, headers=headers)
    return (r.status_code, sorted((k, v) for k, v in r.headers.items() if k != "date"),
            r.content)


@pytest.mark.parametrize("url", URLS)
def test_direct_path_answers_as_the_full_stack(service: Any, url: str) -> None:
    # an (invalid) session cookie sends a request through the full stack; without
    # credentials, or with a valid token, an analytic URL takes the direct path
    full = _answer(service, url, {"Cookie": "critmin_session=not-a-session"})
    assert _answer(service, url, {}) == full
    assert _answer(service, url, service.as_("analyst")) == full


def _read(url: str) -> dict[str, Any] | str | None:
    """What the direct path makes of ``url``: "not direct", None (left to the full stack after
    reading), or the arguments it passes the route."""
    path, _, query = url.partition("?")
    found = analytics._match(analytics._routes(API_PREFIX), API_PREFIX + path)
    if found is None:
        return "not direct"
    params, _fmt, parse, _respond = found
    return parse(Request({"type": "http", "method": "GET", "path": API_PREFIX + path,
                          "query_string": query.encode(), "headers": [],
                          "path_params": params}))


@pytest.mark.parametrize(("url", "want"), [
    ("/assess/JPN", {"country": "JPN", "year": None, "mineral": None}),
    ("/assess/JPN.csv?year=2022&mineral=a&mineral=b",
     {"country": "JPN", "year": 2022, "mineral": ["a", "b"]}),
    ("/geopolrisk?economy=JPN&year=2022&year=2021",
     {"economy": ["JPN"], "material": None, "year": [2022, 2021], "compat": None}),
    ("/n-minus-1?mineral=cobalt&stage=mine&year=2100",
     {"mineral": "cobalt", "stage": "mine", "year": 2100}),
    ("/n-minus-1?year=0", None),                # out of bounds
    ("/concentration?mineral=cobalt&x=1", {"mineral": "cobalt", "stage": None, "year": None}),
    ("/assess/JPN?year=2022&year=2023", None),  # one value asked twice
    ("/assess/JPN?year=02022", None),           # not written plainly
    ("/assess/JPN?year=1800", None),            # out of bounds
    ("/assess/JPN?year=", None),
    ("/concentration", None),                   # required, missing
    ("/concentration?mineral=" + "c" * 61, None),
    ("/coop/coverage/JPN?group=QUAD", "not direct"),  # a float parameter: FastAPI reads it
    ("/outlook?mineral=lithium", "not direct"),       # a bool parameter
    ("/trade_flows", "not direct"),
    ("/assess", "not direct"),
    ("/assess/JPN.xml", "not direct"),
])
def test_direct_path_reads_what_fastapi_passes(url: str, want: Any) -> None:
    assert _read(url) == want


def test_kept_mode_computes_no_whole_atlas_table_on_the_loop(starter_atlas: Any) -> None:
    """On the loop with ``kept``: a whole-atlas table not computed yet, or an atlas not opened
    yet, raises NeedsThread (the handler goes to a thread); a kept table and short reads of
    the opened atlas are allowed. Without ``kept`` any DuckDB access raises it."""
    from critmin.api._core import AtlasPool, NeedsThread, on_the_loop

    pool = AtlasPool(starter_atlas)
    raised: list[type] = []

    def on_loop() -> None:  # the atlas is not open yet
        for call in (pool.cursor, pool.atlas):
            try:
                with on_the_loop(kept=True):
                    call()
            except NeedsThread:
                raised.append(NeedsThread)

    with pool._lock:  # as while another thread opens the atlas: the loop must not wait for it
        loop = threading.Thread(target=on_loop, daemon=True)
        loop.start()
        loop.join(10)
    assert raised == [NeedsThread, NeedsThread]
    with on_the_loop(kept=True), pytest.raises(NeedsThread):
        pool.shared("t", lambda: 1)
    assert pool.shared("t", lambda: 2) == 2  # off the loop: computed and kept
    opener = threading.Thread(target=pool.cursor)  # the atlas opened by another thread
    opener.start()
    opener.join()
    with on_the_loop(kept=True):
        assert pool.shared("t", lambda: 3) == 2
        assert pool.cursor().execute("SELECT 1").fetchone() == (1,)
    with on_the_loop(), pytest.raises(NeedsThread):
        pool.cursor()

"""``critmin serve`` as a real uvicorn process on 127.0.0.1 and a random port, spoken to over HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.stress import running_server


@pytest.fixture(scope="module")
def server_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def server(starter_atlas: Path, server_folder: Path) -> Iterator[str]:
    with running_server(starter_atlas, server_folder) as url:
        yield url


def test_forged_forwarded_for_does_not_dodge_the_login_rate_limit(server: str,
                                                                   server_folder: Path) -> None:
    from critmin import auth
    from critmin.storage import Store

    store = Store(f"sqlite:///{server_folder / 'critmin.db'}")
    with store.session() as s:
        auth.add_user(s, "xff-victim", "analyst", "the-right-password")
    store.dispose()
    codes = [httpx.post(f"{server}/api/v1/auth/login", timeout=30,
                        json={"username": "xff-victim", "password": "guess"},
                        headers={"X-Forwarded-For": f"10.1.{i}.7"}).status_code
             for i in range(auth.MAX_FAILURES + 2)]
    assert codes == [401] * auth.MAX_FAILURES + [429, 429]


def test_real_server_serves_and_migrates(server: str) -> None:
    r = httpx.get(f"{server}/api/v1/trade_flows.json?year=2023&_size=3", timeout=10)
    assert r.status_code == 200 and len(r.json()["rows"]) == 3
    assert r.json()["annotations"]["licence"]
    r = httpx.get(f"{server}/api/v1/trade_flows.csv?year=2023&exporter=CHN&_stream=1", timeout=30)
    import csv

    rows = list(csv.reader(r.text.splitlines()))
    assert r.status_code == 200 and rows[0][:3] == ["year", "exporter", "importer"]
    assert len(rows) > 100 and {row[1] for row in rows[1:]} == {"CHN"}
    assert httpx.get(f"{server}/openapi.json", timeout=10).json()["openapi"].startswith("3.")
    r = httpx.get(f"{server}/api/v1/nope", timeout=10)
    assert r.status_code == 404 and r.json()["ok"] is False
    # the database was migrated on start: login answers (401, not a server error)
    r = httpx.post(f"{server}/api/v1/auth/login", json={"username": "x", "password": "y"},
                   timeout=10)
    assert r.status_code == 401


@pytest.mark.slow  # a multi-worker server and timed keep-alive requests
def test_workers_answer_keep_alive_requests_without_the_delayed_ack_wait(
        starter_atlas: Path, tmp_path: Path) -> None:
    # uvicorn's socket shared by --workers processes has proto 0, so asyncio did not set
    # TCP_NODELAY and every response on a keep-alive connection waited ~40 ms for the delayed ACK
    with running_server(starter_atlas, tmp_path, "--workers", "2") as url, \
            httpx.Client(base_url=url, timeout=10) as client:
        times = []
        for _ in range(15):
            start = time.perf_counter()
            assert client.get("/api/v1/minerals").status_code == 200
            times.append(time.perf_counter() - start)
    assert sorted(times)[len(times) // 2] < 0.02, times


def test_tcp_listener_makes_asyncio_set_nodelay_on_accepted_connections() -> None:
    import asyncio

    import uvicorn

    from critmin.cli.serve import tcp_listener

    # the socket uvicorn binds for --workers, as the workers' event loops serve it
    sock = tcp_listener(uvicorn.Config("x:app", host="127.0.0.1", port=0).bind_socket())

    async def accepted_nodelay() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                conn = transport.get_extra_info("socket")
                seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection(*sock.getsockname())
            try:
                return await asyncio.wait_for(seen, 10)
            finally:
                writer.close()

    with sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert asyncio.run(accepted_nodelay()) != 0


def test_tcp_listener_leaves_other_sockets_alone() -> None:
    from critmin.cli.serve import tcp_listener

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
        assert tcp_listener(unix) is unix
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as tcp:
        assert tcp_listener(tcp) is tcp


def test_proxy_headers_are_trusted_only_from_configured_proxies(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from critmin.cli.serve import server_config

    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn's own default would read it
    cfg = server_config(host="127.0.0.1", port=8000)
    assert cfg.proxy_headers is False
    cfg = server_config(host="127.0.0.1", port=8000, forwarded_allow_ips="10.0.0.5")
    assert cfg.proxy_headers is True and cfg.forwarded_allow_ips == "10.0.0.5"

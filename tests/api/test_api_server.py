"""``critmin serve`` as a real uvicorn process on 127.0.0.1 and a random port, spoken to over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(starter_atlas: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    db = tmp_path_factory.mktemp("serve") / "critmin.db"
    env = {**os.environ, "CRITMIN_DATABASE_URL": f"sqlite:///{db}"}
    log = (db.parent / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from critmin.cli import main; main()", "serve", "--port", str(port),
         "--db", str(starter_atlas), "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                out = (db.parent / "serve.log").read_text()
                pytest.fail(f"critmin serve exited: {out}")
            try:
                if httpx.get(f"{url}/api/v1", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("critmin serve did not answer in 30 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


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

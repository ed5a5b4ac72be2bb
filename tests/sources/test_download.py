"""The download step against a real HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from critmin.errors import CritminError
from critmin.sources.download import CATALOGUE, download


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_verifies_sha256(server, tmp_path: Path) -> None:
    base, root = server
    body = b"t,i,j,k,v,q\n2020,4,124,260300,1.0,2.0\n" * 1000
    (root / "BACI_HS92_Y2020_V202401b.csv").write_bytes(body)
    digest = hashlib.sha256(body).hexdigest()
    path, got = download(f"{base}/BACI_HS92_Y2020_V202401b.csv", tmp_path / "out", sha256=digest)
    assert got == digest and path.read_bytes() == body


def test_checksum_mismatch_leaves_nothing(server, tmp_path: Path) -> None:
    base, root = server
    (root / "f.csv").write_bytes(b"abc")
    out = tmp_path / "out"
    out.mkdir()
    (out / "f.csv").write_bytes(b"previous")
    with pytest.raises(CritminError, match="sha256 mismatch: expected 00"):
        download(f"{base}/f.csv", out, sha256="00" * 32)
    assert (out / "f.csv").read_bytes() == b"previous"
    assert [p.name for p in out.iterdir()] == ["f.csv"]


def test_http_error(server, tmp_path: Path) -> None:
    base, _root = server
    with pytest.raises(CritminError, match=r"HTTP 404"):
        download(f"{base}/missing.csv", tmp_path)


def test_catalogue_names_publishers() -> None:
    assert {"baci-hs92", "usgs-mcs2026", "wgi", "wmd"} <= set(CATALOGUE)
    assert all(r.url.startswith("https://") for r in CATALOGUE.values())

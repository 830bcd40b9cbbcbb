"""What every response carries, and bodies over the limit however they are sent."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tiphub.web.app import create_app
from tiphub.web.settings import HubSettings

LIMIT = 4_096


def _client(engine: Engine) -> TestClient:
    return TestClient(
        create_app(engine, HubSettings(demo=True, secure_cookies=False, max_upload_bytes=LIMIT))
    )


def test_security_headers_everywhere_and_no_store_except_static_files(engine: Engine) -> None:
    client = _client(engine)
    for path in ("/api/v1/health", "/signin", "/api/v1/no-such-route"):
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
    static = client.get("/static/tiphub.css")
    assert static.status_code == 200
    assert static.headers.get("cache-control") != "no-store"
    assert "default-src 'self'" in static.headers["content-security-policy"]


def test_a_body_over_the_limit_is_refused_with_or_without_a_length(engine: Engine) -> None:
    client = _client(engine)
    declared = client.post(
        "/api/v1/auth/token",
        content=b"{" + b" " * LIMIT + b"}",
        headers={"content-type": "application/json"},
    )
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"

    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b" " * (LIMIT // 2)

    streamed = client.post(
        "/api/v1/auth/token", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["title"] == "Too large"
    page = client.post(
        "/locale",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 413
    assert "text/html" in page.headers["content-type"]

"""The panel's files as the hub serves them: public, revalidated, and nothing else public."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from cityhub.hub import Hub
from cityhub.testing.hub import HubFactory


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    config = {"hub": {"name": "Test town", "data_dir": "data"},
              "http": {"host": "127.0.0.1", "port": 0}}  # fmt: skip
    return await cityhub_hub(cityhub_config(config))


@pytest.fixture
async def http(hub: Hub) -> AsyncIterator[aiohttp.ClientSession]:
    assert hub.http_url is not None
    async with aiohttp.ClientSession(hub.http_url) as session:
        yield session


async def test_the_page_and_its_files_are_served_without_a_session(
    http: aiohttp.ClientSession,
) -> None:
    async with http.get("/") as page:
        assert page.status == 200
        assert page.content_type == "text/html"
        assert '<script type="module" src="/static/js/app.js">' in await page.text()
        assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    for path, kind in (
        ("/static/js/app.js", "javascript"),
        ("/static/css/panel.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
    ):
        async with http.get(path) as answer:
            assert answer.status == 200, path
            assert kind in answer.content_type, (path, answer.content_type)
            assert answer.headers["Cache-Control"] == "no-cache"
            assert "Content-Security-Policy" in answer.headers


async def test_nothing_else_is_public(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/cameras") as answer:
        assert answer.status == 401
    async with http.get("/static/nothing.js") as answer:
        assert answer.status == 404
    # Outside the static folder: the hub's own files are never reachable.
    async with http.get("/static/../server.py") as answer:
        assert answer.status in (403, 404)
    async with http.get("/static/%2e%2e/server.py") as answer:
        assert answer.status in (403, 404)
    # An address no route declares is refused, not served without a session.
    async with http.get("/favicon.ico") as answer:
        assert answer.status == 404

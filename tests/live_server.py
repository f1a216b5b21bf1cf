"""Fixtures for browser tests: a live portal on its own database, and Chromium pages.

The live server runs in a background thread on its own SQLite file loaded with the demo data,
so browser tests see realistic pages and never touch the suite's rolled-back database.
"""

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session

from app import demo
from app.core import migrations
from app.core.db import build_engine, get_session
from app.demo import DEMO_PASSWORD
from app.main import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The portal served by uvicorn on a free loopback port; yields its base URL."""
    url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}"
    migrations.upgrade(url)
    engine = build_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        demo.load(session)

    def live_session() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session:
            yield session

    app = create_app()
    app.dependency_overrides[get_session] = live_session
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    engine.dispose()


@pytest.fixture(scope="session")
def browser():
    """One headless system Chromium for the session; skipped only where none is installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page in its own context: no cookies carried over from another test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def sign_in(page, base_url: str, email: str, password: str = DEMO_PASSWORD) -> None:
    """Signs in through the real /login form and waits for the redirect to land."""
    page.goto(f"{base_url}/login")
    page.fill("#f-username", email)
    page.fill("#f-password", password)
    with page.expect_navigation():
        page.click("form.stacked button[type=submit]")
    if page.url.startswith(f"{base_url}/login"):
        raise AssertionError(f"sign-in failed for {email}")

"""The real hub in a subprocess and a headless Chromium driven by Playwright.

The server runs exactly as a user starts it (``tiphub serve --demo``) on a free loopback port,
with its own data folder, key file and database, so that the module's journey keeps its data
from test to test (the shared ``engine`` fixture empties the database after every test).
Chromium is Debian's ``/usr/bin/chromium``: nothing is downloaded at run time, and a missing
browser fails the tests (``.ci/run`` installs it) rather than skipping them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    sync_playwright,
)
from sqlalchemy.engine import make_url

CHROMIUM = Path("/usr/bin/chromium")
DEMO_PASSWORD = "correct horse battery staple 42"
# Few cases keep the start quick; `serve --demo` only loads its 2,000 into an empty database.
DEMO_CASES = 30
DEMO_SEED = 7
STARTUP_TIMEOUT_S = 90.0
NEUTRAL_PAGE = "<!doctype html><title>Neutral</title><p>neutral page</p>"


@dataclass
class Hub:
    base_url: str
    password: str = DEMO_PASSWORD
    log_file: Path = field(default_factory=Path)

    def url(self, path: str) -> str:
        return self.base_url + path


def _tiphub_script() -> Path:
    script = Path(sys.executable).parent / "tiphub"
    if not script.exists():
        pytest.fail(f"the tiphub command is not installed next to {sys.executable}")
    return script


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _admin_execute(database_url: str, statement: str) -> None:
    import psycopg

    plain = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False), autocommit=True) as db:
        db.execute(statement)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def hub_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite in a temporary folder, or a scratch PostgreSQL database dropped afterwards."""
    shared = os.environ.get("TIPHUB_TEST_DATABASE_URL")
    if not shared:
        yield f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / 'hub.db'}"
        return
    name = f"tiphub_e2e_{uuid.uuid4().hex[:12]}"
    _admin_execute(shared, f"CREATE DATABASE {name}")
    try:
        yield make_url(shared).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin_execute(shared, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _wait_until_healthy(base_url: str, server: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the hub exited with {server.returncode}:\n{_tail(log_file)}")
        try:
            if httpx.get(base_url + "/api/v1/health", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"the hub did not answer within {STARTUP_TIMEOUT_S:.0f} s:\n{_tail(log_file)}")


def _tail(log_file: Path, lines: int = 40) -> str:
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class HubProcess:
    base_url: str
    server: subprocess.Popen[bytes]
    log_file: Path


@pytest.fixture(scope="module")
def hub_process(
    tmp_path_factory: pytest.TempPathFactory, hub_database_url: str
) -> Iterator[HubProcess]:
    """The demo data loaded and the server started, not yet necessarily answering."""
    data_dir = tmp_path_factory.mktemp("e2e-hub")
    log_file = data_dir / "server.log"
    environment = {
        **os.environ,
        "TIPHUB_DATA_DIR": str(data_dir),
        "TIPHUB_KEY_FILE": str(data_dir / "keys"),
        "TIPHUB_DEMO_PASSWORD": DEMO_PASSWORD,
        "TIPHUB_DATABASE_URL": hub_database_url,
        "NO_COLOR": "1",
    }
    script = _tiphub_script()
    with log_file.open("wb") as log:
        loaded = subprocess.run(
            [str(script), "demo", "--cases", str(DEMO_CASES), "--seed", str(DEMO_SEED)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=STARTUP_TIMEOUT_S,
            check=False,
        )
    if loaded.returncode != 0:
        pytest.fail(f"`tiphub demo` failed with {loaded.returncode}:\n{_tail(log_file)}")
    port = _free_port()
    with log_file.open("ab") as log:
        server = subprocess.Popen(
            [str(script), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield HubProcess(f"http://127.0.0.1:{port}", server, log_file)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope="module")
def hub(hub_process: HubProcess) -> Hub:
    _wait_until_healthy(hub_process.base_url, hub_process.server, hub_process.log_file)
    return Hub(base_url=hub_process.base_url, log_file=hub_process.log_file)


@pytest.fixture(scope="module")
def chromium_executable() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: the end-to-end tests need Debian's Chromium "
            "(apt-get install chromium chromium-driver; .ci/run installs it)"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium_executable: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium_executable), headless=True
        )
        yield launched
        launched.close()


# Chromium reports CSP violations on the console already; this also catches any it might not
# (e.g. a blocked inline style), with the directive but without the page's content.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " + event.blockedURI);
});
"""


@dataclass
class BrowserSession:
    """One browser profile on the hub: what went wrong on its pages, and where it went."""

    hub: Hub
    context: BrowserContext
    problems: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        return page

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error on {message.location.get('url')}: {message.text}")

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.hub.base_url + "/"):
            route.continue_()
            return
        # Nothing leaves the machine: a neutral page stands in for any other site.
        self.outside_requests.append(url)
        route.fulfill(status=200, content_type="text/html", body=NEUTRAL_PAGE)

    def assert_clean(self) -> None:
        assert self.problems == [], "the pages reported errors:\n" + "\n".join(self.problems)


@pytest.fixture
def open_session(
    hub_process: HubProcess, browser: Browser, hub: Hub
) -> Iterator[Callable[..., BrowserSession]]:
    """Factory of fresh browser profiles (own cookies), English unless a locale is given.

    The fixtures come in this order so that Chromium starts while the server warms up.
    """
    sessions: list[BrowserSession] = []

    def open_one(locale: str = "en-GB") -> BrowserSession:
        context = browser.new_context(base_url=hub.base_url, locale=locale)
        context.set_default_timeout(10_000)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        session = BrowserSession(hub=hub, context=context)
        context.route("**/*", session._route)
        sessions.append(session)
        return session

    yield open_one
    for session in sessions:
        session.context.close()

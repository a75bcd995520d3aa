"""Shared fixtures for end-to-end / browser tests.

Browser policy: tests use Debian's Chromium at /usr/bin/chromium (Playwright
cannot download its own browsers here). If it is missing, browser tests are
skipped locally but *fail* when the ``CI`` environment variable is set.

Network policy: the ``page`` fixture aborts every request that does not go to
127.0.0.1/localhost and records it in ``blocked_requests``; tests assert that
list stays empty (nothing may come from a CDN).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = REPO_ROOT / "web" / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
MANIFEST_PATH = VENDOR_DIR / "manifest.json"
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
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def load_manifest() -> dict:
    """The vendored-assets manifest; fails (never skips) when assets are not built."""
    if not MANIFEST_PATH.is_file():
        pytest.fail(
            f"{MANIFEST_PATH.relative_to(REPO_ROOT)} missing - run `make assets` "
            "(npm ci + scripts/vendor_assets.py)",
            pytrace=False,
        )
    return json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def vendor_manifest() -> dict:
    return load_manifest()


# --------------------------------------------------------------------------
# local static server
# --------------------------------------------------------------------------


class LocalServer:
    """Serves web/static under /static/ plus in-memory pages registered by tests."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path in pages:
                    body = pages[path].encode("utf-8")
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if not path.startswith("/static/"):
                    self.send_error(404)
                    return
                self.path = self.path[len("/static") :]
                super().do_GET()

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

        handler = partial(Handler, directory=str(STATIC_DIR))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add_page(self, path: str, html: str) -> str:
        self.pages[path] = html
        return self.base_url + path

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    server = LocalServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------
# Playwright
# --------------------------------------------------------------------------


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    msg = (
        f"{CHROMIUM} not found (apt-get install --no-install-recommends chromium); "
        "Playwright cannot download browsers here"
    )
    if in_ci():
        pytest.fail(f"CI is set and {msg}", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def browser():
    """Session-wide headless Chromium (Debian's /usr/bin/chromium)."""
    _require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # test extra not installed
        if in_ci():
            pytest.fail(f"playwright not importable: {exc}", pytrace=False)
        pytest.skip(f"playwright not importable: {exc}")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def blocked_requests() -> list[str]:
    """URLs of non-local requests the ``page`` fixture aborted."""
    return []


@pytest.fixture
def page_errors() -> list[str]:
    """Uncaught page exceptions and console errors seen by ``page``."""
    return []


@pytest.fixture
def page(browser, blocked_requests, page_errors):
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="de-DE", timezone_id="Europe/Berlin"
    )

    def guard(route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked_requests.append(url)
            route.abort()

    context.route("**/*", guard)
    pg = context.new_page()
    pg.on("pageerror", lambda exc: page_errors.append(f"pageerror: {exc}"))
    pg.on(
        "console",
        lambda msg: (
            page_errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    try:
        yield pg
    finally:
        context.close()

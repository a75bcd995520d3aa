"""The web app under gunicorn (``lotse serve``) in a subprocess, and a small keep-alive client."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench.common import lotse_command, subprocess_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """``lotse serve`` on a free port; stopped (SIGTERM to the process we started) on exit.

    The server runs with ``LOTSE_ENV=production`` (env ``LOTSE_BENCH_SERVER_ENV`` overrides),
    as shipped: outside production the app's clock is the movable one stored in the database,
    which costs an extra ``SELECT clock_setting`` on every engine call."""

    def __init__(self, url: str, workdir: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.workers = workers
        self.lotse_env = os.environ.get("LOTSE_BENCH_SERVER_ENV") or "production"
        self.env = subprocess_env(url, workdir, LOTSE_ENV=self.lotse_env)
        self.log = workdir / f"gunicorn-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        fh = self.log.open("w")
        self.proc = subprocess.Popen(
            [*lotse_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(self.workers)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=fh)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            try:
                c = Client(self.port, None)
                if c.request("GET", "/healthz")[0] == 200:
                    c.close()
                    # every worker must have imported the app: a few more probes
                    for _ in range(4 * self.workers):
                        Client(self.port, None).request("GET", "/healthz")
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """One keep-alive HTTP/1.1 connection with a bearer token."""

    def __init__(self, port: int, token: str | None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Accept": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | str]:
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=payload, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw.decode("utf-8", "replace")

    def close(self) -> None:
        self.conn.close()

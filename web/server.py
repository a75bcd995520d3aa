"""Run the app under gunicorn (``lotse serve``), with gunicorn's own error answers as JSON
on ``/api/``.

gunicorn answers some requests itself before the app sees them: a request line or header
over its limits (414, 431), a malformed request (400), a worker killed by ``--timeout``
while it handled a request (500). Its answer is a small HTML page; an API client expects
``{"error": CODE, "message": ...}`` as from every other ``/api/`` answer. The worker
classes here (``JsonErrorWorker``, sync; ``JsonErrorThreadWorker``, gthread) let gunicorn
decide the status, log and access-log as usual, and only replace the body for ``/api/``
paths. Use them when calling gunicorn directly:
``gunicorn web.wsgi:app --worker-class web.server.JsonErrorWorker``.
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http import parser as http_parser
from gunicorn.http.message import Request
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

# status -> (code, German, English); anything else: the generic code of its class
_ANSWERS = {
    400: ("BAD_REQUEST", "Die Anfrage ist ungültig.", "The request is invalid."),
    403: ("FORBIDDEN", "Die Anfrage ist nicht erlaubt.", "The request is forbidden."),
    414: ("REQUEST_LINE_TOO_LONG", "Die Anfragezeile (Adresse) ist zu lang.",
          "The request line (address) is too long."),
    417: ("EXPECTATION_FAILED", "Der Expect-Header wird nicht unterstützt.",
          "The Expect header is not supported."),
    431: ("HEADERS_TOO_LARGE", "Die Kopfzeilen der Anfrage sind zu groß.",
          "The request headers are too large."),
    500: ("INTERNAL_ERROR", "Ein interner Fehler ist aufgetreten.", "An internal error occurred."),
    501: ("NOT_IMPLEMENTED", "Diese Übertragungsart wird nicht unterstützt.",
          "This transfer coding is not supported."),
}
_TIMEOUT = ("WORKER_TIMEOUT", "Die Anfrage hat zu lange gedauert und wurde abgebrochen; ob sie "
            "ganz oder teilweise wirksam wurde, zeigt ein erneutes Lesen.",
            "The request took too long and was aborted; read the object again to see whether "
            "it took effect.")
_HEAD_BYTES = 512


class _Request(Request):
    """gunicorn's request, remembering the first bytes it read: when parsing fails (the
    request line is too long, say) there is no path yet, but the error answer must know
    whether the request was for ``/api/``."""

    def read_into(self, unreader, buf, stop=False):
        super().read_into(unreader, buf, stop)
        if not getattr(self, "lotse_head", None):
            self.lotse_head = bytes(buf[:_HEAD_BYTES])

    def parse(self, unreader):
        try:
            return super().parse(unreader)
        except Exception as exc:
            exc.lotse_head = getattr(self, "lotse_head", b"")
            raise


def _target_is_api(target: bytes) -> bool:
    if target[:7].lower() == b"http://" or target[:8].lower() == b"https://":
        slash = target.find(b"/", target.find(b"//") + 2)  # absolute form: drop the host
        target = target[slash:] if slash >= 0 else b"/"
    path = target.split(b"?", 1)[0].split(b"#", 1)[0]
    return path == b"/api" or path.startswith(b"/api/")


def is_api_request(req, exc) -> bool:
    """Whether the failed request was for ``/api/``: its parsed path, else the request
    line's target as far as gunicorn read it."""
    path = getattr(req, "path", None) or getattr(getattr(exc, "req", None), "path", None)
    if path:
        return _target_is_api(path.encode("latin-1", "replace"))
    head = getattr(exc, "lotse_head", b"") or getattr(req, "lotse_head", b"")
    if head[:2] == b"\r\n":
        head = head[2:]
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    return len(parts) >= 2 and _target_is_api(parts[1])


class _Capture:
    """The client socket, except that what gunicorn writes is kept instead of sent."""

    def __init__(self, sock) -> None:
        self._sock = sock
        self.written = b""

    def sendall(self, data: bytes) -> None:
        self.written += data

    def send(self, data: bytes) -> int:
        self.written += data
        return len(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def json_error(status: int, reason: str, exc: BaseException) -> bytes:
    """The raw HTTP answer gunicorn's error ``status`` gets on ``/api/``."""
    if isinstance(exc, SystemExit):  # handle_abort: the arbiter's --timeout ended the worker
        code, de, en = _TIMEOUT
    else:
        code, de, en = _ANSWERS.get(status) or _ANSWERS[400 if status < 500 else 500]
    body = json.dumps({"error": code, "message": f"{de} / {en}"},
                      ensure_ascii=False).encode("utf-8")
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n\r\n")
    return head.encode("latin-1") + body


class _JsonErrors:
    """Mixin for gunicorn workers: JSON error answers for ``/api/``."""

    def init_process(self):
        http_parser.RequestParser.mesg_class = _Request  # this worker process only
        super().init_process()

    def handle_error(self, req, client, addr, exc):
        if not is_api_request(req, exc):
            return super().handle_error(req, client, addr, exc)
        capture = _Capture(client)
        # gunicorn picks the status, logs and writes the access log line as always
        super().handle_error(req, capture, addr, exc)
        status_line = capture.written.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        try:
            status = int(status_line[1])
        except (IndexError, ValueError):
            return None
        reason = status_line[2] if len(status_line) > 2 else ""
        try:
            util.write_nonblock(client, json_error(status, reason, exc))
        except Exception:  # noqa: BLE001 - the client is gone, as gunicorn itself ignores
            self.log.debug("Failed to send error message.")
        return None


class JsonErrorWorker(_JsonErrors, SyncWorker):
    """gunicorn's sync worker with JSON error answers on ``/api/``."""


class JsonErrorThreadWorker(_JsonErrors, ThreadWorker):
    """gunicorn's gthread worker with JSON error answers on ``/api/``."""


class _Server(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from web.app import create_app

        return create_app()


def serve(*, host: str, port: int, workers: int) -> None:
    """Serve on host:port with ``workers`` gunicorn workers.

    gunicorn's control socket (``gunicornc``) is off: by default it is one fixed path per
    user (``$XDG_RUNTIME_DIR/gunicorn.ctl``, else ``~/.gunicorn/gunicorn.ctl``), which a
    second server of the same account (another port, a test run) takes over or removes,
    and Lotse is managed by signals and the process supervisor, not through it."""
    _Server({"bind": f"{host}:{port}", "workers": workers, "accesslog": "-",
             "worker_class": "web.server.JsonErrorWorker",
             "control_socket_disable": True}).run()

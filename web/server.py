"""Run the app under gunicorn (``lotse serve``)."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication


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
    """Serve on host:port with ``workers`` gunicorn workers."""
    _Server({"bind": f"{host}:{port}", "workers": workers, "accesslog": "-"}).run()

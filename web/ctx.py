"""Per-app services and per-request helpers (the only place views reach into Flask globals
for them)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g

from engine.db import Database
from engine.runtime import Actor, Engine
from processes.offices import OfficeRegistry
from web.accounts import Principal
from web.i18n import translate
from web.settings import Settings


@dataclass
class Services:
    """What the web layer works with, built once in ``create_app``."""

    settings: Settings
    engine: Engine
    offices: OfficeRegistry

    @property
    def db(self) -> Database:
        return self.engine.db


def services() -> Services:
    return current_app.extensions["lotse"]


def lang() -> str:
    return getattr(g, "lang", "de")


def t(key: str, **params) -> str:
    """Translate ``key`` into the request's language."""
    return translate(key, lang(), **params)


def user() -> Principal | None:
    return getattr(g, "user", None)


def actor() -> Actor:
    """The engine actor for the current user: only their work offices are visible."""
    p = user()
    if p is None:
        return Actor(user=None, offices=frozenset())
    return Actor(user=p.name, offices=p.work_offices)


def office_name(code: str | None) -> str:
    """The office's name in the request language (the code when unknown)."""
    if not code:
        return ""
    reg = services().offices
    if code not in reg:
        return code
    o = reg.get(code)
    return o.name_en if lang() == "en" else o.name_de

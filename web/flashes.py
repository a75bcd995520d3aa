"""``flash`` for Lotse's notices: a text, or ``{"key": i18n key, "params": {...}}`` that
``web.app`` translates into the page's language when it renders the notice (``render``).

Flask stores a flashed message in the session as JSON, so a dict works; ``flask.flash`` is
only typed for ``str``. Views import ``flash`` from here, not from flask.

A parameter is rendered in the page's language too, so a notice flashed on a German page
and shown after a language switch reads in one language: ``{"office": code}`` is the
office's name, ``{"de": ..., "en": ...}`` a name in both languages (a task's title),
``{"key": ..., "params": ...}`` another notice, a list its items joined (each rendered).
Only names of tasks and offices go in here, never personal data of a case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import flask


def flash(message: str | Mapping[str, Any], category: str = "message") -> None:
    """Queue ``message`` for the next page (``flask.flash``)."""
    flask.flash(cast(str, message), category)  # a dict as well, see the module docstring


def office(code: str | None) -> dict[str, str | None]:
    """A parameter shown as the office's name in the page's language."""
    return {"office": code}


def names(de: str, en: str | None = None) -> dict[str, str]:
    """A parameter shown as ``en`` on English pages (``de`` when there is none)."""
    return {"de": de, "en": en or de}


def message(key: str, **params: Any) -> dict[str, Any]:
    """A notice (also a parameter of another notice)."""
    return {"key": key, "params": params}


def render(msg: Any, *, t: Callable[..., str], office_name: Callable[[str | None], str],
           lang: str) -> str:
    """The notice's text in ``lang`` (``t`` translates keys, ``office_name`` names offices)."""
    def value(v: Any) -> Any:
        if isinstance(v, list | tuple):
            return t("flash.list_sep").join(str(value(x)) for x in v)
        if isinstance(v, Mapping):
            if "key" in v:
                return render(v, t=t, office_name=office_name, lang=lang)
            if "office" in v:
                return office_name(v.get("office"))
            if "de" in v:
                return v.get(lang) or v.get("de") or ""
        return v

    if isinstance(msg, Mapping):
        params = {k: value(v) for k, v in (msg.get("params") or {}).items()}
        return t(str(msg.get("key", "")), **params)
    return str(msg)

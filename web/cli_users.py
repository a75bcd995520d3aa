"""``lotse user ...`` commands (accounts and API tokens). Filled in by the web app work."""

from __future__ import annotations

import click


@click.group("user")
def user() -> None:
    """Benutzerkonten / user accounts."""

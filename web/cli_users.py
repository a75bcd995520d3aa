"""``lotse user ...``: accounts and API tokens."""

from __future__ import annotations

import secrets

import click

from web import accounts
from web.models import ROLES


def _ctx():
    # the root's object: under ``python -m web.cli`` the Context class lives in __main__,
    # so a lookup by web.cli.Context would find nothing
    return click.get_current_context().find_root().obj


def _offices(ctx) -> list[str]:
    ctx.engine  # noqa: B018 - loads the office registry
    return ctx.offices.codes()


def _run(fn):
    from engine.errors import LotseError

    try:
        return fn()
    except LotseError as exc:
        raise click.ClickException(exc.message) from None


@click.group("user")
def user() -> None:
    """Benutzerkonten / user accounts."""


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="Role (repeatable).")
@click.option("--office", "offices", multiple=True, help="Office code (repeatable).")
@click.option("--password", default=None,
              help="Initial password (min. 10 characters). Omit to generate one.")
@click.option("--display-name", default=None)
def add(name, roles, offices, password, display_name):
    """Create an account: lotse user add NAME --role ROLE --office CODE [--password PW]."""
    ctx = _ctx()
    generated = password is None
    if generated:
        password = secrets.token_urlsafe(12)
    p = _run(lambda: accounts.create_user(ctx.db, name, roles=roles, offices=offices,
                                          password=password, display_name=display_name,
                                          known_offices=_offices(ctx)))
    click.echo(f"Benutzer / user {p.name}: {', '.join(sorted(p.roles))}"
               f"{' @ ' + ', '.join(p.offices) if p.offices else ''}")
    if generated:
        click.echo(f"Passwort / password: {password}")


@user.command("token")
@click.argument("name")
@click.option("--label", default=None, help="What the token is for.")
def token(name, label):
    """Create an API bearer token (shown once)."""
    ctx = _ctx()
    click.echo(_run(lambda: accounts.issue_token(ctx.db, name, label=label)))


@user.command("list")
@click.option("--office", default=None)
def list_(office):
    """List accounts."""
    ctx = _ctx()
    for u in accounts.list_users(ctx.db, office=office):
        state = "" if u["active"] else " (deaktiviert / disabled)"
        click.echo(f"{u['name']:20} {','.join(u['roles']):30} {','.join(u['offices'])}{state}")


@user.command("passwd")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def passwd(name, password):
    """Set a new password (ends the user's browser sessions)."""
    ctx = _ctx()
    _run(lambda: accounts.set_password(ctx.db, name, password))
    click.echo("ok")


@user.command("disable")
@click.argument("name")
def disable(name):
    """Disable an account (ends sessions, revokes tokens)."""
    ctx = _ctx()
    _run(lambda: accounts.set_active(ctx.db, name, False))
    click.echo("ok")


@user.command("enable")
@click.argument("name")
def enable(name):
    """Enable an account again."""
    ctx = _ctx()
    _run(lambda: accounts.set_active(ctx.db, name, True))
    click.echo("ok")


@user.command("tokens")
@click.argument("name")
def tokens(name):
    """List a user's API tokens (id, label, issued, expires, revoked; never the secret)."""
    from datetime import timedelta

    ctx = _ctx()
    days = timedelta(days=ctx.settings.token_days)
    for t in _run(lambda: accounts.list_tokens(ctx.db, name, max_age=days)):
        state = "widerrufen / revoked" if t["revoked_at"] else f"bis / until {t['expires_at']}"
        click.echo(f"{t['id']:>6} {t['label'] or '-':20} {t['created_at']} {state}")


@user.command("token-revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id):
    """Revoke one API token by its id (see ``lotse user tokens NAME``)."""
    ctx = _ctx()
    _run(lambda: accounts.revoke_token(ctx.db, token_id))
    click.echo("ok")

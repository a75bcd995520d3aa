"""The ``lotse`` command line. With ``--json`` every command prints one JSON document on
stdout; errors go to stderr with a non-zero exit code."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from typing import Any

import click

from engine.errors import InvalidInput, LotseError
from web import cli_progress
from web import settings as settings_mod
from web.cli_design import COMMANDS as _design_commands
from web.cli_users import user as _user_group


class Context:
    """Lazily built engine for one CLI invocation."""

    def __init__(self) -> None:
        self.settings = settings_mod.from_env()
        self._engine = None
        self._db = None

    @property
    def db(self):
        if self._db is None:
            from engine.db import Database

            self._db = Database(self.settings.database_url, timeouts=self.settings.db_timeouts)
        return self._db

    @property
    def engine(self):
        if self._engine is None:
            from processes.wiring import build_engine

            self._engine, self.offices = build_engine(
                self.db, offices_file=self.settings.offices_file,
                movable_clock=not self.settings.is_production,
                script_budget=self.settings.script_budget,
            )
        return self._engine


def _emit(as_json: bool, payload: Any, human: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        click.echo(human if human is not None else json.dumps(payload, ensure_ascii=False,
                                                            indent=2, default=str))


def command(group, name: str | None = None):
    """A CLI command with --json and uniform error handling."""

    def deco(fn):
        @group.command(name)
        @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
        @click.pass_obj
        @functools.wraps(fn)
        def wrapper(ctx: Context, as_json: bool, **kwargs):
            try:
                payload, human = fn(ctx, **kwargs)
            except LotseError as exc:
                _fail(as_json, exc.to_dict())
            except (ValueError, LookupError) as exc:
                _fail(as_json, {"error": "INVALID_INPUT", "message": str(exc)})
            _emit(as_json, payload, human)

        return wrapper

    return deco


def _fail(as_json: bool, err: dict) -> None:
    if as_json:
        click.echo(json.dumps(err, ensure_ascii=False, default=str), err=True)
    else:
        click.echo(f"Fehler / error: {err.get('message')}", err=True)
        for p in err.get("problems") or []:
            click.echo("  - " + ": ".join(str(x) for x in (p.get("file"), p.get("element"),
                                                             p.get("problem")) if x), err=True)
        for field, msgs in (err.get("errors") or {}).items():
            click.echo(f"  - {field}: {'; '.join(msgs)}", err=True)
    sys.exit(2)


def _json_arg(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--data is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("--data must be a JSON object")
    return value


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Lotse: BPMN-Prozesse für das Kommunale Integrationsmanagement."""
    ctx.obj = Context()


@main.group()
def db() -> None:
    """Database schema."""


@command(db, "upgrade")
def db_upgrade(ctx: Context):
    from engine.migrate import upgrade

    upgrade(ctx.db)
    return {"status": "ok", "database": ctx.db.url.render_as_string(hide_password=True)}, \
        "Datenbank ist aktuell / database is up to date"


@command(main)
@click.argument("paths", nargs=-1, required=True)
@click.option("--user", default=None)
@click.option("--force", is_flag=True, default=False,
              help="Also deploy a file that is an earlier version (a rollback).")
@cli_progress.OPTION
def deploy(ctx: Context, paths, user, force, progress):
    """Deploy BPMN, DMN and form files or folders.

    A file that is an earlier version of a process (for example the shipped file after a
    designer deployed an edited version) is skipped and the newer version stays current;
    --force deploys it again as a new version. Progress per process on stderr."""
    outcomes = ctx.engine.deploy(paths, actor=user, force=force,
                                 progress=cli_progress.reporter(progress))
    payload = [{"process_id": o.process_id, "version": o.version, "changed": o.changed,
                **({"older_version": o.older_version} if o.older_version else {})}
               for o in outcomes]

    def line(o) -> str:
        if o.older_version is not None:
            return (f"{o.process_id} v{o.version} bleibt aktuell: die Datei ist v"
                    f"{o.older_version} (älter), nicht erneut deployt (--force) / stays "
                    f"current: the file is the older v{o.older_version}, not redeployed")
        return (f"{o.process_id} v{o.version} "
                f"{'neu / new' if o.changed else 'unverändert / unchanged'}")

    return payload, "\n".join(line(o) for o in outcomes)


@command(main)
@click.argument("process_id")
@click.option("--data", default=None, help="Initial data as a JSON object.")
@click.option("--case", "case_ref", default=None, help="Case reference.")
@click.option("--user", default=None)
def start(ctx: Context, process_id, data, case_ref, user):
    """Start a process instance. With --user the start is that user's and is checked like
    one from the web (office of the start lane, access to the case, start data)."""
    from engine.runtime import Actor

    data = _json_arg(data)
    actor = Actor(user=user)
    if user is not None:
        from web import accounts, starting

        who = accounts.get_active_user(ctx.db, user)
        eng = ctx.engine
        data = starting.check_start(ctx.db, who, process_id, case_ref, data,
                                    sees_case=lambda ref: starting.sees_case(eng, who, ref),
                                    format_checker=eng.format_checker)
        actor = Actor(user=who.name, offices=who.work_offices)
    out = ctx.engine.start(process_id, data, case_ref, actor=actor)
    return {"instance_id": out["instance_id"], "status": out["status"]}, \
        f"instance {out['instance_id']}: {out['status']}"


@command(main)
@click.option("--office", default=None)
@click.option("--instance", "instance_id", type=int, default=None)
def tasks(ctx: Context, office, instance_id):
    """List waiting human tasks."""
    if office is not None:
        ctx.engine  # noqa: B018 - loads the registry
        ctx.offices.get(office)
    rows = ctx.engine.tasks(office=office, instance_id=instance_id)
    keys = ("task_id", "instance_id", "element_id", "name", "office", "state", "assignee")
    payload = [{k: r[k] for k in keys} for r in rows]
    human = "\n".join(f"{r['task_id']}  {r['office'] or '-':8} {r['name']} "
                      f"(#{r['instance_id']}){' @' + r['assignee'] if r['assignee'] else ''}"
                      for r in rows) or "keine Aufgaben / no tasks"
    return payload, human


@command(main)
@click.argument("task_id")
@click.option("--user", required=True)
def claim(ctx: Context, task_id, user):
    """Claim a task for a user."""
    from engine.runtime import Actor

    out = ctx.engine.claim(task_id, actor=Actor(user=user))
    return out, f"{task_id} -> {user}"


@command(main)
@click.argument("task_id")
@click.option("--user", required=True)
def unclaim(ctx: Context, task_id, user):
    """Return a claimed task to its office queue."""
    from engine.runtime import Actor

    out = ctx.engine.unclaim(task_id, actor=Actor(user=user))
    return out, f"{task_id} freigegeben / released"


@command(main)
@click.argument("task_id")
@click.option("--data", default=None, help="Form data as a JSON object.")
@click.option("--user", default=None)
def complete(ctx: Context, task_id, data, user):
    """Complete a task with data."""
    from engine.runtime import Actor

    out = ctx.engine.complete(task_id, _json_arg(data), actor=Actor(user=user))
    return out, f"instance {out['instance_id']}: {out['status']}"


@command(main)
@click.argument("instance_id", type=int)
def show(ctx: Context, instance_id):
    """Show an instance with its data and tasks."""
    out = ctx.engine.show(instance_id)
    keys = ("instance_id", "process_id", "version", "status", "data", "tasks", "case_ref", "error")
    return {k: out[k] for k in keys}, None


@command(main)
def offices(ctx: Context):
    """List the configured offices."""
    ctx.engine  # noqa: B018
    rows = [{"code": o.code, "name_de": o.name_de, "name_en": o.name_en,
             "legal_domain": o.legal_domain} for o in ctx.offices]
    return rows, "\n".join(f"{r['code']:8} {r['name_de']}" for r in rows)


@main.group()
def demo() -> None:
    """Demo data."""


@command(demo, "seed")
def demo_seed(ctx: Context):
    """Demo accounts and demo cases (development and test only; idempotent)."""
    from processes.demo import seed
    from processes.demo_catalogue import seed_catalogue
    from web.demo_users import seed_users

    if ctx.settings.is_production:
        raise InvalidInput("demo data only when LOTSE_ENV is development or test")
    ctx.engine  # noqa: B018 - loads the office registry
    users = seed_users(ctx.db, env=ctx.settings.env, known_offices=set(ctx.offices.codes()))
    first = seed(ctx.engine)
    catalogue = seed_catalogue(ctx.engine)
    out = {"users": users, "first_referral": first, "catalogue": catalogue,
           "created": first["created"] + int(catalogue.get("created", 0) or 0)}
    return out, f"{out['created']} Demo-Fälle angelegt / demo cases created"


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--workers", default=2, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the web app with gunicorn."""
    from web.server import serve as run

    run(host=host, port=port, workers=workers)


@command(main)
@click.argument("instance_id", type=int)
@click.option("--user", default=None)
def retry(ctx: Context, instance_id, user):
    """Run an instance with an incident again from its failed step."""
    from engine.runtime import Actor

    out = ctx.engine.retry(instance_id, actor=Actor(user=user))
    return out, f"instance {instance_id}: {out['status']}"


@main.group()
def instance() -> None:
    """Operations on instances: list, suspend, resume, terminate (audited with a reason)."""


@command(instance, "list")
@click.option("--status", type=click.Choice(["running", "error", "suspended", "completed",
                                             "cancelled"]), default=None)
@click.option("--process", "process_id", default=None)
@click.option("--case", "case_ref", default=None)
def instance_list(ctx: Context, status, process_id, case_ref):
    """Instances newest first; --status error lists the incidents (message without values)."""
    from engine import read_model

    rows = read_model.instances(ctx.db, status=status, process_id=process_id,
                                case_ref=case_ref)
    return rows, "\n".join(f"{r['instance_id']} {r['process_id']} v{r['version']} "
                           f"{r['status']} {r['case_ref'] or ''} {r['error'] or ''}".rstrip()
                           for r in rows) or "keine / none"


def _instance_op(name: str, help_text: str) -> None:
    def op(ctx: Context, instance_id, reason, user):
        from engine.runtime import Actor

        out = getattr(ctx.engine, name)(instance_id, reason=reason, actor=Actor(user=user))
        return out, f"instance {instance_id}: {out['status']}"

    op.__doc__ = help_text
    op = click.option("--user", default=None)(op)
    op = click.option("--reason", required=True, help="Why (audited; no personal data).")(op)
    op = click.argument("instance_id", type=int)(op)
    command(instance, name)(op)


_instance_op("suspend", "Hold an instance: no timers, messages wait, tasks answer 409.")
_instance_op("resume", "Let a suspended instance go on.")
_instance_op("terminate", "End an instance for good; its open tasks leave every worklist.")


@command(main)
@click.argument("instance_id", type=int)
def incident(ctx: Context, instance_id):
    """An instance's incident with the exception's full text (administrators only: the text
    may quote case data; pages, API and audit show only type, element and Lotse's message)."""
    out = ctx.engine.incident(instance_id)
    if out["message"] is None:
        return out, f"instance {instance_id}: no incident ({out['status']})"
    return out, (f"instance {instance_id}: {out['message']} at {out['at']}\n"
                 f"{out['detail'] or ''}")


@command(main)
@click.option("--unmatched", is_flag=True, help="Only messages no receiver took.")
def messages(ctx: Context, unmatched):
    """List stored messages."""
    rows = ctx.engine.messages(status="unmatched" if unmatched else None)
    return rows, "\n".join(f"{m['created_at']} {m['name']} {m['status']} {m['reason'] or ''}"
                           for m in rows) or "keine Nachrichten / no messages"


@command(main)
@click.option("--case", "case_id", default=None)
@click.option("--office", default=None)
def referrals(ctx: Context, case_id, office):
    """List referrals with their state and overdue flags."""
    from processes.referrals import list_referrals

    rows = list_referrals(ctx.db, now=ctx.engine.now(), case_id=case_id, office=office)
    return rows, "\n".join(
        f"{r['referral_id']} {r['office']:7} {r['state']:14} due_ack {r['due_ack'][:10]}"
        f"{' ÜBERFÄLLIG/OVERDUE' if r['overdue_ack'] or r['overdue_result'] else ''}"
        for r in rows) or "keine Vermittlungen / no referrals"


@main.group()
def consent() -> None:
    """Einwilligungen / consents (DP-02 to DP-07)."""


@command(consent, "add")
@click.option("--case", "case_id", required=True)
@click.option("--office", required=True)
@click.option("--purpose", required=True, help="e.g. JC:SGB2")
@click.option("--categories", required=True, help="comma-separated, e.g. IDENT,CONTACT,WORK")
@click.option("--valid-until", required=True, help="YYYY-MM-DD")
@click.option("--valid-from", default=None, help="YYYY-MM-DD (default: today)")
@click.option("--health", is_flag=True, help="explicit consent to health data (Art. 9)")
@click.option("--user", default=None)
def consent_add(ctx: Context, case_id, office, purpose, categories, valid_until, valid_from,
                health, user):
    from datetime import date

    from engine.actor import Actor
    from processes.consent import record_consent

    ctx.engine  # noqa: B018
    ctx.offices.get(office)
    out = record_consent(
        ctx.engine, case_id=case_id, office=office, purpose=purpose,
        categories=[c.strip() for c in categories.split(",") if c.strip()],
        valid_from=date.fromisoformat(valid_from) if valid_from else ctx.engine.now().date(),
        valid_until=date.fromisoformat(valid_until), includes_health=health,
        actor=Actor(user=user))
    return out, f"Einwilligung / consent {out['consent_id']}"


@command(consent, "revoke")
@click.argument("consent_id")
@click.option("--channel", default="written", help="written, oral, e-mail ...")
@click.option("--user", default=None)
def consent_revoke(ctx: Context, consent_id, channel, user):
    from engine.actor import Actor
    from processes.consent import revoke_consent

    out = revoke_consent(ctx.engine, consent_id, actor=Actor(user=user), channel=channel)
    return out, f"widerrufen / revoked: {consent_id}"


@command(consent, "list")
@click.option("--case", "case_id", required=True)
def consent_list(ctx: Context, case_id):
    from sqlalchemy import select

    from processes.consent import Consent, consent_dict

    with ctx.db.reader() as s:
        rows = [consent_dict(c) for c in s.scalars(
            select(Consent).where(Consent.case_id == case_id).order_by(Consent.recorded_at))]
    return rows, "\n".join(f"{r['consent_id']} {r['office']} {r['purpose']} {r['status']}"
                           for r in rows) or "keine / none"


@command(consent, "expire")
def consent_expire(ctx: Context):
    from processes.consent import expire_consents

    ids = expire_consents(ctx.engine)
    return {"expired": ids}, f"{len(ids)} abgelaufen / expired"


@main.group()
def retention() -> None:
    """Aufbewahrung / retention (brief 5.6)."""


@command(retention, "run")
@click.option("--months", default=36, type=int, help="months after closure [D 36]")
def retention_run(ctx: Context, months):
    from processes.retention import run_retention

    out = run_retention(ctx.engine, months=months)
    return out, f"{len(out['pseudonymised'])} Fälle pseudonymisiert / cases pseudonymised"


@command(main, "access-report")
@click.argument("case_ref")
@click.option("--user", default=None)
def access_report_cmd(ctx: Context, case_ref, user):
    """Art. 15 GDPR access report of a case's person (JSON)."""
    from engine.actor import Actor
    from processes.access_report import access_report

    out = access_report(ctx.engine, case_ref, actor=Actor(user=user))
    return out, None


@main.group()
def audit() -> None:
    """Audit log."""


@command(audit, "verify")
@click.option("--full", is_flag=True, default=False,
              help="Recompute every entry, not only those added since the last intact run.")
def audit_verify(ctx: Context, full: bool):
    """Verify the audit hash chain from the last intact verification on (--full: all of
    it); exit 1 naming the first bad entry."""
    from engine.audit import verify

    out = verify(ctx.db, incremental=not full, now=ctx.engine.now())
    if not out["ok"]:
        bad = out["first_bad"]
        click.echo(json.dumps(out, ensure_ascii=False), err=True)
        click.echo(f"Audit-Kette gebrochen / audit chain broken at seq {bad['seq']} "
                   f"(id {bad['id']}): {bad['problem']}", err=True)
        sys.exit(1)
    how = "vollständig / full" if out["mode"] == "full" else f"seit / since {out['since']}"
    return out, f"Audit-Kette intakt / audit chain intact: {out['entries']} entries ({how})"


@main.group()
def clock() -> None:
    """Engine clock (only outside production)."""


def _movable(ctx: Context):
    if ctx.settings.is_production:
        raise InvalidInput("the clock can only be moved when LOTSE_ENV is development or "
                               "test / die Uhr ist nur in Entwicklung und Test verstellbar")
    return ctx.engine.clock


def _drain(ctx: Context) -> dict:
    fired = ctx.engine.fire_due_timers()
    delivered = ctx.engine.deliver_pending()
    return {"now": ctx.engine.now().isoformat(), "timers_fired": fired,
            "messages_delivered": delivered}


@command(clock, "set")
@click.argument("when")
def clock_set(ctx: Context, when):
    from datetime import datetime

    try:
        target = datetime.fromisoformat(when)
    except ValueError:
        raise ValueError(f"'{when}' is not an ISO 8601 date-time") from None
    _movable(ctx).set(target)
    out = _drain(ctx)
    return out, f"Uhr / clock: {out['now']} ({out['timers_fired']} timer)"


@command(clock, "advance")
@click.argument("duration")
def clock_advance(ctx: Context, duration):
    from engine.stored_clock import parse_duration

    clk = _movable(ctx)
    clk.advance(parse_duration(duration, ctx.engine.now()))
    out = _drain(ctx)
    return out, f"Uhr / clock: {out['now']} ({out['timers_fired']} timer)"


@command(clock, "show")
def clock_show(ctx: Context):
    return {"now": ctx.engine.now().isoformat()}, ctx.engine.now().isoformat()


DB_BACKOFF_FIRST, DB_BACKOFF_MAX = 0.5, 30.0  # worker: seconds after a database error


def _exc_chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


@main.command()
@click.option("--once", is_flag=True, help="Fire what is due, deliver, and exit.")
@click.option("--interval", default=1.0, type=float, help="Seconds between polls.")
@click.option("--batch", default=100, type=int, help="Timers per round.")
@click.pass_obj
def worker(ctx: Context, once: bool, interval: float, batch: int) -> None:
    """Fire due timers and deliver pending messages (run any number of them)."""
    import signal
    import time

    from engine import sandbox

    stop = {"now": False}

    def _stop(*_a):
        stop["now"] = True
        sandbox.interrupt()  # a running script stops at its next tick; the step rolls back

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    from engine.incidents import db_error_name, is_db_error
    from processes.consent import expire_consents

    def _pause(seconds: float) -> None:  # sleeps, but a SIGTERM ends it at once
        end = time.monotonic() + seconds
        while not stop["now"] and time.monotonic() < end:
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))

    total = {"timers_fired": 0, "messages_delivered": 0}
    backoff = 0.0  # seconds; doubles per failed round up to DB_BACKOFF_MAX
    while not stop["now"]:
        try:
            eng = ctx.engine  # built (and rebuilt after a failed start) inside the guard
            expire_consents(eng)
            fired = eng.fire_due_timers(limit=batch)
            delivered = eng.deliver_pending()
        except sandbox.StepInterrupted:  # SIGTERM during a step: it rolled back, stays due
            break
        except Exception as exc:
            if not any(is_db_error(e) for e in _exc_chain(exc)):
                raise
            # the round rolled back (timers stay due, messages pending); the class names
            # only: the error's text quotes SQL parameters (serialized case data)
            backoff = min(DB_BACKOFF_MAX, backoff * 2) if backoff else DB_BACKOFF_FIRST
            if once:
                click.echo(f"lotse worker: database error {db_error_name(exc)}", err=True)
                sys.exit(1)
            click.echo(f"lotse worker: database error {db_error_name(exc)}; "
                       f"retrying in {backoff:.1f} s", err=True)
            with contextlib.suppress(Exception):
                ctx.db.dispose()  # reconnect: drop the pool's broken connections
            _pause(backoff)
            continue
        if backoff:
            click.echo("lotse worker: database reachable again", err=True)
            backoff = 0.0
        total["timers_fired"] += fired
        total["messages_delivered"] += delivered
        if once and fired < batch and not delivered:
            click.echo(json.dumps(total))
            return
        if not once and fired < batch and not delivered:
            _pause(interval)


main.add_command(_user_group)
for _cmd in _design_commands:
    main.add_command(_cmd)

if __name__ == "__main__":  # pragma: no cover
    main()

"""The `portal` command: serve, worker, db, demo, users, mail-in."""

import getpass
import signal
import sys
import threading
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.core import migrations
from app.core.config import get_settings
from app.core.db import get_engine
from app.core.errors import DomainError
from app.models.user import Role, UserBase

app = typer.Typer(help="The Liaison Portal.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="PORTAL_SERVE_WORKERS",
            help="App processes (stateless: any number can serve one PostgreSQL database).",
        ),
    ] = 1,
    outbox_worker: Annotated[
        bool | None,
        typer.Option(
            "--outbox-worker/--no-outbox-worker",
            help="Also deliver e-mail and run scheduled jobs in this process "
            "(default: PORTAL_WORKER_IN_PROCESS, else on for SQLite, off for PostgreSQL, "
            "where `portal worker` processes do it).",
        ),
    ] = None,
) -> None:
    """Upgrade the schema, then serve the portal."""
    from app.notify.worker import start_in_thread

    migrations.upgrade()
    settings = get_settings()
    if outbox_worker is None:
        outbox_worker = settings.worker_in_process
    if outbox_worker is None:
        outbox_worker = make_url(settings.database_url).get_backend_name() == "sqlite"
    stop = start_in_thread(get_engine())[1] if outbox_worker else None
    typer.echo(f"Liaison Portal: sign in at http://{host}:{port}/login")
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            server_header=False,  # do not announce the server
            # A process must answer the supervisor within this long, or it is restarted: more
            # than uvicorn's 5 s, which a busy machine's imports alone can take.
            timeout_worker_healthcheck=30,
        )
    finally:
        if stop is not None:
            stop.set()


@app.command()
def worker() -> None:
    """Deliver the outbox's e-mail and run scheduled jobs until SIGTERM or Ctrl-C.

    Run any number of them against PostgreSQL; on SQLite run one (or `portal serve`'s own).
    The schema comes from `portal serve` or `portal db upgrade`; until it exists, it waits.
    """
    from app.core.logging import configure
    from app.notify.worker import Worker

    configure(get_settings().log_level)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    Worker(get_engine()).run(stop)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    migrations.upgrade(revision=revision)
    typer.echo(f"Database upgraded to {revision}.")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="e.g. -1 or base")]) -> None:
    """Revert migrations down to REVISION."""
    migrations.downgrade(revision)
    typer.echo(f"Database downgraded to {revision}.")


@app.command()
def demo() -> None:
    """Create the schema and load demo data (safe to run again)."""
    from app import demo as demo_data

    migrations.upgrade()
    with Session(get_engine(), expire_on_commit=False) as session:
        added = demo_data.load(session)
    summary = ", ".join(f"{n} {kind}" for kind, n in added.items() if n) or "nothing new"
    typer.echo(f"Demo data ready ({summary} added).")
    typer.echo("Start the portal with `portal serve`, then sign in at http://127.0.0.1:8000/login")
    typer.echo(f"Every demo account's password: {demo_data.DEMO_PASSWORD}")
    for account in demo_data.ACCOUNTS:
        where = f" at {account.institution}" if account.institution else ""
        typer.echo(f"  {account.email:34} {account.role.value}{where}")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in e-mail address.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    role: Annotated[Role, typer.Option(help="Role.")],
    institution: Annotated[str | None, typer.Option(help="Institution code.")] = None,
) -> None:
    """Create a user. The password is read from standard input (prompted on a terminal)."""
    from app.services import users

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat the password: ") != password:
            _fail("The passwords differ.")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        data = UserBase(email=email, name=name, role=role, institution=institution)
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            user = users.create_user(session=session, actor=None, data=data, password=password)
        except DomainError as exc:
            _fail(exc.detail)
    typer.echo(f"Created user {user.id} <{user.email}> ({user.role}).")


@app.command("mail-in")
def mail_in() -> None:
    """Handle one e-mail read from standard input (an MTA's pipe to the inbound address).

    Exit 0 when the message was handled (accepted, ignored, or refused and recorded); 75
    (EX_TEMPFAIL, "try again later") only when it could not be processed, so the MTA retries.
    """
    from app.services import mail_in as service

    raw = sys.stdin.buffer.read(get_settings().mail_in_max_bytes + 1)
    try:
        with Session(get_engine(), expire_on_commit=False) as session:
            outcome = service.receive(session=session, raw=raw)
    except Exception as exc:  # anything: the MTA keeps the message and tries again
        typer.echo(f"Not processed, try again later: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(code=75) from None
    typer.echo(outcome.line)


def _fail(message: str) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=1)


if __name__ == "__main__":
    app()

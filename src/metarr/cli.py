"""The `metarr` command: serve, worker, db upgrade, scan, admin set-password."""

from __future__ import annotations

import sys
from typing import Any

import click
from pydantic import ValidationError

from metarr.domain.errors import MetarrError
from metarr.settings import Settings


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"  METARR_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            if e["loc"]
            else f"  {e['msg']}"
            for e in exc.errors()
        ]
        raise click.ClickException("invalid configuration:\n" + "\n".join(lines)) from exc


@click.group()
@click.version_option(package_name="metarr")
def main() -> None:
    """Metarr: metadata manager for home media libraries."""


@main.command()
@click.option("--host", default=None, help="Bind address (default METARR_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default METARR_PORT or 8787).")
def serve(host: str | None, port: int | None) -> None:
    """Run the web UI, the API and the background workers."""
    import uvicorn

    from metarr.api.app import create_app
    from metarr.bootstrap import build
    from metarr.logs import configure_logging

    settings = _settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    configure_logging(settings)
    try:
        container = build(settings)
    except MetarrError as exc:
        raise click.ClickException(str(exc)) from exc
    container.relay_events_in()  # PostgreSQL: `metarr worker` jobs show live in the UI too
    app = create_app(container, start_player_monitor=True)
    wildcard = ("127.0.0.1", "0.0.0.0", "::")  # noqa: S104 - only to print a usable URL
    shown_host = "localhost" if settings.host in wildcard else settings.host
    url = f"http://{shown_host}:{settings.port}/"
    click.echo(
        f"Metarr {_version()} on {url}  (database: {container.db.backend}, data: "
        f"{settings.data_dir.resolve()})"
    )
    if container.api_key_generated:
        click.echo(
            f"Generated API key (shown once, stored in {settings.data_dir / 'api_key'}): "
            f"{container.api_key}"
        )
    else:
        click.echo(f"API key: {container.api_key}")
    if not container.admin.has_admin():
        click.echo(
            f"No admin account yet: open {url}setup and create it (the API key proves the "
            "install is yours), or run `metarr admin set-password`"
        )
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


@main.command()
@click.option(
    "--concurrency", default=None, type=int, help="Jobs run at once (default METARR_WORKERS)."
)
def worker(concurrency: int | None) -> None:
    """Run job workers only (for PostgreSQL deployments with several processes)."""
    import signal
    import threading

    from metarr.bootstrap import build
    from metarr.logs import configure_logging

    settings = _settings()
    configure_logging(settings)
    container = build(settings)
    if container.db.backend == "sqlite":
        click.echo("warning: on SQLite, `metarr serve` runs the workers itself", err=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    container.relay_events_out()  # PostgreSQL: live events go to `metarr serve`
    running = container.start_workers(concurrency)
    click.echo(
        f"worker {running.worker_id} running {running.concurrency} jobs at a time "
        f"({container.db.backend}); job types: {', '.join(container.registry.types)}"
    )
    try:
        stop.wait()
    finally:
        click.echo("stopping: running jobs go back to the queue")
        container.close()


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    from metarr.db import migrate
    from metarr.db.engine import Database, create_db_engine

    settings = _settings()
    database = Database(create_db_engine(settings.resolved_database_url))
    try:
        database.wait_until_ready(attempts=3)
        before = migrate.current_revision(database.engine)
        migrate.upgrade(database.engine)
        after = migrate.current_revision(database.engine)
    except MetarrError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        database.dispose()
    click.echo(f"database at revision {after}" + ("" if before == after else f" (was {before})"))


@main.command()
@click.argument("library")
@click.option("--scope", default=None, help="Only this folder (relative to the library root).")
def scan(library: str, scope: str | None) -> None:
    """Scan LIBRARY (its name or id) now, showing progress."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from metarr.bootstrap import build
    from metarr.logs import configure_logging
    from metarr.services.scans import ScanRun

    settings = _settings()
    configure_logging(settings, console=False)
    container = build(settings)
    container.relay_events_out()  # PostgreSQL: a running `metarr serve` shows this scan live
    try:
        lib = container.libraries.find(library)
        run, created = container.scans.create(lib.id, trigger="cli", scope=scope)
        if not created:
            raise click.ClickException(f"scan {run.id} of {lib.name!r} is already {run.status}")
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            transient=False,
        ) as bar:
            task = bar.add_task(f"scanning {lib.name}", total=None)

            def show(r: ScanRun) -> None:
                done, total = r.stats.get("done", 0), r.stats.get("total", 0)
                bar.update(
                    task, description=f"{lib.name}: {r.phase}", completed=done, total=total or None
                )

            result = container.scans.run(run.id, listener=show)
        if result.status != "succeeded":
            raise click.ClickException(f"scan {result.status}: {result.error or ''}")
        stats: dict[str, Any] = result.stats
        click.echo(
            f"{stats['movies']} movies ({stats['added']} added, {stats['updated']} updated, "
            f"{stats['unchanged']} unchanged, {stats['moved']} moved, {stats['deleted']} "
            f"deleted), {stats['files']} files, {stats['probed']} probed "
            f"({stats['probe_failed']} unreadable) in {stats['seconds']}s"
        )
        for err in stats.get("errors", [])[:10]:
            click.echo(f"  warning: {err}", err=True)
    except MetarrError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        container.close()


class BadInput(click.ClickException):
    """Input the command cannot use (exit code 2, like a usage error)."""

    exit_code = 2


@main.group()
def admin() -> None:
    """The web UI's admin account."""


@admin.command("set-password")
@click.option("--username", required=True, help="The admin's username (created when missing).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of a prompt.",
)
def admin_set_password(username: str, password_stdin: bool) -> None:
    """Set the admin's username and password (creates the admin if there is none)."""
    from metarr.db import migrate
    from metarr.db.engine import Database, create_db_engine
    from metarr.services.admin import AdminService, check_password, check_username

    try:
        username = check_username(username)
    except MetarrError as exc:
        raise BadInput(str(exc)) from exc
    if password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        password = click.prompt(
            "New password", hide_input=True, confirmation_prompt=True, prompt_suffix=": "
        )
    try:
        check_password(password)
    except MetarrError as exc:
        raise BadInput(str(exc)) from exc
    settings = _settings()
    database = Database(create_db_engine(settings.resolved_database_url))
    try:
        database.wait_until_ready(attempts=3)
        migrate.upgrade(database.engine)
        created = AdminService(database).set_password(username, password)
    except MetarrError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        database.dispose()
    if created:
        click.echo(f"admin {username!r} created: log in to the web UI with this password")
    else:
        click.echo(f"password of admin {username!r} changed")


def _version() -> str:
    from metarr import __version__

    return __version__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The `flask` commands, one group per topic."""

import sys
import threading
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from . import (
    accounts,
    attendance,
    contacts,
    csvfiles,
    declaration_files,
    invitations,
    municipalities,
    programmes,
    registrations,
    seed,
)
from .db import write_transaction
from .extensions import db
from .mail import worker
from .models import Event, utcnow
from .validators import Undeliverable, deliverable

seed_cli = AppGroup("seed", help="Load example programmes.")
municipalities_cli = AppGroup("municipalities", help="The municipality register.")
mail_cli = AppGroup("mail", help="Deliver the outbox.")
registrations_cli = AppGroup("registrations", help="Registration housekeeping.")
organiser_cli = AppGroup("organiser", help="Organiser accounts.")
contacts_cli = AppGroup("contacts", help="The people to reach per municipality.")
invitations_cli = AppGroup("invitations", help="Invite contacts to an event.")
attendance_cli = AppGroup("attendance", help="Participant reports after an event.")
declarations_cli = AppGroup("declarations", help="Signed declarations of intent.")


@seed_cli.command("akson")
@click.option("--original-dates", is_flag=True, help="Keep 5 May 2020 and the 4 May deadline.")
def seed_akson(original_dates):
    """Load the Akson meeting and three webinars; running it again changes nothing."""
    created = seed.seed_akson(original_dates=original_dates)
    if created:
        click.echo(f"Created: {', '.join(created)}")
    else:
        click.echo("The Akson programme is already loaded; nothing changed.")


@municipalities_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_municipalities(path):
    """Load a newer register: update names, populations and (with a `language` column:
    nb, nn, neutral or bokmål, nynorsk, nøytral) official language forms; keep references."""
    try:
        with write_transaction():
            added, updated, retired = municipalities.load_register(path)
    except municipalities.RegisterError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{added} added, {updated} updated, {retired} no longer listed")


@mail_cli.command("send")
def mail_send():
    """Deliver every message that is due now, then exit."""
    click.echo(f"{worker.deliver_all()} sent")


@mail_cli.command("worker")
def mail_worker():
    """Deliver mail and run periodic jobs until stopped (run one or more in production)."""
    click.echo("Delivering mail; stop with Ctrl-C or SIGTERM.")
    stop = threading.Event()
    worker.stop_on_signals(stop)
    worker.run(current_app._get_current_object(), stop)
    click.echo("Stopped.")


@registrations_cli.command("anonymise")
def anonymise():
    """Anonymise registrations to events that ended ANONYMISE_AFTER_DAYS ago."""
    count = 0
    while batch := registrations.anonymise_old_registrations(utcnow()):
        count += batch
    click.echo(f"{count} registrations anonymised")


def _read_password(password_stdin: bool) -> str:
    """One line from stdin, or a hidden prompt asked twice."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("No password on stdin.")
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _checked_email(email: str) -> str:
    try:
        return deliverable(email)
    except Undeliverable as exc:
        raise click.BadParameter(str(exc.message), param_hint="EMAIL") from exc


@organiser_cli.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line from stdin.")
def organiser_create(email, password_stdin):
    """Create an organiser account; the password is asked for twice (or read from stdin)."""
    email = _checked_email(email)
    password = _read_password(password_stdin)
    try:
        accounts.create_organiser(email, password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Organiser {email} created.")


@organiser_cli.command("password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line from stdin.")
def organiser_password(email, password_stdin):
    """Set a new password; unlocks the account and ends its sessions everywhere."""
    password = _read_password(password_stdin)
    try:
        accounts.set_password(email, password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Password changed for {email.strip().lower()}; its sessions have ended.")


# --- the campaign ---------------------------------------------------------------------------

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _read(path: Path) -> bytes:
    """A file's bytes, refused before reading when it is larger than any file we take."""
    if path.stat().st_size > csvfiles.MAX_BYTES:
        raise click.ClickException(
            f"{path} is larger than {csvfiles.MAX_BYTES // (1024 * 1024)} MB; nothing was stored"
        )
    return path.read_bytes()


def _bad_rows(bad) -> None:
    for row in bad:
        click.echo(f"line {row.line}: {row.reason}", err=True)


@contacts_cli.command("load")
@click.argument("path", type=FILE)
def load_contacts(path):
    """Load contacts (municipality,name,role,email); bad rows are listed and not stored."""
    try:
        loaded = contacts.load(_read(path))
    except csvfiles.FileError as exc:
        raise click.ClickException(f"{exc.message}; nothing was stored") from exc
    _bad_rows(loaded.bad)
    click.echo(
        f"{loaded.added} added, {loaded.updated} updated, {loaded.unchanged} unchanged, "
        f"{len(loaded.bad)} bad rows not stored"
    )
    if loaded.bad:
        sys.exit(1)


def _event(slug: str) -> Event:
    event = db.session.scalar(select(Event).where(Event.slug == slug))
    if event is None:
        raise click.ClickException(f"No event with the slug {slug!r}.")
    return event


@invitations_cli.command("send")
@click.argument("slug")
@click.option("--only-unreached", is_flag=True, help="Only municipalities nobody registered from.")
@click.option("--county", default="", help="Only this county (its 2-digit number).")
@click.option("--role", default="", help="Only contacts with this role (its key).")
@click.option("--remind", is_flag=True, help="Also remind the invited who have not registered.")
def send_invitations(slug, only_unreached, county, role, remind):
    """Invite contacts to an event through the outbox, each contact once."""
    event = _event(slug)
    audience = invitations.Audience(
        only_unreached=only_unreached, county=county, role=role, remind=remind
    )
    try:
        sent = invitations.send(event, audience)
    except invitations.InvitationError as exc:
        raise click.ClickException(str(exc.message)) from exc
    click.echo(
        f"{sent.invitations} invitations and {sent.reminders} reminders queued "
        f"({sent.municipalities} municipalities)"
    )


@attendance_cli.command("load")
@click.argument("slug")
@click.argument("path", type=FILE)
@click.option("--any-date", is_flag=True, help="Load it even if it is dated another day.")
def load_attendance(slug, path, any_date):
    """Load a Zoom, Teams or CSV participant report for an event (it replaces the last one)."""
    event = _event(slug)
    try:
        loaded = attendance.load(
            event, _read(path), filename=path.name, by="command line", any_date=any_date
        )
    except attendance.AttendanceError as exc:
        raise click.ClickException(f"{exc.message} Nothing was stored.") from exc
    click.echo(
        f"{loaded.source} report: {loaded.attendees} attended, {loaded.matched} matched a "
        f"registration, {len(loaded.unmatched)} did not"
    )
    for row in loaded.unmatched:
        click.echo(f"not registered: {row['email']} {row['name']}")


@declarations_cli.command("load")
@click.argument("path", type=FILE)
@click.option("--programme", "slug", default=None, help="The programme (needed if several).")
def load_declarations(path, slug):
    """Record signed declarations from municipality,signed_on[,signed_by]."""
    programme = programmes.by_slug(slug) if slug else programmes.sole_programme()
    if programme is None:
        raise click.ClickException("Name the programme with --programme SLUG.")
    try:
        loaded = declaration_files.load(programme, _read(path), by="command line")
    except csvfiles.FileError as exc:
        raise click.ClickException(f"{exc.message}; nothing was stored") from exc
    _bad_rows(loaded.bad)
    click.echo(
        f"{loaded.added} added, {loaded.updated} updated, {loaded.unchanged} unchanged "
        f"({loaded.late} after the deadline), {len(loaded.bad)} bad rows not stored"
    )
    if loaded.bad:
        sys.exit(1)


def init_app(app: Flask) -> None:
    """Register the command groups."""
    for group in (
        seed_cli,
        municipalities_cli,
        mail_cli,
        registrations_cli,
        organiser_cli,
        contacts_cli,
        invitations_cli,
        attendance_cli,
        declarations_cli,
    ):
        app.cli.add_command(group)

"""The `flask` commands, one group per topic."""

import sys
import threading
from pathlib import Path

import click
from email_validator import EmailNotValidError, validate_email
from flask import Flask, current_app
from flask.cli import AppGroup

from . import accounts, municipalities, registrations, seed
from .db import write_transaction
from .mail import worker
from .models import utcnow

seed_cli = AppGroup("seed", help="Load example programmes.")
municipalities_cli = AppGroup("municipalities", help="The municipality register.")
mail_cli = AppGroup("mail", help="Deliver the outbox.")
registrations_cli = AppGroup("registrations", help="Registration housekeeping.")
organiser_cli = AppGroup("organiser", help="Organiser accounts.")


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
    """Load a newer register: update names and populations, keep references intact."""
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
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from exc


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


def init_app(app: Flask) -> None:
    """Register the command groups."""
    for group in (seed_cli, municipalities_cli, mail_cli, registrations_cli, organiser_cli):
        app.cli.add_command(group)

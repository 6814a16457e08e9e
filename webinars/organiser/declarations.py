"""Organiser views: a programme's declarations of intent: record, load, accept, withdraw."""

from __future__ import annotations

import io

from flask import abort, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import csvfiles, declaration_files, uploads
from .. import declarations as service
from .. import programmes as programme_rules
from ..extensions import db
from ..models import Municipality, Programme
from . import bp, programme_or_404
from .campaign_forms import DeclarationForm, FileForm


def _eligible(programme: Programme) -> list[Municipality]:
    return list(
        db.session.scalars(
            select(Municipality)
            .where(programme_rules.eligible_municipalities(programme))
            .order_by(Municipality.name)
        )
    )


def _page(programme: Programme, form=None, file_form=None, loaded=None, error=None, status=200):
    page = render_template(
        "organiser/declarations.html",
        programme=programme,
        form=form or DeclarationForm(_eligible(programme)),
        file_form=file_form or FileForm(),
        loaded=loaded,
        error=error,
        pending=service.pending(programme),
        history=service.history(programme),
        links=service.link_count(programme),
        is_late=lambda day: programme_rules.is_late(programme, day),
    )
    return page, status


def _back(programme: Programme):
    return redirect(url_for(".declarations", slug=programme.slug), code=303)


@bp.get("/programmes/<slug>/declarations", endpoint="declarations")
def declarations(slug):
    """Waiting submissions, the history of every declaration, and forms to record more."""
    return _page(programme_or_404(slug))


@bp.post("/programmes/<slug>/declarations", endpoint="record_declaration")
@uploads.limit(service.MAX_DOCUMENT)
def record_declaration(slug):
    """Record a signed declaration, with its PDF; it counts at once (late ones too)."""
    programme = programme_or_404(slug)
    form = DeclarationForm(_eligible(programme))
    if not form.validate_on_submit():
        return _page(programme, form=form, status=422)
    upload = form.document.data
    document = None
    if upload and upload.filename:
        document = service.Upload(upload.filename, upload.read())
    try:
        declaration = service.record(
            programme,
            municipality=form.municipality.data,
            signed_on=form.signed_on.data,
            signed_by_name=form.signed_by_name.data or "",
            signed_by_role=form.signed_by_role.data or "",
            note=form.note.data or "",
            document=document,
            by=current_user.email,
        )
    except service.DeclarationError as exc:
        field = getattr(form, exc.field or "municipality")
        field.errors = [*field.errors, exc.message]
        return _page(programme, form=form, status=exc.status)
    name = declaration.municipality.name
    if programme_rules.is_late(programme, declaration.signed_on):
        flash(
            _(
                "Erklæringen fra %(name)s er registrert. Den kom etter fristen, men teller.",
                name=name,
            )
        )
    else:
        flash(_("Erklæringen fra %(name)s er registrert.", name=name))
    return _back(programme)


@bp.post("/programmes/<slug>/declarations/file", endpoint="load_declarations")
@uploads.limit(uploads.FILE_LIMIT)
def load_declarations(slug):
    """Load a `municipality,signed_on[,signed_by]` file; bad rows are listed, not stored."""
    programme = programme_or_404(slug)
    form = FileForm()
    if not form.validate_on_submit():
        return _page(programme, file_form=form, status=422)
    try:
        loaded = declaration_files.load(programme, form.file.data.read(), by=current_user.email)
    except csvfiles.FileError as exc:
        return _page(programme, file_form=form, error=exc.message, status=422)
    if loaded.bad:
        return _page(programme, loaded=loaded, status=200 if loaded.added + loaded.updated else 422)
    flash(
        _(
            "Filen er lest inn: %(added)d nye, %(updated)d endret, %(unchanged)d uendret.",
            added=loaded.added,
            updated=loaded.updated,
            unchanged=loaded.unchanged,
        )
    )
    return _back(programme)


def _declaration(programme: Programme, declaration_id: int):
    return service.of_programme(programme, declaration_id) or abort(404)


@bp.post(
    "/programmes/<slug>/declarations/<int:declaration_id>/withdraw", endpoint="withdraw_declaration"
)
def withdraw_declaration(slug, declaration_id):
    """Withdraw a declaration; it stays in the history and no longer counts."""
    programme = programme_or_404(slug)
    declaration = _declaration(programme, declaration_id)
    if service.withdraw(declaration, by=current_user.email):
        flash(_("Erklæringen fra %(name)s er trukket tilbake.", name=declaration.municipality.name))
    else:
        flash(_("Erklæringen var allerede trukket tilbake."))
    return _back(programme)


@bp.post(
    "/programmes/<slug>/declarations/<int:declaration_id>/accept", endpoint="accept_declaration"
)
def accept_declaration(slug, declaration_id):
    """Accept a declaration a municipality sent in: it counts from now."""
    return _decide(slug, declaration_id, accept=True)


@bp.post(
    "/programmes/<slug>/declarations/<int:declaration_id>/reject", endpoint="reject_declaration"
)
def reject_declaration(slug, declaration_id):
    """Reject a declaration a municipality sent in (kept in the history)."""
    return _decide(slug, declaration_id, accept=False)


def _decide(slug: str, declaration_id: int, *, accept: bool):
    programme = programme_or_404(slug)
    declaration = _declaration(programme, declaration_id)
    try:
        service.decide(declaration, accept=accept, by=current_user.email)
    except service.DeclarationError as exc:
        return _page(programme, error=exc.message, status=exc.status)
    name = declaration.municipality.name
    flash(
        _("Erklæringen fra %(name)s er godkjent og teller nå.", name=name)
        if accept
        else _("Erklæringen fra %(name)s er avvist.", name=name)
    )
    return _back(programme)


@bp.get(
    "/programmes/<slug>/declarations/<int:declaration_id>/document.pdf",
    endpoint="declaration_document",
)
def declaration_document(slug, declaration_id):
    """The signed PDF as it was uploaded."""
    programme = programme_or_404(slug)
    document = service.document_of(_declaration(programme, declaration_id)) or abort(404)
    return send_file(
        io.BytesIO(document.content),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=document.filename,
    )


@bp.post("/programmes/<slug>/submission-links", endpoint="send_submission_links")
def send_submission_links(slug):
    """Mail contacts of unsigned municipalities their link to hand in the declaration."""
    programme = programme_or_404(slug)
    count = service.send_submission_links(programme)
    flash(_("Lenken for innsending er lagt i utboksen til %(count)d kontakter.", count=count))
    return _back(programme)

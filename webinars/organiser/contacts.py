"""Organiser views: the contacts to reach per municipality, and loading a contacts file."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import contacts as service
from .. import csvfiles, municipalities, uploads
from ..models import ROLES
from . import bp
from .campaign_forms import FileForm


def _page(form: FileForm, loaded=None, error=None, status: int = 200):
    county = (request.args.get("county") or "")[:2]
    number = max(request.args.get("page", 1, type=int) or 1, 1)
    rows, total = service.page(county=county, number=number)
    _regions, counties = municipalities.region_and_county_choices()
    page = render_template(
        "organiser/contacts.html",
        form=form,
        loaded=loaded,
        error=error,
        rows=rows,
        total=total,
        page=number,
        pages=max((total + service.PAGE_SIZE - 1) // service.PAGE_SIZE, 1),
        county=county,
        counties=counties,
        counts=service.counts(),
        roles=ROLES,
    )
    return page, status


@bp.get("/contacts", endpoint="contacts")
def contact_list():
    """Every contact by municipality, with a form to load a contacts file."""
    return _page(FileForm())


@bp.post("/contacts", endpoint="load_contacts")
@uploads.limit(uploads.FILE_LIMIT)
def load_contacts():
    """Load a contacts CSV: good rows are stored, bad ones listed with their line and reason."""
    form = FileForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        loaded = service.load(form.file.data.read())
    except csvfiles.FileError as exc:
        return _page(form, error=exc.message, status=422)
    if not loaded.bad:
        flash(
            _(
                "Kontaktene er lest inn: %(added)d nye, %(updated)d oppdatert, %(unchanged)d "
                "uendret.",
                added=loaded.added,
                updated=loaded.updated,
                unchanged=loaded.unchanged,
            )
        )
        return redirect(url_for(".contacts"), code=303)
    return _page(FileForm(formdata=None), loaded=loaded, status=200 if loaded.stored else 422)

"""Organiser views for programmes: the list, create, edit and which events belong to one."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from .. import municipalities
from .. import programmes as service
from ..events import all_events
from ..models import Programme
from . import bp, programme_or_404
from .campaign_forms import ProgrammeForm


def _choices():
    return (*municipalities.region_and_county_choices(), all_events())


@bp.get("/programmes", endpoint="programmes")
def programme_list():
    """Every programme, with a link to its campaign."""
    return render_template("organiser/programmes.html", programmes=service.all_programmes())


def _form_page(form: ProgrammeForm, programme: Programme | None, status: int = 200):
    page = render_template("organiser/programme_form.html", form=form, programme=programme)
    return page, status


@bp.route("/programmes/new", methods=["GET", "POST"], endpoint="new_programme")
def new_programme():
    """Create a programme: its campaign's municipalities, goal and deadline, and its events."""
    form = ProgrammeForm(*_choices())
    if not form.validate_on_submit():
        return _form_page(form, None, 422 if form.errors else 200)
    try:
        programme = service.create_programme(form.to_fields())
    except service.InvalidProgramme as exc:
        form.attach_errors(exc.errors)
        return _form_page(form, None, 422)
    service.set_events(programme, form.events.data or [])
    flash(_("Programmet er opprettet."))
    return redirect(url_for(".campaign", slug=programme.slug), code=303)


@bp.route("/programmes/<slug>/edit", methods=["GET", "POST"], endpoint="edit_programme")
def edit_programme(slug):
    """Change a programme and choose its events; the goal follows the programme's own rule."""
    programme = programme_or_404(slug)
    form = ProgrammeForm.for_programme(programme, *_choices())
    if not form.validate_on_submit():
        return _form_page(form, programme, 422 if form.errors else 200)
    fields = form.to_fields()
    try:
        service.update_programme(programme, fields)
    except service.InvalidProgramme as exc:
        form.attach_errors(exc.errors)
        return _form_page(form, programme, 422)
    service.set_events(programme, form.events.data or [])
    flash(_("Programmet er lagret."))
    return redirect(url_for(".campaign", slug=fields.slug), code=303)

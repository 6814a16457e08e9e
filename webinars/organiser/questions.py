"""Organiser views for one event's questions: the list, answered or not, and the exports."""

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import exports, questions
from ..models import ROLES, Event
from ..registrations import STATUS_LABELS
from ..security import page_number
from . import bp, event_or_404


def _state(args) -> str:
    """?state= as one of the list's views: open (the default), answered, or all."""
    value = args.get("state", questions.OPEN)
    return value if value in (*questions.STATES, "all") else questions.OPEN


@bp.get("/events/<slug>/questions", endpoint="questions")
def question_list(slug):
    """The questions registrants asked, open first by default, with the counts."""
    event = event_or_404(slug)
    state = _state(request.args)
    counts = questions.counts(event)
    listed = {questions.OPEN: counts.open, questions.ANSWERED: counts.answered}
    total = listed.get(state, counts.total)
    number = page_number(request.args)
    return render_template(
        "organiser/questions.html",
        event=event,
        state=state,
        counts=counts,
        rows=questions.page(event, "" if state == "all" else state, number),
        page=number,
        pages=max((total + questions.PAGE_SIZE - 1) // questions.PAGE_SIZE, 1),
        roles=ROLES,
        statuses=STATUS_LABELS,
    )


@bp.post("/events/<slug>/questions/<int:question_id>", endpoint="mark_question")
def mark_question(slug, question_id):
    """Mark a question answered, or open again; back to the list as it was."""
    event = event_or_404(slug)
    question = questions.of_event(event, question_id) or abort(404)
    answered = request.form.get("answered") == "yes"
    questions.mark(question, answered)
    flash(_("Spørsmålet er merket som besvart.") if answered else _("Spørsmålet er åpent igjen."))
    state = _state(request.form)
    return redirect(url_for(".questions", slug=event.slug, state=state), code=303)


def _table(event: Event):
    return exports.question_table(questions.rows(event), exports.About.of(event))


def _download_name(event: Event, extension: str) -> str:
    return exports.filename(event.slug, extension, event.local_start.date(), kind="sporsmal")


@bp.get("/events/<slug>/questions.csv", endpoint="questions_csv")
def questions_csv(slug):
    """Every question of the event as CSV (?sep=semicolon for a Norwegian Excel)."""
    event = event_or_404(slug)
    headers, rows = _table(event)
    body = exports.table_csv(
        headers,
        rows,
        delimiter=";" if request.args.get("sep") == "semicolon" else ",",
        zone=event.zone,
    )
    name = _download_name(event, "csv")
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/events/<slug>/questions.xlsx", endpoint="questions_xlsx")
def questions_xlsx(slug):
    """Every question of the event as an Excel workbook."""
    event = event_or_404(slug)
    headers, rows = _table(event)
    body = exports.table_xlsx(
        headers,
        rows,
        sheet_name=_("Spørsmål"),
        wrap_columns=(exports.QUESTION_COLUMN,),
        zone=event.zone,
    )
    name = _download_name(event, "xlsx")
    return Response(
        body,
        mimetype=exports.XLSX_MIMETYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

"""Organiser views: the municipalities and their official language forms (bokmål, nynorsk,
neutral), by county, with a form to change them."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from .. import municipalities as service
from ..models import Municipality
from . import bp
from .forms import LanguageFormsForm

#: Selects on one page are named like this, followed by the municipality's number.
FIELD_PREFIX = "language-"


def _filters() -> tuple[str, str, int]:
    """County, language form and page from the query, dropping values that cannot match."""
    county = (request.args.get("county") or "")[:2]
    language = request.args.get("language") or ""
    number = max(request.args.get("page", 1, type=int) or 1, 1)
    return (
        county if county.isdigit() else "",
        language if language in Municipality.LANGUAGE_FORMS else "",
        number,
    )


def _list_url(county: str, language: str, number: int) -> str:
    return url_for(
        ".municipalities",
        county=county or None,
        language=language or None,
        page=number if number > 1 else None,
    )


def _page(form: LanguageFormsForm, error: str | None = None, status: int = 200):
    county, language, number = _filters()
    rows, total = service.page(county=county, language=language, number=number)
    _regions, counties = service.region_and_county_choices()
    pages = max((total + service.PAGE_SIZE - 1) // service.PAGE_SIZE, 1)
    page = render_template(
        "organiser/municipalities.html",
        form=form,
        error=error,
        rows=rows,
        total=total,
        page=number,
        pages=pages,
        county=county,
        language=language,
        counties=counties,
        forms=Municipality.LANGUAGE_FORMS,
        counts=service.language_counts(),
        action=_list_url(county, language, number),
        prev_url=_list_url(county, language, number - 1),
        next_url=_list_url(county, language, number + 1),
        field_prefix=FIELD_PREFIX,
    )
    return page, status


@bp.get("/municipalities", endpoint="municipalities")
def municipality_list():
    """Every municipality with its official language form, filterable by county and form."""
    return _page(LanguageFormsForm())


@bp.post("/municipalities", endpoint="set_languages")
def set_languages():
    """Save the language forms chosen on the page: all of them or, if one is wrong, none."""
    form = LanguageFormsForm()
    if not form.validate_on_submit():
        return _page(form, error=_("Skjemaet var utløpt. Send det på nytt."), status=400)
    chosen = {
        key.removeprefix(FIELD_PREFIX): value
        for key, value in request.form.items()
        if key.startswith(FIELD_PREFIX)
    }
    # One page's worth of 4-digit numbers is all the form ever sends.
    if len(chosen) > service.PAGE_SIZE or not all(
        len(number) == 4 and number.isdigit() for number in chosen
    ):
        abort(400)
    try:
        changed = service.set_languages(chosen)
    except service.LanguageError as exc:
        message = _(
            "Ingenting ble lagret: ukjent kommune eller målform for %(numbers)s.",
            numbers=", ".join(exc.numbers),
        )
        return _page(form, error=message, status=422)
    if changed:
        flash(
            ngettext(
                "Målformen er endret for %(num)d kommune.",
                "Målformen er endret for %(num)d kommuner.",
                changed,
            )
        )
    else:
        flash(_("Ingen målform ble endret."))
    return redirect(_list_url(*_filters()), code=303)

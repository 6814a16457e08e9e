"""The registration form (shared by the public page and organisers adding someone by hand),
and the form a municipality hands in its signed declaration with."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import (
    DateField,
    EmailField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .. import municipalities as register
from ..extensions import db
from ..models import ROLES, Event, Municipality
from ..questions import MAX_LENGTH as QUESTION_LENGTH
from ..registrations import eligible, refusal, series_candidates
from ..validators import at_most, line_breaks, mail_address, multi_line, single_line, strip


class RegistrationForm(FlaskForm):
    """Name, e-mail, role, municipality (by number), an optional organisation and question."""

    name = StringField(
        _l("Navn"),
        filters=[strip],
        validators=[
            DataRequired(_l("Skriv navnet ditt.")),
            Length(max=200, message=_l("Navnet kan være høyst %(max)d tegn.")),
            single_line,
        ],
    )
    email = EmailField(
        _l("E-postadresse"),
        filters=[strip],
        validators=[
            DataRequired(_l("Skriv e-postadressen din.")),
            Length(max=254, message=_l("E-postadressen er for lang.")),
            mail_address,
        ],
    )
    role = SelectField(
        _l("Rolle"),
        choices=[],
        validators=[DataRequired(_l("Velg rollen din."))],
        validate_choice=False,
    )
    municipality = SelectField(
        _l("Kommune"),
        choices=[],
        validators=[DataRequired(_l("Velg kommunen din."))],
        validate_choice=False,
    )
    organisation = StringField(
        _l("Organisasjon (valgfritt)"),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=200, message=_l("Organisasjonen kan være høyst %(max)d tegn.")),
            single_line,
        ],
    )
    question = TextAreaField(
        _l("Spørsmål til arrangørene (valgfritt)"),
        filters=[line_breaks],
        validators=[Optional(), at_most(QUESTION_LENGTH), multi_line],
    )

    #: Other open events of the same programme to register for in the same submit (slugs).
    events = SelectMultipleField(_l("Meld meg også på"), choices=[], validate_choice=False)

    #: The honeypot: hidden from people (and from screen readers), filled in by bots. A POST
    #: that fills it is answered as a success and stores nothing.
    website = StringField(_l("Nettsted (la stå tomt)"))

    def __init__(self, event: Event, municipalities: list[Municipality], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [("", _l("Velg rolle"))] + [
            (key, _l(label)) for key, label in ROLES.items()
        ]
        # Kept while the form lives: for a POST it is the one ORM object the service checks
        # again, which the session's (weak) identity map then still holds.
        self.offered = municipalities
        self.series: list[Event] = []
        self.candidates: dict[str, Event] = {}
        # Each option carries its folded name forms for static/picker.js, which finds a
        # municipality by any of them; the plain select shows the Norwegian name first.
        self.municipality.choices = [("", _l("Velg kommune"))] + register.options(
            m for m in municipalities if eligible(event, m)
        )

    def offer_series(self, candidates: list[Event]) -> None:
        """Offer the programme's other events that take registrations now as checkboxes
        (`series` keeps them); the rest are known so that a refusal can name them."""
        self.candidates = {other.slug: other for other in candidates}
        self.series = [other for other in candidates if refusal(other) is None]
        self.events.choices = [(other.slug, other.title) for other in self.series]

    def chosen_series(self) -> list[Event]:
        """The ticked events, as the offered Event rows (valid only after validate())."""
        ticked = set(self.events.data or ())
        return [other for other in self.series if other.slug in ticked]

    def validate_events(self, field):
        # Only what is offered now: another programme's, a draft, a cancelled event or
        # anything else typed into the request is refused, and nothing is stored. One of
        # ours that closed since the form was shown is named, with the reason.
        offered = {slug for slug, _title in field.choices}
        for slug in field.data or ():
            if slug in offered:
                continue
            closed = self.candidates.get(slug)
            if closed is not None:
                raise ValidationError(
                    _l(
                        "«%(title)s» tar ikke imot påmeldinger lenger: %(reason)s Det er tatt "
                        "bort fra listen; send skjemaet på nytt for de andre.",
                        title=closed.title,
                        reason=refusal(closed).message,
                    )
                )
            raise ValidationError(_l("Velg bare blant arrangementene i listen."))

    def validate_role(self, field):
        if field.data and field.data not in ROLES:
            raise ValidationError(_l("Velg en rolle fra listen."))

    def validate_municipality(self, field):
        if field.data and field.data not in {choice[0] for choice in field.choices if choice[0]}:
            raise ValidationError(
                _l("Velg en kommune fra listen; den viser kommunene arrangementet er for.")
            )


class LinkForm(FlaskForm):
    """ "Send me my link again": the address registered with, nothing else.

    Prefixed ("link-email"), so its fields never clash with the registration form's on the
    same page.
    """

    email = EmailField(
        _l("E-postadressen du meldte deg på med"),
        filters=[strip],
        validators=[
            DataRequired(_l("Skriv e-postadressen din.")),
            Length(max=254, message=_l("E-postadressen er for lang.")),
            mail_address,
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="link", **kwargs)


def for_event(event: Event, only: str | None = None, **kwargs) -> RegistrationForm:
    """The registration form, offering the programme's other open events; with `only`, the
    one municipality choice a POST names.

    That is enough to validate a POST: the choice is valid exactly when that municipality is
    in the full list. Building all ~350 choices took a sixth of a registration's time.
    """
    if only is not None:
        # An ORM object, so the service's own check finds it in the session for free.
        chosen = db.session.get(Municipality, only) if only else None
        form = RegistrationForm(
            event, [chosen] if chosen is not None and chosen.active else [], **kwargs
        )
        form.offer_series(series_candidates(event))
        return form
    query = (
        select(
            Municipality.number,
            Municipality.name,
            Municipality.county_name,
            Municipality.county_number,
            Municipality.health_region,
            Municipality.active,
        )
        .where(Municipality.active)
        .order_by(Municipality.name)
    )
    form = RegistrationForm(event, db.session.execute(query).all(), **kwargs)
    form.offer_series(series_candidates(event))
    return form


class SubmissionForm(FlaskForm):
    """A municipality hands in its signed declaration."""

    signed_by_name = StringField(
        _l("Signert av (navn)"),
        filters=[strip],
        validators=[
            DataRequired(_l("Skriv navnet på den som signerte.")),
            Length(max=200),
            single_line,
        ],
    )
    signed_by_role = StringField(
        _l("Rolle (f.eks. ordfører)"),
        filters=[strip],
        validators=[
            DataRequired(_l("Skriv rollen til den som signerte.")),
            Length(max=200),
            single_line,
        ],
    )
    signed_on = DateField(
        _l("Dato for signering"),
        validators=[InputRequired(_l("Velg datoen."))],
        invalid_value_message=_l("Skriv datoen som ÅÅÅÅ-MM-DD."),
    )
    note = TextAreaField(
        _l("Merknad (valgfritt)"), filters=[strip], validators=[Optional(), Length(max=2000)]
    )
    document = FileField(
        _l("Den signerte erklæringen (PDF, høyst 10 MB)"),
        validators=[FileRequired(_l("Legg ved den signerte erklæringen som PDF."))],
    )

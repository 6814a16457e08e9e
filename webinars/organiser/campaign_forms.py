"""Organiser forms of the campaign: programmes, files to load, invitations, declarations."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from ..models import Programme
from ..municipalities import choice
from ..programmes import ProgrammeFields
from ..validators import lower, mail_address, single_line, strip
from .forms import SLUG_PATTERN, MultiCheckboxField


class ProgrammeForm(FlaskForm):
    """A programme: its name, its campaign (eligibility, goal, deadline) and its events."""

    title = StringField(
        _l("Tittel"),
        filters=[strip],
        validators=[DataRequired(_l("Skriv en tittel.")), Length(max=200), single_line],
    )
    slug = StringField(
        _l("Adresse (slug)"),
        filters=[strip, lower],
        validators=[
            DataRequired(_l("Skriv en adresse, f.eks. akson.")),
            Length(max=80, message=_l("Høyst %(max)d tegn.")),
            Regexp(SLUG_PATTERN, message=_l("Bruk bare små bokstaver a–z, sifre og bindestrek.")),
        ],
    )
    description = TextAreaField(
        _l("Beskrivelse"), filters=[strip], validators=[Optional(), Length(max=20000)]
    )
    regions = MultiCheckboxField(_l("Helseregioner i kampanjen"), choices=[])
    counties = MultiCheckboxField(_l("Fylker i kampanjen"), choices=[])
    goal_percent = IntegerField(
        _l("Målet: kommuner med over så mange prosent av innbyggerne signerer"),
        default=50,
        validators=[
            InputRequired(_l("Skriv en prosent.")),
            NumberRange(min=1, max=99, message=_l("Velg et tall fra %(min)d til %(max)d.")),
        ],
        invalid_value_message=_l("Skriv et helt tall."),
    )
    declarations_due = DateField(
        _l("Frist for intensjonserklæringen"),
        validators=[InputRequired(_l("Velg fristen."))],
        invalid_value_message=_l("Skriv datoen som ÅÅÅÅ-MM-DD."),
    )
    organiser_name = StringField(
        _l("Arrangør"), filters=[strip], validators=[Optional(), Length(max=200), single_line]
    )
    organiser_email = EmailField(
        _l("Arrangørens e-postadresse"),
        filters=[strip, lower],
        validators=[
            Optional(),
            Length(max=254),
            mail_address,
        ],
    )
    events = MultiCheckboxField(_l("Arrangementer i programmet"), choices=[], coerce=int)

    def __init__(self, regions, counties, events, **kwargs):
        super().__init__(**kwargs)
        self.regions.choices = [(r, r) for r in regions]
        self.counties.choices = [(number, name) for number, name in counties]
        self.events.choices = [(event.id, event.title) for event in events]

    @classmethod
    def for_programme(cls, programme: Programme, regions, counties, events) -> ProgrammeForm:
        """The form filled from a programme."""
        data = {
            "title": programme.title,
            "slug": programme.slug,
            "description": programme.description,
            "regions": programme.region_list,
            "counties": programme.county_list,
            "goal_percent": programme.goal_percent,
            "declarations_due": programme.declarations_due,
            "organiser_name": programme.organiser_name,
            "organiser_email": programme.organiser_email,
            "events": [event.id for event in programme.events],
        }
        return cls(regions, counties, events, data=data)

    def to_fields(self) -> ProgrammeFields:
        """The submitted values in model terms."""
        return ProgrammeFields(
            slug=self.slug.data,
            title=self.title.data,
            description=self.description.data or "",
            eligible_regions=list(self.regions.data or []),
            eligible_counties=list(self.counties.data or []),
            goal_percent=self.goal_percent.data,
            declarations_due=self.declarations_due.data,
            organiser_name=" ".join((self.organiser_name.data or "").split()),
            organiser_email=self.organiser_email.data or "",
        )

    def attach_errors(self, errors: dict[str, str]) -> None:
        """Show the service's errors next to their fields."""
        for key, message in errors.items():
            field = self._fields.get(key) or self.title
            field.errors = [*field.errors, message]


class FileForm(FlaskForm):
    """One file to load (contacts, declarations)."""

    file = FileField(_l("Fil (CSV)"), validators=[FileRequired(_l("Velg en fil."))])


class AttendanceForm(FlaskForm):
    """A participant report, and whether a report dated another day is still right."""

    file = FileField(
        _l("Deltakerrapport (Zoom, Teams eller CSV)"),
        validators=[FileRequired(_l("Velg en fil."))],
    )
    any_date = BooleanField(_l("Rapporten gjelder dette arrangementet selv om datoen er en annen"))


class InvitationForm(FlaskForm):
    """Whom to invite; the same fields are shown as a GET form for the count first."""

    only_unreached = BooleanField(_l("Bare kommuner der ingen er påmeldt ennå"))
    county = SelectField(_l("Fylke"), choices=[], validate_choice=False)
    role = SelectField(_l("Rolle"), choices=[], validate_choice=False)
    remind = BooleanField(_l("Påminn også inviterte som ikke har meldt seg på"))


class DeclarationForm(FlaskForm):
    """An organiser records a declaration: municipality, date, signer, note, the PDF."""

    municipality = SelectField(
        _l("Kommune"),
        choices=[],
        validators=[DataRequired(_l("Velg kommunen."))],
        validate_choice=False,  # the service says why a municipality cannot sign
    )
    signed_on = DateField(
        _l("Mottatt (dato)"),
        validators=[InputRequired(_l("Velg datoen."))],
        invalid_value_message=_l("Skriv datoen som ÅÅÅÅ-MM-DD."),
    )
    signed_by_name = StringField(
        _l("Signert av (navn)"),
        filters=[strip],
        validators=[Optional(), Length(max=200), single_line],
    )
    signed_by_role = StringField(
        _l("Signert av (rolle)"),
        filters=[strip],
        validators=[Optional(), Length(max=200), single_line],
    )
    note = TextAreaField(_l("Merknad"), filters=[strip], validators=[Optional(), Length(max=2000)])
    document = FileField(_l("Den signerte erklæringen (PDF, høyst 10 MB, valgfritt)"))

    def __init__(self, municipalities, **kwargs):
        super().__init__(**kwargs)
        self.municipality.choices = [("", _l("Velg kommune"))] + [choice(m) for m in municipalities]

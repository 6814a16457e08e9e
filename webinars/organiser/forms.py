"""Organiser forms: login, the event form (local times in the event's zone), the recording
and its material, confirmations."""

from __future__ import annotations

from datetime import datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from ..events import EventFields, slugify
from ..models import Event, local_to_utc
from ..recordings import MaterialLink
from ..validators import http_url, lower, mail_address, single_line, strip

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
#: Slugs that would collide with fixed organiser URLs.
RESERVED_SLUGS = {"new"}
#: "End of the day" for a deadline given as a date only (DESIGN: "4 May" means all of 4 May).
END_OF_DAY = time(23, 59, 59)
TIME_FORMATS = ["%H:%M", "%H:%M:%S"]


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """The IANA zones offered in the select: real places, no legacy aliases."""
    legacy = ("Etc/", "SystemV/", "US/", "posix/", "right/", "Canada/", "Brazil/", "Mexico/")
    names = {z for z in available_timezones() if "/" in z and not z.startswith(legacy)}
    return tuple(sorted(names | {"UTC"}))


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (health regions, counties)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        allowed = {value for value, _ in self.choices}
        if any(value not in allowed for value in self.data or ()):
            raise ValidationError(_l("Velg bare blant alternativene i listen."))


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField(
        _l("E-postadresse"),
        filters=[strip],
        validators=[DataRequired(_l("Skriv e-postadressen din.")), Length(max=254)],
    )
    password = PasswordField(
        _l("Passord"),
        validators=[DataRequired(_l("Skriv passordet ditt.")), Length(max=1000)],
    )


class CancelEventForm(FlaskForm):
    """Cancelling an event, with an optional note to the registrants."""

    message = TextAreaField(
        _l("Melding til de påmeldte (valgfritt)"),
        filters=[strip],
        validators=[Optional(), Length(max=2000, message=_l("Høyst %(max)d tegn."))],
    )


class EventForm(FlaskForm):
    """Everything about a meeting or webinar; times are entered as local time in its zone."""

    title = StringField(
        _l("Tittel"),
        filters=[strip],
        validators=[
            DataRequired(_l("Skriv en tittel.")),
            Length(max=200, message=_l("Høyst %(max)d tegn.")),
            single_line,
        ],
    )
    slug = StringField(
        _l("Adresse (slug)"),
        filters=[strip, lower],
        validators=[
            Optional(),
            Length(max=80, message=_l("Høyst %(max)d tegn.")),
            Regexp(
                SLUG_PATTERN,
                message=_l("Bruk bare små bokstaver a–z, sifre og bindestrek, f.eks. webinar-1."),
            ),
        ],
    )
    kind = SelectField(_l("Type"), choices=[], default="webinar")
    description = TextAreaField(
        _l("Beskrivelse"),
        filters=[strip],
        validators=[Optional(), Length(max=20000, message=_l("Høyst %(max)d tegn."))],
    )
    target_group = TextAreaField(
        _l("Hvem er det for?"),
        filters=[strip],
        validators=[Optional(), Length(max=2000, message=_l("Høyst %(max)d tegn."))],
    )
    location = StringField(
        _l("Sted"),
        filters=[strip],
        validators=[Optional(), Length(max=200, message=_l("Høyst %(max)d tegn.")), single_line],
    )
    start_date = DateField(
        _l("Startdato"),
        validators=[InputRequired(_l("Velg startdato."))],
        invalid_value_message=_l("Skriv datoen som ÅÅÅÅ-MM-DD."),
    )
    start_time = TimeField(
        _l("Starttid"),
        format=TIME_FORMATS,
        validators=[InputRequired(_l("Velg starttid."))],
        invalid_value_message=_l("Skriv klokkeslettet som TT:MM."),
    )
    end_date = DateField(
        _l("Sluttdato"),
        validators=[Optional()],
        invalid_value_message=_l("Skriv datoen som ÅÅÅÅ-MM-DD."),
    )
    end_time = TimeField(
        _l("Sluttid"),
        format=TIME_FORMATS,
        validators=[InputRequired(_l("Velg sluttid."))],
        invalid_value_message=_l("Skriv klokkeslettet som TT:MM."),
    )
    timezone = SelectField(_l("Tidssone"), choices=[])
    opens_date = DateField(
        _l("Påmeldingen åpner (dato)"),
        validators=[Optional()],
        invalid_value_message=_l("Skriv datoen som ÅÅÅÅ-MM-DD."),
    )
    opens_time = TimeField(
        _l("Påmeldingen åpner (klokkeslett)"),
        format=TIME_FORMATS,
        validators=[Optional()],
        invalid_value_message=_l("Skriv klokkeslettet som TT:MM."),
    )
    deadline_mode = RadioField(_l("Påmeldingsfrist"), choices=[], default="relative")
    deadline_days = IntegerField(
        _l("Dager før start"),
        validators=[
            Optional(),
            NumberRange(min=0, max=365, message=_l("Velg et tall fra %(min)d til %(max)d.")),
        ],
        invalid_value_message=_l("Skriv et helt tall."),
        default=1,
    )
    deadline_days_time = TimeField(
        _l("Klokkeslett den dagen"),
        format=TIME_FORMATS,
        validators=[Optional()],
        invalid_value_message=_l("Skriv klokkeslettet som TT:MM."),
        default=time(23, 59),
    )
    deadline_date = DateField(
        _l("Fristdato"),
        validators=[Optional()],
        invalid_value_message=_l("Skriv datoen som ÅÅÅÅ-MM-DD."),
    )
    deadline_time = TimeField(
        _l("Klokkeslett (valgfritt, ellers ut dagen)"),
        format=TIME_FORMATS,
        validators=[Optional()],
        invalid_value_message=_l("Skriv klokkeslettet som TT:MM."),
    )
    capacity = IntegerField(
        _l("Antall plasser (valgfritt)"),
        validators=[
            Optional(),
            NumberRange(min=1, max=1_000_000, message=_l("Velg et tall fra %(min)d og oppover.")),
        ],
        invalid_value_message=_l("Skriv et helt tall."),
    )
    waitlist = BooleanField(_l("Venteliste når det er fullt"))
    regions = MultiCheckboxField(_l("Helseregioner"), choices=[])
    counties = MultiCheckboxField(_l("Fylker"), choices=[])
    join_url = StringField(
        _l("Lenke til møtet (privat)"),
        filters=[strip],
        validators=[Optional(), Length(max=500, message=_l("Høyst %(max)d tegn.")), single_line],
    )
    organiser_name = StringField(
        _l("Arrangør"),
        filters=[strip],
        validators=[Optional(), Length(max=200, message=_l("Høyst %(max)d tegn.")), single_line],
    )
    organiser_email = EmailField(
        _l("Arrangørens e-postadresse"),
        filters=[strip],
        validators=[
            DataRequired(_l("Skriv arrangørens e-postadresse; svar på e-postene går dit.")),
            Length(max=254, message=_l("Høyst %(max)d tegn.")),
            mail_address,
        ],
    )

    #: Where each error of the service (by model field) is shown in this form.
    ERROR_FIELDS = {
        "slug": "slug",
        "kind": "kind",
        "timezone": "timezone",
        "starts_at": "start_time",
        "ends_at": "end_time",
        "registration_opens_at": "opens_date",
        "capacity": "capacity",
        "join_url": "join_url",
        "organiser_email": "organiser_email",
    }

    def __init__(self, regions, counties, current_zone: str | None = None, **kwargs):
        super().__init__(**kwargs)
        # Set here rather than in the field: WTForms 3.3 deprecates tuples given to fields.
        self.kind.choices = [("meeting", _l("Digitalt møte")), ("webinar", _l("Webinar"))]
        self.deadline_mode.choices = [
            ("start", _l("Til arrangementet starter")),
            ("relative", _l("Et antall dager før start")),
            ("absolute", _l("Fast dato")),
        ]
        zones = list(timezone_names())
        if current_zone and current_zone not in zones:
            zones.append(current_zone)
        self.timezone.choices = [(z, z.replace("_", " ")) for z in zones]
        if not self.timezone.data or self.timezone.data == "None":
            self.timezone.data = current_app.config["DEFAULT_TIMEZONE"]
        self.timezone.validate_choice = False  # checked in validate_timezone, in Norwegian
        self.regions.choices = [(r, r) for r in regions]
        self.counties.choices = [(number, name) for number, name in counties]

    @classmethod
    def for_event(cls, event: Event, regions, counties) -> EventForm:
        """The form filled from an event, times shown in its own zone."""
        start, end = event.local_start, event.local_end
        data = {
            "title": event.title,
            "slug": event.slug,
            "kind": event.kind,
            "description": event.description,
            "target_group": event.target_group,
            "location": event.location,
            "start_date": start.date(),
            "start_time": start.time().replace(tzinfo=None),
            "end_date": end.date(),
            "end_time": end.time().replace(tzinfo=None),
            "timezone": event.timezone,
            "capacity": event.capacity,
            "waitlist": event.waitlist,
            "regions": event.region_list,
            "counties": event.county_list,
            "join_url": event.join_url,
            "organiser_name": event.organiser_name,
            "organiser_email": event.organiser_email,
        }
        if event.registration_opens_at:
            opens = event.registration_opens_at.astimezone(event.zone)
            data |= {"opens_date": opens.date(), "opens_time": opens.time().replace(tzinfo=None)}
        if event.deadline_days_before is not None:
            data |= {
                "deadline_mode": "relative",
                "deadline_days": event.deadline_days_before,
                "deadline_days_time": event.deadline_local_time or time(23, 59),
            }
        elif event.deadline_at is not None:
            local = event.deadline_at.astimezone(event.zone)
            at = local.time().replace(tzinfo=None)
            data |= {
                "deadline_mode": "absolute",
                "deadline_date": local.date(),
                # Empty means "the whole day", so saving again keeps 23:59:59.
                "deadline_time": None if at == END_OF_DAY else at,
            }
        else:
            data["deadline_mode"] = "start"
        return cls(regions, counties, current_zone=event.timezone, data=data)

    def validate_timezone(self, field):
        if field.data not in {value for value, _ in field.choices}:
            raise ValidationError(_l("Velg en tidssone fra listen, f.eks. Europe/Oslo."))

    def validate_slug(self, field):
        if field.data in RESERVED_SLUGS:
            raise ValidationError(_l("Denne adressen er reservert. Velg en annen."))

    def validate_opens_time(self, field):
        if field.data and not self.opens_date.data:
            raise ValidationError(_l("Velg også en dato for når påmeldingen åpner."))

    def validate_deadline_days(self, field):
        if self.deadline_mode.data == "relative" and field.data is None:
            raise ValidationError(_l("Skriv hvor mange dager før start fristen er."))

    def validate_deadline_date(self, field):
        if self.deadline_mode.data == "absolute" and field.data is None:
            raise ValidationError(_l("Velg fristdato."))

    def attach_errors(self, errors: dict[str, str]) -> None:
        """Show the service's errors (keyed by model field) next to the right inputs."""
        for key, message in errors.items():
            if key == "deadline":
                name = {"absolute": "deadline_date", "relative": "deadline_days"}.get(
                    self.deadline_mode.data, "deadline_mode"
                )
            else:
                name = self.ERROR_FIELDS.get(key, key)
            field = self._fields.get(name) or self.title
            field.errors = [*field.errors, message]

    def to_fields(self) -> EventFields:
        """The submitted values in model terms: instants in UTC, lists of regions and counties."""
        zone = ZoneInfo(self.timezone.data)
        start_day = self.start_date.data
        end_day = self.end_date.data or start_day
        opens = None
        if self.opens_date.data:
            opens = local_to_utc(self.opens_date.data, self.opens_time.data or time(0, 0), zone)
        deadline_at = days_before = deadline_local_time = None
        if self.deadline_mode.data == "absolute":
            at = self.deadline_time.data or END_OF_DAY
            deadline_at = local_to_utc(self.deadline_date.data, at, zone)
        elif self.deadline_mode.data == "relative":
            days_before = self.deadline_days.data
            deadline_local_time = self.deadline_days_time.data or time(23, 59)
        title = self.title.data
        return EventFields(
            slug=self.slug.data or slugify(title),
            kind=self.kind.data,
            title=title,
            description=self.description.data or "",
            target_group=self.target_group.data or "",
            location=self.location.data or "",
            starts_at=local_to_utc(start_day, self.start_time.data, zone),
            ends_at=local_to_utc(end_day, self.end_time.data, zone),
            timezone=self.timezone.data,
            registration_opens_at=opens,
            deadline_at=deadline_at,
            deadline_days_before=days_before,
            deadline_local_time=deadline_local_time,
            capacity=self.capacity.data,
            waitlist=bool(self.waitlist.data),
            eligible_regions=list(self.regions.data or []),
            eligible_counties=list(self.counties.data or []),
            join_url=self.join_url.data or "",
            organiser_name=" ".join((self.organiser_name.data or "").split()),
            organiser_email=(self.organiser_email.data or "").lower(),
        )


class MaterialForm(Form):
    """One material link; a row with neither title nor link is ignored."""

    title = StringField(
        _l("Tittel"),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=200, message=_l("Tittelen kan være høyst %(max)d tegn.")),
        ],
    )
    url = StringField(
        _l("Lenke"),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=500, message=_l("Lenken kan være høyst %(max)d tegn.")),
            http_url,
        ],
    )
    # A text field checked by hand: IntegerField's own parse error is only in English.
    position = StringField(
        _l("Rekkefølge"),
        filters=[strip],
        validators=[Optional(), Regexp(r"^\d{1,3}$", message=_l("Skriv et helt tall."))],
    )
    remove = BooleanField(_l("Fjern"))

    @property
    def blank(self) -> bool:
        return not self.title.data and not self.url.data

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.remove.data or self.blank:
            return ok
        if not self.title.data:
            self.title.errors = [*self.title.errors, _l("Skriv en tittel.")]
            ok = False
        if not self.url.data:
            self.url.errors = [*self.url.errors, _l("Skriv lenken.")]
            ok = False
        return ok


class RecordingForm(FlaskForm):
    """The recording link, the material list and whether to mail everyone again."""

    #: Empty rows offered for new material each time the page is shown.
    BLANK_ROWS = 3

    recording_url = StringField(
        _l("Lenke til opptaket"),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=500, message=_l("Lenken kan være høyst %(max)d tegn.")),
            http_url,
        ],
    )
    materials = FieldList(FormField(MaterialForm))
    notify_again = BooleanField(_l("Send e-post om opptaket til alle påmeldte på nytt"))
    #: When registrants were last told, as the page showed it (guards against double submits).
    round = HiddenField()

    @classmethod
    def for_event(cls, event: Event) -> RecordingForm:
        """The saved values, numbered in order, and a few empty rows for new material."""
        form = cls(
            recording_url=event.recording_url,
            round=event.recording_published_at.isoformat() if event.recording_published_at else "",
        )
        for index, item in enumerate(event.materials, start=1):
            form.materials.append_entry({"title": item.title, "url": item.url, "position": index})
        for _blank in range(cls.BLANK_ROWS):
            form.materials.append_entry({"position": None})
        return form

    def validate_notify_again(self, field):
        if field.data and not self.recording_url.data:
            raise ValidationError(_l("Legg inn lenken til opptaket før du varsler."))

    def links(self) -> list[MaterialLink]:
        """The kept material rows in the order the organiser gave (ties keep page order)."""
        rows = [
            (int(row.position.data) if row.position.data else 1000, index, row)
            for index, row in enumerate(self.materials)
            if not row.remove.data and not row.blank
        ]
        return [MaterialLink(row.title.data, row.url.data) for *_, row in sorted(rows)]

    def seen_round(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.round.data) if self.round.data else None
        except ValueError:
            return None


class LanguageFormsForm(FlaskForm):
    """The official language forms of the municipalities on a page: one select each, named
    `language-<number>` (read by the view), and the CSRF token."""

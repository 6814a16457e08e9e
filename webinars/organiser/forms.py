"""Organiser forms: login, the event form (local times in the event's zone), the recording
and its material, confirmations."""

from __future__ import annotations

from datetime import datetime, time, timedelta
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


#: The zones offered first: Norway's, its neighbours' and UTC (then every other, A to Z).
COMMON_ZONES = (
    "Europe/Oslo",
    "Europe/Stockholm",
    "Europe/Copenhagen",
    "Europe/Helsinki",
    "Europe/London",
    "Europe/Berlin",
    "UTC",
)


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    """The IANA zones offered in the select: real places, no legacy aliases; the common ones
    first (Europe/Oslo at the top), then the rest alphabetically."""
    legacy = ("Etc/", "SystemV/", "US/", "posix/", "right/", "Canada/", "Brazil/", "Mexico/")
    names = {z for z in available_timezones() if "/" in z and not z.startswith(legacy)}
    common = [z for z in COMMON_ZONES if z in names or z == "UTC"]
    return (*common, *sorted(names - set(common)))


def _zone_label(zone: str) -> str:
    return zone.replace("_", " ")


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
    programme = SelectField(_l("Program"), choices=[], default="", validate_choice=False)
    #: The start and end as the form showed them ("date time|date time"), so saving can tell
    #: whether only the start was moved (then the end moves with it).
    shown_times = HiddenField()

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

    def __init__(self, regions, counties, current_zone: str | None = None, programmes=(), **kwargs):
        super().__init__(**kwargs)
        # Set here rather than in the field: WTForms 3.3 deprecates tuples given to fields.
        self.kind.choices = [("meeting", _l("Digitalt møte")), ("webinar", _l("Webinar"))]
        self.deadline_mode.choices = [
            ("start", _l("Til arrangementet starter")),
            ("relative", _l("Et antall dager før start")),
            ("absolute", _l("Fast dato")),
        ]
        common = [z for z in timezone_names() if z in COMMON_ZONES]
        rest = [z for z in timezone_names() if z not in COMMON_ZONES]
        if current_zone and current_zone not in common and current_zone not in rest:
            rest.append(current_zone)
        self.zone_names = {*common, *rest}
        # Two groups: the common zones (Europe/Oslo first), then every zone, A to Z.
        self.timezone.choices = {
            str(_l("Vanlige tidssoner")): [(z, _zone_label(z)) for z in common],
            str(_l("Alle tidssoner")): [(z, _zone_label(z)) for z in rest],
        }
        if not self.timezone.data or self.timezone.data == "None":
            self.timezone.data = current_app.config["DEFAULT_TIMEZONE"]
        self.timezone.validate_choice = False  # checked in validate_timezone, in Norwegian
        self.regions.choices = [(r, r) for r in regions]
        self.counties.choices = [(number, name) for number, name in counties]
        # Each programme's organiser name and mailbox ride along, so the page's script can
        # fill them in when the programme is chosen (only into fields not yet typed in).
        self.programme_ids = {str(p.id): p.id for p in programmes}
        self.programme.choices = [("", _l("Ingen"))] + [
            (
                str(p.id),
                p.title,
                {
                    "data-organiser-name": p.organiser_name,
                    "data-organiser-email": p.organiser_email,
                },
            )
            for p in programmes
        ]
        if not self.shown_times.data:
            self.shown_times.data = self._times_now()

    def _times_now(self) -> str:
        """The start and end fields as they are now, as shown_times records them."""
        fields = (self.start_date, self.start_time, self.end_date, self.end_time)
        return "{} {}|{} {}".format(*(field._value().strip() for field in fields))

    def follow_start(self) -> bool:
        """When only the start was moved, move the end by as much (keeping the duration in
        wall-clock time, also across a change to or from summer time). True if it moved."""
        shown = (self.shown_times.data or "").split("|")
        if len(shown) != 2 or self.start_date.data is None or self.start_time.data is None:
            return False
        submitted = self._times_now().split("|")
        if submitted[0] == shown[0] or submitted[1] != shown[1]:
            return False  # the start is where it was, or the end was changed too
        before_start = _parse_local(shown[0])
        end_date, _space, end_time = shown[1].partition(" ")
        if before_start is None:
            return False
        before_end = _parse_local(f"{end_date or shown[0].partition(' ')[0]} {end_time}")
        if before_end is None or before_end <= before_start:
            return False
        new_start = datetime.combine(self.start_date.data, self.start_time.data)
        new_end = new_start + (before_end - before_start)
        moved_date = bool(end_date) or new_end.date() != new_start.date()
        self.end_time.data = new_end.time()
        # An end on the start's day keeps an empty end date ("same day"), as it was typed.
        self.end_date.data = new_end.date() if moved_date else None
        # What the fields show if the page comes back, and what "required" looks at.
        self.end_time.raw_data = [new_end.strftime("%H:%M")]
        self.end_date.raw_data = [new_end.date().isoformat() if moved_date else ""]
        self.end_date.process_errors = self.end_time.process_errors = []
        return True

    @classmethod
    def for_event(cls, event: Event, regions, counties, programmes=()) -> EventForm:
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
            "programme": str(event.programme_id) if event.programme_id else "",
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
        return cls(regions, counties, current_zone=event.timezone, programmes=programmes, data=data)

    @classmethod
    def copy_of(
        cls, event: Event, slug: str, regions, counties, programmes=(), days: int = 7
    ) -> EventForm:
        """The form for a copy of an event: everything as it was, a free slug, and every date
        (start, end, registration opening, a fixed deadline) `days` later."""
        form = cls.for_event(event, regions, counties, programmes)
        form.slug.data = slug
        step = timedelta(days=days)
        for name in ("start_date", "end_date", "opens_date", "deadline_date"):
            if form[name].data:
                form[name].data = form[name].data + step
        form.shown_times.data = form._times_now()
        return form

    def validate_timezone(self, field):
        if field.data not in self.zone_names:
            raise ValidationError(_l("Velg en tidssone fra listen, f.eks. Europe/Oslo."))

    def validate_programme(self, field):
        if field.data and field.data not in self.programme_ids:
            raise ValidationError(_l("Velg et program fra listen."))

    def validate(self, extra_validators=None) -> bool:
        """The fields' own checks, after moving the end with a start that alone was moved."""
        if self.is_submitted():
            self.follow_start()
        ok = super().validate(extra_validators)
        return self._require_for_mode() and ok

    def validate_slug(self, field):
        if field.data in RESERVED_SLUGS:
            raise ValidationError(_l("Denne adressen er reservert. Velg en annen."))

    def validate_opens_time(self, field):
        if field.data and not self.opens_date.data:
            raise ValidationError(_l("Velg også en dato for når påmeldingen åpner."))

    def _require_for_mode(self) -> bool:
        """The fields the chosen kind of deadline needs (Optional() stops a field's own
        checks when it is empty, so these are checked here, after them)."""
        needed = {
            "relative": (self.deadline_days, _l("Skriv hvor mange dager før start fristen er.")),
            "absolute": (self.deadline_date, _l("Velg fristdato.")),
        }.get(self.deadline_mode.data)
        if needed is None:
            return True
        field, message = needed
        if field.data is None and not field.errors:
            field.errors = [*field.errors, message]
            return False
        return True

    def attach_errors(self, errors: dict[str, str]) -> None:
        """Show the service's errors (keyed by model field) next to the right inputs."""
        for key, message in errors.items():
            if key == "ends_at" and self.end_date.data and self.start_date.data:
                # An end on an earlier day is the end date's fault; on the same day, the time's.
                name = "end_date" if self.end_date.data < self.start_date.data else "end_time"
            elif key == "deadline":
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
            programme_id=self.programme_ids.get(self.programme.data or ""),
        )


def _parse_local(text: str) -> datetime | None:
    """'2020-05-05 14:00' as a naive local date-time, or None when it is not one."""
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
    return None


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

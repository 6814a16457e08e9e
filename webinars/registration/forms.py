"""The registration form (shared by the public page and organisers adding someone by hand),
and the form a municipality hands in its signed declaration with."""

from collections.abc import Callable, Hashable
from functools import lru_cache

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    EmailField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.csrf.core import CSRFTokenField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .. import municipalities
from ..models import ROLES, Event
from ..questions import MAX_LENGTH as QUESTION_LENGTH
from ..registrations import refusal, series_candidates
from ..validators import at_most, line_breaks, mail_address, multi_line, single_line, strip
from .widgets import EmailInput, PrerenderedSelect, TextArea, TextInput, cheap_labels


class ChoiceField(SelectField):
    """A select of shared choices, rendered by PrerenderedSelect."""

    widget = PrerenderedSelect()

    def offer(self, build: Callable[[], tuple[list[tuple], Hashable]]) -> None:
        """Offer the choices `build()` returns with the key that names them (the same key,
        the same options). Built when first read, i.e. for rendering: validating a POST
        does not need them."""

        def choices():
            options, self.options_key = build()
            return options

        self.choices = choices


class _TokenSignedWhenShown(CSRFTokenField):
    """The CSRF token field, whose token is signed when the form is shown, not whenever it
    is built: a registration POST that redirects never shows it (signing was a fortieth of
    the POST). The posted token is checked as before."""

    def process(self, *args, **kwargs):
        super(CSRFTokenField, self).process(*args, **kwargs)  # the field's, without signing

    @property
    def current_token(self) -> str:
        return self.csrf_impl.generate_csrf_token(self)


class _CSRFSignedWhenShown(FlaskForm.Meta.csrf_class):
    field_class = _TokenSignedWhenShown


@lru_cache(maxsize=8)
def _role_choices(locale: str) -> tuple[tuple, ...]:
    """The roles in the request's language (`locale` is its name: the cache key)."""
    return tuple([("", _("Velg rolle"))] + [(key, _(label)) for key, label in ROLES.items()])


#: The registrant's address, the same checks wherever it is asked for.
EMAIL_CHECKS = [
    DataRequired(_l("Skriv e-postadressen din.")),
    Length(max=254, message=_l("E-postadressen er for lang.")),
    mail_address,
]


class RegistrationForm(FlaskForm):
    """Name, e-mail, role, municipality (by number), an optional organisation and question,
    and the programme's other open events to register for in the same submit."""

    class Meta:
        csrf_class = _CSRFSignedWhenShown

    name = StringField(
        _l("Navn"),
        widget=TextInput(),
        filters=[strip],
        validators=[
            DataRequired(_l("Skriv navnet ditt.")),
            Length(max=200, message=_l("Navnet kan være høyst %(max)d tegn.")),
            single_line,
        ],
    )
    email = EmailField(
        _l("E-postadresse"),
        widget=EmailInput(),
        filters=[strip],
        validators=EMAIL_CHECKS,
    )
    role = ChoiceField(
        _l("Rolle"),
        choices=[],
        validators=[DataRequired(_l("Velg rollen din."))],
        validate_choice=False,
    )
    municipality = ChoiceField(
        _l("Kommune"),
        choices=[],
        validators=[DataRequired(_l("Velg kommunen din."))],
        validate_choice=False,
    )
    organisation = StringField(
        _l("Organisasjon (valgfritt)"),
        widget=TextInput(),
        filters=[strip],
        validators=[
            Optional(),
            Length(max=200, message=_l("Organisasjonen kan være høyst %(max)d tegn.")),
            single_line,
        ],
    )

    question = TextAreaField(
        _l("Spørsmål til arrangørene (valgfritt)"),
        widget=TextArea(),
        filters=[line_breaks],
        validators=[Optional(), at_most(QUESTION_LENGTH), multi_line],
    )

    #: Other open events of the same programme to register for in the same submit (slugs).
    events = SelectMultipleField(_l("Meld meg også på"), choices=[], validate_choice=False)

    #: The honeypot: hidden from people (and from screen readers), filled in by bots. A POST
    #: that fills it is answered as a success and stores nothing.
    website = StringField(_l("Nettsted (la stå tomt)"), widget=TextInput())

    def __init__(self, event: Event, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cheap_labels(self)
        self.event = event
        self.series: list[Event] = []
        self.candidates: dict[str, Event] = {}
        locale = str(get_locale() or "nb")
        self.role.offer(lambda: (_role_choices(locale), ("roles", locale)))
        self.municipality.offer(lambda: self._municipality_choices(locale))

    def _municipality_choices(self, locale: str) -> tuple[list[tuple], Hashable]:
        # Shared and built once per register version, rule and language (and its options'
        # HTML with it); read only when the form is shown.
        offered = municipalities.offered_choices(self.event)
        return [("", _("Velg kommune")), *offered.options], (offered, locale)

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
        # The one municipality named, not the ~300 choices.
        if field.data and municipalities.offered(self.event, field.data) is None:
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
        widget=EmailInput(),
        filters=[strip],
        validators=EMAIL_CHECKS,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="link", **kwargs)
        cheap_labels(self)


def for_event(
    event: Event, series: bool = True, candidates: list[Event] | None = None, **kwargs
) -> RegistrationForm:
    """The registration form for an event: the municipalities its rule lets register and
    the other open events of its programme (`candidates` when the caller has read them,
    else one query; `series=False` leaves them out until `offer_series`, for a POST that
    ticked none: there is nothing to validate)."""
    form = RegistrationForm(event, **kwargs)
    if candidates is not None:
        form.offer_series(candidates)
    elif series:
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

"""The registration form (shared by the public page and organisers adding someone by hand),
and the form a municipality hands in its signed declaration with."""

from collections.abc import Callable, Hashable
from functools import lru_cache

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup
from wtforms import DateField, EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import Select

from .. import municipalities
from ..models import ROLES, Event
from ..validators import mail_address, single_line, strip


class PrerenderedSelect(Select):
    """A select whose options are rendered once per set of choices, not on every request.

    WTForms writes every option through `html_params` and escaping on each render: with
    ~300 municipalities, three fifths of the event page's time. This widget lets WTForms
    render a field's options once, with nothing selected, and keeps the HTML under the
    field's `options_key` (what the options depend on: the shared choices and the
    language); a render marks the chosen option `selected` exactly as WTForms would and
    writes the select's own attributes (id, aria-*) per request. The output is WTForms'
    own, byte for byte.
    """

    def __call__(self, field, **kwargs):
        options = _rendered_options(field)
        select = str(super().__call__(_NoOptions(field), **kwargs))  # "<select …></select>"
        chosen = options.selected.get(field.data) if isinstance(field.data, str) else None
        inner = options.html if chosen is None else options.html.replace(*chosen, 1)
        return Markup(select[: -len("</select>")] + inner + "</select>")


class _NoOptions:
    """A field as the widget sees it, without options: for the <select> element alone."""

    def __init__(self, field):
        self.id, self.name, self.flags = field.id, field.name, field.flags

    def has_groups(self) -> bool:
        return False

    def _iter_choices_normalized(self):
        return ()


class _AllOptions(_NoOptions):
    """A field with its options and nothing selected, for rendering them once."""

    def __init__(self, field):
        super().__init__(field)
        self.field = field

    def has_groups(self) -> bool:
        return self.field.has_groups()

    def _iter_choices_normalized(self):
        return self.field._iter_choices_normalized()

    def _iter_groups_normalized(self):
        return self.field._iter_groups_normalized()


class _Options:
    """A field's options rendered with nothing selected, and each option's selected form."""

    __slots__ = ("html", "selected")

    html: str
    selected: dict[str, tuple[str, str]]

    def __init__(self, field):
        data, field.data = field.data, None
        try:
            whole = str(Select()(_AllOptions(field)))
            self.html = whole[whole.index(">") + 1 : -len("</select>")]
            render = Select.render_option
            self.selected = {
                choice.value: (str(render(choice)), str(render(choice._replace(selected=True))))
                for choice in field._iter_choices_normalized()
            }
        finally:
            field.data = data


#: Rendered options by the fields' options_key.
_RENDERED: dict[object, _Options] = {}


def _rendered_options(field) -> _Options:
    field.choices  # noqa: B018 (built when first read, and with them the options_key)
    options = _RENDERED.get(field.options_key)
    if options is None:
        options = _Options(field)
        if len(_RENDERED) >= 64:  # a few keys per register version; old ones go
            _RENDERED.clear()
        _RENDERED[field.options_key] = options
    return options


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


@lru_cache(maxsize=8)
def _role_choices(locale: str) -> tuple[tuple, ...]:
    """The roles in the request's language (`locale` is its name: the cache key)."""
    return tuple([("", _("Velg rolle"))] + [(key, _(label)) for key, label in ROLES.items()])


class RegistrationForm(FlaskForm):
    """Name, e-mail, role, municipality (by number) and an optional organisation."""

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
        filters=[strip],
        validators=[
            Optional(),
            Length(max=200, message=_l("Organisasjonen kan være høyst %(max)d tegn.")),
            single_line,
        ],
    )

    #: The honeypot: hidden from people (and from screen readers), filled in by bots. A POST
    #: that fills it is answered as a success and stores nothing.
    website = StringField(_l("Nettsted (la stå tomt)"))

    def __init__(self, event: Event, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.event = event
        locale = str(get_locale() or "nb")
        self.role.offer(lambda: (_role_choices(locale), ("roles", locale)))
        self.municipality.offer(lambda: self._municipality_choices(locale))

    def _municipality_choices(self, locale: str) -> tuple[list[tuple], Hashable]:
        # Shared and built once per register version, rule and language (and its options'
        # HTML with it); read only when the form is shown.
        offered = municipalities.choices(self.event)
        return [("", _("Velg kommune")), *offered.options], (offered, locale)

    def validate_role(self, field):
        if field.data and field.data not in ROLES:
            raise ValidationError(_l("Velg en rolle fra listen."))

    def validate_municipality(self, field):
        # The one municipality named, not the ~300 choices: the service reads the same row
        # again, from the session, so validating it costs no query of its own.
        if field.data and not municipalities.offers(self.event, field.data):
            raise ValidationError(
                _l("Velg en kommune fra listen; den viser kommunene arrangementet er for.")
            )


def for_event(event: Event, **kwargs) -> RegistrationForm:
    """The registration form for an event: the municipalities its rule lets register."""
    return RegistrationForm(event, **kwargs)


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

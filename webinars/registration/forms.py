"""The registration form, shared by the public page and organisers adding someone by hand."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..models import ROLES, Event, Municipality
from ..registrations import eligible
from ..validators import mail_address, single_line, strip


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
        self.municipality.choices = [("", _l("Velg kommune"))] + [
            (m.number, f"{m.name} ({m.county_name})") for m in municipalities if eligible(event, m)
        ]

    def validate_role(self, field):
        if field.data and field.data not in ROLES:
            raise ValidationError(_l("Velg en rolle fra listen."))

    def validate_municipality(self, field):
        if field.data and field.data not in {value for value, _ in field.choices if value}:
            raise ValidationError(
                _l("Velg en kommune fra listen; den viser kommunene arrangementet er for.")
            )

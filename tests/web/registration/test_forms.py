"""The registration form: every kind of bad input, shown next to its field, nothing stored."""

import html
import re

import pytest
from markupsafe import Markup
from sqlalchemy import func, select
from wtforms import Label as WTFormsLabel
from wtforms.widgets import Select
from wtforms.widgets import html_params as wtforms_html_params

from tests.support import within
from webinars import seed
from webinars.extensions import db
from webinars.models import Event, OutboxMessage, Registration
from webinars.registration import widgets
from webinars.registration.forms import for_event

LONG = "x" * 20_000


def field_error(page, field: str) -> str | None:
    """The message shown right under a field, as the visitor reads it."""
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page.text, re.S)
    return html.unescape(match.group(1)) if match else None


def nothing_stored(app) -> bool:
    with within(app):
        registrations = db.session.scalar(select(func.count()).select_from(Registration))
        messages = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    return registrations == 0 and messages == 0


@pytest.fixture
def event(create_event):
    return create_event()


# --- bad input: the form again with the message next to the field (422), nothing stored -------


def test_empty_form(app, register, event):
    page = register(event.slug, name="  ", email="", role="", municipality="")
    assert page.status_code == 422
    assert field_error(page, "name") == "Skriv navnet ditt."
    assert field_error(page, "email") == "Skriv e-postadressen din."
    assert field_error(page, "role") == "Velg rollen din."
    assert field_error(page, "municipality") == "Velg kommunen din."
    assert field_error(page, "organisation") is None  # optional
    assert "Noe må rettes før du kan sende skjemaet" in page.text
    assert nothing_stored(app)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("name", "Navnet kan være høyst 200 tegn."),
        ("email", "E-postadressen er for lang."),
        ("organisation", "Organisasjonen kan være høyst 200 tegn."),
        ("role", "Velg en rolle fra listen."),
        ("municipality", "Velg en kommune fra listen; den viser kommunene arrangementet er for."),
    ],
)
def test_20000_character_field(app, register, event, field, message):
    value = LONG + "@kommune.no" if field == "email" else LONG
    page = register(event.slug, **{field: value})
    assert page.status_code == 422
    assert message in field_error(page, field)
    assert nothing_stored(app)


@pytest.mark.parametrize(
    "address",
    [
        "kari",
        "kari@",
        "@kommune.no",
        "kari@kommune",
        "kari nordmann@kommune.no",
        "kari@kommune.no\r\nBcc: alle@example.org",
        "kari@@kommune.no",
    ],
)
def test_malformed_email(app, register, event, address):
    page = register(event.slug, email=address)
    assert page.status_code == 422
    assert field_error(page, "email") == (
        "Skriv en gyldig e-postadresse, for eksempel navn@kommune.no."
    )
    assert nothing_stored(app)


def test_name_with_line_break(app, register, event):
    page = register(event.slug, name="Kari\r\nBcc: alle@example.org")
    assert page.status_code == 422
    assert field_error(page, "name") == "Feltet kan ikke inneholde linjeskift eller kontrolltegn."
    assert nothing_stored(app)


@pytest.mark.parametrize("number", ["9999", "abcd", "301"])
def test_unknown_municipality(app, register, event, number):
    page = register(event.slug, municipality=number)
    assert page.status_code == 422
    assert field_error(page, "municipality").startswith("Velg en kommune fra listen")
    assert nothing_stored(app)


def test_unknown_role(app, register, event):
    page = register(event.slug, role="keiser")
    assert page.status_code == 422
    assert field_error(page, "role") == "Velg en rolle fra listen."
    assert nothing_stored(app)


# --- the municipalities offered: those the event is for --------------------------------------


def test_akson_meeting_refuses_midt_norge(app, client, register):
    with within(app):
        seed.seed_akson()
    page = client.get("/events/akson-stormote")
    assert 'value="0301">Oslo (Oslo)</option>' in page.text  # Oslo (Sør-Øst) is offered
    assert 'value="5001"' not in page.text  # Trondheim (Midt-Norge) is not
    page = register("akson-stormote", municipality="5001")
    assert page.status_code == 422
    assert "den viser kommunene arrangementet er for" in field_error(page, "municipality")
    assert nothing_stored(app)
    assert register("akson-stormote", municipality="1811").status_code == 303  # Bindal, Nord


# --- attacks on the form ----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["name", "organisation"])
@pytest.mark.parametrize("character", ["\u202e", "\u2066", "\u200b", "\ufeff"])
def test_bidi_characters_in_names_are_refused_next_to_the_field(
    app, register, event, field, character
):
    """U+202E turns "Kari Nordmann" in a list or an export into something else entirely."""
    page = register(event.slug, **{field: f"Kari {character}nnamdroN"})
    assert page.status_code == 422
    assert "usynlige formateringstegn" in field_error(page, field)
    assert nothing_stored(app)


def test_a_non_ascii_local_part_is_refused_next_to_the_field(app, register, event):
    """Our mail cannot reach kåre@kommune.no (no SMTPUTF8): say so instead of failing later."""
    page = register(event.slug, email="kåre@kommune.no")
    assert page.status_code == 422
    assert "æ, ø, å" in field_error(page, "email")
    assert nothing_stored(app)


def test_an_internationalised_domain_is_stored_in_its_ascii_form(app, register, event):
    response = register(event.slug, email="Kari@Bø.Kommune.no")
    assert response.status_code == 303
    with within(app):
        registration = db.session.scalar(select(Registration))
        (message,) = db.session.scalars(select(OutboxMessage))
    assert registration.email == "kari@xn--b-5ga.kommune.no"
    assert message.recipient == "kari@xn--b-5ga.kommune.no"


def test_honeypot_a_bot_that_fills_the_hidden_field_is_answered_as_a_success(
    app, client, register, event
):
    response = register(event.slug, website="http://spam.example/")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/events/{event.slug}/registered"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and "kari@kommune.no" in page.text
    assert nothing_stored(app)


def test_the_honeypot_is_hidden_from_people_and_their_tools(client, event):
    page = client.get(f"/events/{event.slug}").text
    hidden = re.search(r'<div class="hp" aria-hidden="true">(.*?)</div>', page, re.S)
    assert hidden, "the honeypot sits in a hidden, aria-hidden wrapper"
    assert 'name="website"' in hidden.group(1)
    assert 'tabindex="-1"' in hidden.group(1) and 'autocomplete="off"' in hidden.group(1)


def test_a_person_who_leaves_the_honeypot_empty_is_registered(app, register, event):
    assert register(event.slug, website="").status_code == 303
    assert not nothing_stored(app)


# --- the select widgets: options rendered once, the same HTML as WTForms' own ----------------


@pytest.mark.parametrize("chosen", [None, "", "0301", "5001", "9999", "<b>"])
def test_prerendered_selects_write_what_wtforms_writes(app, event, chosen):
    """The municipality and role selects reuse their rendered options; what a browser gets is
    WTForms' own output for the same data, whatever was chosen (also nothing, a value the
    event does not offer, or markup), with the attributes the page adds."""
    with app.test_request_context("/"):
        form = for_event(db.session.get(Event, event.id))
        for field in (form.municipality, form.role):
            field.data = chosen
            for attributes in ({}, {"aria_invalid": "true", "aria_describedby": "x-error"}):
                for _ in range(2):  # built, then from the cache
                    assert field(**attributes) == Select()(field, **attributes)
        field = form.municipality
        field.data = "0301"
        assert re.search(
            r'<option data-search="oslo" selected value="0301">Oslo \(Oslo\)</option>', str(field())
        )
        assert field().count("selected") == 1


@pytest.mark.parametrize(
    "attributes",
    [
        {"id": "name", "name": "name", "value": ""},
        {"value": 'Kari "K" <b>Nordmann</b> & co', "maxlength": 200, "required": True},
        {"disabled": False, "aria_describedby": "name-error", "data_search_key": "bø"},
        {"value": Markup("<i>allerede trygg</i>"), "class_": "wide", "for_": "x"},
        {"autocomplete": "email", "type": "email", "value": "kari@kommune.no\u202e"},
    ],
)
def test_our_html_params_writes_what_wtforms_writes(attributes):
    assert widgets.html_params(**attributes) == wtforms_html_params(**attributes)


def test_text_inputs_write_what_wtforms_writes(app, event):
    with app.test_request_context("/"):
        form = for_event(db.session.get(Event, event.id))
        form.name.data = 'Kari "K" <b>'
        form.question.data = "Kommer opptaket?\r\n<b>Og</b> & lysbildene?"
        for field in (form.name, form.email, form.organisation, form.website, form.question):
            plain = type(field.widget).__mro__[1]()  # the WTForms widget ours extends
            for attributes in ({}, {"aria_invalid": "true", "maxlength": 200}):
                assert field(**attributes) == plain(field, **attributes)
        for field in form:
            label = WTFormsLabel(field.label.field_id, field.label.text)
            assert str(field.label) == str(label)
            assert field.label("<b>", for_="x", class_="y") == label("<b>", for_="x", class_="y")

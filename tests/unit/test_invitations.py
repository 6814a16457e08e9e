"""Invitations: the audience and its count, once per contact and event, reminders only when
asked, never to those who opted out or registered, and through the outbox."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.support import text_part, within
from webinars import contacts, invitations, municipalities
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.invitations import Audience
from webinars.mail import messages, outbox
from webinars.models import Contact, Event, Invitation, OutboxMessage, Registration, utcnow

AKSON = "Nord,Vest,Sør-Øst"


@pytest.fixture
def meeting(ctx, create_event, create_programme, create_contact):
    event = create_event(slug="akson-stormote", eligible_regions=AKSON)
    create_programme([event])
    create_contact("0301", email="raymond@oslo.no", role="ordforer")
    create_contact("0301", email="direktor@oslo.no", role="kommunedirektor")
    create_contact("4601", email="ola@bergen.no")
    create_contact("1804", email="per@bodo.no")
    create_contact("5001", email="trond@trondheim.no")  # Midt-Norge: not eligible
    return db.session.get(Event, event.id)


def _mailed() -> list[str]:
    return sorted(
        db.session.scalars(
            select(OutboxMessage.recipient).where(OutboxMessage.kind == outbox.INVITATION.name)
        )
    )


def test_the_plan_counts_what_sending_mails(meeting):
    plan = invitations.plan(meeting, Audience())

    assert (plan.invitations, plan.reminders, plan.municipalities) == (4, 0, 3)
    assert db.session.scalar(select(func.count(Invitation.id))) == 0  # nothing stored

    sent = invitations.send(meeting, Audience())

    assert (sent.invitations, sent.municipalities) == (4, 3)
    assert _mailed() == ["direktor@oslo.no", "ola@bergen.no", "per@bodo.no", "raymond@oslo.no"]


def test_each_contact_is_invited_once_per_event(meeting):
    invitations.send(meeting, Audience())

    again = invitations.send(meeting, Audience())

    assert again.total == 0 and len(_mailed()) == 4
    assert invitations.plan(meeting, Audience()).total == 0


def test_filters_by_county_role_and_unreached(meeting, create_registration):
    assert invitations.plan(meeting, Audience(county="46")).invitations == 1
    assert invitations.plan(meeting, Audience(role="kommunedirektor")).invitations == 1
    create_registration(meeting, "someone@oslo.no", municipality="0301")

    plan = invitations.plan(meeting, Audience(only_unreached=True))

    assert (plan.invitations, plan.municipalities) == (2, 2)  # Bergen and Bodø, not Oslo


def test_opted_out_and_already_registered_contacts_get_nothing(meeting, create_registration):
    contact = db.session.scalar(
        select(contacts.Contact).where(contacts.Contact.email == "ola@bergen.no")
    )
    contacts.unsubscribe(contact)
    create_registration(meeting, "PER@bodo.no", municipality="1804")

    invitations.send(meeting, Audience())

    assert _mailed() == ["direktor@oslo.no", "raymond@oslo.no"]


def test_reminders_go_only_to_the_invited_who_did_not_register_and_once_a_day(
    meeting, create_registration
):
    invitations.send(meeting, Audience())
    create_registration(meeting, "raymond@oslo.no")
    assert invitations.plan(meeting, Audience(remind=True)).reminders == 0  # not a day yet
    with write_transaction():
        db.session.execute(update(Invitation).values(invited_at=utcnow() - timedelta(days=2)))

    sent = invitations.send(meeting, Audience(remind=True))

    assert (sent.invitations, sent.reminders) == (0, 3)
    reminded = db.session.scalars(
        select(OutboxMessage.recipient).where(OutboxMessage.kind == outbox.INVITATION_REMINDER.name)
    ).all()
    assert sorted(reminded) == ["direktor@oslo.no", "ola@bergen.no", "per@bodo.no"]
    assert invitations.send(meeting, Audience(remind=True)).total == 0  # not again today
    assert invitations.counts(meeting) == {"invited": 4, "registered": 1, "reminded": 3}


def test_an_event_that_does_not_take_registrations_sends_nothing(meeting):
    with write_transaction():
        meeting.status = Event.DRAFT

    with pytest.raises(invitations.NotOpen):
        invitations.send(meeting, Audience())
    assert _mailed() == []


def test_two_organisers_sending_at_once_mail_each_contact_once(app, meeting):
    event_id = meeting.id
    db.session.remove()
    errors = []

    def organiser():
        try:
            with within(app), app.app_context():
                invitations.send(db.session.get(Event, event_id), Audience())
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=organiser) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(_mailed()) == 4
    assert db.session.scalar(select(func.count(Invitation.id))) == 4


# --- the language of an invitation ---------------------------------------------------------


def _languages(kind: outbox.Kind = outbox.INVITATION) -> dict[str, tuple[str, str]]:
    rows = db.session.execute(
        select(OutboxMessage.recipient, OutboxMessage.locale, OutboxMessage.subject).where(
            OutboxMessage.kind == kind.name
        )
    ).all()
    return {recipient: (locale, subject) for recipient, locale, subject in rows}


@pytest.mark.usefixtures("restore_register")
def test_a_nynorsk_municipality_is_invited_in_nynorsk_others_in_bokmal(meeting, create_contact):
    municipalities.set_languages({"4601": "nn", "0301": "neutral", "1804": "nb"})
    create_contact("4621", email="hans@voss.no")  # Voss: still neutral
    municipalities.set_languages({"4621": "nn"})

    invitations.send(meeting, Audience())

    title = meeting.title
    assert _languages() == {
        "ola@bergen.no": ("nn", f"Invitasjon: {title}"),
        "hans@voss.no": ("nn", f"Invitasjon: {title}"),
        "raymond@oslo.no": ("nb", f"Invitasjon: {title}"),
        "direktor@oslo.no": ("nb", f"Invitasjon: {title}"),
        "per@bodo.no": ("nb", f"Invitasjon: {title}"),
    }
    ola = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == "ola@bergen.no")
    ).one()
    text = text_part(messages.compose(ola))
    assert "skjemaet er allereie fylt ut med namnet ditt" in text
    # The personal link opens the form in the mail's language.
    assert re.search(r"http://webinars\.test/i/[\w.-]+\?lang=nn\b", text)


@pytest.mark.usefixtures("restore_register")
def test_a_contact_who_registered_keeps_the_language_they_chose(
    meeting, create_event, create_registration
):
    """Their own choice wins over the municipality's form, in invitations and reminders."""
    municipalities.set_languages({"4601": "nn", "0301": "nb"})
    other = create_event(slug="webinar-1", eligible_regions=AKSON)
    create_registration(other, "ola@bergen.no", municipality="4601", locale="nb")
    create_registration(other, "raymond@oslo.no", municipality="0301", locale="nn")
    create_registration(other, "per@bodo.no", municipality="1804", locale="en")

    invitations.send(meeting, Audience())
    with write_transaction():
        db.session.execute(update(Invitation).values(invited_at=utcnow() - timedelta(days=2)))
    invitations.send(meeting, Audience(remind=True))

    for kind in (outbox.INVITATION, outbox.INVITATION_REMINDER):
        languages = {recipient: locale for recipient, (locale, _s) in _languages(kind).items()}
        assert languages == {
            "ola@bergen.no": "nb",
            "raymond@oslo.no": "nn",
            "per@bodo.no": "en",
            "direktor@oslo.no": "nb",  # never registered; Oslo writes bokmål
        }
    reminder = _languages(outbox.INVITATION_REMINDER)["raymond@oslo.no"][1]
    assert reminder == f"Påminning: du er invitert til {meeting.title}"


@pytest.mark.usefixtures("restore_register")
def test_an_anonymised_registration_is_no_longer_a_choice(
    meeting, create_event, create_registration
):
    municipalities.set_languages({"4601": "nn"})
    other = create_event(slug="webinar-1", eligible_regions=AKSON)
    create_registration(other, "ola@bergen.no", municipality="4601", locale="en")
    ola = db.session.scalars(select(Contact).where(Contact.email == "ola@bergen.no")).one()
    assert contacts.mail_language(ola) == "en"
    with write_transaction():
        db.session.execute(update(Registration).values(anonymised_at=utcnow()))
    assert contacts.mail_language(ola) == "nn"

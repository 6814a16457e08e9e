"""The organisers' outgoing mail page: states in Norwegian, filters, and retrying failures."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale

from tests.support import deliver, form_token, manage_link, outbox, within
from webinars.db import write_transaction
from webinars.extensions import db
from webinars.mail import outbox as mail_outbox
from webinars.models import OutboxMessage, utcnow


def message(app, recipient: str) -> OutboxMessage:
    """The (one) outbox row for this recipient, as committed now."""
    (row,) = [m for m in outbox(app) if m.recipient == recipient]
    return row


def csrf(client, path: str = "/organiser/mail") -> str:
    return form_token(client.get(path).text)


def row_of(page: str, recipient: str) -> str:
    """The table row that names this recipient."""
    for row in re.findall(r"<tr id=\"message-\d+\".*?</tr>", page, flags=re.S):
        if recipient in row:
            return row
    raise AssertionError(f"{recipient} not listed")


@pytest.fixture
def failed(mail_app, create_event, create_registration, smtp):
    """Kari's confirmation was delivered; the server refused Ola's for good (550)."""
    event = create_event(title="Akson stormøte")
    create_registration(event, "kari@kommune.no", name="Kari")
    deliver(mail_app)
    smtp.reply = "550 5.1.1 Mailbox unavailable"
    create_registration(event, "ola@kommune.no", name="Ola", municipality="4601")
    deliver(mail_app)
    smtp.reply = None
    return event


def test_messages_with_their_state_in_norwegian(signed_in, failed):
    page = signed_in.get("/organiser/mail").text

    kari, ola = row_of(page, "kari@kommune.no"), row_of(page, "ola@kommune.no")
    assert "Sendt" in kari and "Bekreftelse" in kari and "Akson stormøte" in kari
    assert "Påmeldingen er bekreftet: Akson stormøte" in kari
    assert "Feilet" in ola and "550 5.1.1 Mailbox unavailable" in ola
    assert "Send på nytt" in ola and "Send på nytt" not in kari
    counts = re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", "", page.split("Status:", 1)[1].split("</nav>")[0])
    )
    assert (
        counts.strip()
        == "Alle (2) · I kø (0) · Sendes nå (0) · Prøver igjen (0) · Sendt (1) · Feilet (1)"
    )


def test_every_kind_is_shown_by_its_label_in_both_languages(app, signed_in, create_event):
    """Each registered kind is shown by its translated label, never by its stored name."""
    event = create_event(title="Akson stormøte")
    kinds = list(mail_outbox.KINDS.values())
    assert kinds
    with within(app), write_transaction():
        for n, kind in enumerate(kinds):
            db.session.add(
                OutboxMessage(
                    event_id=event.id,
                    kind=kind.name,
                    template=kind.template,
                    recipient=f"k{n}@kommune.no",
                    subject="Hei",
                    message_id=f"<kind-{n}@webinars.test>",
                    status="sent",
                    attempts=1,
                    sent_at=utcnow(),
                )
            )

    pages = {lang: signed_in.get(f"/organiser/mail?lang={lang}").text for lang in ("nb", "en")}
    assert '<html lang="nb">' in pages["nb"] and '<html lang="en">' in pages["en"]
    for n, kind in enumerate(kinds):
        shown, expected = {}, {}
        for lang, page in pages.items():
            row = row_of(page, f"k{n}@kommune.no")
            assert kind.name not in row, (lang, kind.name)
            shown[lang] = html.unescape(re.search(r"<strong>(.*?)</strong>", row).group(1))
            with within(app), force_locale(lang):
                expected[lang] = str(kind.label)
        assert shown == expected, kind.name
        assert shown["en"] != shown["nb"], f"{kind.name} has no English label"


def test_filter_by_state(signed_in, failed):
    page = signed_in.get("/organiser/mail?status=failed").text

    assert "ola@kommune.no" in page and "kari@kommune.no" not in page
    assert '<strong aria-current="page">Feilet</strong>' in page
    assert "kari@kommune.no" in signed_in.get("/organiser/mail?status=nonsense").text


def test_times_are_shown_in_oslo_time(app, signed_in, create_event):
    event = create_event()
    with within(app), write_transaction():
        db.session.add(
            OutboxMessage(
                event_id=event.id,
                kind=mail_outbox.CONFIRMATION.name,
                template=mail_outbox.CONFIRMATION.template,
                recipient="kari@kommune.no",
                subject="Hei",
                message_id="<1@webinars.test>",
                status="sent",
                attempts=1,
                created_at=datetime(2020, 5, 5, 12, 3, tzinfo=UTC),
                sent_at=datetime(2020, 1, 15, 12, 4, tzinfo=UTC),
            )
        )

    row = row_of(signed_in.get("/organiser/mail").text, "kari@kommune.no")

    assert "05.05.2020 14:03" in row  # summer time: UTC+2
    assert "15.01.2020 13:04" in row  # winter time: UTC+1


def test_retry_puts_a_failed_message_back_and_it_is_delivered(mail_app, signed_in, failed, smtp):
    ola = message(mail_app, "ola@kommune.no")
    assert (ola.status, ola.attempts) == ("failed", 1)
    mail_outbox._queued.clear()

    response = signed_in.post(
        f"/organiser/mail/{ola.id}/retry",
        data={"csrf_token": csrf(signed_in), "next": "/organiser/mail?status=failed"},
    )

    assert response.status_code == 303
    assert response.location.endswith("/organiser/mail?status=failed")
    assert "lagt i køen igjen" in signed_in.get(response.location).text
    ola = message(mail_app, "ola@kommune.no")
    assert ola.status == "queued" and ola.next_attempt_at <= utcnow()
    assert ola.last_error.startswith("550")  # kept until it goes through
    assert mail_outbox._queued.is_set()  # the delivery loop is told to look now
    assert "I kø" in row_of(signed_in.get("/organiser/mail").text, "ola@kommune.no")

    deliver(mail_app)

    ola = message(mail_app, "ola@kommune.no")
    assert (ola.status, ola.attempts, ola.last_error, ola.token) == ("sent", 2, None, None)
    assert [envelope.rcpt_tos for envelope, _ in smtp.messages][-1] == ["ola@kommune.no"]


def test_a_failed_retry_fails_again_visibly(mail_app, signed_in, failed, smtp):
    ola = message(mail_app, "ola@kommune.no")
    signed_in.post(f"/organiser/mail/{ola.id}/retry", data={"csrf_token": csrf(signed_in)})
    smtp.reply = "554 5.7.1 Rejected"

    deliver(mail_app)

    ola = message(mail_app, "ola@kommune.no")
    assert (ola.status, ola.attempts) == ("failed", 2)
    assert ola.last_error.startswith("554")
    assert ola.token is None  # no plaintext link stays in the database of a failed message

    # Tried once more, it carries a new manage link that works.
    signed_in.post(f"/organiser/mail/{ola.id}/retry", data={"csrf_token": csrf(signed_in)})
    smtp.reply = None
    deliver(mail_app)
    assert message(mail_app, "ola@kommune.no").status == "sent"
    link = manage_link(smtp.to("ola@kommune.no")[-1], "http://webinars.test")
    page = mail_app.test_client().get(link.removeprefix("http://webinars.test"))
    assert page.status_code == 200


def test_retry_needs_csrf(app, signed_in, failed):
    ola = message(app, "ola@kommune.no")

    response = signed_in.post(f"/organiser/mail/{ola.id}/retry")

    assert response.status_code == 400
    assert message(app, "ola@kommune.no").status == "failed"


def test_only_failed_messages_can_be_retried(app, signed_in, failed):
    kari = message(app, "kari@kommune.no")

    response = signed_in.post(
        f"/organiser/mail/{kari.id}/retry", data={"csrf_token": csrf(signed_in)}
    )

    assert response.status_code == 303
    assert "ikke feilet" in signed_in.get("/organiser/mail").text
    kari = message(app, "kari@kommune.no")
    assert (kari.status, kari.attempts) == ("sent", 1)
    assert (
        signed_in.post(
            "/organiser/mail/999999/retry", data={"csrf_token": csrf(signed_in)}
        ).status_code
        == 303
    )


def test_redirect_back_only_to_organiser_pages(app, signed_in, failed):
    ola = message(app, "ola@kommune.no")
    response = signed_in.post(
        f"/organiser/mail/{ola.id}/retry",
        data={"csrf_token": csrf(signed_in), "next": "//evil.example/organiser/"},
    )
    assert response.location.endswith("/organiser/mail")


def test_per_event_page_and_retry_all_failed_of_that_event(
    mail_app, signed_in, create_event, create_registration, smtp
):
    first, second = create_event(title="Stormøtet"), create_event(title="Webinar 1")
    slug = first.slug
    smtp.reply = "550 no"
    create_registration(first, "a@kommune.no", name="A")
    create_registration(first, "b@kommune.no", name="B", municipality="4601")
    create_registration(second, "c@kommune.no", name="C")
    deliver(mail_app)
    smtp.reply = None

    page = signed_in.get(f"/organiser/events/{slug}/mail").text
    assert "a@kommune.no" in page and "b@kommune.no" in page and "c@kommune.no" not in page
    assert "Send alle 2 feilede meldinger på nytt" in page

    response = signed_in.post(
        "/organiser/mail/retry-failed",
        data={
            "csrf_token": csrf(signed_in),
            "event": slug,
            "next": f"/organiser/events/{slug}/mail",
        },
    )

    assert response.status_code == 303 and response.location.endswith(
        f"/organiser/events/{slug}/mail"
    )
    assert "2 meldinger er lagt i køen igjen." in signed_in.get(response.location).text
    assert [
        message(mail_app, r).status for r in ("a@kommune.no", "b@kommune.no", "c@kommune.no")
    ] == ["queued", "queued", "failed"]


def test_queued_and_retrying_show_the_next_attempt(
    mail_app, signed_in, create_event, create_registration, smtp
):
    event = create_event()
    smtp.reply = "451 4.3.0 Try again later"
    create_registration(event, "kari@kommune.no", name="Kari")
    deliver(mail_app)

    kari = message(mail_app, "kari@kommune.no")
    row = row_of(signed_in.get("/organiser/mail").text, "kari@kommune.no")

    assert kari.status == "retrying" and kari.next_attempt_at > utcnow() + timedelta(seconds=30)
    assert "Prøver igjen" in row and "Neste:" in row and "451 4.3.0 Try again later" in row
    assert "Send på nytt" not in row


@pytest.mark.parametrize("path", ["/organiser/mail", "/organiser/events/x/mail"])
def test_the_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/organiser/login" in response.location


def test_unknown_event_is_404(signed_in):
    assert signed_in.get("/organiser/events/finnes-ikke/mail").status_code == 404


def test_every_organiser_page_warns_while_mail_only_goes_to_the_log(app, signed_in):
    for path in ("/organiser/events", "/organiser/mail", "/organiser/programmes"):
        page = signed_in.get(path).text
        assert "E-post sendes ikke." in page and "MAIL_SERVER" in page, path


def test_no_warning_when_mail_is_sent(mail_app, signed_in):
    assert "E-post sendes ikke." not in signed_in.get("/organiser/events").text


def test_logged_messages_are_shown_as_logged_not_sent(
    app, signed_in, create_event, create_registration
):
    create_registration(create_event())
    deliver(app)
    page = signed_in.get("/organiser/mail").text
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
    assert "Bare logget (ikke sendt) (1)" in words


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.test/organiser/mail", "//evil.test/organiser/mail", "/organiser/logout",
     "/\\\\evil.test/organiser/", "/"],
)  # fmt: skip
def test_open_redirect_the_outbox_form_checks_next_as_login_does(
    mail_app, signed_in, failed, next_url
):
    ola = message(mail_app, "ola@kommune.no")
    response = signed_in.post(
        f"/organiser/mail/{ola.id}/retry", data={"csrf_token": csrf(signed_in), "next": next_url}
    )
    assert response.status_code == 303
    assert response.location == "/organiser/mail"
